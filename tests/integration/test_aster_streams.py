"""Aster connections against the simulator: the real codec, real sockets, no Ray.

The three Aster connections (user data, bookTicker, depth) are plain ``StreamConnection``s; the
simulator counts what it sends per connection and channel, so a pause is seen by the server,
not assumed by the client. Fault injection covers drops, stalls, malformed frames, sequence
gaps, 429s and listenKey expiry.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from perpwire import venues
from perpwire.actors.app.config import StreamConfig
from perpwire.actors.pacing import TokenBucket
from perpwire.actors.rest import RestClient
from perpwire.actors.streams.connection import StreamConnection
from perpwire.market.book import SyncState
from perpwire.market.events import OrderUpdate
from perpwire.simulator.server import Simulator
from perpwire.venues.binance.auth import Credentials

SYMS = ("BTCUSDT", "ETHUSDT")


async def until(pred, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s")
        await asyncio.sleep(0.02)


@pytest.fixture
async def sim():
    s = Simulator(seed=3, venues=("aster",), history_days=1)
    await s.start()
    yield s
    await s.stop()


def cfg(sim, name, subs, **kw):
    urls = sim.urls["aster"]
    return StreamConfig(venue="aster", name=name, subscriptions=subs, backoff_base_s=0.05, backoff_cap_s=0.2,
                        codec_options={"ws_url": urls["ws"], "rest_url": urls["rest"]}, **kw)


def depth_conn(sim, **kw):
    return StreamConnection(cfg(sim, "depth", [{"channel": "depth", "symbol": s} for s in SYMS], pausable=True,
                                **kw))


def md_bytes(sim) -> int:
    """Bytes the simulator sent on Aster's market-data channels (bookTicker and depth streams)."""
    channels = sim.stats("aster", connections=False)["venues"]["aster"]["channels"]
    return sum(v["bytes"] for k, v in channels.items() if "@bookticker" in k.lower() or "@depth" in k)


async def place_order(sim, key, symbol="BTCUSDT", qty="0.002"):
    codec = venues.codec("aster", rest_url=sim.urls["aster"]["rest"])
    req = codec.new_order_request(Credentials(api_key=key.key, secret=key.secret), symbol=symbol, side="buy",
                                  quantity=Decimal(qty), timestamp_ms=int(time.time() * 1000))
    rest = RestClient("aster", TokenBucket(10, 10))
    try:
        return await rest.fetch(req)
    finally:
        await rest.close()


async def test_aster_pause_stops_market_data_bytes_while_order_updates_flow(sim, monkeypatch):
    key = sim.new_api_key("aster")
    monkeypatch.setenv("PW_TEST_ASTER_KEY", key.key)
    user = StreamConnection(cfg(sim, "user", [{"channel": "account"}], api_key={"env": "PW_TEST_ASTER_KEY"}))
    bbo = StreamConnection(cfg(sim, "bookticker", [{"channel": "bbo", "symbol": s} for s in SYMS], pausable=True))
    depth = depth_conn(sim)
    conns = (user, bbo, depth)
    for c in conns:
        await c.start()
    try:
        await until(lambda: all(depth.order_book(s) and depth.order_book(s).synced for s in SYMS), what="books")
        await until(lambda: all(bbo.bbo(s) for s in SYMS), what="bbo")
        await user.wait_connected()
        await bbo.pause()
        await depth.pause()
        await asyncio.sleep(0.3)  # frames already in flight when the unsubscribe landed
        before = md_bytes(sim)
        received = user.stats().user_events
        await place_order(sim, key)
        await until(lambda: any(isinstance(e, OrderUpdate) for e in user.user_events), what="order update")
        await asyncio.sleep(1.0)
        assert md_bytes(sim) == before
        assert user.stats().user_events > received
        assert depth.order_book("BTCUSDT").state == SyncState.EMPTY.name
    finally:
        for c in conns:
            await c.stop()


async def test_aster_resume_returns_synced_fresh_book(sim):
    depth = depth_conn(sim)
    await depth.start()
    try:
        await until(lambda: depth.order_book("BTCUSDT") and depth.order_book("BTCUSDT").synced)
        await depth.pause()
        result = await depth.resume("BTCUSDT")
        view = depth.order_book("BTCUSDT", 5)
        assert result.synced and view.synced and view.age_ms <= 2_000
        assert view.bids[0][0] < view.asks[0][0]
    finally:
        await depth.stop()


async def test_aster_drop_reconnects_with_exactly_the_wanted_subscriptions(sim):
    depth = depth_conn(sim)
    await depth.start()
    try:
        await until(lambda: depth.order_book("ETHUSDT") and depth.order_book("ETHUSDT").synced)
        await sim.faults.drop("aster")
        await until(lambda: depth.stats().reconnects >= 1, what="reconnect")
        await until(lambda: all(depth.order_book(s) and depth.order_book(s).synced for s in SYMS), what="resync")
        await until(lambda: depth.tracker.confirmed == depth.tracker.wanted, what="acks")

        def open_conns():
            return [c for c in sim.stats("aster")["connections"] if c["closed_ms"] is None]

        await until(lambda: len(open_conns()) == 1, what="one open connection")
        await asyncio.sleep(0.3)
        [conn] = open_conns()
        depth_channels = {ch for ch in conn["channels"] if "@depth" in ch}
        assert depth_channels == {"btcusdt@depth@100ms", "ethusdt@depth@100ms"}
        assert depth.stats().resyncs == 0
    finally:
        await depth.stop()


async def test_aster_skipped_sequence_resyncs_that_symbol_only(sim):
    depth = depth_conn(sim)
    await depth.start()
    try:
        await until(lambda: all(depth.order_book(s) and depth.order_book(s).synced for s in SYMS))
        eth_book = depth.books["ETHUSDT"]
        sim.faults.skip_sequence("aster", "BTCUSDT")
        await until(lambda: depth.stats().resyncs >= 1, what="resync")
        await until(lambda: depth.order_book("BTCUSDT").synced, what="BTC synced again")
        assert depth.books["ETHUSDT"] is eth_book and eth_book.state is SyncState.SYNCED
        assert depth.stats().resyncs == 1
        assert depth.stats().snapshots == 3  # one per symbol at start, one for BTC after the gap
    finally:
        await depth.stop()


async def test_aster_snapshot_429_is_honoured_then_book_syncs(sim):
    sim.faults.rest_error("aster", 429, count=2, retry_after=1, path="/fapi/v1/depth")
    depth = depth_conn(sim)
    await depth.start()
    try:
        await until(lambda: all(depth.order_book(s) and depth.order_book(s).synced for s in SYMS), timeout=20)
        assert depth.rest.rate_limited == 2
    finally:
        await depth.stop()


async def test_aster_malformed_frame_is_counted_and_skipped(sim):
    depth = depth_conn(sim)
    await depth.start()
    try:
        await until(lambda: depth.order_book("BTCUSDT") and depth.order_book("BTCUSDT").synced)
        sim.faults.malformed("aster")
        await until(lambda: depth.stats().decode_errors == 1, what="decode error")
        seen = depth.stats().messages
        await until(lambda: depth.stats().messages > seen + 5, what="reading on")
        assert depth.stats().reconnects == 0
    finally:
        await depth.stop()


async def test_aster_stalled_stream_is_detected_and_recovered(sim):
    depth = depth_conn(sim, stale_after_s={"depth": 0.5}, silence_reconnect_s=30)
    await depth.start()
    try:
        await until(lambda: depth.order_book("BTCUSDT") and depth.order_book("BTCUSDT").synced)
        sim.faults.stall("aster")
        await until(lambda: depth.stats().stalls >= 2, what="stall detected", timeout=20)
        await until(lambda: depth.stats().reconnects >= 1, what="reconnect after stall", timeout=20)
        await until(lambda: depth.order_book("BTCUSDT") and depth.order_book("BTCUSDT").synced, what="recovered")
    finally:
        await depth.stop()


async def test_aster_expired_listen_key_is_replaced_without_losing_order_updates(sim, monkeypatch):
    key = sim.new_api_key("aster")
    monkeypatch.setenv("PW_TEST_ASTER_KEY", key.key)
    user = StreamConnection(cfg(sim, "user", [{"channel": "account"}], api_key={"env": "PW_TEST_ASTER_KEY"}))
    await user.start()
    try:
        await user.wait_connected()
        await place_order(sim, key)
        await until(lambda: any(isinstance(e, OrderUpdate) for e in user.user_events), what="first update")
        sim.expire_listen_key("aster")
        await until(lambda: user.stats().session_expired == 1, what="listenKeyExpired seen")
        await until(lambda: user.stats().reconnects >= 1 and user._ws is not None, what="reconnect")
        await asyncio.sleep(0.2)
        await place_order(sim, key)
        await place_order(sim, key, "ETHUSDT", "0.01")
        sent = sum(v["msgs"] for k, v in sim.stats("aster", connections=False)["venues"]["aster"]["channels"].items()
                   if k == "ORDER_TRADE_UPDATE")
        await until(lambda: sum(isinstance(e, OrderUpdate) for e in user.user_events) >= sent, what="all updates")
        assert sent >= 3
    finally:
        await user.stop()
