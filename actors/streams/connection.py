"""One venue WebSocket connection, kept alive, kept subscribed, and read by value.

``StreamConnection`` is the whole behaviour of a stream actor as a plain asyncio object (the Ray
actor in ``actors.streams.actor`` only wraps it), so it is tested without Ray. It runs the session
loop and the reader itself and hands every other duty to a collaborator that owns its state:
``StreamControl`` (commands, paused state, durable wanted state), ``Watchdog`` (freshness clocks
and bounds, the quiet-stream check), ``BookResync`` (per-symbol repair), ``FundingPusher`` (latest
funding, conflated push) and ``Link`` (the open socket, for everyone who sends or closes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any, get_args

import websockets

from perpwire import venues
from perpwire.actors.app.config import StreamConfig
from perpwire.actors.durable import DurableState
from perpwire.actors.pacing import Backoff, TokenBucket, now_ms, pacer_for
from perpwire.actors.rest import RestClient
from perpwire.actors.streams.answers import (
    COUNTER_NAMES,
    PauseResult,
    ResumeResult,
    StreamHealth,
    StreamStats,
)
from perpwire.actors.streams.control import StreamControl
from perpwire.actors.streams.funding import FundingPusher
from perpwire.actors.streams.link import Link
from perpwire.actors.streams.resync import BookResync
from perpwire.actors.streams.sessions import Session, session_for
from perpwire.actors.streams.subscriptions import SubscriptionTracker
from perpwire.actors.streams.watchdog import STALE_CADENCES, STALE_FLOOR_S, Watchdog
from perpwire.market import views
from perpwire.market.book import BookView, OrderBook
from perpwire.market.errors import DecodeError, PerpwireError
from perpwire.market.events import (
    BBO,
    BookDelta,
    BookSnapshot,
    Connected,
    FundingRate,
    LazyBookSnapshot,
    Ping,
    Resync,
    SessionExpired,
    Subscribed,
    Unsubscribed,
    UserEvent,
    VenueRejected,
)
from perpwire.venues.base import Channel, Subscription

__all__ = ["STALE_CADENCES", "STALE_FLOOR_S", "StreamConnection"]

log = logging.getLogger(__name__)

Sink = Callable[[list], Awaitable[Any]]
Handler = Callable[[Any, int, float], None]
_COUNTER_SET = frozenset(COUNTER_NAMES)
_YIELD_MASK = 63  # the reader yields to the event loop every 64 frames


class StreamConnection:
    """One WebSocket connection to one venue, for the symbols and channels its ``StreamConfig``
    wants, reconnected and resubscribed until ``stop``.

    ``await start()`` returns at once; ``await wait_connected()`` returns when the first socket is
    open and subscribed (``TimeoutError`` if not within its timeout; the connection keeps trying).
    From then on it runs, until ``stop``:

    - the session loop: connect (the venue's ``Session`` supplies listenKeys, tokens, signatures
      first), subscribe everything wanted — after the venue's welcome frame when the codec says
      ``welcome_required`` —, read, and on any failure reconnect after a capped exponential backoff
      with full jitter, counted in ``reconnects``; the socket is rotated before the venue's age
      limit (``rotate_after_s``) and refuses frames above ``max_frame_bytes`` (a bigger frame
      closes the socket, and the connection reconnects);
    - the reader: every frame is decoded and its events applied to the books, BBO and funding;
      a frame that does not decode or an event that cannot be applied is counted
      (``decode_errors``, ``event_errors``), logged with venue, stream and symbol (at most five
      lines per 10 s, the rest summed up) and skipped;
    - the codec's heartbeat, the session's keepalive, the watchdog, and the funding pusher;
    - a per-symbol repair whenever a book loses its sequence (the other books stay SYNCED).

    Commands (``pause``, ``resume``, ``prepare``, ``subscribe``) are serialised and versioned, the
    last intent wins; their answers are ``PauseResult``, ``ResumeResult`` (or ``ResumeTimeout``:
    read a REST snapshot instead) and the ``Subscription``s sent. Queries return copies:
    ``order_book`` is SYNCED only while fresh (STALE past the channel's bound), ``bbo`` None when
    stale; ``health()`` and ``stats()`` are ``StreamHealth`` and ``StreamStats``.

    ``resync_by_resubscribe`` (default: the venue's ``spec``) re-seeds a broken book with the codec's
    ``resync_frames`` instead of a REST snapshot; ``state`` keeps the wanted subscriptions across
    restarts of the process (``start_paused`` applies only when nothing was saved).
    """

    def __init__(
        self,
        config: StreamConfig,
        *,
        funding_sink: Sink | None = None,
        user_sink: Sink | None = None,
        session: Session | None = None,
        resync_by_resubscribe: bool | None = None,
        state: DurableState | None = None,
    ):
        self.config = config
        self.venue = config.venue
        self.name = config.name
        self._ctx = ctx = f"{self.venue}/{self.name}"
        self.last_error: str | None = None  # why the last connection attempt or session ended
        self.codec = venues.codec(config.venue, **config.codec_options)
        self.counters: Counter[str] = Counter()
        self.tracker = SubscriptionTracker()
        self.tracker.want(config.wanted())
        self.books: dict[str, OrderBook] = {}
        self.bbos: dict[str, BBO] = {}
        self._bbo_recv_ms: dict[str, int] = {}
        self.user_events: deque = deque(maxlen=1000)
        self._user_sink = user_sink
        self._session = session or session_for(config)
        self.rest = RestClient(config.venue, TokenBucket(config.rest_rate_per_s, config.rest_burst))
        self._backoff = Backoff(config.backoff_base_s, config.backoff_cap_s)
        self._link = Link(self.counters)
        if config.pace_control:  # control frames within the venue's published rate, per connection
            self._link.pacer = pacer_for(venues.spec(config.venue).limits)
        self.connect_budget: TokenBucket | None = None  # new connections (a shared budget in stream actors)
        self._connected = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._runner: asyncio.Task | None = None
        self._stopping = False
        self._rotate = False
        self._log_gate = _LogGate()
        self.started_at: float | None = None
        rotate = config.rotate_after_s
        if rotate is None and self.codec.max_connection_age_s:
            rotate = max(60.0, self.codec.max_connection_age_s - 600.0)
        self._rotate_after = rotate
        self._max_frame = config.max_frame_bytes or self.codec.max_frame_bytes
        self.watchdog = Watchdog(config, self.codec, self.tracker, self._link, self.counters, ctx)
        self.resync = BookResync(config, self.codec, self.rest, self._link, self.tracker, self.book_for, self._spawn,
                                 self.counters, ctx, by_resubscribe=self.codec.spec.resync_by_resubscribe
                                 if resync_by_resubscribe is None else resync_by_resubscribe)
        self.funding_pusher = FundingPusher(funding_sink, config.push_interval_s, self.counters, ctx)
        self.control = StreamControl(config, self.codec, self.tracker, self._link, self.watchdog, self.resync,
                                     self.books, self._forget_market, self.counters, ctx, state)
        self.funding = self.funding_pusher.latest
        # the reader's hot path reads these directly: each is owned (and only mutated in place) by its collaborator
        self._quiet = self.control.quiet
        self._seen = self.watchdog.seen
        self._handlers = self._handler_table()
        #: when set, the reader waits for this event between frames (a consumer's back-pressure)
        self.read_gate: asyncio.Event | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the session loop; returns at once (idempotent)."""
        if self._runner is None or self._runner.done():
            self._stopping = False
            self.resync.enabled = True
            self.started_at = time.monotonic()
            self._runner = asyncio.create_task(self._run(), name=f"{self._ctx}:run")

    async def stop(self) -> None:
        """Close the socket and end every task (idempotent); pending funding is pushed first."""
        self._stopping = True
        self.resync.enabled = False
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        self._runner = None
        await self.funding_pusher.flush()
        await self.rest.close()

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    @property
    def _ws(self) -> Any:
        """The open socket, or None between sockets."""
        return self._link.ws

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=f"{self._ctx}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self) -> None:
        self._spawn(self.watchdog.run(), "watchdog")
        self._spawn(self.funding_pusher.run(), "pusher")
        while not self._stopping:
            try:
                if self.connect_budget is not None:
                    waited = await self.connect_budget.acquire()
                    if waited:
                        self.counters["connect_paced_ms"] += int(waited * 1000)
                params = await self._session.connect_params(self.codec, self.rest)
                url = self.codec.url(self.config.route, **params)
                async with websockets.connect(url, max_size=self._max_frame, open_timeout=10, ping_interval=20,
                                              ping_timeout=20, close_timeout=2) as ws:
                    await self._session_loop(ws)
                if self._rotate:
                    self._rotate = False
                    log.info("%s: rotated the connection before the venue's age limit", self._ctx)
                    continue
                reason = "closed by peer"
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, websockets.WebSocketException, PerpwireError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # a bug or hostile input must never end the session loop for good
                self.counters["session_errors"] += 1
                log.exception("%s: session failed unexpectedly; reconnecting", self._ctx)
                reason = f"unexpected {type(exc).__name__}: {exc}"
            finally:
                self._link.ws = None
                self._connected.clear()
            if self._stopping:
                break
            delay = self._backoff.next_delay()
            self.counters["reconnects"] += 1
            # the same failure again is retried quietly: one warning per cause, not one per attempt
            (log.debug if reason == self.last_error else log.warning)(
                "%s: disconnected (%s); reconnect #%d in %.2f s", self._ctx, reason, self.counters["reconnects"], delay)
            self.last_error = reason
            await asyncio.sleep(delay)

    async def _session_loop(self, ws) -> None:
        self._link.ws = ws
        self.last_error = None
        self.watchdog.on_connect()
        for symbol, book in self.books.items():
            if book.invalidate("reconnect") is not None:
                log.info("%s %s: book reset after reconnect", self._ctx, symbol)
        self.resync.reset()
        helpers = [self._spawn(self._heartbeat(ws), "heartbeat"), self._spawn(self._keepalive(), "keepalive")]
        if self._rotate_after:
            helpers.append(self._spawn(self._rotate_later(ws, self._rotate_after), "rotate"))
        if not self.codec.welcome_required:
            await self._subscribe_all()
        try:
            n = 0
            async for frame in ws:
                self._on_frame(frame)
                gate = self.read_gate
                if gate is not None and not gate.is_set():
                    await gate.wait()
                n += 1
                if not n & _YIELD_MASK:  # frames already buffered never suspend the read: let the loop's others run
                    await asyncio.sleep(0)
        finally:
            for h in helpers:
                h.cancel()

    async def _subscribe_all(self) -> None:
        subs = self.tracker.on_reconnect()
        implicit = [s for s in subs if s.channel is Channel.ACCOUNT and self._session.account_in_url]
        self.tracker.confirm(implicit)  # a listenKey URL is the subscription
        explicit = [s for s in subs if s not in implicit]
        if explicit:
            await self._link.send(self.codec.subscribe(explicit))
        self._connected.set()
        self._backoff.reset()
        self.resync.after_subscribe(subs, "subscribed")

    async def _rotate_later(self, ws, after_s: float) -> None:
        await asyncio.sleep(after_s)
        self._rotate = True
        await ws.close(code=1000, reason="rotate")

    async def _heartbeat(self, ws) -> None:
        interval = self.codec.heartbeat_interval_s
        if not interval:
            return
        while True:
            await asyncio.sleep(interval)
            frame = self.codec.heartbeat()
            if frame is not None:
                await ws.send(frame)
                self.counters["heartbeats"] += 1

    async def _keepalive(self) -> None:
        """The session's duty while the socket is open (listenKey PUT, auth-token renewal): the
        interval is read afresh every round, and frames the session returns (a re-subscribe with a
        new token) are sent on this socket."""
        while True:
            interval = self._session.keepalive_interval_s
            if not interval:
                return
            await asyncio.sleep(max(0.0, interval))
            try:
                frames = await self._session.keepalive(self.codec, self.rest)
            except (PerpwireError, OSError, TimeoutError) as exc:
                log.warning("%s: keepalive failed (%s); reconnecting with a new session", self._ctx, exc)
                self._session.expire()
                await self._link.close("keepalive failed")
                return
            if frames:
                await self._link.send(list(frames))

    # --- frames and events -------------------------------------------------------------------

    def _on_frame(self, frame: bytes | str) -> None:
        """Decode and apply one frame. Nothing a frame holds can stop the reader: a frame that
        does not decode, or an event that cannot be applied, is counted, logged (venue, stream,
        symbol) and skipped, and the next frame is read."""
        now = time.monotonic()
        wd = self.watchdog
        wd.last_frame = now
        recv_ts = wd.last_frame_ms = now_ms()
        counters = self.counters
        counters["messages"] += 1
        counters["bytes"] += len(frame)
        try:
            events = self.codec.decode(frame)
        except DecodeError as exc:
            counters["decode_errors"] += 1
            self._log_gate.warn(f"{self._ctx}: skipped a bad frame: {exc}")
            return
        except Exception as exc:  # outside the codec contract (a codec bug): still only this frame
            counters["decode_errors"] += 1
            counters["decode_contract_breaches"] += 1
            self._log_gate.warn(f"{self._ctx}: skipped a frame the codec failed on ({type(exc).__name__}: "
                                f"{str(exc)[:120]}); first bytes {frame[:60]!r}")
            return
        handlers = self._handlers
        for ev in events:
            try:
                handlers[type(ev)](ev, recv_ts, now)  # a plain dict subscript: the cheapest dispatch measured
            except Exception as exc:  # one bad event never ends the reader
                self._on_failed(ev, recv_ts, now, exc)

    def _on_failed(self, ev: Any, recv_ts: int, now: float, exc: Exception) -> None:
        """An event without a handler yet (its type is learnt as ``_on_other``), or one whose handler
        failed: counted in ``event_errors`` and logged."""
        kind = type(ev)
        if kind not in self._handlers:
            self._handlers[kind] = self._on_other
            try:
                self._on_other(ev, recv_ts, now)
                return
            except Exception as again:
                exc = again
        self.counters["event_errors"] += 1
        self._log_gate.warn(f"{self._ctx} {getattr(ev, 'symbol', None) or '*'}: could not apply "
                            f"{kind.__name__}: {type(exc).__name__}: {exc}")

    def _handler_table(self) -> dict[type, Handler]:
        """Event type -> what the reader does with it. A type not listed is only counted
        (``_on_other``, learnt into the table on first sight)."""
        table: dict[type, Handler] = {
            BookDelta: self._on_book, BookSnapshot: self._on_book, LazyBookSnapshot: self._on_book,
            BBO: self._on_bbo, FundingRate: self._on_funding,
            Resync: self._on_resync, Subscribed: self._on_subscribed, Unsubscribed: self._on_unsubscribed,
            VenueRejected: self._on_rejected, Ping: self._on_ping, Connected: self._on_connected,
            SessionExpired: self._on_session_expired,
        }
        table.update(dict.fromkeys(get_args(UserEvent), self._on_user))
        return table

    def _on_book(self, ev: BookDelta | BookSnapshot | LazyBookSnapshot, recv_ts: int, now: float) -> None:
        symbol = ev.symbol
        if symbol in self._quiet:
            self.counters["dropped_after_pause"] += 1  # in flight when the unsubscribe landed
            return
        self._seen[symbol] = now
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = self.codec.book(symbol)
        resync = book.apply(ev, recv_ts)
        if resync is not None:
            self.resync.on_resync(resync)
        self.counters["market_events"] += 1

    def _on_bbo(self, ev: BBO, recv_ts: int, now: float) -> None:
        symbol = ev.symbol
        if symbol in self._quiet:
            self.counters["dropped_after_pause"] += 1
            return
        self._seen[symbol] = now
        self.bbos[symbol] = ev
        self._bbo_recv_ms[symbol] = recv_ts
        self.counters["market_events"] += 1

    def _on_funding(self, ev: FundingRate, recv_ts: int, now: float) -> None:
        self._seen[ev.symbol] = now
        self._seen["*"] = now
        self.funding_pusher.offer(ev)
        self.counters["market_events"] += 1

    def _on_user(self, ev: UserEvent, recv_ts: int, now: float) -> None:
        self.user_events.append(ev)
        self.counters["user_events"] += 1
        if self._user_sink is not None:
            self._spawn(self._user_sink([ev]), "user-sink")

    def _on_resync(self, ev: Resync, recv_ts: int, now: float) -> None:
        self.resync.on_resync(ev)

    def _on_subscribed(self, ev: Subscribed, recv_ts: int, now: float) -> None:
        self.tracker.confirm(self._match(ev.channels))

    def _on_unsubscribed(self, ev: Unsubscribed, recv_ts: int, now: float) -> None:
        self.tracker.confirm_unsubscribed(self._match(ev.channels))

    def _on_rejected(self, ev: VenueRejected, recv_ts: int, now: float) -> None:
        self.counters["rejected"] += 1
        log.warning("%s: venue rejected request %s (channel %s): %s %s", self._ctx, ev.request_id, ev.channel,
                    ev.code, ev.message)

    def _on_ping(self, ev: Ping, recv_ts: int, now: float) -> None:
        reply = self.codec.pong(ev)
        if reply is not None:
            self._spawn(self._link.send([reply]), "pong")

    def _on_connected(self, ev: Connected, recv_ts: int, now: float) -> None:
        if self.codec.welcome_required:
            self._spawn(self._subscribe_all(), "subscribe")

    def _on_session_expired(self, ev: SessionExpired, recv_ts: int, now: float) -> None:
        self.counters["session_expired"] += 1
        log.warning("%s: session expired (%s); renewing and reconnecting", self._ctx, ev.reason)
        self._session.expire()
        if self._link.open:
            self._spawn(self._link.close("session expired"), "close")

    def _on_other(self, ev: Any, recv_ts: int, now: float) -> None:
        self.counters[f"event_{type(ev).__name__}"] += 1

    def _match(self, channels) -> list[Subscription]:
        """The subscriptions an ack names (in the venue's spelling, ``codec.topic``)."""
        names = set(channels)
        if not names:
            return []
        out = []
        for s in self.tracker.wanted | self.tracker.pending_unsubscribe:
            try:
                if self.codec.topic(s) in names:
                    out.append(s)
            except PerpwireError:
                continue
        return out

    # --- market state --------------------------------------------------------------------------

    def book_for(self, symbol: str) -> OrderBook:
        """The symbol's book, created empty on first use."""
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = self.codec.book(symbol)
        return book

    def _forget_market(self, symbol: str) -> None:
        """A paused symbol: its book starts over (deltas stop, so it could only go stale) and its BBO goes."""
        if symbol in self.books:
            self.books[symbol] = self.codec.book(symbol)
        self.bbos.pop(symbol, None)

    # --- commands (``StreamControl``) ------------------------------------------------------------

    async def pause(self) -> PauseResult:
        """Stop this connection's market data; user data, funding and liquidations keep flowing."""
        return await self.control.pause()

    async def resume(self, symbol: str | None = None, timeout_s: float | None = None) -> ResumeResult:
        """Restore market data (``symbol``'s or all) and return once its book is SYNCED and fresh;
        ``ResumeTimeout`` after ``timeout_s`` (default ``resume_timeout_s``)."""
        return await self.control.resume(symbol, timeout_s)

    async def prepare(self, symbol: str) -> list[Subscription]:
        """Make ``symbol``'s book streams wanted (kept paused while the connection is paused)."""
        return await self.control.prepare(symbol)

    async def subscribe(self, subs: list[Subscription]) -> list[Subscription]:
        return await self.control.subscribe(subs)

    # --- freshness (``Watchdog``) ------------------------------------------------------------------

    def stale_after_s(self, channel: Channel) -> float:
        return self.watchdog.stale_after_s(channel)

    def silence_limit_s(self) -> float | None:
        return self.watchdog.silence_limit_s()

    def _freshness_bound(self, symbol: str, book: OrderBook) -> tuple[int | None, int]:
        """(stale_after_ms, heard_ms) of the channel the book rides on."""
        channel = Channel.BOOK if Subscription(Channel.BOOK, symbol) in self.tracker.wanted else Channel.DEPTH
        return self.watchdog.stale_after_ms(channel), self.watchdog.heard_ms(channel, book.recv_ts)

    def _view(self, symbol: str, book: OrderBook, levels: int | None, now: int) -> BookView:
        stale_after, heard = self._freshness_bound(symbol, book)
        return book.view(levels, now_ms=now, stale_after_ms=stale_after, heard_ms=heard)

    def _wire(self, symbol: str, levels: int | None, now: int):
        book = self.books.get(symbol)
        if book is None:
            return None
        stale_after, heard = self._freshness_bound(symbol, book)
        return views.wire(book, levels, now, stale_after_ms=stale_after, heard_ms=heard)

    def _bbo_fresh(self, symbol: str, now: int) -> bool:
        limit = self.watchdog.stale_after_ms(Channel.BBO)
        if limit is None:
            return True
        return now - self.watchdog.heard_ms(Channel.BBO, self._bbo_recv_ms.get(symbol, 0)) <= limit

    # --- queries -----------------------------------------------------------------------------

    def order_book(self, symbol: str, levels: int | None = 20) -> BookView | None:
        """A copy of the book's top ``levels``; its state is STALE (never SYNCED) when the stream
        has not been heard from within the channel's freshness bound."""
        book = self.books.get(symbol)
        return None if book is None else self._view(symbol, book, levels, now_ms())

    def order_books(self, symbols: list[str], levels: int | None = 20) -> dict[str, BookView | None]:
        return {s: self.order_book(s, levels) for s in symbols}

    def packed_order_book(self, symbol: str, levels: int | None = 20) -> views.PackedView | None:
        """``order_book`` in its wire form (``market.views``), for a reader in another process."""
        w = self._wire(symbol, levels, now_ms())
        return None if w is None else views.PackedView(w)

    def packed_order_books(self, symbols: list[str], levels: int | None = 20) -> views.PackedViews:
        """``order_books`` as one blob: one pickled object per call, whatever the number of books."""
        now = now_ms()
        return views.PackedViews({s: self._wire(s, levels, now) for s in symbols})

    def bbo(self, symbol: str) -> BBO | None:
        """The newest BBO, or None when there is none or it is past its freshness bound."""
        bbo = self.bbos.get(symbol)
        return bbo if bbo is not None and self._bbo_fresh(symbol, now_ms()) else None

    def funding_rates(self) -> dict[str, FundingRate]:
        return dict(self.funding)

    def pace_with(self, pacer) -> None:
        """Pace control frames with ``pacer`` (a ``TokenBucket`` or a shared one) instead."""
        self._link.pacer = pacer

    def health(self) -> StreamHealth:
        wall = now_ms()
        last = self.watchdog.last_frame
        return StreamHealth(
            venue=self.venue, stream=self.name, connected=self._link.open, paused=self.control.is_paused,
            last_frame_age_s=round(time.monotonic() - last, 3) if last else None,
            books={s: self._view(s, b, 0, wall).state for s, b in self.books.items()},
            subscriptions=self.tracker.snapshot(), last_error=self.last_error,
            book_age_ms={s: max(0, wall - b.recv_ts) for s, b in self.books.items() if b.recv_ts})

    def stats(self) -> StreamStats:
        lat = sorted(self.control.resume_latencies_ms)

        def pct(p: float) -> float | None:
            return None if not lat else round(lat[min(len(lat) - 1, int(p * len(lat)))], 2)

        counts = {k: v for k, v in self.counters.items() if k in _COUNTER_SET}
        other = {k: v for k, v in self.counters.items() if k not in _COUNTER_SET}
        return StreamStats(
            venue=self.venue, stream=self.name, **counts, other=other,
            uptime_s=round(time.monotonic() - self.started_at, 3) if self.started_at else 0.0,
            paused_seconds=round(self.control.paused_total_s(), 3),
            market_data_seconds=round(self.control.market_total_s(), 3), resumes=len(lat), resume_p50_ms=pct(0.5),
            resume_p99_ms=pct(0.99), codec=self.codec.stats.as_dict(), resume_histogram=resume_histogram(lat))


#: upper bounds (ms) of the resume-latency histogram buckets in ``StreamStats.resume_histogram``
RESUME_BUCKETS_MS: tuple[int, ...] = (50, 100, 250, 500, 1000, 2500, 5000)


def resume_histogram(latencies_ms) -> dict[str, int]:
    """How many latencies fall in each bucket (not cumulative): ``{"50": n, ..., "+Inf": n}``."""
    out = {str(b): 0 for b in RESUME_BUCKETS_MS} | {"+Inf": 0}
    for v in latencies_ms:
        out[next((str(b) for b in RESUME_BUCKETS_MS if v <= b), "+Inf")] += 1
    return out


class _LogGate:
    """At most ``burst`` warnings per ``period_s``; the rest are counted and summed up in the next
    line that passes, so a flood of bad frames cannot flood the log (or slow the reader)."""

    def __init__(self, burst: int = 5, period_s: float = 10.0) -> None:
        self.burst = burst
        self.period_s = period_s
        self._window = 0.0
        self._count = 0
        self._suppressed = 0

    def warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._window >= self.period_s:
            self._window, self._count = now, 0
        self._count += 1
        if self._count > self.burst:
            self._suppressed += 1
            return
        if self._suppressed:
            message += f" ({self._suppressed} similar lines suppressed)"
            self._suppressed = 0
        log.warning("%s", message)
