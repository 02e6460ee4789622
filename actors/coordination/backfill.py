"""REST backfill of settled funding history, so a fresh install has 30-day statistics at once.

For every configured venue-symbol: page through the venue's funding-history endpoint (the codec
builds the request and decodes the body; venues cap a page at a few hundred rows, so the next
page starts after the newest row) and hand the settled rates to the store. A venue that fails
is logged and skipped: statistics for it fill in from the live stream instead.
"""

from __future__ import annotations

import asyncio
import logging

from perpwire import venues
from perpwire.actors.app.config import AppConfig
from perpwire.actors.pacing import now_ms
from perpwire.actors.rest import RestClient
from perpwire.market.errors import PerpwireError

log = logging.getLogger(__name__)
DAY_MS = 86_400_000


async def fetch_history(venue: str, symbol: str, start_ms: int, end_ms: int, *, codec_options: dict,
                        rest: RestClient, max_pages: int = 20) -> list:
    codec = venues.codec(venue, **codec_options)
    out: list = []
    since = start_ms
    for _ in range(max_pages):
        body = await rest.fetch(codec.funding_history_request(symbol, since, end_ms))
        page = [r for r in codec.decode_funding_history(body) if since <= r.ts <= end_ms]
        if not page:
            break
        out.extend(page)
        newest = max(r.ts for r in page)
        if newest <= since:
            break
        since = newest + 1
    return out


async def backfill_history(runtime, cfg: AppConfig, days: float = 30.0, *, budget_scale: float = 1.0) -> int:
    """Backfill every configured venue-symbol in parallel; ``budget_scale`` > 1 only for the
    local simulator, which has no rate limits to respect."""
    end = now_ms()
    start = end - int(days * DAY_MS)

    async def one(venue: str, symbol: str, rest: RestClient) -> int:
        try:
            rates = await fetch_history(venue, symbol, start, end, codec_options=cfg.venues[venue].codec_options,
                                        rest=rest)
        except (PerpwireError, OSError, TimeoutError, AttributeError) as exc:
            log.warning("%s %s: funding history backfill failed: %s", venue, symbol, exc)
            return 0
        if rates:
            await runtime.store.backfill.remote(rates)
        return len(rates)

    async def venue_rows(venue: str, symbols: list[str]) -> int:
        rest = RestClient.for_venue(venue, budget_scale=budget_scale)
        try:
            return sum(await asyncio.gather(*(one(venue, s, rest) for s in symbols)))
        finally:
            await rest.close()

    total = sum(await asyncio.gather(*(venue_rows(v, vc.symbols) for v, vc in cfg.venues.items())))
    await runtime.store.flush.remote()
    return total
