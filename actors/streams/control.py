"""Commands of a stream connection: pause, resume, prepare, subscribe; and the wanted state
that outlives the process.

Pause takes a pausable connection's market-data subscriptions down (unsubscribe; the socket and
every user-data, funding and liquidation subscription stay up) and keeps them in ``paused`` so
resume restores exactly them. Commands share one lock and bump a version: a resume that is still
waiting for its book when a later pause arrives reports itself superseded instead of fighting
it, and the tracker makes every command idempotent (nothing is subscribed twice). After every
command the wanted state is saved (``DurableState``), so a restarted actor subscribes what its
earlier life wanted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any

from perpwire.actors.app.config import StreamConfig
from perpwire.actors.durable import DurableState
from perpwire.actors.pacing import now_ms
from perpwire.actors.streams.answers import PauseResult, ResumeResult, ResumeTimeout
from perpwire.actors.streams.link import Link
from perpwire.actors.streams.resync import BookResync
from perpwire.actors.streams.subscriptions import SubscriptionTracker
from perpwire.actors.streams.watchdog import Watchdog
from perpwire.market.book import OrderBook, SyncState
from perpwire.venues.base import MARKET_DATA_CHANNELS, Channel, Codec, Subscription

__all__ = ["ResumeResult", "ResumeTimeout", "StreamControl"]

log = logging.getLogger(__name__)


class StreamControl:
    """The verbs of one connection. It owns the control lock and version, the paused state (which
    symbols are ``quiet``, since when, for how long in all) and the resume latencies; it changes
    the tracker, sends through the link, asks ``forget_market`` to drop a paused symbol's book and
    BBO, and reads ``books`` to know when a resume is done."""

    def __init__(self, config: StreamConfig, codec: Codec, tracker: SubscriptionTracker, link: Link,
                 watchdog: Watchdog, resync: BookResync, books: Mapping[str, OrderBook],
                 forget_market: Callable[[str], None], counters: Counter[str], ctx: str,
                 state: DurableState | None = None) -> None:
        self._config = config
        self._codec = codec
        self._tracker = tracker
        self._link = link
        self._watchdog = watchdog
        self._resync = resync
        self._books = books
        self._forget_market = forget_market
        self._counters = counters
        self._ctx = ctx
        self._state = state
        self._lock = asyncio.Lock()
        self._version = 0
        self._last_resume = 0.0
        self.quiet: set[str] = set()  # symbols whose market data is paused (updated in place: the reader holds it)
        self.paused_since: float | None = None
        self.paused_seconds = 0.0  # closed pause intervals; ``paused_total_s`` adds the open one
        self.market_since: float | None = None  # market data wanted since (None: none wanted now)
        self.market_seconds = 0.0  # closed intervals with market data wanted; ``market_total_s`` adds the open one
        self.resume_latencies_ms: deque[float] = deque(maxlen=1000)
        self.templates = sorted({s.channel for s in config.wanted() if s.symbol is not None})
        saved = state.load() if state is not None else None
        if saved:
            self._restore(saved)
        elif config.start_paused and config.pausable:
            market = [s for s in tracker.wanted if s.channel in MARKET_DATA_CHANNELS]
            tracker.drop(market, pause=True)
            tracker.pending_unsubscribe.clear()  # nothing was ever sent
            self.quiet.update(s.symbol for s in market if s.symbol is not None)
            self.paused_since = time.monotonic()
        self._account_market()

    @property
    def is_paused(self) -> bool:
        return self.paused_since is not None

    def paused_total_s(self) -> float:
        return self.paused_seconds + (time.monotonic() - self.paused_since if self.paused_since else 0.0)

    def market_total_s(self) -> float:
        """Seconds during which any market-data subscription was wanted: the time the stream's
        market-data bytes were received in (what a rate for 'always on' is measured over)."""
        return self.market_seconds + (time.monotonic() - self.market_since if self.market_since else 0.0)

    def _account_market(self) -> None:
        now = time.monotonic()
        active = any(s.channel in MARKET_DATA_CHANNELS for s in self._tracker.wanted)
        if active and self.market_since is None:
            self.market_since = now
        elif not active and self.market_since is not None:
            self.market_seconds += now - self.market_since
            self.market_since = None

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
        self._tracker.restore(wanted, paused)
        self.quiet.update(s.symbol for s in paused if s.symbol is not None)
        self.templates = sorted(set(self.templates) | {s.channel for s in wanted + paused if s.symbol is not None})
        if saved.get("is_paused"):
            self.paused_since = time.monotonic()
        log.info("%s: restored %d wanted and %d paused subscriptions from before the restart", self._ctx,
                 len(wanted), len(paused))

    def _persist(self) -> None:
        """Record the wanted state (called under the control lock after every command)."""
        self._account_market()
        if self._state is None:
            return
        self._state.save({
            "wanted": [[s.channel.value, s.symbol] for s in sorted(self._tracker.wanted)],
            "paused": [[s.channel.value, s.symbol] for s in sorted(self._tracker.paused)],
            "is_paused": self.paused_since is not None,
        })

    def _want(self, subs) -> list[Subscription]:
        """``tracker.want`` that also starts each new subscription's quiet clock now: a channel
        that was paused for minutes is not stale the moment it is resumed."""
        new = self._tracker.want(subs)
        self._watchdog.wanted_now(new)
        return new

    # --- commands ----------------------------------------------------------------------------

    async def pause(self) -> PauseResult:
        """Stop this connection's market data; user data keeps flowing. Idempotent."""
        start = time.monotonic()
        async with self._lock:
            self._version += 1
            version = self._version
            if not self._config.pausable:
                return self._paused(False, start, reason="stream is not pausable")
            wait = self._config.cooldown_s - (time.monotonic() - self._last_resume)
        if wait > 0:
            await asyncio.sleep(wait)  # cooldown: a trade right after a close keeps its streams
            if self._version != version:
                return self._paused(False, start, superseded=True, reason="superseded during cooldown")
        async with self._lock:
            subs = [s for s in self._tracker.wanted if s.channel in MARKET_DATA_CHANNELS]
            gone = self._tracker.drop(subs, pause=True)
            if gone:
                await self._link.send(self._codec.unsubscribe(gone))
                for sub in gone:
                    if sub.symbol is not None:
                        self.quiet.add(sub.symbol)
                        self._forget_market(sub.symbol)  # deltas stop now: resume rebuilds the book
            if self.paused_since is None:
                self.paused_since = time.monotonic()
            self._persist()
        result = self._paused(True, start, unsubscribed=len(gone))
        log.info("%s: paused %d market-data subscriptions in %.1f ms", self._ctx, len(gone), result.latency_ms)
        return result

    def _paused(self, paused: bool, start: float, **kw: Any) -> PauseResult:
        return PauseResult(venue=self._config.venue, stream=self._config.name, paused=paused,
                           latency_ms=(time.monotonic() - start) * 1000, **kw)

    async def resume(self, symbol: str | None = None, timeout_s: float | None = None) -> ResumeResult:
        """Restore market data (for ``symbol`` or all) and return once its book is SYNCED and
        fresh; raises ``ResumeTimeout`` after ``timeout_s`` (default from config)."""
        start = time.monotonic()
        start_ms = now_ms()
        async with self._lock:
            self._version += 1
            version = self._version
            if symbol is not None:
                self._prepare_locked(symbol)
            subs = [s for s in self._tracker.paused if symbol is None or s.symbol == symbol]
            self._tracker.paused.difference_update(subs)
            self.quiet.difference_update(s.symbol for s in subs)
            new = self._want(subs)
            if new:
                await self._link.send(self._codec.subscribe(new))
                self._resync.after_subscribe(new, "resumed")
            if not self._tracker.paused and self.paused_since is not None:
                self.paused_seconds += time.monotonic() - self.paused_since
                self.paused_since = None
            self._last_resume = time.monotonic()
            self._persist()
        symbols = tuple(sorted({s.symbol for s in self._tracker.wanted
                                if s.symbol and s.channel in (Channel.DEPTH, Channel.BOOK)
                                and (symbol is None or s.symbol == symbol)}))
        synced = await self._wait_fresh(symbols, start_ms, version, timeout_s or self._config.resume_timeout_s)
        latency = (time.monotonic() - start) * 1000
        venue, stream = self._config.venue, self._config.name
        if synced is None:
            return ResumeResult(venue=venue, stream=stream, symbols=symbols, synced=False, latency_ms=latency,
                                superseded=True)
        if not synced:
            self._counters["resume_timeouts"] += 1
            raise ResumeTimeout(f"{venue}/{stream} {','.join(symbols) or '*'}: book not fresh after {latency:.0f} ms")
        self.resume_latencies_ms.append(latency)
        log.info("%s: resumed %s in %.1f ms", self._ctx, ",".join(symbols) or "*", latency)
        return ResumeResult(venue=venue, stream=stream, symbols=symbols, synced=True, latency_ms=latency)

    async def _wait_fresh(self, symbols, since_ms: int, version: int, timeout_s: float) -> bool | None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self._version != version:
                return None
            if all(self._fresh(s, since_ms) for s in symbols):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)

    def _fresh(self, symbol: str, since_ms: int) -> bool:
        book = self._books.get(symbol)
        if book is None or book.state is not SyncState.SYNCED or book.recv_ts < since_ms:
            return False
        return now_ms() - book.recv_ts <= self._config.fresh_age_ms

    async def prepare(self, symbol: str) -> list[Subscription]:
        """Make ``symbol``'s order-book streams wanted on this connection (kept paused if the
        connection is paused, so the next resume brings them up); returns the subscriptions sent now."""
        async with self._lock:
            new = self._prepare_locked(symbol)
            if new:
                await self._link.send(self._codec.subscribe(new))
            self._persist()
        return new

    def _prepare_locked(self, symbol: str) -> list[Subscription]:
        subs = [Subscription(ch, symbol) for ch in self.templates if ch in MARKET_DATA_CHANNELS]
        if self.paused_since is not None:
            self._tracker.paused.update(s for s in subs if s not in self._tracker.wanted)
            return []
        return self._want(subs)

    async def subscribe(self, subs: list[Subscription]) -> list[Subscription]:
        """Make ``subs`` wanted now, paused or not; returns the ones sent (the rest were wanted already)."""
        async with self._lock:
            new = self._want(subs)
            if new:
                await self._link.send(self._codec.subscribe(new))
                self._resync.after_subscribe(new, "subscribed")
            self._persist()
            return new

    async def unsubscribe(self, subs: list[Subscription]) -> list[Subscription]:
        """No longer want ``subs``; returns the ones unsubscribed (the rest were not wanted)."""
        async with self._lock:
            gone = self._tracker.drop(subs)
            if gone:
                await self._link.send(self._codec.unsubscribe(gone))
                for s in gone:
                    if s.symbol is not None and s.channel in (Channel.BOOK, Channel.DEPTH):
                        self._forget_market(s.symbol)
            self._persist()
            return gone
