"""REST backfill of settled funding history, so a fresh install has 30-day statistics at once.

For every configured venue-symbol: page through the venue's funding-history endpoint (the codec
builds the request and decodes the body; venues cap a page at a few hundred rows, so the next
page starts after the newest row) and hand the settled rates to the store. A venue that fails
is logged and skipped: statistics for it fill in from the live stream instead.
"""

from __future__ import annotations

import asyncio
import logging
import time

import venues
from actors.app import AppConfig
from actors.pacing import TokenBucket
from actors.rest import RestClient
from market.errors import PerpwireError

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


async def backfill_history(runtime, cfg: AppConfig, days: float = 30.0) -> int:
    end = int(time.time() * 1000)
    start = end - int(days * DAY_MS)
    total = 0

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

    for venue, vc in cfg.venues.items():
        rest = RestClient(venue, TokenBucket(10.0, 20.0))
        try:
            counts = await asyncio.gather(*(one(venue, s, rest) for s in vc.symbols))
            total += sum(counts)
        finally:
            await rest.close()
    await runtime.store.flush.remote()
    return total
