"""What a stream connection answers: frozen msgspec Structs, returned by value through Ray.

Commands answer with a result (``PauseResult``, ``ResumeResult``; ``prepare`` and ``subscribe``
with the ``Subscription``s they added), queries with a snapshot (``StreamHealth``,
``StreamStats``). They live here, in the installed package, so a Ray worker unpickles them by
their module path; ``msgspec.structs.asdict`` turns one into a dict for a table or JSON.
"""

from __future__ import annotations

from typing import Any

import msgspec

from perpwire.venues.base import Subscription


class ResumeResult(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of ``resume``: ``synced`` means every book in ``symbols`` is SYNCED and fresh;
    ``superseded`` means a later command (a pause) took over before that, so nothing was waited for."""

    venue: str
    stream: str
    symbols: tuple[str, ...]
    synced: bool
    latency_ms: float
    superseded: bool = False


class ResumeTimeout(TimeoutError):
    """The book did not become SYNCED and fresh in time; the caller falls back to REST."""


class PauseResult(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of ``pause``. ``paused`` False with a ``reason``: the stream is not pausable, or a
    later command took over during the cooldown (``superseded``); its market data is still on."""

    venue: str
    stream: str
    paused: bool
    unsubscribed: int = 0  # market-data subscriptions this call took down (0 when already paused)
    latency_ms: float = 0.0
    superseded: bool = False
    reason: str | None = None


class SubscriptionState(msgspec.Struct, frozen=True, kw_only=True):
    """Where each subscription of a connection stands with the venue, each tuple sorted.

    ``wanted``: live after any reconnect; ``paused``: taken down by a pause, restored by a resume;
    ``pending``: sent, no ack yet; ``confirmed``: acked (or implied by the URL);
    ``pending_unsubscribe``: unsubscribe sent, no ack yet."""

    wanted: tuple[Subscription, ...] = ()
    paused: tuple[Subscription, ...] = ()
    pending: tuple[Subscription, ...] = ()
    confirmed: tuple[Subscription, ...] = ()
    pending_unsubscribe: tuple[Subscription, ...] = ()


class StreamHealth(msgspec.Struct, frozen=True, kw_only=True):
    """Whether a connection can be relied on now. A book whose state is not ``SYNCED`` (EMPTY,
    BUFFERING, RESYNCING, STALE) must not be traded on: read a REST snapshot instead."""

    venue: str
    stream: str
    connected: bool
    paused: bool
    last_frame_age_s: float | None  # None before the first frame
    books: dict[str, str]  # symbol -> SyncState name, or STALE
    subscriptions: SubscriptionState
    last_error: str | None = None  # why the last connect failed or session ended; None once connected
    incarnation: str = ""  # the actor process answering (node, pid, start time): a restart changes it
    book_age_ms: dict[str, int] = {}  # symbol -> ms since the book's last update (books that had one)


class StreamCounters(msgspec.Struct, frozen=True, kw_only=True):
    """What a connection counted since it was built (every field a count, 0 when it never happened)."""

    messages: int = 0  # frames received
    bytes: int = 0  # bytes of those frames
    market_events: int = 0  # books, BBO and funding applied
    user_events: int = 0  # orders, fills, balances, positions, funding payments
    dropped_after_pause: int = 0  # market data that was in flight when its unsubscribe landed
    decode_errors: int = 0  # frames skipped because they did not decode
    decode_contract_breaches: int = 0  # of those, frames the codec failed on outside its contract (a bug)
    event_errors: int = 0  # events skipped because applying them failed
    rejected: int = 0  # error frames from the venue
    reconnects: int = 0
    session_errors: int = 0  # session attempts that failed outside the known network errors
    session_expired: int = 0  # listenKey or token expiries announced by the venue
    stalls: int = 0  # watchdog actions: resubscribes and reconnects of quiet streams
    resyncs: int = 0  # books that lost their sequence
    snapshots: int = 0  # REST snapshots applied
    heartbeats: int = 0  # application-level pings sent
    control_sent: int = 0  # subscribe, unsubscribe and pong frames sent
    control_paced_ms: int = 0  # time frames waited for the venue's control-message limit (a pacer)
    connect_paced_ms: int = 0  # time new connections waited for the venue's connection budget
    funding_pushes: int = 0
    funding_push_errors: int = 0
    resume_timeouts: int = 0


#: the counter names a ``StreamStats`` carries as fields
COUNTER_NAMES: tuple[str, ...] = StreamCounters.__struct_fields__


class StreamStats(StreamCounters, frozen=True, kw_only=True):
    """A connection's counters, uptime, time spent paused and resume latencies."""

    venue: str
    stream: str
    uptime_s: float
    paused_seconds: float
    market_data_seconds: float = 0.0  # time with any market-data subscription wanted (bytes came in then)
    resumes: int  # resumes that ended SYNCED (the latencies below are theirs)
    resume_p50_ms: float | None
    resume_p99_ms: float | None
    other: dict[str, int] = {}  # counters without a field: ``event_<Kind>`` for events of no use here
    codec: dict[str, Any] = {}  # the codec's own counters (frames, events, unknown kinds, errors)
    resume_histogram: dict[str, int] = {}  # resume latencies counted per bucket: upper bound in ms (or "+Inf")
