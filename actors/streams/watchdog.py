"""Freshness of a stream connection: when each wanted stream was last heard, how long it may be
quiet, and what is done when it stays quiet.

``Watchdog`` owns the clocks the reader updates on every frame (``last_frame``, ``seen`` per
symbol, ``*`` for venue-wide funding) and the moment each subscription was wanted, so a stream
resumed after minutes of pause is not stale the moment it comes back. Its bounds come from the
configuration, else from a few of the venue's declared cadences (never below a floor), else from
the channel's default; 0 means the channel may be silent for good (user data, liquidations).
``run`` checks every half second: total silence past ``silence_limit_s`` closes the socket; a
stream quiet past its bound is resubscribed once, and the socket closed if that did not help.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable

from perpwire.actors.app.config import DEFAULT_STALE_AFTER_S, StreamConfig
from perpwire.actors.streams.link import Link
from perpwire.actors.streams.subscriptions import SubscriptionTracker
from perpwire.venues.base import Channel, Codec, Subscription

log = logging.getLogger(__name__)

#: a channel with a declared cadence is stale after this many cadences, but never sooner than the floor
STALE_CADENCES = 5.0
STALE_FLOOR_S = 2.0


class Watchdog:
    def __init__(self, config: StreamConfig, codec: Codec, tracker: SubscriptionTracker, link: Link,
                 counters: Counter[str], ctx: str) -> None:
        self._config = config
        self._codec = codec
        self._tracker = tracker
        self._link = link
        self._counters = counters
        self._ctx = ctx
        self.last_frame = 0.0  # monotonic time of the last frame on any socket
        self.last_frame_ms = 0  # the same, wall clock ms
        self.seen: dict[str, float] = {}  # symbol ("*": venue-wide) -> monotonic time of its last event
        self.connected_at: float | None = None
        self._wanted_since: dict[Subscription, float] = {}
        self._actions: dict[Subscription, int] = {}  # quiet subscription -> steps taken (1: resubscribed)

    # --- bounds ------------------------------------------------------------------------------

    def stale_after_s(self, channel: Channel) -> float:
        """How long ``channel`` may be quiet before it counts as stale (0: it may be silent for good)."""
        explicit = self._config.stale_after_s.get(channel)
        if explicit is not None:
            return explicit
        cadence = self._codec.cadence_s.get(channel)
        if cadence:
            return max(STALE_FLOOR_S, STALE_CADENCES * cadence)
        return DEFAULT_STALE_AFTER_S[channel]

    def stale_after_ms(self, channel: Channel) -> int | None:
        limit = self.stale_after_s(channel)
        return int(limit * 1000) if limit > 0 else None

    def silence_limit_s(self) -> float | None:
        """No frame at all for this long means the socket is dead: the configured value, else twice
        the shortest stale bound of what is wanted now. None when nothing wanted has to talk (a
        paused book connection, user data only): such a socket is kept by the venue's heartbeat and
        the protocol ping, never reconnected for being quiet on purpose."""
        if self._config.silence_reconnect_s is not None:
            return self._config.silence_reconnect_s
        limits = [t for t in (self.stale_after_s(s.channel) for s in self._tracker.wanted) if t > 0]
        return 2 * min(limits) if limits else None

    def heard_ms(self, channel: Channel, own_ms: int) -> int:
        """When this channel last proved alive: its own last update for snapshot streams (which
        push whether or not anything changed), the connection's last frame for on-change streams."""
        return own_ms if channel is Channel.BOOK else max(own_ms, self.last_frame_ms)

    # --- clocks ------------------------------------------------------------------------------

    def wanted_now(self, subs: Iterable[Subscription]) -> None:
        """Start the quiet clock of newly wanted subscriptions now."""
        now = time.monotonic()
        for sub in subs:
            self._wanted_since[sub] = now

    def on_connect(self) -> None:
        self.connected_at = self.last_frame = time.monotonic()
        self._actions.clear()

    # --- the check ---------------------------------------------------------------------------

    async def run(self, period: float = 0.5) -> None:
        while True:
            await asyncio.sleep(period)
            if self._link.open:
                await self.check(time.monotonic())

    async def check(self, now: float) -> None:
        silence = self.silence_limit_s()
        last_want = max(self._wanted_since.values(), default=0.0)
        if silence is not None and now - max(self.last_frame, last_want) > silence:
            self._counters["stalls"] += 1
            log.warning("%s: no frame for %.1f s (limit %.1f s); reconnecting", self._ctx, now - self.last_frame,
                        silence)
            await self._link.close("stalled")
            return
        for sub in list(self._tracker.wanted):
            if await self._check_one(sub, now):
                return

    async def _check_one(self, sub: Subscription, now: float) -> bool:
        """Act on one quiet subscription; True when the socket was closed."""
        limit = self.stale_after_s(sub.channel)
        if limit <= 0:
            return False
        key = sub.symbol if sub.symbol is not None else "*"
        last = max(self.seen.get(key, 0.0), self.connected_at or 0.0, self._wanted_since.get(sub, 0.0))
        if now - last <= limit:
            self._actions.pop(sub, None)
            return False
        step = self._actions.get(sub, 0)
        if now - last <= limit * (step + 1):
            return False
        self._actions[sub] = step + 1
        self._counters["stalls"] += 1
        if step == 0:
            log.warning("%s %s: %s quiet for %.1f s; resubscribing", self._ctx, sub.symbol, sub.channel, now - last)
            await self._link.send(self._codec.unsubscribe([sub]) + self._codec.subscribe([sub]))
            return False
        log.warning("%s %s: %s still quiet after resubscribe; reconnecting", self._ctx, sub.symbol, sub.channel)
        await self._link.close("stale stream")
        return True
