"""The bars channel (built from the venue's trades, closed by a clock) and validation of items."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from perpwire.actors.feeds.adapter import adapter
from perpwire.actors.feeds.channels import FeedError
from perpwire.market.bars import OHLCVBar
from perpwire.market.events import Side, Trade


async def _bars(feed, n: int, seconds: float) -> list[OHLCVBar]:
    out: list[OHLCVBar] = []
    deadline = time.monotonic() + seconds
    while len(out) < n and time.monotonic() < deadline:
        out += [x for x in await (await feed.stream()).get_batch(500, timeout=0.2) if isinstance(x, OHLCVBar)]
    return out


async def test_one_second_time_bars_close_on_utc_boundaries(live_sim):
    async with adapter("binance", urls=live_sim.urls["binance"], bars={"seconds": 1}) as feed:
        await feed.subscribe(["BTCUSDT", "ETHUSDT"], ["bars"])
        bars = await _bars(feed, 4, 6.0)
        counts = feed._bars.counts()
    assert len(bars) >= 4
    for b in bars:
        assert b.end - b.start == 1000 and b.start % 1000 == 0
        if not b.empty:
            assert b.high >= max(b.open, b.close) and b.low <= min(b.open, b.close) and b.trades >= 1
            assert b.low <= b.vwap <= b.high
    assert sum(c["trades"] for c in counts.values()) >= sum(b.trades for b in bars)


async def test_tick_bars_hold_n_trades(live_sim):
    async with adapter("bybit", urls=live_sim.urls["bybit"], bars={"ticks": 3}) as feed:
        await feed.subscribe(["BTCUSDT"], ["bars", "trades"])
        bars = await _bars(feed, 2, 8.0)
    assert bars and all(b.trades == 3 and b.symbol == "BTCUSDT" for b in bars)


async def test_bad_bar_options_are_one_error():
    feed = adapter("binance", bars={"seconds": 1, "ticks": 5}, instruments=[])
    with pytest.raises(FeedError, match=r"^binance: bars takes one of seconds, ticks, volume"):
        feed._ensure_bars()
    feed = adapter("binance", bars={"volume": "-1"}, instruments=[])
    with pytest.raises(FeedError, match=r"^binance: bars: volume"):
        feed._ensure_bars()


async def test_a_flagged_item_is_delivered_counted_and_reported(live_sim):
    async with adapter("binance", urls=live_sim.urls["binance"], validation={"max_jump": "0.5"}) as feed:
        await feed.subscribe(["BTCUSDT"], ["trades"])
        conn = feed.connections[0]
        now = time.monotonic()
        good = Trade(venue="binance", symbol="BTCUSDT", side=Side.BUY, price=Decimal("100000"), size=Decimal("1"),
                     trade_id="x1", ts=int(time.time() * 1000) + 5_000)
        bad = Trade(venue="binance", symbol="BTCUSDT", side=Side.SELL, price=Decimal("-1"), size=Decimal("1"),
                    trade_id="x2", ts=good.ts)
        conn._handlers[Trade](good, 0, now)
        conn._handlers[Trade](bad, 0, now)
        items = (await feed.stream()).drain()
        assert bad in items  # never dropped without a trace: delivered, and flagged
        [health] = feed.health()
        assert health.validation_failures >= 1
        assert any(v.item == bad and v.rule == "price_not_positive" for v in feed.violations)
        assert any("binance BTCUSDT trades: price -1 is not positive" in v.message for v in feed.violations)
