"""StreamConnection against a stub venue on loopback: no Ray, no real venue, real sockets."""

from __future__ import annotations

import asyncio

import pytest

from actors.config import StreamConfig
from actors.connection import StreamConnection
from actors.control import ResumeTimeout
from tests.actors.stub_venue import StubServer


async def _until(pred, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


@pytest.fixture
async def server():
    srv = await StubServer().start()
    yield srv
    await srv.stop()


def _conn(server, **kw):
    cfg = StreamConfig(
        venue="stub", name="mixed", pausable=True, codec_options={"url": server.url},
        subscriptions=[{"channel": "book", "symbol": "AAA"}, {"channel": "account"}],
        backoff_base_s=0.01, backoff_cap_s=0.05, **kw,
    )
    return StreamConnection(cfg)


async def test_connection_subscribes_and_books_become_synced(server):
    conn = _conn(server)
    await conn.start()
    try:
        await _until(lambda: conn.order_book("AAA") is not None and conn.order_book("AAA").synced)
        view = conn.order_book("AAA", 5)
        assert str(view.bids[0][0]) == "100" and view.age_ms is not None
        await _until(lambda: conn.tracker.confirmed)
        assert {s.channel.value for s in conn.tracker.confirmed} == {"book", "account"}
    finally:
        await conn.stop()


async def test_connection_reconnect_restores_exactly_the_wanted_subscriptions(server):
    conn = _conn(server)
    await conn.start()
    try:
        await _until(lambda: server.subscribed and server.subscribed[-1] == {"book:AAA", "account:*"})
        await conn.pause()
        await server.drop_all()
        await _until(lambda: server.connections == 2 and server.subscribed[-1] == {"account:*"})
        assert conn.stats()["reconnects"] >= 1
    finally:
        await conn.stop()


async def test_connection_malformed_frame_is_counted_and_skipped(server):
    conn = _conn(server)
    await conn.start()
    try:
        await conn.wait_connected()
        await server.send_raw("{not json")
        await _until(lambda: conn.stats().get("decode_errors", 0) == 1)
        before = conn.stats()["messages"]
        await _until(lambda: conn.stats()["messages"] > before + 3)  # still reading
    finally:
        await conn.stop()


async def test_pause_stops_market_data_but_user_data_keeps_flowing(server):
    conn = _conn(server)
    await conn.start()
    try:
        await _until(lambda: server.sent["book"] > 3)
        result = await conn.pause()
        assert result["paused"] and result["unsubscribed"] == 1
        await _until(lambda: server.subscribed[-1] == {"account:*"})
        books_at_pause = server.sent["book"]
        orders_at_pause = len(conn.user_events)
        await _until(lambda: len(conn.user_events) > orders_at_pause + 5)
        assert server.sent["book"] == books_at_pause
        assert conn.order_book("AAA").state == "EMPTY"
    finally:
        await conn.stop()


async def test_resume_returns_fresh_synced_book(server):
    conn = _conn(server)
    await conn.start()
    try:
        await conn.wait_connected()
        await conn.pause()
        res = await conn.resume("AAA")
        assert res.synced and res.symbols == ("AAA",) and res.latency_ms >= 0
        assert conn.order_book("AAA").synced
        assert conn.stats()["resumes"] == 1
    finally:
        await conn.stop()


async def test_resume_times_out_with_clear_error_when_no_data(server):
    server.period_s = 3600
    conn = _conn(server, resume_timeout_s=0.2)
    await conn.start()
    try:
        await conn.wait_connected()
        await conn.pause()
        with pytest.raises(ResumeTimeout, match="stub/mixed AAA"):
            await conn.resume("AAA")
    finally:
        await conn.stop()


async def test_pause_resume_storm_ends_consistent_with_last_intent(server):
    conn = _conn(server)
    await conn.start()
    try:
        await conn.wait_connected()
        ops = [conn.pause() if i % 2 == 0 else conn.resume("AAA", timeout_s=2) for i in range(20)]
        ops.append(conn.pause())
        await asyncio.gather(*ops, return_exceptions=True)
        assert conn.tracker.wanted == {s for s in conn.tracker.wanted if s.channel.value == "account"}
        await _until(lambda: server.subscribed[-1] == {"account:*"})
        res = await conn.resume()
        assert res.synced
        await _until(lambda: server.subscribed[-1] == {"account:*", "book:AAA"})
    finally:
        await conn.stop()


async def test_silent_socket_is_reconnected_by_watchdog(server):
    server.period_s = 3600
    conn = _conn(server, silence_reconnect_s=0.3)
    await conn.start()
    try:
        await _until(lambda: server.connections >= 2, timeout=10)
        assert conn.stats()["stalls"] >= 1
    finally:
        await conn.stop()


async def test_token_bucket_heavier_than_burst_waits_then_goes_into_debt():
    from actors.pacing import TokenBucket

    now = [0.0]
    bucket = TokenBucket(rate=10, burst=5, clock=lambda: now[0])
    assert bucket.wait_time(20) == 0  # a full bucket lets a heavy request through
    await bucket.acquire(20)
    assert bucket.wait_time(1) == pytest.approx(1.6)  # 15 of debt plus 1 token at 10/s
    bucket.penalize(3.0)
    assert bucket.wait_time(1) >= 3.0
