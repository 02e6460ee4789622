"""The market model without sockets: reproducibility, book invariants, ids, funding processes and
settlements, the clock, number formatting and the matching engine."""

from __future__ import annotations

import itertools
import random
import statistics
from decimal import Decimal

import pytest

from perpwire.simulator import Simulator
from perpwire.simulator.catalog import fixed, instruments, stripped
from perpwire.simulator.clock import HOUR_MS, SimClock, next_boundary
from perpwire.simulator.funding import FundingModel
from perpwire.simulator.ladder import DiffAggregator, Ladder
from perpwire.simulator.model import MarketModel
from perpwire.simulator.orders import Exchange, OrderReject

START = 1_790_000_000_000  # a fixed market start so two runs settle at the same instants


def _run(seed: int, ticks: int = 60) -> Simulator:
    sim = Simulator(seed=seed, start_ms=START, run_clock=False, history_days=2)
    sim.tick(ticks)
    return sim


def test_simulator_same_seed_replays_the_same_market():
    a, b = _run(11), _run(11)
    assert a.model.fair == b.model.fair
    for key, book in a.model.books.items():
        assert book.ladder.top(True, 50) == b.model.books[key].ladder.top(True, 50)
        assert book.ladder.seq == b.model.books[key].ladder.seq
    assert a.funding.dev == b.funding.dev
    assert a.model.fair != _run(12).model.fair


def test_model_books_stay_uncrossed_and_deep():
    model = MarketModel(random.Random(3), ("aster", "backpack", "hyperliquid", "kucoin"), levels=200)
    for i in range(400):
        model.step(0.05 / 3600, START + 50 * i)
        model.end_tick()
        for book in model.books.values():
            lad = book.ladder
            assert lad.best_bid() < lad.best_ask()
            assert 100 <= lad.level_count(True) <= 300 and 100 <= lad.level_count(False) <= 300
            assert all(size > 0 for size in lad.bids.values())
    # each venue quotes around the shared fair price, within its small basis
    for book in model.books.values():
        assert abs(book.mid / model.fair[book.inst.asset] - 1) < 0.005


def test_ladder_ids_and_diff_aggregation():
    lad = Ladder(seq=100, id_gap=1)
    lad.set(True, 10, 5)
    lad.set(False, 12, 3)
    lad.set(True, 10, 5)  # unchanged: no id spent
    lad.set(True, 11, 2)
    lad.set(True, 10, 0)
    assert lad.seq == 104 and lad.top(True, None) == [(11, 2)] and lad.bbo() == (11, 2, 12, 3)
    agg = DiffAggregator(prev=100)
    agg.add(lad.drain())
    assert agg.flush() == (101, 104, 100, [(10, 0), (11, 2)], [(12, 3)])
    assert agg.flush() is None
    lad.set(False, 13, 1)
    agg.add(lad.drain())
    assert agg.flush()[:3] == (105, 105, 104)


def test_funding_settles_on_interval_boundaries_with_history():
    fm = FundingModel(random.Random(1), ("backpack", "aster"), START, history_days=2)
    hist = fm.history("aster", "BTC")
    assert len(hist) == 6 and all(b[0] - a[0] == 8 * HOUR_MS for a, b in itertools.pairwise(hist))
    assert all(ts % (8 * HOUR_MS) == 0 for ts, _ in hist)
    nxt = fm.next_funding_ms("backpack")
    assert nxt == next_boundary(START, HOUR_MS)
    settled = fm.step(0.01, nxt)
    assert {(s.venue, s.ts) for s in settled} == {("backpack", nxt)}
    assert fm.last_settlement("backpack", "ETH") == (nxt, settled[1].rate)
    assert fm.next_funding_ms("backpack") == nxt + HOUR_MS


def test_funding_shock_sets_the_rate_in_venue_units():
    fm = FundingModel(random.Random(2), ("aster", "hyperliquid"), START, history_days=1)
    fm.shock("aster", "SOL", 0.0016)
    assert fm.rate("aster", "SOL") == pytest.approx(0.0016)
    assert fm.rate_per_hour("aster", "SOL") == pytest.approx(0.0002)
    fm.shock("hyperliquid", "SOL", 0.0002, per_hour=True)
    assert fm.rate("hyperliquid", "SOL") == pytest.approx(0.0002)
    with pytest.raises(ValueError):
        fm.shock("aster", "SOL", 1.0)


def test_funding_cross_venue_spreads_make_z_score_excursions():
    fm = FundingModel(random.Random(5), ("backpack", "hyperliquid"), START, history_days=30)
    a = [r for _, r in fm.history("backpack", "BTC")]
    b = [r for _, r in fm.history("hyperliquid", "BTC")]
    spread = [x - y for x, y in zip(a, b, strict=False)]
    mean, sd = statistics.fmean(spread), statistics.pstdev(spread)
    assert len(spread) == 720
    assert max(abs(s - mean) / sd for s in spread) > 3  # real opportunities appear
    assert abs(statistics.fmean(a) - 0.0000125) < 0.00002  # around the usual baseline


def test_clock_speed_jump_and_cadences():
    clock = SimClock(start_ms=START, speed=3600.0, tick_s=0.05)
    assert clock.advance() == pytest.approx(0.05)  # market hours per tick
    assert clock.now_ms == START + 180_000
    clock.jump(1000)
    assert clock.now_ms == START + 181_000
    assert clock.ticks_per(0.1) == 2 and clock.ticks_per(0.01) == 1
    assert clock.real_seconds(3_600_000) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        clock.jump(-1)


def test_catalog_prints_exact_decimals_like_each_venue():
    assert fixed(1223, 1) == "122.3" and fixed(5, 3) == "0.005" and fixed(-5, 2) == "-0.05" and fixed(7, 0) == "7"
    assert stripped("89721.0") == "89721" and stripped("0.0500") == "0.05" and stripped("12") == "12"
    bybit_btc = instruments("bybit")[0]
    assert (bybit_btc.symbol, bybit_btc.price_text(1_000_001), bybit_btc.tick) == (
        "BTCUSDT",
        "100000.10",
        Decimal("0.10"),
    )
    kucoin_btc = instruments("kucoin")[0]
    assert (kucoin_btc.symbol, kucoin_btc.price_text(1_000_000), kucoin_btc.contract) == (
        "XBTUSDTM",
        "100000",
        Decimal("0.001"),
    )
    lighter = {i.symbol: i.market_id for i in instruments("lighter")}
    assert lighter == {"BTC": 1, "ETH": 0, "SOL": 2}
    assert bybit_btc.ticks_of(Decimal("100000.10")) == 1_000_001 and bybit_btc.ticks_of(Decimal("100000.15")) is None


def test_exchange_market_order_walks_the_book_and_fok_gtx_expire():
    model = MarketModel(random.Random(9), ("aster",))
    ex = Exchange(model, lambda: START)
    seen: list = []
    ex.listeners["aster"] = lambda acct, events: seen.extend(events)
    acct = ex.account("aster", "a1")
    book = model.books[("aster", "BTC")]
    (p1, s1), (p2, _) = book.ladder.top(False, 2)
    order = ex.place(acct, book, buy=True, kind="MARKET", lots=s1 + 1, px=None)
    assert order.status == "FILLED" and [e.fill.px for e in seen if e.fill] == [p1, p2]
    assert acct.position("BTCUSDT").qty == book.inst.base_qty(s1 + 1)
    assert acct.balances["USDT"] < Decimal(100_000)  # taker fees
    total = sum(s for _, s in book.ladder.top(True, None))
    assert ex.place(acct, book, buy=False, kind="LIMIT", lots=total + 1, px=1, tif="FOK").status == "EXPIRED"
    ask = book.ladder.best_ask()
    assert ex.place(acct, book, buy=True, kind="LIMIT", lots=1, px=ask, tif="GTX").status == "EXPIRED"
    resting = ex.place(acct, book, buy=True, kind="LIMIT", lots=1, px=book.ladder.best_bid() - 5)
    assert resting.status == "NEW" and ex.open_orders(acct) == [resting]
    book.ladder.set(False, resting.px, 7)  # an ask arrives at the order's price
    ex.on_tick()
    assert resting.status == "FILLED" and seen[-1].fill.maker is True
    with pytest.raises(OrderReject):
        ex.cancel(acct, order_id=resting.order_id)
    with pytest.raises(OrderReject):
        ex.place(acct, book, buy=True, kind="LIMIT", lots=0, px=ask)


async def test_a_stalled_clock_loop_keeps_market_time_on_the_wall_pace():
    """Under overload the loop skips ticks; market time jumps over them instead of falling behind
    for good, so venue timestamps stay comparable with the clients' clocks (latency figures)."""
    import asyncio
    import time

    from perpwire.simulator.server import Simulator

    sim = Simulator(seed=2, venues=["aster"], history_days=1, levels=20)
    time.sleep(0.5)  # set-up time between the clock's start and the first tick is stepped over too
    async with sim:
        await asyncio.sleep(0.2)
        assert -100 <= sim.clock.wall_ms() - sim.clock.now_ms <= 200
        time.sleep(1.6)  # the whole event loop stalls, as a busy machine would make it
        await asyncio.sleep(0.3)
        lag_ms = sim.clock.wall_ms() - sim.clock.now_ms
        assert sim.skipped_s > 0.5
        assert -100 <= lag_ms <= 400, lag_ms
