"""The ccxt adapter against the simulator: every venue through ccxt, items checked against the
simulator's own trades, symbols in both forms, one-line refusals, unsubscribe and a clean shutdown."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import pytest

from perpwire.actors.feeds.adapter import adapter
from perpwire.actors.feeds.ccxt_adapter import CCXT_VENUES, CcxtAdapter
from perpwire.actors.feeds.channels import FeedError, UnknownChannel
from perpwire.actors.feeds.symbols import UnknownSymbol
from perpwire.market.book import BookView
from perpwire.market.events import BBO, FundingRate, Trade
from perpwire.simulator import Simulator
from tests.actors.feeds.conftest import open_sockets
from tests.simulator.ccxt_helpers import LoopbackGuard

CASES = {  # ccxt id -> (BTC as ccxt spells it, ETH by ccxt's market id)
    "binanceusdm": ("BTC/USDT:USDT", "ETHUSDT"),
    "aster": ("BTC/USDT:USDT", "ETHUSDT"),
    "backpack": ("BTC/USDC:USDC", "ETH_USDC_PERP"),
    "bybit": ("BTC/USDT:USDT", "ETHUSDT"),
    "hyperliquid": ("BTC/USDC:USDC", "1"),  # ccxt's id of a Hyperliquid perpetual: its asset index
    "kucoinfutures": ("BTC/USDT:USDT", "ETHUSDTM"),
    "lighter": ("BTC/USDC:USDC", "0"),
}
#: how each venue spells the simulator's trade ids
TRADE_IDS = {"bybit": lambda n: str(uuid.UUID(int=n))}


async def _collect(queue, kinds: set[type], seconds: float, feed=None) -> list:
    """Items until every kind in ``kinds`` came (and, given ``feed``, every stream of it delivered)."""
    got: list = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got += await queue.get_batch(1000, timeout=0.2)
        if kinds <= {type(x) for x in got} and (feed is None or all(h.messages for h in feed.health())):
            break
    return got


@pytest.mark.parametrize("ccxt_id", list(CASES))
async def test_every_venue_through_ccxt_streams_trades_books_and_bbo(live_sim, ccxt_id):
    venue = CCXT_VENUES[ccxt_id]
    unified, own = CASES[ccxt_id]
    feed = adapter(f"ccxt:{ccxt_id}", simulator=live_sim, book_levels=5)
    assert isinstance(feed, CcxtAdapter)
    guard = LoopbackGuard(feed.exchange)
    async with feed:
        ids = await feed.subscribe([unified, own], ["trades", "book", "bbo"])
        assert ids[1] == own and feed.unified(ids[0]) == unified
        items = await _collect(await feed.stream(), {Trade, BookView, BBO}, 15.0, feed)
        health = feed.health()
    guard.check()
    kinds = {type(x) for x in items}
    assert {Trade, BookView, BBO} <= kinds, f"{ccxt_id}: only {kinds}"
    assert {x.symbol for x in items} <= set(ids) and {x.venue for x in items} == {f"ccxt:{ccxt_id}"}
    assert len(health) == 6 and all(h.messages > 0 and h.last_error is None for h in health), health
    assert all(h.connected for h in health), health  # every watch loop still running when it was asked
    assert all(h.validation_failures == 0 for h in health) and not feed.violations  # the simulator's data is clean
    trade_keys = [(x.symbol, x.trade_id) for x in items if isinstance(x, Trade)]
    assert len(trade_keys) == len(set(trade_keys)), f"{ccxt_id}: a trade delivered twice"
    spell = TRADE_IDS.get(ccxt_id, str)
    matched = 0
    for x in items:
        if isinstance(x, BookView):
            bids, asks = [p for p, _ in x.bids], [p for p, _ in x.asks]
            assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]  # best first
            assert 0 < len(x.bids) <= 5 and 0 < len(x.asks) <= 5
        elif isinstance(x, BBO):
            assert x.bid_price < x.ask_price and x.bid_size > 0 and x.ask_size > 0
        elif isinstance(x, Trade):  # exactly the simulator's trade, as Decimals of the venue's text
            asset = "BTC" if x.symbol == ids[0] else "ETH"
            book = live_sim.book(venue, asset)
            rec = next((r for r in book.recent if spell(r.trade_id) == x.trade_id), None)
            if rec is not None:  # (older than the last 100 otherwise)
                matched += 1
                assert x.price == book.inst.price_dec(rec.px) and x.size == book.inst.size_dec(rec.lots), x
                assert x.side.value == ("buy" if rec.taker_buy else "sell")
                assert abs(x.ts - rec.ts) <= 1  # ccxt turns KuCoin's ns into ms through a float product
    assert matched, f"{ccxt_id}: no trade item found among the simulator's recent trades"


async def test_funding_is_polled_where_ccxt_has_no_watch():
    sim = Simulator(seed=11, run_clock=False, history_days=1, venues=["binance"])  # the rate holds still
    async with sim, adapter("ccxt:binanceusdm", simulator=sim, funding_poll_s=0.2) as feed:
        assert not feed.exchange.has.get("watchFundingRate")
        await feed.subscribe("BTC/USDT:USDT", "funding")
        got = [x for x in await _collect(await feed.stream(), {FundingRate}, 5.0) if isinstance(x, FundingRate)]
        deadline = time.monotonic() + 5.0
        while feed.health()[0].messages < 2 and time.monotonic() < deadline:  # polled again
            await asyncio.sleep(0.05)
        assert feed.health()[0].messages >= 2
        f = got[-1]
        assert f.symbol == "BTCUSDT" and f.interval_hours == 8 and f.rate_per_hour == f.rate / 8
        assert f.rate == Decimal(f"{sim.funding.rate('binance', 'BTC'):.8f}")  # premiumIndex's lastFundingRate
        assert f.mark_price == Decimal(sim.venue("binance").mark_text(sim.book("binance", "BTC")))
        assert f.next_funding_ts == sim.funding.next_funding_ms("binance")


async def test_bad_symbol_channel_exchange_and_backend_are_one_line_errors(live_sim):
    with pytest.raises(FeedError, match=r"^ccxt:nosuchexchange: ccxt\.pro has no exchange 'nosuchexchange'"):
        adapter("ccxt:nosuchexchange")
    with pytest.raises(FeedError, match=r"^ccxt:binanceusdm: ccxt adapters run in-process only"):
        adapter("ccxt:binanceusdm", backend="ray")
    with pytest.raises(FeedError, match=r"^ccxt:bybit: validation: max_jump: "):
        adapter("ccxt:bybit", validation={"max_jump": -1})
    async with adapter("ccxt:binanceusdm", simulator=live_sim) as feed:
        with pytest.raises(UnknownSymbol) as info:
            await feed.subscribe(["BTC/USDT:USDT", "DOGE/USDT:USDT"], ["trades"])
        assert str(info.value).startswith("ccxt:binanceusdm: unknown symbol 'DOGE/USDT:USDT': not among its 3 markets")
        with pytest.raises(UnknownChannel, match=r"^ccxt:binanceusdm: unknown channel 'ticker'; channels: "):
            await feed.subscribe(["BTCUSDT"], ["trades", "ticker"])
        with pytest.raises(UnknownChannel, match=r"^ccxt:binanceusdm: channel 'bars' is not offered over ccxt"):
            await feed.subscribe(["BTCUSDT"], ["bars"])
        assert feed.watches == {} and feed.wants == {}  # nothing started
    async with adapter("ccxt:lighter", simulator=live_sim) as feed:
        with pytest.raises(FeedError, match=r"^ccxt:lighter: no funding channel: ccxt's lighter has no "
                                            r"watchFundingRate or fetchFundingRate$"):
            await feed.subscribe(["BTC/USDC:USDC"], ["funding"])
    for text in (str(info.value),):
        assert "\n" not in text


async def test_unsubscribe_stops_a_channel_and_disconnect_leaves_nothing_behind(live_sim):
    before_tasks = asyncio.all_tasks()
    before_sockets = open_sockets()
    feed = adapter("ccxt:bybit", simulator=live_sim)
    await feed.connect()
    await feed.subscribe(["BTC/USDT:USDT"], ["trades", "bbo"])
    queue = await feed.stream()
    await _collect(queue, {Trade, BBO}, 8.0)
    await feed.unsubscribe("BTCUSDT", ["bbo"])
    assert set(feed.wants["BTCUSDT"]) == {"trades"} and len(feed.watches) == 1
    await asyncio.sleep(0.3)
    queue.drain()
    await asyncio.sleep(1.0)
    assert not any(isinstance(x, BBO) for x in queue.drain())
    await feed.disconnect()
    await asyncio.sleep(0.1)
    left = {t for t in asyncio.all_tasks() - before_tasks if not t.done()} - {asyncio.current_task()}
    assert not left, left
    assert open_sockets() <= before_sockets | set(), open_sockets() - before_sockets
    with pytest.raises(FeedError, match="disconnected"):
        await feed.connect()
