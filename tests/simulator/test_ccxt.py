"""ccxt against the simulator: the simulator as a local test exchange for anyone's ccxt code.

For each of the seven venues, ccxt's own exchange class (``binanceusdm``, ``aster``, ``backpack``,
``bybit``, ``hyperliquid``, ``kucoinfutures``, ``lighter``) is pointed at the simulator by
rewriting its ``urls["api"]`` and driven through ``load_markets``, ``fetch_order_book``,
``fetch_ticker``, ``fetch_funding_rate``, ``watch_order_book``, ``watch_ticker`` and
``watch_bids_asks`` — every call ccxt supports for that venue (``exchange.has``); the calls it
does not support are listed in ``UNSUPPORTED`` and checked against ``has`` too, so a ccxt release
that adds one fails here until it is tested. Values are compared with the simulator's own state:
the clock is stopped and the test ticks it by hand until the watch returns, so the book and the
ticker ccxt shows are the simulator's at that moment. Every request and socket must be loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ccxt.pro as ccxt_pro  # the test extra installs ccxt
import pytest

from perpwire.simulator import Simulator
from tests.simulator.ccxt_helpers import CCXT_VENUES, LoopbackGuard, point_at_simulator

CALLS = ("fetchOrderBook", "fetchTicker", "fetchFundingRate", "watchOrderBook", "watchTicker", "watchBidsAsks",
         "watchTrades")

#: ccxt's Binance watches raw ``@trade``; the simulator serves Binance's ``aggTrade`` (ccxt's other choice)
WATCH_TRADES_PARAMS: dict[str, dict[str, str]] = {"binanceusdm": {"name": "aggTrade"}}

#: calls ccxt itself does not offer for a venue (exchange.has is falsy) — nothing to serve
UNSUPPORTED: dict[str, set[str]] = {
    "binanceusdm": set(),
    "aster": set(),
    "backpack": set(),
    "bybit": set(),
    "hyperliquid": {"watchBidsAsks"},
    "kucoinfutures": set(),
    "lighter": {"fetchFundingRate", "watchBidsAsks"},
}


@dataclass(frozen=True)
class Case:
    symbol: str  # ccxt's unified symbol of the simulator's BTC perpetual
    asset: str = "BTC"


CASES: dict[str, Case] = {
    "binanceusdm": Case("BTC/USDT:USDT"),
    "aster": Case("BTC/USDT:USDT"),
    "backpack": Case("BTC/USDC:USDC"),
    "bybit": Case("BTC/USDT:USDT"),
    "hyperliquid": Case("BTC/USDC:USDC"),
    "kucoinfutures": Case("BTC/USDT:USDT"),
    "lighter": Case("BTC/USDC:USDC"),
}

# the ids to test (ccxt 4.5 has all seven)
IDS = tuple(CCXT_VENUES)
PAIRS = [(i, c) for i in IDS for c in CALLS if c not in UNSUPPORTED[i]]


@contextlib.asynccontextmanager
async def exchange_on_sim(ccxt_id: str):
    venue = CCXT_VENUES[ccxt_id]
    sim = Simulator(seed=11, run_clock=False, history_days=1, tick_s=0.25, venues=[venue])
    await sim.start()
    exchange = getattr(ccxt_pro, ccxt_id)({"enableRateLimit": False})
    point_at_simulator(exchange, sim)
    guard = LoopbackGuard(exchange)
    try:
        yield sim, exchange
    finally:
        try:
            await exchange.close()
        finally:
            await sim.stop()
        guard.check()


async def drive(sim: Simulator, aw: Awaitable[Any], *, max_ticks: int = 120, wait_s: float = 0.05) -> Any:
    """Tick the stopped clock until ``aw`` completes; nothing ticks after it did."""
    task = asyncio.ensure_future(aw)
    try:
        for _ in range(max_ticks):
            done, _ = await asyncio.wait({task}, timeout=wait_s)
            if done:
                return task.result()
            sim.tick()
        done, _ = await asyncio.wait({task}, timeout=1.0)
        if done:
            return task.result()
        raise AssertionError(f"no answer after {max_ticks} ticks")
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def top(sim: Simulator, venue: str, asset: str, n: int) -> tuple[list[list[float]], list[list[float]]]:
    """The simulator's best ``n`` levels a side as ccxt shows them: [price, size] with the size in the venue's
    own unit (ccxt's amount: KuCoin's in contracts)."""
    book = sim.book(venue, asset)
    inst = book.inst

    def rows(is_bid: bool) -> list[list[float]]:
        return [[float(inst.price_dec(p)), float(inst.size_dec(s))] for p, s in book.ladder.top(is_bid, n)]

    return rows(True), rows(False)


def touch(sim: Simulator, venue: str, asset: str) -> tuple[float, float, float, float]:
    book = sim.book(venue, asset)
    inst = book.inst
    bb, bq, ba, aq = book.ladder.bbo()
    return (float(inst.price_dec(bb)), float(inst.size_dec(bq)), float(inst.price_dec(ba)), float(inst.size_dec(aq)))


def assert_book(ob: dict[str, Any], sim: Simulator, venue: str, asset: str, n: int = 10) -> None:
    bids, asks = top(sim, venue, asset, n)
    got_b = [list(map(float, lv[:2])) for lv in ob["bids"][:n]]
    got_a = [list(map(float, lv[:2])) for lv in ob["asks"][:n]]
    assert got_b == bids, f"{venue} bids"
    assert got_a == asks, f"{venue} asks"


# --- the table itself --------------------------------------------------------------------------


def test_unsupported_calls_are_the_ones_ccxt_lacks():
    """UNSUPPORTED is exactly what ccxt's ``has`` says it cannot do, and every id exists."""
    for ccxt_id in CCXT_VENUES:
        exchange = getattr(ccxt_pro, ccxt_id)()
        lacking = {c for c in CALLS if not exchange.has.get(c)}
        assert lacking == UNSUPPORTED[ccxt_id], ccxt_id


def test_point_at_simulator_rewrites_every_url():
    for ccxt_id in CCXT_VENUES:
        exchange = getattr(ccxt_pro, ccxt_id)()
        point_at_simulator(exchange, "http://127.0.0.1:9")
        guard = LoopbackGuard(exchange)
        guard.check()


async def test_the_guard_refuses_a_real_host():
    exchange = ccxt_pro.binanceusdm()
    guard = LoopbackGuard(exchange)
    try:
        with pytest.raises(AssertionError, match=r"non-loopback URL https://fapi\.binance\.com"):
            await exchange.load_markets()
        with pytest.raises(AssertionError, match="non-loopback"):
            guard.check()
    finally:
        await exchange.close()


# --- per venue ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ccxt_id", IDS)
async def test_load_markets(ccxt_id: str):
    venue = CCXT_VENUES[ccxt_id]
    async with exchange_on_sim(ccxt_id) as (sim, ex):
        markets = await ex.load_markets()
        swaps = {m["id"]: m for m in markets.values() if m.get("swap")}
        books = sim.venue(venue).books
        assert len(swaps) == len(books), sorted(swaps)
        for book in books:
            inst = book.inst
            m = next(m for m in swaps.values() if m["base"] == inst.asset or m["baseId"] == inst.symbol)
            assert m["linear"] and m["active"] is not False, m["symbol"]
            assert m["quote"] == inst.quote and m["settle"] == inst.quote, m["symbol"]
            assert float(m["precision"]["price"]) == float(inst.tick), m["symbol"]
        assert ex.market(CASES[ccxt_id].symbol)["swap"]


@pytest.mark.parametrize(("ccxt_id", "call"), PAIRS)
async def test_call(ccxt_id: str, call: str):
    case = CASES[ccxt_id]
    venue = CCXT_VENUES[ccxt_id]
    async with exchange_on_sim(ccxt_id) as (sim, ex):
        await ex.load_markets()
        await CHECKS[call](sim, ex, venue, case)


async def check_fetch_order_book(sim: Simulator, ex: Any, venue: str, case: Case) -> None:
    ob = await ex.fetch_order_book(case.symbol)
    assert ob["symbol"] == case.symbol
    assert_book(ob, sim, venue, case.asset)


def day_fields(sim: Simulator, venue: str, asset: str) -> dict[str, float]:
    """A 24 h ticker: the model's day so far (last trade, open, high, low)."""
    d = sim.venue(venue).day(sim.book(venue, asset))
    return {"last": d.close, "open": d.open, "high": d.high, "low": d.low}


def touch_fields(sim: Simulator, venue: str, asset: str) -> dict[str, float]:
    bb, _, ba, _ = touch(sim, venue, asset)
    return {"bid": bb, "ask": ba}


def mid_fields(sim: Simulator, venue: str, asset: str) -> dict[str, float]:
    """Hyperliquid's asset context: ccxt's last/close is ``midPx``, bid/ask its ``impactPxs``, previousClose
    ``prevDayPx``."""
    book = sim.book(venue, asset)
    return {"last": book.mid, "previousClose": book.day_open, **touch_fields(sim, venue, asset)}


def trade_touch_fields(sim: Simulator, venue: str, asset: str) -> dict[str, float]:
    """The last trade's price and the touch (KuCoin's ticker)."""
    book = sim.book(venue, asset)
    return {"last": float(book.inst.price_dec(book.recent[-1].px)), **touch_fields(sim, venue, asset)}


def day_touch_fields(sim: Simulator, venue: str, asset: str) -> dict[str, float]:
    """Bybit's ticker: the day so far and the touch."""
    return {**day_fields(sim, venue, asset), **touch_fields(sim, venue, asset)}


#: what ccxt's ticker of each venue is made of, in the simulator's terms
TICKER_FIELDS = {
    "binanceusdm": day_fields,
    "aster": day_fields,
    "hyperliquid": mid_fields,
    "kucoinfutures": trade_touch_fields,
    "backpack": day_fields,
    "bybit": day_touch_fields,
    "lighter": day_fields,
}


def assert_ticker(t: dict[str, Any], sim: Simulator, venue: str, ccxt_id: str, case: Case) -> None:
    assert t["symbol"] == case.symbol
    want = TICKER_FIELDS[ccxt_id](sim, venue, case.asset)
    dp = sim.book(venue, case.asset).inst.price_dp
    for key, value in want.items():
        assert t[key] == pytest.approx(value, abs=10**-dp), f"{ccxt_id} ticker {key}"  # printed with dp decimals


async def check_fetch_ticker(sim: Simulator, ex: Any, venue: str, case: Case) -> None:
    sim.tick(40)  # some trades
    assert_ticker(await ex.fetch_ticker(case.symbol), sim, venue, ex.id, case)


async def check_fetch_funding_rate(sim: Simulator, ex: Any, venue: str, case: Case) -> None:
    f = await ex.fetch_funding_rate(case.symbol)
    assert f["symbol"] == case.symbol
    per_interval = sim.funding.rate(venue, case.asset)
    per_hour = sim.funding.rate_per_hour(venue, case.asset)
    want = per_hour if venue in HOURLY_RATE else per_interval
    assert f["fundingRate"] == pytest.approx(want, abs=1e-6)
    assert f["fundingRate"] != 0
    if f.get("markPrice") is not None:
        assert f["markPrice"] == pytest.approx(sim.model.mark_price(sim.book(venue, case.asset)), rel=1e-6)


async def check_watch_order_book(sim: Simulator, ex: Any, venue: str, case: Case) -> None:
    ob = await drive(sim, ex.watch_order_book(case.symbol))
    ob = await drive(sim, ex.watch_order_book(case.symbol))  # an update after the first state
    assert_book(ob, sim, venue, case.asset, n=5)


async def check_watch_ticker(sim: Simulator, ex: Any, venue: str, case: Case) -> None:
    sim.tick(40)
    assert_ticker(await drive(sim, ex.watch_ticker(case.symbol)), sim, venue, ex.id, case)


async def check_watch_bids_asks(sim: Simulator, ex: Any, venue: str, case: Case) -> None:
    got = await drive(sim, ex.watch_bids_asks([case.symbol]))
    t = got[case.symbol]
    bb, bq, ba, aq = touch(sim, venue, case.asset)
    assert (t["bid"], t["ask"]) == (bb, ba)
    assert (t["bidVolume"], t["askVolume"]) == (bq, aq)


#: how each venue spells the simulator's trade id (ccxt's trade ``id``)
TRADE_IDS: dict[str, Any] = {
    "bybit": lambda n: str(uuid.UUID(int=n)),
}


async def check_watch_trades(sim: Simulator, ex: Any, venue: str, case: Case) -> None:
    sim.tick(20)  # some trades first: Lighter replays the last ones on subscribe
    trades = await drive(sim, ex.watch_trades(case.symbol, params=WATCH_TRADES_PARAMS.get(ex.id, {})))
    book = sim.book(venue, case.asset)
    inst = book.inst
    spell = TRADE_IDS.get(ex.id, str)
    recent = {spell(r.trade_id): r for r in book.recent}
    assert trades
    for t in trades:
        assert t["symbol"] == case.symbol
        rec = recent[t["id"]]
        assert (t["price"], t["amount"]) == (float(inst.price_dec(rec.px)), float(inst.size_dec(rec.lots)))
        assert t["side"] == ("buy" if rec.taker_buy else "sell"), t["id"]
        assert abs(t["timestamp"] - rec.ts) <= 1  # ccxt turns KuCoin's ns into ms through a float product


#: venues whose ccxt funding rate is per hour (the rest: per the venue's interval)
HOURLY_RATE = {"hyperliquid"}

CHECKS = {
    "fetchOrderBook": check_fetch_order_book,
    "fetchTicker": check_fetch_ticker,
    "fetchFundingRate": check_fetch_funding_rate,
    "watchOrderBook": check_watch_order_book,
    "watchTicker": check_watch_ticker,
    "watchBidsAsks": check_watch_bids_asks,
    "watchTrades": check_watch_trades,
}


def test_docs_examples_run(capsys):
    """docs/ccxt.md's examples, as written (each its own simulator, clock running)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "ccxt.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    outputs = ["['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT']\nTrue True True\n",
               "['BookView', 'Trade'] BTC/USDT:USDT\n"]  # fmt: skip
    assert len(blocks) == len(outputs)
    for code, out in zip(blocks, outputs, strict=True):
        exec(compile(code, "docs/ccxt.md", "exec"), {"__name__": "docs_ccxt"})
        assert capsys.readouterr().out == out
