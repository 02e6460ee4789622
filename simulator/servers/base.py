"""What every simulated venue shares: subscriptions, publishing, REST plumbing and cadences.

A ``VenueServer`` subclass speaks one venue's protocol under the URL prefix ``/<venue>``. It
declares its routes (paths relative to the prefix), its keep-alive rules (``heartbeat``) and its
connection age limit, and implements ``on_tick`` — called once per model tick, after the
market moved — to publish whatever its streams owe their subscribers. Frames are built once per
stream and tick and handed to every subscriber (``publish``), and only for streams that have
subscribers. REST handlers go through ``rest`` so injected 429/418 faults and REST accounting
apply uniformly; subclasses format the venue's own error body in ``error_body``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
from aiohttp import web

from perpwire.simulator.faults import RestFault
from perpwire.simulator.funding import Settlement
from perpwire.simulator.hub import Conn, Heartbeat
from perpwire.simulator.model import Book

if TYPE_CHECKING:
    from perpwire.simulator.server import Simulator

log = logging.getLogger(__name__)

encode = msgspec.json.Encoder(decimal_format="string").encode
decode = msgspec.json.Decoder().decode

_FIRST_TRADE_ID = 1_000_000  # Book.trade_id before the first trade

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class DayStats:
    """Prices in USD, volumes in base units (``quote_volume`` in USD), trade ids of the window."""

    open: float
    high: float
    low: float
    close: float
    last_lots: int
    volume: float
    quote_volume: float
    vwap: float
    count: int
    first_id: int
    last_id: int
    open_ms: int

    @property
    def change(self) -> float:
        return self.close - self.open

    @property
    def change_pct(self) -> float:
        return (self.close / self.open - 1.0) * 100.0 if self.open else 0.0


class VenueServer:
    name: ClassVar[str]
    heartbeat: ClassVar[Heartbeat] = Heartbeat()
    #: the venue closes connections older than this many market hours (None: no limit)
    max_age_h: ClassVar[float | None] = 24.0

    def __init__(self, sim: Simulator, **options: Any) -> None:
        self.sim = sim
        self.model = sim.model
        self.clock = sim.clock
        self.funding = sim.funding
        self.hub = sim.hub
        self.faults = sim.faults
        self.exchange = sim.exchange
        self.options = options
        self.books: list[Book] = sim.model.by_venue[self.name]
        self.by_symbol: dict[str, Book] = {b.inst.symbol: b for b in self.books}
        self.by_asset: dict[str, Book] = {b.inst.asset: b for b in self.books}
        self.subs: dict[str, set[Conn]] = {}
        self._stream_books: dict[str, Book | None] = {}
        hb_overrides = options.get("heartbeat", {})
        self.heartbeat = type(self).heartbeat.scaled(**hb_overrides)
        self.prefix = f"/{self.name}"
        self.exchange.listeners[self.name] = self.on_account_events

    # --- lifecycle hooks for subclasses --------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Handler]]:
        """(method, path relative to the prefix, handler); method "WS" for WebSocket upgrades."""
        return []

    def on_tick(self) -> None:
        """Publish what the tick owes the subscribers."""

    def on_settlement(self, settlement: Settlement) -> None:
        """A funding interval of this venue ended (default: nothing to push)."""

    def on_account_events(self, acct: Any, events: list[Any]) -> None:
        """Order and funding events of one account (venues with user streams override)."""

    def urls(self, base_http: str, base_ws: str) -> dict[str, str]:
        return {"ws": f"{base_ws}{self.prefix}", "rest": f"{base_http}{self.prefix}"}

    # --- cadence ------------------------------------------------------------------------------

    def every(self, seconds: float) -> bool:
        """True on the ticks of a real-time cadence of ``seconds``."""
        return self.clock.ticks % self.clock.ticks_per(seconds) == 0

    @property
    def now_ms(self) -> int:
        return self.clock.now_ms

    # --- subscriptions ------------------------------------------------------------------------

    def book_of(self, stream: str) -> Book | None:
        """The book whose ladder ``stream`` publishes (depth, best bid/offer, trades), or None
        (funding, mark prices, whole-venue and account streams): subscribers of such streams keep
        the book moving every tick (``MarketModel.watch``). Venues override it."""
        return None

    def _watched_book(self, stream: str) -> Book | None:
        cache = self._stream_books
        if stream not in cache:
            if len(cache) > 100_000:  # clients may name any stream: keep the cache bounded
                cache.clear()
            cache[stream] = self.book_of(stream)
        return cache[stream]

    def moved_books(self) -> list[Book]:
        """The books that moved this tick (all of them unless the model keeps quiet books)."""
        return self.model.moved.get(self.name, self.books)

    def add_sub(self, conn: Conn, stream: str) -> bool:
        """Subscribe; False when the connection already had it."""
        if stream in conn.subs:
            return False
        conn.subs.add(stream)
        self.subs.setdefault(stream, set()).add(conn)
        book = self._watched_book(stream)
        if book is not None:
            self.model.watch(book)
        return True

    def remove_sub(self, conn: Conn, stream: str) -> bool:
        if stream not in conn.subs:
            return False
        book = self._watched_book(stream)
        if book is not None:
            self.model.unwatch(book)
        conn.subs.discard(stream)
        subs = self.subs.get(stream)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self.subs[stream]
        return True

    def forget(self, conn: Conn) -> None:
        for stream in list(conn.subs):
            self.remove_sub(conn, stream)

    def wanted(self, stream: str) -> bool:
        return stream in self.subs

    def publish(self, stream: str, data: bytes) -> None:
        subs = self.subs.get(stream)
        if subs:
            for conn in tuple(subs):
                conn.push(data, stream)

    async def serve_ws(
        self,
        request: web.Request,
        on_text: Callable[[Conn, str], Awaitable[None] | None],
        *,
        on_open: Callable[[Conn], Any] | None = None,
        on_close: Callable[[Conn], None] | None = None,
    ) -> web.WebSocketResponse:
        def closed(conn: Conn) -> None:
            self.forget(conn)
            if on_close is not None:
                on_close(conn)

        return await self.hub.serve(
            request, self.name, on_open=on_open, on_text=on_text, on_close=closed, heartbeat=self.heartbeat
        )

    # --- REST ---------------------------------------------------------------------------------

    def json(self, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        body = encode(obj)
        self.sim.accounting.rest_response(self.name, len(body))
        return web.Response(body=body, status=status, headers=headers, content_type="application/json")

    def error_body(self, status: int, retry_after: int) -> Any:
        """The venue's JSON body for an injected 429/418/403/503."""
        return {"code": status, "message": "Too many requests" if status == 429 else "Banned"}

    def rest(self, handler: Handler) -> Handler:
        prefix_len = len(self.prefix)

        async def wrapped(request: web.Request) -> web.StreamResponse:
            fault: RestFault | None = self.faults.take_rest(self.name, request.path[prefix_len:])
            if fault is not None:
                return self.json(
                    self.error_body(fault.status, fault.retry_after),
                    status=fault.status,
                    headers={"Retry-After": str(fault.retry_after)},
                )
            return await handler(request)

        return wrapped

    # --- helpers ------------------------------------------------------------------------------

    def book_or_none(self, symbol: str | None) -> Book | None:
        return None if symbol is None else self.by_symbol.get(symbol)

    def mark_text(self, book: Book, dp: int = 8) -> str:
        return f"{self.model.mark_price(book):.{dp}f}"

    def index_text(self, book: Book, dp: int = 8) -> str:
        return f"{self.model.index_price(book.inst.asset):.{dp}f}"

    def day(self, book: Book) -> DayStats:
        """The rolling-day statistics a venue's 24 h ticker reports (the model's day is the run so far)."""
        last = book.recent[-1] if book.recent else None
        close = last.px * book.inst.tick_value if last else book.mid
        count = book.trade_id - _FIRST_TRADE_ID
        vwap = book.day_quote / book.day_volume if book.day_volume else close
        return DayStats(open=book.day_open, high=max(book.day_high, close), low=min(book.day_low, close), close=close,
                        last_lots=last.lots if last else 0, volume=book.day_volume, quote_volume=book.day_quote,
                        vwap=vwap, count=count, first_id=_FIRST_TRADE_ID + 1 if count else 0,
                        last_id=book.trade_id if count else 0, open_ms=self.now_ms - 86_400_000)  # fmt: skip

    @staticmethod
    def levels(book: Book, pairs: list[tuple[int, int]]) -> list[list[str]]:
        px, sz = book.inst.price_text, book.inst.size_text
        return [[px(p), sz(s)] for p, s in pairs]


def dtext(value: Any, dp: int) -> str:
    """Decimal text with exactly ``dp`` decimals (half-even), never exponent notation."""
    return f"{Decimal(value).quantize(Decimal(1).scaleb(-dp)):f}"
