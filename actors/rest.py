"""REST I/O: send a codec's ``HttpRequest`` with aiohttp inside the venue's request budget.

429 and 418 become ``RateLimited`` (and stop the budget until Retry-After); other HTTP errors
become ``VenueError`` with the first bytes of the body; the caller decides whether to retry.
``RestClient.for_venue(name)`` is the client with the budget the venue's spec declares.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from perpwire import venues
from perpwire.actors.pacing import TokenBucket
from perpwire.market.errors import RateLimited, VenueError
from perpwire.venues.base import HttpRequest

log = logging.getLogger(__name__)


def retry_after_s(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class RestClient:
    def __init__(self, venue: str, budget: TokenBucket, *, timeout_s: float = 10.0):
        self.venue = venue
        self.budget = budget
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        self.rate_limited = 0

    @classmethod
    def for_venue(cls, venue: str, *, budget_scale: float = 1.0, timeout_s: float = 10.0) -> RestClient:
        """A client inside ``venue``'s REST budget (``VenueSpec.rest``); ``budget_scale`` > 1 only
        for the local simulator, which has no limits to respect. Close it when done."""
        budget = venues.spec(venue).rest
        return cls(venue, TokenBucket(budget.rate_per_s * budget_scale, budget.burst * budget_scale),
                   timeout_s=timeout_s)

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def fetch(self, req: HttpRequest) -> bytes:
        await self.budget.acquire(req.weight)
        url = req.url
        if req.params:
            # signatures cover the query string byte for byte: build it once, never re-encode
            url = URL(f"{req.url}?{urlencode(req.params)}", encoded=True)
        session = await self._client()
        self.requests += 1
        async with session.request(req.method, url, headers=dict(req.headers), data=req.body) as resp:
            body = await resp.read()
            if resp.status in (418, 429):
                self.rate_limited += 1
                wait = retry_after_s(resp.headers.get("Retry-After"))
                self.budget.penalize(wait)
                log.warning("%s REST %s %s: HTTP %s, retry after %s s", self.venue, req.method, req.url,
                            resp.status, wait)
                raise RateLimited(self.venue, resp.status, wait)
            if resp.status >= 400:
                raise VenueError(self.venue, None, body[:200].decode("utf-8", "replace"), status=resp.status)
            return body

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
