"""StreamConnection against a stub venue on loopback: no Ray, no real venue, real sockets."""

from __future__ import annotations

import asyncio

import pytest

from perpwire.actors.app.config import StreamConfig
from perpwire.actors.streams.connection import StreamConnection
from perpwire.actors.streams.control import ResumeTimeout
from perpwire.venues.base import Channel, Subscription
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
        assert conn.stats().reconnects >= 1
    finally:
        await conn.stop()


async def test_connection_malformed_frame_is_counted_and_skipped(server):
    conn = _conn(server)
    await conn.start()
    try:
        await conn.wait_connected()
        await server.send_raw("{not json")
        await _until(lambda: conn.stats().decode_errors == 1)
        before = conn.stats().messages
        await _until(lambda: conn.stats().messages > before + 3)  # still reading
    finally:
        await conn.stop()


async def test_pause_stops_market_data_but_user_data_keeps_flowing(server):
    conn = _conn(server)
    await conn.start()
    try:
        await _until(lambda: server.sent["book"] > 3)
        result = await conn.pause()
        assert result.paused and result.unsubscribed == 1
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
        assert conn.stats().resumes == 1
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
        assert conn.stats().stalls >= 1
    finally:
        await conn.stop()


# --- the read path cannot be stopped by input --------------------------------------------------


@pytest.mark.parametrize("frame", ["[" * 100_000, '{"t":' * 100_000, "1" * 50_000, "\x00\xff"])
async def test_hostile_frame_is_counted_and_the_reader_carries_on(server, frame):
    conn = _conn(server)
    await conn.start()
    try:
        await conn.wait_connected()
        await server.send_raw(frame)
        await _until(lambda: conn.stats().decode_errors == 1)
        before = conn.stats().messages
        await _until(lambda: conn.stats().messages > before + 3)  # still reading, same socket
        assert server.connections == 1 and conn.stats().reconnects == 0
    finally:
        await conn.stop()


async def test_an_event_that_cannot_be_applied_is_counted_and_skipped(server):
    conn = _conn(server)
    make_book = conn.codec.book

    def book(symbol, **kw):
        if symbol == "ZZZ":
            raise RuntimeError("a bug while applying an event")
        return make_book(symbol, **kw)

    conn.codec.book = book
    await conn.start()
    try:
        await _until(lambda: conn.order_book("AAA") is not None and conn.order_book("AAA").synced)
        await server.send_raw('{"t":"book","s":"ZZZ","seq":1,"b":[["1","1"]],"a":[]}')
        await _until(lambda: conn.stats().event_errors == 1)
        before = conn.stats().messages
        await _until(lambda: conn.stats().messages > before + 3)
        assert server.connections == 1 and conn.order_book("AAA").synced
    finally:
        await conn.stop()


async def test_a_session_loop_failure_outside_the_known_errors_reconnects(server):
    from perpwire.actors.streams.sessions import Session

    class Flaky(Session):
        calls = 0

        async def connect_params(self, codec, rest):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise RuntimeError("a bug in a session bootstrap")
            return {}

    cfg = _conn(server).config
    conn = StreamConnection(cfg, session=Flaky())
    await conn.start()
    try:
        await conn.wait_connected(5)
        assert conn.stats().session_errors == 1 and conn.stats().reconnects == 1
    finally:
        await conn.stop()


async def test_an_oversized_frame_is_refused_without_buffering_and_the_stream_recovers(server):
    conn = _conn(server, max_frame_bytes=2_000)
    await conn.start()
    try:
        await _until(lambda: conn.order_book("AAA") is not None and conn.order_book("AAA").synced)
        await server.send_raw('{"t":"x","pad":"' + "a" * 20_000 + '"}')
        await _until(lambda: server.connections == 2, timeout=5)
        await _until(lambda: conn.order_book("AAA") is not None and conn.order_book("AAA").synced)
        assert conn.stats().reconnects == 1
    finally:
        await conn.stop()


# --- freshness ---------------------------------------------------------------------------------


async def test_a_silently_stalled_stream_reads_stale_at_once_then_reconnects(server):
    conn = _conn(server, stale_after_s={"book": 0.3})
    await conn.start()
    try:
        await _until(lambda: conn.order_book("AAA") is not None and conn.order_book("AAA").synced)
        server.frozen = True  # TCP stays up, nothing arrives
        await _until(lambda: conn.order_book("AAA").state == "STALE", timeout=1.0)
        assert not conn.order_book("AAA").synced and conn.health().books == {"AAA": "STALE"}
        assert conn.silence_limit_s() == pytest.approx(0.6)  # twice the shortest stale bound
        await _until(lambda: server.connections >= 2, timeout=3.0)
        server.frozen = False
        await _until(lambda: conn.order_book("AAA") is not None and conn.order_book("AAA").synced, timeout=3.0)
    finally:
        await conn.stop()


async def test_a_paused_connection_is_never_judged_silent(server):
    conn = _conn(server, stale_after_s={"book": 0.2})
    await conn.start()
    try:
        await _until(lambda: conn.order_book("AAA") is not None and conn.order_book("AAA").synced)
        await conn.pause()
        assert conn.silence_limit_s() is None  # only user data is wanted: it may be quiet for hours
        server.frozen = True
        await asyncio.sleep(1.5)  # more than seven stale bounds
        assert server.connections == 1 and conn.stats().stalls == 0
        server.frozen = False
        await conn.resume("AAA")  # the quiet clock starts at the resume, not at the last frame
        assert server.connections == 1 and conn.order_book("AAA").synced
    finally:
        await conn.stop()


def test_stale_bounds_come_from_the_venue_cadence_unless_configured():
    from perpwire.actors.streams.connection import STALE_FLOOR_S

    conn = StreamConnection(StreamConfig(venue="stub", name="s", subscriptions=[{"channel": "book", "symbol": "A"}],
                                         stale_after_s={"depth": 7.0}))
    conn.codec.cadence_s = {Channel.BOOK: 0.1, Channel.FUNDING: 60.0}
    assert conn.stale_after_s(Channel.BOOK) == STALE_FLOOR_S  # a few 100 ms cadences, floored
    assert conn.stale_after_s(Channel.FUNDING) == 300.0  # once a minute: five minutes of quiet allowed
    assert conn.stale_after_s(Channel.DEPTH) == 7.0  # configured wins
    assert conn.stale_after_s(Channel.ACCOUNT) == 0.0  # user data may be silent for good


# --- wanted state that outlives the process ---------------------------------------------------


async def test_a_new_life_of_the_connection_restores_paused_and_prepared_state(server):
    from perpwire.actors.durable import MemoryState

    state = MemoryState()
    cfg = _conn(server).config
    first = StreamConnection(cfg, state=state)
    await first.start()
    try:
        await first.wait_connected()
        await first.prepare("BBB")
        await first.pause()
    finally:
        await first.stop()
    second = StreamConnection(cfg, state=state)  # what Ray's restart does: the constructor again
    assert second.health().paused is True
    assert second.tracker.snapshot().paused == (Subscription(Channel.BOOK, "AAA"), Subscription(Channel.BOOK, "BBB"))
    await second.start()
    try:
        await _until(lambda: len(server.subscribed) == 2 and server.subscribed[-1] == {"account:*"})
        await second.resume("BBB")
        assert server.subscribed[-1] == {"account:*", "book:BBB"}
    finally:
        await second.stop()


async def test_a_stream_configured_to_start_paused_never_subscribes_market_data_first(server):
    conn = _conn(server, start_paused=True)
    await conn.start()
    try:
        await conn.wait_connected()
        await _until(lambda: conn.tracker.confirmed)
        assert server.subscribed == [{"account:*"}] and server.sent["book"] == 0
        await conn.resume("AAA")
        assert server.subscribed[-1] == {"account:*", "book:AAA"}
    finally:
        await conn.stop()


async def test_frames_a_session_returns_from_its_keepalive_are_sent_on_the_open_socket(server):
    from perpwire.actors.streams.sessions import Session

    class Renewing(Session):
        keepalive_interval_s = 0.05
        rounds = 0

        async def keepalive(self, codec, rest):
            Renewing.rounds += 1
            return ['{"op":"sub","topics":["renewed:*"],"id":99}'] if Renewing.rounds == 2 else None

    conn = StreamConnection(_conn(server).config, session=Renewing())
    await conn.start()
    try:
        await _until(lambda: server.subscribed and "renewed:*" in server.subscribed[-1], timeout=3)
        assert server.connections == 1
    finally:
        await conn.stop()


async def test_market_data_time_counts_only_while_market_data_is_wanted(server):
    conn = _conn(server, start_paused=True)
    await conn.start()
    try:
        await conn.wait_connected()
        await asyncio.sleep(0.3)
        assert conn.stats().market_data_seconds == 0.0  # paused from the start: no rate measured yet
        await conn.resume("AAA")
        await asyncio.sleep(0.4)
        await conn.pause()
        await asyncio.sleep(0.3)
        active = conn.stats().market_data_seconds
        assert 0.35 <= active <= 1.0 and conn.stats().uptime_s > active + 0.5
    finally:
        await conn.stop()


def test_pause_savings_measure_the_rate_over_the_time_market_data_flowed():
    from perpwire.actors.app.view import pause_savings

    flowed = {"paused": True, "uptime_s": 100.0, "paused_seconds": 100.0, "market_data_seconds": 10.0,
              "bytes": 1_000}
    never = {"paused": True, "uptime_s": 100.0, "paused_seconds": 100.0, "market_data_seconds": 0.0, "bytes": 50}
    sav = pause_savings({"streams": [flowed, never]})
    assert sav["received"] == 1_050 and sav["always_on_estimate"] == 10_000 + 50
    assert sav["saved_fraction"] == pytest.approx(9_000 / 10_050)


async def test_a_venue_that_cannot_be_reached_says_why_once_and_keeps_retrying_quietly(caplog):
    import logging
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = StreamConnection(StreamConfig(venue="stub", name="s", codec_options={"url": f"ws://127.0.0.1:{port}"},
                                         subscriptions=[{"channel": "account"}], backoff_base_s=0.01,
                                         backoff_cap_s=0.02))
    with caplog.at_level(logging.DEBUG, logger="perpwire.actors.streams.connection"):
        await conn.start()
        try:
            await _until(lambda: conn.stats().reconnects >= 5)
            health = conn.health()
            assert not health.connected and health.last_error is not None
            assert "refused" in health.last_error.lower() or "Errno 111" in health.last_error
        finally:
            await conn.stop()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "disconnected" in r.getMessage()]
    assert len(warnings) == 1  # one line for the cause; the retries are quiet


async def test_a_paused_connection_stays_quiet_over_ten_minutes_of_simulated_time(server):
    """The watchdog judged at simulated instants, one every 5 s for ten minutes past the last frame:
    a paused connection (user data only, silent on purpose) is never reconnected or resubscribed,
    while the same silence on a connection that wants market data is acted on."""
    import time

    paused = _conn(server, stale_after_s={"book": 5.0})
    active = _conn(server, stale_after_s={"book": 5.0})
    await paused.start()
    await active.start()
    try:
        await paused.wait_connected()
        await active.wait_connected()
        await paused.pause()
        server.frozen = True
        t0 = time.monotonic()
        for step in range(1, 121):
            now = t0 + 5.0 * step
            await paused.watchdog.check(now)
            if active.health().connected:
                await active.watchdog.check(now)
        assert paused.stats().stalls == 0 and paused.health().connected
        assert active.stats().stalls >= 1  # the control: wanted market data that went silent is noticed
    finally:
        server.frozen = False
        await paused.stop()
        await active.stop()
