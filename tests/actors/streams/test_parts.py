"""The parts of a stream connection on their own: the event handler table, the answers, the codec
contract the connection relies on, book repair through ``resync_frames``, and the tracker."""

from __future__ import annotations

import ast
import asyncio
import json
import pickle
import time
from decimal import Decimal
from pathlib import Path

import pytest

from perpwire import venues
from perpwire.actors.app.config import StreamConfig
from perpwire.actors.durable import MemoryState
from perpwire.actors.streams.answers import (
    COUNTER_NAMES,
    PauseResult,
    ResumeTimeout,
    StreamHealth,
    StreamStats,
    SubscriptionState,
)
from perpwire.actors.streams.connection import StreamConnection
from perpwire.actors.streams.subscriptions import SubscriptionTracker
from perpwire.market.errors import SubscriptionError
from perpwire.market.events import (
    BBO,
    BalanceUpdate,
    BookSnapshot,
    Fill,
    FundingRate,
    OrderStatus,
    OrderUpdate,
    Ping,
    Resync,
    Side,
    Trade,
    UserEvent,
    VenueRejected,
)
from perpwire.venues.base import Channel, Codec, Subscription
from tests.actors.stub_venue import StubCodec

STREAMS = Path(__file__).resolve().parents[3] / "actors" / "streams"


def _config(**kw) -> StreamConfig:
    fields = {"venue": "stub", "name": "mixed", "pausable": True,
              "subscriptions": [{"channel": "book", "symbol": "AAA"}, {"channel": "account"}], **kw}
    return StreamConfig(**fields)


class _Socket:
    """Stands in for an open websocket: records what is sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: list[str] = []

    async def send(self, frame: str) -> None:
        self.sent.append(frame)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed.append(reason)


def _fed(conn: StreamConnection, events: list) -> None:
    """Run ``events`` through the reader as the decode of one frame."""
    conn.codec.decode = lambda frame: events
    conn._on_frame(b"{}")


# --- the handler table --------------------------------------------------------------------------


def _user_events() -> list:
    one = Decimal(1)
    return [
        OrderUpdate(venue="stub", symbol="AAA", order_id="1", client_order_id=None, side=Side.BUY,
                    status=OrderStatus.NEW, price=one, size=one, filled=Decimal(0)),
        Fill(venue="stub", symbol="AAA", order_id="1", trade_id="t1", side=Side.BUY, price=one, size=one,
             fee=Decimal("0.01"), fee_asset="USDT"),
        BalanceUpdate(venue="stub", asset="USDT", balance=one, available=one),
    ]


def test_each_event_type_goes_to_its_handler_and_the_rest_is_counted_by_kind():
    conn = StreamConnection(_config())
    book = BookSnapshot(venue="stub", symbol="AAA", bids=(("100", "1"),), asks=(("101", "1"),), seq=1, ts=1)
    bbo = BBO(venue="stub", symbol="AAA", bid_price=Decimal(100), bid_size=Decimal(1), ask_price=Decimal(101),
              ask_size=Decimal(1), ts=1)
    rate = FundingRate(venue="stub", symbol="AAA", rate=Decimal("0.0008"), interval_hours=8,
                       rate_per_hour=Decimal("0.0001"), ts=5)
    trade = Trade(venue="stub", symbol="AAA", price=Decimal(100), size=Decimal(1), side=Side.SELL, ts=1)
    _fed(conn, [book, bbo, rate, *_user_events(), trade, trade])
    assert conn.books["AAA"].seq == 1 and conn.bbos["AAA"] is bbo and conn.funding_rates() == {"AAA": rate}
    assert len(conn.user_events) == 3
    stats = conn.stats()
    assert (stats.market_events, stats.user_events, stats.messages) == (3, 3, 1)
    assert stats.other == {"event_Trade": 2}


def test_user_events_are_recognised_by_the_union_not_by_their_names():
    conn = StreamConnection(_config())
    for kind in (OrderUpdate, Fill, BalanceUpdate):
        assert conn._handlers[kind] == conn._on_user
    assert set(UserEvent.__args__) <= set(conn._handlers)
    renamed = type("Renamed", (Trade,), {})  # a name in the old list would not make it user data
    _fed(conn, [renamed(venue="stub", symbol="AAA", price=Decimal(1), size=Decimal(1), side=Side.BUY, ts=1)])
    _fed(conn, [renamed(venue="stub", symbol="AAA", price=Decimal(1), size=Decimal(1), side=Side.BUY, ts=2)])
    stats = conn.stats()
    assert stats.user_events == 0 and stats.event_errors == 0 and stats.other == {"event_Renamed": 2}
    assert conn._handlers[renamed] == conn._on_other  # learnt on first sight


def test_a_paused_symbols_book_and_bbo_in_flight_are_dropped_not_applied():
    conn = StreamConnection(_config(start_paused=True))
    book = BookSnapshot(venue="stub", symbol="AAA", bids=(("100", "1"),), asks=(("101", "1"),), seq=1, ts=1)
    _fed(conn, [book])
    assert "AAA" not in conn.books
    stats = conn.stats()
    assert (stats.dropped_after_pause, stats.market_events) == (1, 0)


async def test_a_ping_is_answered_with_the_codecs_pong():
    conn = StreamConnection(_config())
    conn.codec.pong = lambda ping: f'{{"pong":"{ping.payload}"}}'
    sock = conn._link.ws = _Socket()
    _fed(conn, [Ping(venue="stub", payload="42")])
    await asyncio.wait_for(asyncio.gather(*conn._tasks), 1)
    assert sock.sent == ['{"pong":"42"}'] and conn.stats().control_sent == 1


# --- answers ------------------------------------------------------------------------------------


def test_answers_are_frozen_structs_of_the_installed_package_and_survive_pickling():
    conn = StreamConnection(_config())
    for answer in (conn.health(), conn.stats()):
        assert type(answer).__module__ == "perpwire.actors.streams.answers"
        assert pickle.loads(pickle.dumps(answer)) == answer
        with pytest.raises(AttributeError):
            answer.venue = "other"
    health = conn.health()
    assert isinstance(health, StreamHealth) and not health.connected and health.last_frame_age_s is None
    assert health.subscriptions == SubscriptionState(
        wanted=(Subscription(Channel.ACCOUNT), Subscription(Channel.BOOK, "AAA")),
        pending=(Subscription(Channel.ACCOUNT), Subscription(Channel.BOOK, "AAA")))


def test_every_counter_the_connection_keeps_has_a_field():
    """Scan the stream modules for the counter names they increment: each one is a field of
    ``StreamStats`` (only ``event_<Kind>`` lands in ``other``), so no count is lost in a dict."""
    used = set()
    for path in STREAMS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Subscript)
                    and isinstance(node.target.slice, ast.Constant)):
                used.add(node.target.slice.value)
    assert used and used <= set(COUNTER_NAMES), used - set(COUNTER_NAMES)
    assert set(COUNTER_NAMES) <= set(StreamStats.__struct_fields__)


async def test_pause_answers_why_it_did_not_pause():
    fixed = StreamConnection(_config(pausable=False, subscriptions=[{"channel": "account"}]))
    result = await fixed.pause()
    assert result == PauseResult(venue="stub", stream="mixed", paused=False, latency_ms=result.latency_ms,
                                 reason="stream is not pausable")
    conn = StreamConnection(_config(cooldown_s=0.5), state=MemoryState())
    conn.control._last_resume = time.monotonic()  # a resume just happened: the pause waits out the cooldown
    pausing = asyncio.create_task(conn.pause())
    await asyncio.sleep(0.05)
    with pytest.raises(ResumeTimeout):  # a later command (no socket, so its book never comes)
        await conn.resume("AAA", timeout_s=0.1)
    result = await asyncio.wait_for(pausing, 2)
    assert result.superseded and not result.paused and result.unsubscribed == 0
    assert Subscription(Channel.BOOK, "AAA") in conn.tracker.wanted  # still on


# --- the codec contract -------------------------------------------------------------------------


def _codec_uses(path: Path) -> tuple[set[str], list[int]]:
    """Attributes read off ``codec``/``self.codec``/``self._codec`` in ``path``, and the lines that
    probe a codec with ``getattr``/``hasattr``."""
    names, probes = set(), []

    def is_codec(node) -> bool:
        return (isinstance(node, ast.Name) and node.id == "codec") or (
            isinstance(node, ast.Attribute) and node.attr in ("codec", "_codec"))

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and is_codec(node.value):
            names.add(node.attr)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
                and node.args and is_codec(node.args[0])):
            probes.append(node.lineno)
    return names, probes


@pytest.mark.parametrize("module", ["connection", "control", "watchdog", "resync", "funding", "link", "actor"])
def test_everything_the_stream_modules_ask_of_a_codec_is_declared_on_the_base_codec(module):
    names, probes = _codec_uses(STREAMS / f"{module}.py")
    assert probes == [], f"{module}.py probes the codec with getattr/hasattr on lines {probes}"
    missing = {n for n in names if not hasattr(Codec, n) and n != "stats"}  # stats: made per instance
    assert not missing, f"{module}.py uses codec attributes venues.base.Codec does not declare: {missing}"


class _Bare(Codec):
    """A codec that declares only what is abstract."""

    name = "bare"

    def url(self, stream="market", **params):
        return "ws://127.0.0.1:1"

    def subscribe(self, subs):
        return [json.dumps({"sub": [f"{s.channel}:{s.symbol}" for s in subs]})]

    def unsubscribe(self, subs):
        return [json.dumps({"unsub": [f"{s.channel}:{s.symbol}" for s in subs]})]

    def decode(self, frame):
        return []

    def decode_snapshot(self, symbol, body):
        raise NotImplementedError

    def decode_funding(self, body):
        return []


def test_the_base_codec_gives_every_declared_duty_a_default():
    codec = _Bare()
    assert codec.resync_frames("X") == ['{"unsub": ["depth:X"]}', '{"sub": ["depth:X"]}']
    assert codec.welcome_required is False and codec.heartbeat_interval_s is None and codec.heartbeat() is None
    assert codec.pong(Ping(venue="bare")) is None and dict(codec.cadence_s) == {}
    assert codec.max_frame_bytes == 4 * 2**20 and codec.book("X").symbol == "X"
    with pytest.raises(SubscriptionError, match="bare"):
        codec.topic(Subscription(Channel.DEPTH, "X"))
    with pytest.raises(SubscriptionError, match="resync_frames"):
        codec.depth_request("X")


def test_every_registered_codec_answers_the_connections_questions():
    for name in venues.names():
        if name == "stub":
            continue
        codec = venues.codec(name)
        assert isinstance(codec.welcome_required, bool), name
        assert codec.max_frame_bytes > 0 and isinstance(dict(codec.cadence_s), dict), name
        depth = [Subscription(Channel.DEPTH, codec.example_symbol)]
        try:
            frames = codec.resync_frames(codec.example_symbol)
        except SubscriptionError:  # only a venue without a depth channel may refuse
            with pytest.raises(SubscriptionError):
                codec.subscribe(depth)
            continue
        assert frames and all(isinstance(f, str) for f in frames), name


# --- book repair ----------------------------------------------------------------------------------


async def test_a_venue_that_reseeds_by_resubscribing_is_sent_the_codecs_resync_frames():
    conn = StreamConnection(_config(pausable=False, subscriptions=[{"channel": "depth", "symbol": "AAA"}]),
                            resync_by_resubscribe=True)
    conn.codec.resync_frames = lambda symbol: [f"reseed {symbol}"]
    sock = conn._link.ws = _Socket()
    _fed(conn, [Resync(venue="stub", symbol="AAA", reason="gap"), Resync(venue="stub", symbol="ZZZ", reason="gap")])
    await asyncio.wait_for(asyncio.gather(*conn._tasks), 1)
    assert sock.sent == ["reseed AAA"]  # ZZZ's depth is not wanted: nothing to repair
    assert conn.stats().resyncs == 2 and conn.stats().snapshots == 0


def test_book_repair_follows_the_venues_spec_unless_told():
    lighter = StreamConfig(venue="lighter", name="unified", subscriptions=[{"channel": "depth", "symbol": "1"}])
    assert venues.spec("lighter").resync_by_resubscribe
    assert StreamConnection(lighter).resync.by_resubscribe is True
    assert StreamConnection(lighter, resync_by_resubscribe=False).resync.by_resubscribe is False
    assert StreamConnection(_config()).resync.by_resubscribe is StubCodec.spec.resync_by_resubscribe is False


# --- the tracker ----------------------------------------------------------------------------------


def test_tracker_restore_starts_over_from_the_saved_sets():
    tracker = SubscriptionTracker()
    a, b, c = (Subscription(Channel.DEPTH, s) for s in "ABC")
    tracker.want([a])
    tracker.confirm([a])
    tracker.restore([b], [c])
    state = tracker.snapshot()
    assert state == SubscriptionState(wanted=(b,), paused=(c,), pending=(b,))
    assert not hasattr(tracker, "reject") and not hasattr(tracker, "rejected")


def test_a_venue_rejection_is_counted_and_the_subscription_stays_wanted():
    conn = StreamConnection(_config())
    _fed(conn, [VenueRejected(venue="stub", code="400", message="bad topic", channel="book:AAA")])
    assert conn.stats().rejected == 1
    assert Subscription(Channel.BOOK, "AAA") in conn.tracker.wanted and conn.tracker.snapshot().pending
