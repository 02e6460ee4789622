"""The newest funding rate per symbol, and its conflated push to the coordinator.

``FundingPusher.offer`` keeps a rate when it is at least as new as the one held (the reader calls
it for every ``FundingRate``); ``run`` pushes the rates changed since the last push at most every
``interval_s``, in one batch, so a venue publishing every 100 ms costs the coordinator one call per
interval. A failed push is counted and logged and never ends the connection; ``flush`` pushes what
is left (on stop).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from perpwire.market.events import FundingRate

log = logging.getLogger(__name__)

Sink = Callable[[list], Awaitable[Any]]


class FundingPusher:
    def __init__(self, sink: Sink | None, interval_s: float, counters: Counter[str], ctx: str) -> None:
        self.latest: dict[str, FundingRate] = {}
        self._dirty: dict[str, FundingRate] = {}
        self._sink = sink
        self._interval_s = interval_s
        self._counters = counters
        self._ctx = ctx

    def offer(self, ev: FundingRate) -> None:
        old = self.latest.get(ev.symbol)
        if old is None or ev.ts >= old.ts:
            self.latest[ev.symbol] = ev
            self._dirty[ev.symbol] = ev

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.flush()

    async def flush(self) -> None:
        if not self._dirty or self._sink is None:
            return
        batch, self._dirty = list(self._dirty.values()), {}
        try:
            await self._sink(batch)
            self._counters["funding_pushes"] += 1
        except Exception as exc:  # the sink is another actor; its failure must not end ours
            self._counters["funding_push_errors"] += 1
            log.warning("%s: funding push of %d rates failed: %s", self._ctx, len(batch), exc)
