"""The wire form of book views: how a ``BookView`` crosses a process boundary cheaply.

Reading books by value from the actors that own them is the heart of the design, so the cost of
one read is the cost of serialising a view. Pickled as a ``BookView`` of ``Decimal`` pairs, a
20-level book is 80 Decimal objects, each reduced through Python by Ray's pickler (a few µs
apiece): ~2 ms for one book, ~15 ms for 50. The wire form instead is one msgspec-encoded
``bytes`` per call: the venue's own price and size text of the levels asked for (never a
``Decimal`` on the owner's side — the book already keeps that text), plus every freshness and sync
field. The reader's side decodes it and builds the ``BookView`` (exact ``Decimal`` levels, best
first) on unpickling, so what user code receives is unchanged.

The owner (a stream actor) returns ``PackedView`` / ``PackedViews`` instead of views; both pickle
to the bytes and unpickle to ``BookView`` / ``dict[str, BookView | None]``. In the same process
(no pickling), ``unpack()`` turns them into views.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import msgspec

from perpwire.market.book import BookView, OrderBook

_SEP = ","  # never part of a decimal text: one string per side, split on read


class _Wire(msgspec.Struct, array_like=True, gc=False):
    """One view on the wire: fields by position, each side one ``price,size,price,size…`` text."""

    venue: str
    symbol: str
    seq: int
    ts: int
    recv_ts: int
    state: str
    age_ms: int | None
    bids: str
    asks: str


_encode = msgspec.msgpack.Encoder().encode
_decode_one = msgspec.msgpack.Decoder(_Wire).decode
_decode_many = msgspec.msgpack.Decoder(dict[str, _Wire | None]).decode


def _side(prices: list[str], sizes: list[str]) -> str:
    flat = [None] * (2 * len(prices))
    flat[0::2] = prices
    flat[1::2] = sizes
    return _SEP.join(flat)


def _levels(text: str) -> tuple[tuple[Decimal, Decimal], ...]:
    if not text:
        return ()
    parts = text.split(_SEP)
    return tuple(zip(map(Decimal, parts[0::2]), map(Decimal, parts[1::2]), strict=True))


def wire(book: OrderBook, levels: int | None = 20, now_ms: int | None = None, *,
         stale_after_ms: int | None = None, heard_ms: int | None = None) -> _Wire:
    """What ``book.view(...)`` would hold, as text: same state rules (STALE past the bound)."""
    bid_px, bid_sz, ask_px, ask_sz = book.top_text(levels)
    state, age = book.freshness(now_ms, stale_after_ms, heard_ms)
    return _Wire(book.venue, book.symbol, book.seq, book.ts, book.recv_ts, state.name, age,
                 _side(bid_px, bid_sz), _side(ask_px, ask_sz))


def wire_of(view: BookView) -> _Wire:
    """The wire form of a view already built (a REST fallback's, a test's)."""
    return _Wire(view.venue, view.symbol, view.seq, view.ts, view.recv_ts, view.state, view.age_ms,
                 _SEP.join(f"{p}{_SEP}{s}" for p, s in view.bids), _SEP.join(f"{p}{_SEP}{s}" for p, s in view.asks))


def _view(w: _Wire) -> BookView:
    return BookView(venue=w.venue, symbol=w.symbol, bids=_levels(w.bids), asks=_levels(w.asks), seq=w.seq,
                    ts=w.ts, recv_ts=w.recv_ts, state=w.state, age_ms=w.age_ms)


def view_from_wire(blob: bytes) -> BookView:
    """Unpickling a ``PackedView``: the reader builds the Decimal levels."""
    return _view(_decode_one(blob))


def views_from_wire(blob: bytes) -> dict[str, BookView | None]:
    """Unpickling a ``PackedViews``."""
    return {s: None if w is None else _view(w) for s, w in _decode_many(blob).items()}


class PackedView:
    """A view packed once by its owner; unpickles (on the reader's side) to a ``BookView``."""

    __slots__ = ("blob",)

    def __init__(self, w: _Wire):
        self.blob = _encode(w)

    def __reduce__(self):
        return view_from_wire, (self.blob,)

    def unpack(self) -> BookView:
        return view_from_wire(self.blob)


class PackedViews:
    """Many views in one blob (``order_books``); unpickles to ``dict[str, BookView | None]``."""

    __slots__ = ("blob",)

    def __init__(self, views: Mapping[str, _Wire | None]):
        self.blob = _encode(views)

    def __reduce__(self):
        return views_from_wire, (self.blob,)

    def unpack(self) -> dict[str, BookView | None]:
        return views_from_wire(self.blob)


def unpack(value):
    """A packed view (or views) as the reader sees it; anything else as it is (in-process callers
    of an actor's method get the packed object itself, not a pickled copy)."""
    return value.unpack() if isinstance(value, PackedView | PackedViews) else value
