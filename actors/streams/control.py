"""Commands and queries of a stream connection: pause, resume, prepare; books, BBO, health.

Pause takes a pausable connection's market-data subscriptions down (unsubscribe; the socket and
every user-data, funding and liquidation subscription stay up) and keeps them in ``paused`` so
resume restores exactly them. Commands share one lock and bump a version: a resume that is still
waiting for its book when a later pause arrives reports itself superseded instead of fighting
it, and the tracker makes every command idempotent (nothing is subscribed twice).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec

from perpwire.actors.pacing import now_ms
from perpwire.market.book import BookView, SyncState
from perpwire.market.events import BBO, FundingRate
from perpwire.venues.base import MARKET_DATA_CHANNELS, Channel, Subscription

log = logging.getLogger(__name__)


class ResumeResult(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    stream: str
    symbols: tuple[str, ...]
    synced: bool
    latency_ms: float
    superseded: bool = False


class ResumeTimeout(TimeoutError):
    """The book did not become SYNCED and fresh in time; the caller falls back to REST."""



class StreamControl:
    """Mixin for ``StreamConnection``: needs tracker, codec, books, config, _control, _version."""

    # --- commands ----------------------------------------------------------------------------

    async def pause(self) -> dict[str, Any]:
        """Stop this connection's market data; user data keeps flowing. Idempotent."""
        start = time.monotonic()
        async with self._control:
            self._version += 1
            version = self._version
            if not self.config.pausable:
                return {"paused": False, "reason": "stream is not pausable"}
            wait = self.config.cooldown_s - (time.monotonic() - self._last_resume)
        if wait > 0:
            await asyncio.sleep(wait)  # cooldown: a trade right after a close keeps its streams
            if self._version != version:
                return {"paused": False, "reason": "superseded during cooldown"}
        async with self._control:
            subs = [s for s in self.tracker.wanted if s.channel in MARKET_DATA_CHANNELS]
            gone = self.tracker.drop(subs, pause=True)
            if gone:
                await self._send_all(self.codec.unsubscribe(gone))
                for sub in gone:
                    if sub.symbol is not None:
                        self._quiet.add(sub.symbol)
                    if sub.symbol in self.books:
                        # deltas stop now: the book can only go stale; resume rebuilds it
                        self.books[sub.symbol] = self.codec.book(sub.symbol)
                    self.bbos.pop(sub.symbol, None)
            if self._paused_since is None:
                self._paused_since = time.monotonic()
            self._persist()
        ms = (time.monotonic() - start) * 1000
        log.info("%s: paused %d market-data subscriptions in %.1f ms", self._ctx, len(gone), ms)
        return {"paused": True, "unsubscribed": len(gone), "ms": ms}

    async def resume(self, symbol: str | None = None, timeout_s: float | None = None) -> ResumeResult:
        """Restore market data (for ``symbol`` or all) and return once its book is SYNCED and
        fresh; raises ``ResumeTimeout`` after ``timeout_s`` (default from config)."""
        start = time.monotonic()
        start_ms = now_ms()
        async with self._control:
            self._version += 1
            version = self._version
            if symbol is not None:
                self._prepare_locked(symbol)
            subs = [s for s in self.tracker.paused if symbol is None or s.symbol == symbol]
            self.tracker.paused.difference_update(subs)
            self._quiet.difference_update(s.symbol for s in subs)
            new = self._want(subs)
            if new:
                await self._send_all(self.codec.subscribe(new))
                for sub in new:
                    if sub.channel is Channel.DEPTH and sub.symbol and not self._resync_by_resubscribe:
                        self._schedule_snapshot(sub.symbol, "resumed")
            if not self.tracker.paused and self._paused_since is not None:
                self.paused_seconds += time.monotonic() - self._paused_since
                self._paused_since = None
            self._last_resume = time.monotonic()
            self._persist()
        symbols = tuple(sorted({s.symbol for s in self.tracker.wanted
                                if s.symbol and s.channel in (Channel.DEPTH, Channel.BOOK)
                                and (symbol is None or s.symbol == symbol)}))
        synced = await self._wait_fresh(symbols, start_ms, version, timeout_s or self.config.resume_timeout_s)
        latency = (time.monotonic() - start) * 1000
        if synced is None:
            return ResumeResult(venue=self.venue, stream=self.name, symbols=symbols, synced=False,
                                latency_ms=latency, superseded=True)
        if not synced:
            self.counters["resume_timeouts"] += 1
            raise ResumeTimeout(f"{self.venue}/{self.name} {','.join(symbols) or '*'}: book not fresh after "
                                f"{latency:.0f} ms")
        self.resume_latencies_ms.append(latency)
        log.info("%s: resumed %s in %.1f ms", self._ctx, ",".join(symbols) or "*", latency)
        return ResumeResult(venue=self.venue, stream=self.name, symbols=symbols, synced=True, latency_ms=latency)

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
        book = self.books.get(symbol)
        if book is None or book.state is not SyncState.SYNCED or book.recv_ts < since_ms:
            return False
        return now_ms() - book.recv_ts <= self.config.fresh_age_ms

    async def prepare(self, symbol: str) -> list[str]:
        """Make ``symbol``'s order-book streams wanted on this connection (kept paused if the
        connection is paused, so the next resume brings them up)."""
        async with self._control:
            new = self._prepare_locked(symbol)
            if new:
                await self._send_all(self.codec.subscribe(new))
            self._persist()
        return [f"{s.channel}:{s.symbol}" for s in new]

    def _prepare_locked(self, symbol: str) -> list[Subscription]:
        subs = [Subscription(ch, symbol) for ch in self.templates if ch in MARKET_DATA_CHANNELS]
        if self._paused_since is not None:
            self.tracker.paused.update(s for s in subs if s not in self.tracker.wanted)
            return []
        return self._want(subs)

    async def subscribe(self, subs: list[Subscription]) -> int:
        async with self._control:
            new = self._want(subs)
            if new:
                await self._send_all(self.codec.subscribe(new))
            self._persist()
            return len(new)

    # --- queries -----------------------------------------------------------------------------

    def order_book(self, symbol: str, levels: int | None = 20) -> BookView | None:
        """A copy of the book's top ``levels``; its state is STALE (never SYNCED) when the stream
        has not been heard from within the channel's freshness bound."""
        book = self.books.get(symbol)
        return None if book is None else self._view(symbol, book, levels, now_ms())

    def order_books(self, symbols: list[str], levels: int | None = 20) -> dict[str, BookView | None]:
        return {s: self.order_book(s, levels) for s in symbols}

    def bbo(self, symbol: str) -> BBO | None:
        """The newest BBO, or None when there is none or it is past its freshness bound."""
        bbo = self.bbos.get(symbol)
        return bbo if bbo is not None and self._bbo_fresh(symbol, now_ms()) else None

    def funding_rates(self) -> dict[str, FundingRate]:
        return dict(self.funding)

    def health(self) -> dict[str, Any]:
        now = time.monotonic()
        wall = now_ms()
        return {
            "venue": self.venue, "stream": self.name, "connected": self._ws is not None,
            "paused": self._paused_since is not None,
            "last_frame_age_s": None if not self._last_frame else round(now - self._last_frame, 3),
            "books": {s: self._view(s, b, 0, wall).state for s, b in self.books.items()},
            "subscriptions": self.tracker.snapshot(),
        }

    def stats(self) -> dict[str, Any]:
        lat = sorted(self.resume_latencies_ms)
        paused = self.paused_seconds + (time.monotonic() - self._paused_since if self._paused_since else 0.0)

        def pct(p: float) -> float | None:
            return None if not lat else round(lat[min(len(lat) - 1, int(p * len(lat)))], 2)

        return {
            "venue": self.venue, "stream": self.name, **dict(self.counters),
            "uptime_s": round(time.monotonic() - self.started_at, 3) if self.started_at else 0.0,
            "paused_seconds": round(paused, 3), "resume_p50_ms": pct(0.5), "resume_p99_ms": pct(0.99),
            "resumes": len(lat), "codec": self.codec.stats.as_dict(),
        }
