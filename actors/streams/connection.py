"""One venue WebSocket connection, kept alive, kept subscribed, and read by value.

``StreamConnection`` is the whole behaviour of a stream actor as a plain asyncio object (the Ray
actor in ``actors.stream`` only wraps it), so it is tested without Ray. It owns a codec, the
wanted subscriptions, the books, BBO and funding of its symbols, and these tasks:

- the session loop: connect, (re)subscribe everything wanted, read frames until the socket
  closes or is rotated before the venue's age limit, then reconnect with capped exponential
  backoff and jitter — forever, each attempt logged with its delay and counted;
- the reader: decode each frame and apply its events; a bad frame is counted and skipped;
- heartbeat (application-level pings where the venue wants them), a staleness watchdog with
  per-channel thresholds (resubscribe first, reconnect if that does not help), a conflating
  funding pusher, and per-symbol snapshot fetches after a gap, paced by a token bucket.

Commands are verbs (``start``, ``stop``, ``pause``, ``resume``, ``prepare``) serialised by one
control lock and versioned, so the last intent wins; queries are nouns and return copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any

import websockets

from perpwire import venues
from perpwire.actors.app.config import DEFAULT_STALE_AFTER_S, StreamConfig
from perpwire.actors.durable import DurableState
from perpwire.actors.pacing import Backoff, TokenBucket, now_ms
from perpwire.actors.rest import RestClient
from perpwire.actors.streams.control import StreamControl
from perpwire.actors.streams.sessions import Session, session_for
from perpwire.actors.streams.subscriptions import SubscriptionTracker
from perpwire.market.book import BookView, OrderBook
from perpwire.market.errors import DecodeError, PerpwireError, RateLimited
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
    VenueRejected,
)
from perpwire.venues.base import MARKET_DATA_CHANNELS, Channel, Subscription

log = logging.getLogger(__name__)

Sink = Callable[[list], Awaitable[Any]]
_BOOK_EVENTS = (BookDelta, BookSnapshot, LazyBookSnapshot)
_USER_EVENT_NAMES = frozenset({"OrderUpdate", "Fill", "BalanceUpdate", "PositionUpdate", "FundingPayment"})
#: websockets' max_size when a codec declares no frame cap of its own
DEFAULT_MAX_FRAME_BYTES = 4 * 2**20
#: a channel with a declared cadence is stale after this many cadences, but never sooner than the floor
STALE_CADENCES = 5.0
STALE_FLOOR_S = 2.0



class StreamConnection(StreamControl):
    def __init__(
        self,
        config: StreamConfig,
        *,
        funding_sink: Sink | None = None,
        user_sink: Sink | None = None,
        session: Session | None = None,
        resync_by_resubscribe: bool = False,
        state: DurableState | None = None,
    ):
        self.config = config
        self.venue = config.venue
        self.name = config.name
        self.codec = venues.codec(config.venue, **config.codec_options)
        self.tracker = SubscriptionTracker()
        self.tracker.want(config.wanted())
        self.templates = sorted({s.channel for s in config.wanted() if s.symbol is not None})
        self.books: dict[str, OrderBook] = {}
        self.bbos: dict[str, BBO] = {}
        self.funding: dict[str, FundingRate] = {}
        self.user_events: deque = deque(maxlen=1000)
        self._funding_sink = funding_sink
        self._user_sink = user_sink
        self._session = session or session_for(config)
        self._resync_by_resubscribe = resync_by_resubscribe
        self._budget = TokenBucket(config.rest_rate_per_s, config.rest_burst)
        self.rest = RestClient(config.venue, self._budget)
        self._backoff = Backoff(config.backoff_base_s, config.backoff_cap_s)
        self._control = asyncio.Lock()
        self._version = 0
        self._ws = None
        self._connected = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._runner: asyncio.Task | None = None
        self._stopping = False
        self._rotate = False
        self._resyncing: set[str] = set()
        self._quiet: set[str] = set()  # symbols whose market data is paused
        self._dirty_funding: dict[str, FundingRate] = {}
        self._last_frame = 0.0
        self._last_frame_ms = 0
        self._last_seen: dict[str, float] = {}
        self._wanted_since: dict[Subscription, float] = {}
        self._bbo_recv_ms: dict[str, int] = {}
        self._log_gate = _LogGate()
        self._stale_actions: dict[Subscription, int] = {}
        self._paused_since: float | None = None
        self._last_resume = 0.0
        self.counters: Counter[str] = Counter()
        self.resume_latencies_ms: deque[float] = deque(maxlen=1000)
        self.paused_seconds = 0.0
        self.connected_at: float | None = None
        self.started_at: float | None = None
        rotate = config.rotate_after_s
        if rotate is None and self.codec.max_connection_age_s:
            rotate = max(60.0, self.codec.max_connection_age_s - 600.0)
        self._rotate_after = rotate
        self._ctx = f"{self.venue}/{self.name}"
        self._max_frame = config.max_frame_bytes or getattr(self.codec, "max_frame_bytes", DEFAULT_MAX_FRAME_BYTES)
        self._state = state
        saved = state.load() if state is not None else None
        if saved:
            self._restore(saved)
        elif config.start_paused and config.pausable:
            market = [s for s in self.tracker.wanted if s.channel in MARKET_DATA_CHANNELS]
            self.tracker.drop(market, pause=True)
            self.tracker.pending_unsubscribe.clear()  # nothing was ever sent
            self._quiet = {s.symbol for s in market if s.symbol is not None}
            self._paused_since = time.monotonic()

    # --- wanted state that outlives the process -----------------------------------------------

    def _restore(self, saved: dict[str, Any]) -> None:
        """Take back what an earlier life of this actor wanted: after a restart the connection
        subscribes exactly that (paused channels stay paused, prepared symbols stay wanted)."""
        try:
            wanted = [Subscription(Channel(c), s) for c, s in saved["wanted"]]
            paused = [Subscription(Channel(c), s) for c, s in saved["paused"]]
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("%s: saved subscription state unreadable (%s); using the configuration", self._ctx, exc)
            return
        self.tracker = SubscriptionTracker()
        self.tracker.want(wanted)
        self.tracker.paused.update(paused)
        self._quiet = {s.symbol for s in paused if s.symbol is not None}
        self.templates = sorted(set(self.templates) | {s.channel for s in wanted + paused if s.symbol is not None})
        if saved.get("is_paused"):
            self._paused_since = time.monotonic()
        log.info("%s: restored %d wanted and %d paused subscriptions from before the restart", self._ctx,
                 len(wanted), len(paused))

    def _persist(self) -> None:
        """Record the wanted state (called under the control lock after every command)."""
        if self._state is None:
            return
        self._state.save({
            "wanted": [[s.channel.value, s.symbol] for s in sorted(self.tracker.wanted)],
            "paused": [[s.channel.value, s.symbol] for s in sorted(self.tracker.paused)],
            "is_paused": self._paused_since is not None,
        })

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the session loop; returns at once (idempotent)."""
        if self._runner is None or self._runner.done():
            self._stopping = False
            self.started_at = time.monotonic()
            self._runner = asyncio.create_task(self._run(), name=f"{self._ctx}:run")

    async def stop(self) -> None:
        """Close the socket and end every task (idempotent)."""
        self._stopping = True
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        self._runner = None
        await self._flush_funding()
        await self.rest.close()

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=f"{self._ctx}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self) -> None:
        self._spawn(self._watchdog(), "watchdog")
        self._spawn(self._pusher(), "pusher")
        while not self._stopping:
            try:
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
                self._ws = None
                self._connected.clear()
            if self._stopping:
                break
            delay = self._backoff.next_delay()
            self.counters["reconnects"] += 1
            log.warning("%s: disconnected (%s); reconnect #%d in %.2f s", self._ctx, reason,
                        self.counters["reconnects"], delay)
            await asyncio.sleep(delay)

    async def _session_loop(self, ws) -> None:
        self._ws = ws
        self.connected_at = time.monotonic()
        self._last_frame = time.monotonic()
        self._stale_actions.clear()
        for symbol, book in self.books.items():
            if book.invalidate("reconnect") is not None:
                log.info("%s %s: book reset after reconnect", self._ctx, symbol)
        self._resyncing.clear()
        helpers = [self._spawn(self._heartbeat(ws), "heartbeat"), self._spawn(self._keepalive(), "keepalive")]
        if self._rotate_after:
            helpers.append(self._spawn(self._rotate_later(ws, self._rotate_after), "rotate"))
        if not getattr(self.codec, "welcome_required", False):
            await self._subscribe_all()
        try:
            async for frame in ws:
                self._on_frame(frame)
        finally:
            for h in helpers:
                h.cancel()

    async def _subscribe_all(self) -> None:
        subs = self.tracker.on_reconnect()
        implicit = [s for s in subs if s.channel is Channel.ACCOUNT and self._session.account_in_url]
        self.tracker.confirm(implicit)  # a listenKey URL is the subscription
        explicit = [s for s in subs if s not in implicit]
        if explicit:
            await self._send_all(self.codec.subscribe(explicit))
        self._connected.set()
        self._backoff.reset()
        for sub in subs:
            if sub.channel is Channel.DEPTH and sub.symbol and not self._resync_by_resubscribe:
                self._schedule_snapshot(sub.symbol, "subscribed")

    async def _send_all(self, frames: list[str]) -> None:
        ws = self._ws
        if ws is None:
            return
        for frame in frames:
            await ws.send(frame)
            self.counters["control_sent"] += 1

    async def _rotate_later(self, ws, after_s: float) -> None:
        await asyncio.sleep(after_s)
        self._rotate = True
        await ws.close(code=1000, reason="rotate")

    # --- frames and events -------------------------------------------------------------------

    def _on_frame(self, frame: bytes | str) -> None:
        """Decode and apply one frame. Nothing a frame holds can stop the reader: a frame that
        does not decode, or an event that cannot be applied, is counted, logged (venue, stream,
        symbol) and skipped, and the next frame is read."""
        now = time.monotonic()
        self._last_frame = now
        recv_ts = self._last_frame_ms = now_ms()
        self.counters["messages"] += 1
        self.counters["bytes"] += len(frame)
        try:
            events = self.codec.decode(frame)
        except DecodeError as exc:
            self.counters["decode_errors"] += 1
            self._log_gate.warn(f"{self._ctx}: skipped a bad frame: {exc}")
            return
        except Exception as exc:  # outside the codec contract (a codec bug): still only this frame
            self.counters["decode_errors"] += 1
            self.counters["decode_contract_breaches"] += 1
            self._log_gate.warn(f"{self._ctx}: skipped a frame the codec failed on ({type(exc).__name__}: "
                                f"{str(exc)[:120]}); first bytes {frame[:60]!r}")
            return
        for ev in events:
            try:
                self._on_event(ev, recv_ts, now)
            except Exception as exc:  # one bad event never ends the reader
                self.counters["event_errors"] += 1
                self._log_gate.warn(f"{self._ctx} {getattr(ev, 'symbol', None) or '*'}: could not apply "
                                    f"{type(ev).__name__}: {type(exc).__name__}: {exc}")

    def _on_event(self, ev, recv_ts: int, now: float) -> None:
        kind = type(ev)
        if (kind in _BOOK_EVENTS or kind is BBO) and ev.symbol in self._quiet:
            self.counters["dropped_after_pause"] += 1  # in flight when the unsubscribe landed
            return
        if kind in _BOOK_EVENTS:
            self._last_seen[ev.symbol] = now
            book = self.books.get(ev.symbol)
            if book is None:
                book = self.books[ev.symbol] = self.codec.book(ev.symbol)
            resync = book.apply(ev, recv_ts)
            if resync is not None:
                self._on_resync(resync)
        elif kind is BBO:
            self._last_seen[ev.symbol] = now
            self.bbos[ev.symbol] = ev
            self._bbo_recv_ms[ev.symbol] = recv_ts
        elif kind is FundingRate:
            self._last_seen[ev.symbol] = now
            self._last_seen["*"] = now
            old = self.funding.get(ev.symbol)
            if old is None or ev.ts >= old.ts:
                self.funding[ev.symbol] = ev
                self._dirty_funding[ev.symbol] = ev
        elif kind.__name__ in _USER_EVENT_NAMES:
            self.user_events.append(ev)
            self.counters["user_events"] += 1
            if self._user_sink is not None:
                self._spawn(self._user_sink([ev]), "user-sink")
        elif kind is Resync:
            self._on_resync(ev)
        elif kind is Subscribed:
            self.tracker.confirm(self._match(ev.channels))
        elif kind is Unsubscribed:
            self.tracker.confirm_unsubscribed(self._match(ev.channels))
        elif kind is VenueRejected:
            self.counters["rejected"] += 1
            log.warning("%s: venue rejected request %s (channel %s): %s %s", self._ctx, ev.request_id,
                        ev.channel, ev.code, ev.message)
        elif kind is Ping:
            reply = self.codec.pong(ev)
            if reply is not None:
                self._spawn(self._send_all([reply]), "pong")
        elif kind is Connected:
            if getattr(self.codec, "welcome_required", False):
                self._spawn(self._subscribe_all(), "subscribe")
        elif kind is SessionExpired:
            self.counters["session_expired"] += 1
            log.warning("%s: session expired (%s); renewing and reconnecting", self._ctx, ev.reason)
            self._session.expire()
            if self._ws is not None:
                self._spawn(self._ws.close(code=1000, reason="session expired"), "close")
        else:
            self.counters[f"event_{kind.__name__}"] += 1
        if kind in (BBO, FundingRate) or kind in _BOOK_EVENTS:
            self.counters["market_events"] += 1

    def _match(self, channels) -> list[Subscription]:
        names = set(channels)
        topic = getattr(self.codec, "topic", None)
        if topic is None or not names:
            return []
        out = []
        for s in self.tracker.wanted | self.tracker.pending_unsubscribe:
            try:
                if topic(s) in names:
                    out.append(s)
            except PerpwireError:
                continue
        return out

    # --- resync ------------------------------------------------------------------------------

    def _on_resync(self, ev: Resync) -> None:
        self.counters["resyncs"] += 1
        log.warning("%s %s: book out of sequence (%s); resyncing this symbol only", self._ctx, ev.symbol, ev.reason)
        self._schedule_snapshot(ev.symbol, ev.reason)

    def _schedule_snapshot(self, symbol: str, reason: str) -> None:
        if symbol in self._resyncing or self._stopping:
            return
        self._resyncing.add(symbol)
        self._spawn(self._fetch_snapshot(symbol, reason), f"snapshot:{symbol}")

    async def _fetch_snapshot(self, symbol: str, reason: str) -> None:
        backoff = Backoff(self.config.backoff_base_s, self.config.backoff_cap_s)
        try:
            while not self._stopping and self._wants_depth(symbol):
                if self._resync_by_resubscribe:
                    subs = [Subscription(Channel.DEPTH, symbol)]
                    await self._send_all(self.codec.unsubscribe(subs) + self.codec.subscribe(subs))
                    return
                try:
                    body = await self.rest.fetch(self.codec.depth_request(symbol, self.config.snapshot_limit))
                    snap = self.codec.decode_snapshot(symbol, body)
                except RateLimited as exc:
                    log.warning("%s %s: snapshot rate limited, waiting %s s", self._ctx, symbol, exc.retry_after_s)
                    continue  # the budget now waits for Retry-After
                except (PerpwireError, OSError, TimeoutError) as exc:
                    delay = backoff.next_delay()
                    log.warning("%s %s: snapshot failed (%s); retry in %.2f s", self._ctx, symbol, exc, delay)
                    await asyncio.sleep(delay)
                    continue
                book = self.books.get(symbol)
                if book is None:
                    book = self.books[symbol] = self.codec.book(symbol)
                self.counters["snapshots"] += 1
                resync = book.apply(snap, now_ms())
                if resync is None:
                    return
                log.info("%s %s: snapshot %s does not bridge the stream (%s); fetching again",
                         self._ctx, symbol, snap.seq, resync.reason)
                await asyncio.sleep(backoff.next_delay())
        finally:
            self._resyncing.discard(symbol)

    def _wants_depth(self, symbol: str) -> bool:
        return Subscription(Channel.DEPTH, symbol) in self.tracker.wanted

    # --- background duties -------------------------------------------------------------------

    async def _heartbeat(self, ws) -> None:
        interval = getattr(self.codec, "heartbeat_interval_s", None)
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
                if self._ws is not None:
                    await self._ws.close(code=1000, reason="keepalive failed")
                return
            if frames:
                await self._send_all(list(frames))

    # --- freshness ---------------------------------------------------------------------------

    def stale_after_s(self, channel: Channel) -> float:
        """How long ``channel`` may be quiet before it counts as stale: the configured value, else
        a few of the venue's declared cadences (never below a floor), else the channel's default;
        0 means the channel may be silent for good (user data, liquidations)."""
        explicit = self.config.stale_after_s.get(channel)
        if explicit is not None:
            return explicit
        cadence = (getattr(self.codec, "cadence_s", None) or {}).get(channel)
        if cadence:
            return max(STALE_FLOOR_S, STALE_CADENCES * cadence)
        return DEFAULT_STALE_AFTER_S[channel]

    def silence_limit_s(self) -> float | None:
        """No frame at all for this long means the socket is dead: the configured value, else twice
        the shortest stale bound of what is wanted now. None when nothing wanted has to talk (a
        paused book connection, user data only): such a socket is kept by the venue's heartbeat and
        the protocol ping, never reconnected for being quiet on purpose."""
        if self.config.silence_reconnect_s is not None:
            return self.config.silence_reconnect_s
        limits = [t for t in (self.stale_after_s(s.channel) for s in self.tracker.wanted) if t > 0]
        return 2 * min(limits) if limits else None

    def _want(self, subs) -> list[Subscription]:
        """``tracker.want`` that also starts each new subscription's quiet clock now: a channel
        that was paused for minutes is not stale the moment it is resumed."""
        new = self.tracker.want(subs)
        now = time.monotonic()
        for sub in new:
            self._wanted_since[sub] = now
        return new

    def _last_want(self) -> float:
        return max(self._wanted_since.values(), default=0.0)

    def _book_channel(self, symbol: str) -> Channel:
        return Channel.BOOK if Subscription(Channel.BOOK, symbol) in self.tracker.wanted else Channel.DEPTH

    def _heard_ms(self, channel: Channel, own_ms: int) -> int:
        """When this channel last proved alive: its own last update for snapshot streams (which
        push whether or not anything changed), the connection's last frame for on-change streams."""
        return own_ms if channel is Channel.BOOK else max(own_ms, self._last_frame_ms)

    def _view(self, symbol: str, book: OrderBook, levels: int | None, now: int) -> BookView:
        channel = self._book_channel(symbol)
        limit = self.stale_after_s(channel)
        return book.view(levels, now_ms=now, stale_after_ms=int(limit * 1000) if limit > 0 else None,
                         heard_ms=self._heard_ms(channel, book.recv_ts))

    def _bbo_fresh(self, symbol: str, now: int) -> bool:
        limit = self.stale_after_s(Channel.BBO)
        if limit <= 0:
            return True
        return now - self._heard_ms(Channel.BBO, self._bbo_recv_ms.get(symbol, 0)) <= limit * 1000

    async def _watchdog(self, period: float = 0.5) -> None:
        while True:
            await asyncio.sleep(period)
            ws = self._ws
            if ws is None:
                continue
            now = time.monotonic()
            silence = self.silence_limit_s()
            if silence is not None and now - max(self._last_frame, self._last_want()) > silence:
                self.counters["stalls"] += 1
                log.warning("%s: no frame for %.1f s (limit %.1f s); reconnecting", self._ctx, now - self._last_frame,
                            silence)
                await ws.close(code=1000, reason="stalled")
                continue
            for sub in list(self.tracker.wanted):
                limit = self.stale_after_s(sub.channel)
                if limit <= 0:
                    continue
                key = sub.symbol if sub.symbol is not None else "*"
                last = max(self._last_seen.get(key, 0.0), self.connected_at or 0.0, self._wanted_since.get(sub, 0.0))
                if now - last <= limit:
                    self._stale_actions.pop(sub, None)
                    continue
                step = self._stale_actions.get(sub, 0)
                if now - last <= limit * (step + 1):
                    continue
                self._stale_actions[sub] = step + 1
                self.counters["stalls"] += 1
                if step == 0:
                    log.warning("%s %s: %s quiet for %.1f s; resubscribing", self._ctx, sub.symbol, sub.channel,
                                now - last)
                    await self._send_all(self.codec.unsubscribe([sub]) + self.codec.subscribe([sub]))
                else:
                    log.warning("%s %s: %s still quiet after resubscribe; reconnecting", self._ctx, sub.symbol,
                                sub.channel)
                    await ws.close(code=1000, reason="stale stream")
                    break

    async def _pusher(self) -> None:
        while True:
            await asyncio.sleep(self.config.push_interval_s)
            await self._flush_funding()

    async def _flush_funding(self) -> None:
        if not self._dirty_funding or self._funding_sink is None:
            return
        batch, self._dirty_funding = list(self._dirty_funding.values()), {}
        try:
            await self._funding_sink(batch)
            self.counters["funding_pushes"] += 1
        except Exception as exc:  # the sink is another actor; its failure must not end ours
            self.counters["funding_push_errors"] += 1
            log.warning("%s: funding push of %d rates failed: %s", self._ctx, len(batch), exc)


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
