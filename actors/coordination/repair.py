"""Funding repair: REST backfill of silent feeds and periodic reconciliation with REST.

The coordinator's statistics note symbols silent beyond their venue's cadence; ``backfill``
fetches those venues' current funding over REST (one request per venue, the whole list where the
venue offers it) and feeds the rates back through the desk as if streamed. ``reconcile`` (hourly
by default) fetches every venue's REST funding and counts symbols whose streamed rate per hour
disagrees with REST beyond a tolerance — a codec or stream bug shows up as a count, not as
silently wrong trades. REST failures are logged and counted; the next round tries again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from decimal import Decimal
from typing import Any

from perpwire import venues
from perpwire.actors.pacing import now_ms
from perpwire.actors.rest import RestClient
from perpwire.market.errors import PerpwireError
from perpwire.market.events import FundingRate
from perpwire.strategies.desk import FundingDesk

log = logging.getLogger(__name__)


class FundingRepair:
    def __init__(self, desk: FundingDesk, codec_options: dict[str, dict[str, Any]], *,
                 tolerance_per_hour: Decimal = Decimal("0.000002")):
        self.desk = desk
        self.tolerance = tolerance_per_hour
        self.codecs = {v: venues.codec(v, **opts) for v, opts in codec_options.items()}
        self.rest = {v: RestClient.for_venue(v) for v in self.codecs}
        self.counters: Counter[str] = Counter()
        self.disagreements: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}

    async def _fetch(self, venue: str) -> list[FundingRate]:
        codec = self.codecs[venue]
        try:
            return codec.decode_funding(await self.rest[venue].fetch(codec.funding_request()))
        except (PerpwireError, OSError, TimeoutError, TypeError) as exc:
            self.counters["rest_errors"] += 1
            log.warning("%s: REST funding failed: %s", venue, exc)
            return []

    async def backfill(self, gaps: list[tuple[str, str]]) -> int:
        """Fetch current funding for the venues of silent ``(venue, symbol)`` pairs; returns how
        many of those symbols were refreshed."""
        wanted = {(v, s) for v, s in gaps if v in self.codecs}
        by_venue = sorted({v for v, _ in wanted})
        batches = await asyncio.gather(*(self._fetch(v) for v in by_venue))
        rows = [r for batch in batches for r in batch if (r.venue, r.symbol) in wanted]
        if rows:
            self.desk.ingest(rows, now_ms())
        self.counters["gap_backfills"] += len(rows)
        return len(rows)

    async def reconcile(self) -> int:
        """Compare every venue's REST funding with the streamed rates; returns disagreements."""
        batches = await asyncio.gather(*(self._fetch(v) for v in sorted(self.codecs)))
        found = 0
        for rest in (r for batch in batches for r in batch):
            streamed = self.desk.latest.get((rest.venue, rest.symbol))
            if streamed is None:
                continue
            self.counters["reconciled"] += 1
            if abs(streamed.rate_per_hour - rest.rate_per_hour) > self.tolerance:
                found += 1
                self.disagreements[(rest.venue, rest.symbol)] = (streamed.rate_per_hour, rest.rate_per_hour)
                log.warning("%s %s: streamed funding %s/h disagrees with REST %s/h", rest.venue, rest.symbol,
                            streamed.rate_per_hour, rest.rate_per_hour)
        self.counters["disagreements"] += found
        return found

    async def close(self) -> None:
        for client in self.rest.values():
            await client.close()
