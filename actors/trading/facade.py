"""The venue facade: one plain object per venue over its stream actors, with the seed API.

Strategy and execution code talk to venues only through this, never branching on a venue's
name: ``pause_market_data_streams``, ``resume_market_data_streams(symbol)``,
``prepare_order_book_stream(symbol)``, ``get_order_book_depth(symbol, levels)`` (the stream's
book when SYNCED and fresh, else a REST snapshot — the answer says which) and ``get_bbo``.
Targets are Ray actor handles or, in tests, the plain ``StreamConnection`` objects.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any

import msgspec

from perpwire import venues
from perpwire.actors.rest import RestClient
from perpwire.actors.streams.answers import PauseResult, ResumeResult, ResumeTimeout
from perpwire.market.book import BookView
from perpwire.market.errors import PerpwireError
from perpwire.market.events import BBO
from perpwire.venues.base import Subscription

log = logging.getLogger(__name__)


class DepthAnswer(msgspec.Struct, frozen=True, kw_only=True):
    view: BookView
    source: str  # "ws" or "rest"
    reason: str | None = None  # why REST was used


async def call(target, method: str, *args):
    """Call ``method`` on a Ray actor handle or a plain object, awaiting whatever comes back."""
    fn = getattr(target, method)
    if hasattr(fn, "remote"):
        return await fn.remote(*args)
    result = fn(*args)
    return await result if inspect.isawaitable(result) else result


class VenueFacade:
    """One venue as strategy and execution code see it, over that venue's stream actors.

    Call ``resume_market_data_streams(symbol)`` just before trading ``symbol`` (it returns once
    the book is SYNCED and fresh, or reports the stream that was not, 5 s by default), then read
    ``get_order_book_depth(symbol, levels)``: the answer's ``source`` says whether the levels came
    from the WebSocket book or a REST snapshot (used for any book that is not SYNCED and fresh:
    EMPTY, BUFFERING, RESYNCING, STALE), so a stale book is never traded on. Call
    ``pause_market_data_streams()`` when done; user data keeps flowing. ``prepare_order_book_stream``
    makes a symbol wanted ahead of time. Targets are Ray actor handles, or plain
    ``StreamConnection`` objects in tests; nothing here branches on the venue's name.
    """

    def __init__(self, venue: str, streams: dict[str, Any], *, book_symbols: dict[str, str] | None = None,
                 codec_options: dict | None = None, fresh_age_ms: int = 2_000):
        self.venue = venue
        self.streams = streams  # connection name -> handle
        self.spec = venues.spec(venue)  # which connections hold the books and the BBO
        self._book_symbols = book_symbols or {}  # symbol -> connection name holding its book
        self.codec = venues.codec(venue, **(codec_options or {}))
        self.rest = RestClient.for_venue(venue)
        self.fresh_age_ms = fresh_age_ms

    def _owner(self, symbol: str, kind: str) -> Any:
        name = self._book_symbols.get(symbol) if kind == self.spec.book_connection else None
        return self.streams.get(name or kind) or self.streams[self.spec.book_connection]

    def _pausable(self, symbol: str | None = None) -> list[Any]:
        names = {self.spec.book_connection, self.spec.bbo_connection}
        if symbol is None:
            return [h for n, h in self.streams.items() if n.split("-")[0] in names]
        return list({id(h): h for h in (self._owner(symbol, n) for n in names)}.values())

    async def pause_market_data_streams(self) -> list[PauseResult]:
        return list(await asyncio.gather(*(call(h, "pause") for h in self._pausable())))

    async def resume_market_data_streams(self, symbol: str, timeout_s: float | None = None) -> list[ResumeResult]:
        """Resume and wait for fresh books; a stream that times out is reported, not raised,
        because ``get_order_book_depth`` falls back to REST for it."""
        results = await asyncio.gather(*(call(h, "resume", symbol, timeout_s) for h in self._pausable(symbol)),
                                       return_exceptions=True)
        out = []
        for r in results:
            if isinstance(r, ResumeTimeout):
                log.warning("%s %s: %s; REST fallback will serve the book", self.venue, symbol, r)
                out.append(ResumeResult(venue=self.venue, stream="?", symbols=(symbol,), synced=False,
                                        latency_ms=float("nan")))
            elif isinstance(r, BaseException):
                raise r
            else:
                out.append(r)
        return out

    async def prepare_order_book_stream(self, symbol: str) -> list[Subscription]:
        added: list[Subscription] = []
        for h in self._pausable(symbol):
            added += await call(h, "prepare", symbol)
        return added

    async def get_order_book_depth(self, symbol: str, levels: int = 20) -> DepthAnswer:
        view = await call(self._owner(symbol, self.spec.book_connection), "order_book", symbol, levels)
        if view is not None and view.synced and view.age_ms is not None and view.age_ms <= self.fresh_age_ms:
            return DepthAnswer(view=view, source="ws")
        reason = "no book" if view is None else f"book {view.state}, age {view.age_ms} ms"
        return DepthAnswer(view=await self._rest_book(symbol, levels), source="rest", reason=reason)

    async def _rest_book(self, symbol: str, levels: int) -> BookView:
        body = await self.rest.fetch(self.codec.depth_request(symbol, max(levels, 5)))
        book = self.codec.book(symbol)
        if (r := book.apply(self.codec.decode_snapshot(symbol, body), int(time.time() * 1000))) is not None:
            raise PerpwireError(f"{self.venue} {symbol}: REST snapshot unusable: {r.reason}")
        return book.view(levels, now_ms=int(time.time() * 1000))

    async def get_bbo(self, symbol: str) -> BBO | None:
        bbo = await call(self._owner(symbol, self.spec.bbo_connection), "bbo", symbol)
        if bbo is not None:
            return bbo
        answer = await self.get_order_book_depth(symbol, 1)
        v = answer.view
        if not v.bids or not v.asks:
            return None
        return BBO(venue=self.venue, symbol=symbol, bid_price=v.bids[0][0], bid_size=v.bids[0][1],
                   ask_price=v.asks[0][0], ask_size=v.asks[0][1], ts=v.ts)

    async def close(self) -> None:
        await self.rest.close()
