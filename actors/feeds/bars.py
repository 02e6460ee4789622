"""``BarFeed``: the ``bars`` channel of an adapter, OHLCV bars built from its trades.

Options (``adapter(..., bars=...)``): ``{"seconds": 60}`` (the default) for time bars on UTC
boundaries, closed by a clock task here every quarter interval (at most every second), so a bar
comes out on time when no trade follows it, and intervals without a trade come out flagged
``empty``; ``{"ticks": 100}`` for tick bars, ``{"volume": "2.5"}`` for volume bars (both close on
the trade that fills them); ``grace_ms`` keeps a time bar open that long for late trades. The
policies (exchange order, duplicates by trade id, late trades counted and reported, never applied)
are ``perpwire.market.bars``'s: docs/streaming-bars.md. Late trades are kept in ``late`` (the last
1,000) and counted in ``counts()``; disconnecting does not flush unfinished bars.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from perpwire.actors.feeds.channels import FeedError
from perpwire.actors.feeds.queues import FeedQueue
from perpwire.actors.pacing import now_ms
from perpwire.market.bars import BarSet, LateTrade, TickBars, TimeBarSet, VolumeBars
from perpwire.market.errors import UsageError
from perpwire.market.events import Trade

__all__ = ["BarFeed"]

_KINDS = ("seconds", "ticks", "volume")


class BarFeed:
    def __init__(self, venue: str, queue: FeedQueue, options: Mapping[str, Any] | None = None,
                 validator: Any = None, on_violation: Any = None) -> None:
        opts = dict(options or {})
        unknown = set(opts) - {*_KINDS, "grace_ms"}
        kinds = [k for k in _KINDS if k in opts]
        if unknown or len(kinds) > 1:
            raise FeedError(f"{venue}: bars takes one of seconds, ticks, volume (and grace_ms), not {sorted(opts)}")
        kind = kinds[0] if kinds else "seconds"
        self.venue, self.queue, self.kind = venue, queue, kind
        self.late: deque[LateTrade] = deque(maxlen=1000)
        self.validator, self.on_violation = validator, on_violation
        self._task: asyncio.Task | None = None
        try:
            if kind == "seconds":
                seconds = opts.get("seconds", 60)
                if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
                    raise UsageError(f"bars: seconds must be a positive number, got {seconds!r}")
                self.bars: BarSet = TimeBarSet(int(seconds * 1000), grace_ms=int(opts.get("grace_ms", 0)))
                self._tick_s = min(1.0, seconds / 4)
            elif kind == "ticks":
                n = opts["ticks"]
                TickBars(n)  # checks n
                self.bars = BarSet(lambda: TickBars(n))
            else:
                volume = opts["volume"]
                VolumeBars(volume)  # checks the volume
                self.bars = BarSet(lambda: VolumeBars(volume))
        except UsageError as exc:
            raise FeedError(f"{venue}: {exc}") from None
        if kind == "seconds":
            self._task = asyncio.get_running_loop().create_task(self._clock(), name=f"{venue}:bars-clock")

    def on_trade(self, trade: Trade, t: float) -> None:
        try:
            out = self.bars.on_trade(trade)
        except UsageError:  # a trade without an exchange time cannot go into a time bar: counted by the set
            return
        for item in out:
            if type(item) is LateTrade:
                self.late.append(item)
            else:
                self._put(item, t)

    def _put(self, bar: Any, t: float) -> None:
        if self.validator is not None and not bar.empty:
            found = self.validator.check(bar, "bars")
            if found and self.on_violation is not None:
                self.on_violation(found)
        self.queue.put("bars", bar, bar.symbol, self.venue, t)

    async def _clock(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            t = time.monotonic()
            for bar in self.bars.on_clock(now_ms()):
                self._put(bar, t)

    def counts(self) -> dict[str, dict[str, int]]:
        return {sym: c for (_, sym), c in self.bars.counts().items()}

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
