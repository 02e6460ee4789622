"""Per-symbol book repair: a book that lost its sequence is re-seeded alone, never the connection.

``BookResync`` keeps which symbols are being repaired (one repair per symbol at a time) and runs
each repair as its own task while the symbol's depth is wanted: a venue whose subscribe brings a
fresh snapshot (``by_resubscribe``: Lighter) is sent the codec's ``resync_frames``; any other gets
``depth_request`` fetched through the paced REST client, decoded with ``decode_snapshot`` and
applied, again until the snapshot bridges the stream. 429/418 wait for Retry-After in the token
bucket; other failures back off with jitter.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from perpwire.actors.app.config import StreamConfig
from perpwire.actors.pacing import Backoff, now_ms
from perpwire.actors.rest import RestClient
from perpwire.actors.streams.link import Link
from perpwire.actors.streams.subscriptions import SubscriptionTracker
from perpwire.market.book import OrderBook
from perpwire.market.errors import PerpwireError, RateLimited
from perpwire.market.events import Resync
from perpwire.venues.base import Channel, Codec, Subscription

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None], str], Any]


class BookResync:
    def __init__(self, config: StreamConfig, codec: Codec, rest: RestClient, link: Link, tracker: SubscriptionTracker,
                 book_for: Callable[[str], OrderBook], spawn: Spawn, counters: Counter[str], ctx: str, *,
                 by_resubscribe: bool) -> None:
        self._config = config
        self._codec = codec
        self._rest = rest
        self._link = link
        self._tracker = tracker
        self._book_for = book_for
        self._spawn = spawn
        self._counters = counters
        self._ctx = ctx
        self.by_resubscribe = by_resubscribe
        self.enabled = True  # False once the connection stops: nothing new is scheduled
        self._running: set[str] = set()

    def on_resync(self, ev: Resync) -> None:
        """A book reported a gap: repair that symbol."""
        self._counters["resyncs"] += 1
        log.warning("%s %s: book out of sequence (%s); resyncing this symbol only", self._ctx, ev.symbol, ev.reason)
        self.schedule(ev.symbol, ev.reason)

    def after_subscribe(self, subs: Iterable[Subscription], reason: str) -> None:
        """Depth just (re)subscribed needs a snapshot, unless the subscribe itself brings one."""
        if self.by_resubscribe:
            return
        for sub in subs:
            if sub.channel is Channel.DEPTH and sub.symbol:
                self.schedule(sub.symbol, reason)

    def reset(self) -> None:
        """A new socket: repairs of the old one are moot (their tasks end on their own)."""
        self._running.clear()

    def schedule(self, symbol: str, reason: str) -> None:
        if symbol in self._running or not self.enabled:
            return
        self._running.add(symbol)
        self._spawn(self._repair(symbol, reason), f"snapshot:{symbol}")

    def _wants_depth(self, symbol: str) -> bool:
        return Subscription(Channel.DEPTH, symbol) in self._tracker.wanted

    async def _repair(self, symbol: str, reason: str) -> None:
        backoff = Backoff(self._config.backoff_base_s, self._config.backoff_cap_s)
        try:
            while self.enabled and self._wants_depth(symbol):
                if self.by_resubscribe:
                    await self._link.send(self._codec.resync_frames(symbol))
                    return
                if await self._snapshot_once(symbol, backoff):
                    return
        finally:
            self._running.discard(symbol)

    async def _snapshot_once(self, symbol: str, backoff: Backoff) -> bool:
        """One REST snapshot applied to the book; True when it bridged the stream."""
        try:
            body = await self._rest.fetch(self._codec.depth_request(symbol, self._config.snapshot_limit))
            snap = self._codec.decode_snapshot(symbol, body)
        except RateLimited as exc:
            log.warning("%s %s: snapshot rate limited, waiting %s s", self._ctx, symbol, exc.retry_after_s)
            return False  # the budget now waits for Retry-After
        except (PerpwireError, OSError, TimeoutError) as exc:
            delay = backoff.next_delay()
            log.warning("%s %s: snapshot failed (%s); retry in %.2f s", self._ctx, symbol, exc, delay)
            await asyncio.sleep(delay)
            return False
        self._counters["snapshots"] += 1
        resync = self._book_for(symbol).apply(snap, now_ms())
        if resync is None:
            return True
        log.info("%s %s: snapshot %s does not bridge the stream (%s); fetching again", self._ctx, symbol, snap.seq,
                 resync.reason)
        await asyncio.sleep(backoff.next_delay())
        return False
