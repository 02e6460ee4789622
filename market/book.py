"""One instrument's order book and its synchronisation state machine.

``EMPTY → BUFFERING → SYNCED → RESYNCING``: deltas that arrive before a snapshot are buffered,
the snapshot replaces the book, buffered deltas are replayed (stale ones dropped, the first one
must bridge the snapshot), and from then on every delta must follow the venue's chain
(``market.sequence``). A gap does not apply the delta: the book turns RESYNCING, buffers what
follows and ``apply`` returns a ``Resync`` for this symbol, once; the caller fetches a snapshot.

Representation, chosen by measurement (bench/codecs.py): each side maps ``float(price)`` to the
venue's exact ``(price_text, size_text)``. The float is only an index and sort key; distinct
decimal prices with up to 15 significant digits always have distinct floats, and whenever two
texts meet on one key they are compared exactly, so no precision is ever lost. Reads return
``Decimal``. Sorting is lazy: a side is re-sorted on read only after a level appeared or went.

Invariants after every operation: no level has a zero, negative or non-finite size or price,
sides read sorted best first, and a book read while SYNCED is never crossed (on read, the older
of two crossing levels is dropped: the newer one is the venue's latest word).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from enum import Enum

import msgspec

from market.errors import BookError, DecodeError
from market.events import BookDelta, BookSnapshot, LazyBookSnapshot, Level, Resync, Side
from market.sequence import PU_CHAIN, SequenceRule

_INF = float("inf")

DecLevel = tuple[Decimal, Decimal]


class SyncState(Enum):
    EMPTY = "EMPTY"
    BUFFERING = "BUFFERING"
    SYNCED = "SYNCED"
    RESYNCING = "RESYNCING"


class BookView(msgspec.Struct, frozen=True, kw_only=True):
    """An immutable copy of the top of a book, with its freshness. Returned by value."""

    venue: str
    symbol: str
    bids: tuple[DecLevel, ...]
    asks: tuple[DecLevel, ...]
    seq: int
    ts: int  # venue event time of the last update, ms
    recv_ts: int  # local receive time of the last update, ms
    state: str  # SyncState name
    age_ms: int | None = None  # now - recv_ts when the reader passed ``now_ms``

    @property
    def synced(self) -> bool:
        return self.state == SyncState.SYNCED.name

    def depth_for_size(self, side: Side | str, size: Decimal) -> FillEstimate:
        """Like ``OrderBook.depth_for_size`` over the levels this view holds."""
        return estimate_fill(self.asks if Side(side) is Side.BUY else self.bids, side, size)


class FillEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """What taking ``size`` from one side of the book would cost.

    ``slippage`` is the fraction the average price is worse than the best price (>= 0).
    ``complete`` is false when the book holds less than ``size``; ``filled`` says how much.
    """

    side: Side
    size: Decimal
    filled: Decimal
    avg_price: Decimal | None
    worst_price: Decimal | None
    best_price: Decimal | None
    slippage: Decimal | None
    levels: int
    complete: bool


def estimate_fill(levels: Iterable[DecLevel], side: Side | str, size: Decimal) -> FillEstimate:
    """Walk ``levels`` (the side a ``side`` order takes from, best first) for ``size``."""
    side = Side(side)
    size = Decimal(size)
    remaining = size
    cost = Decimal(0)
    worst = best = None
    used = 0
    for price, qty in levels:
        if remaining <= 0:
            break
        best = price if best is None else best
        take = min(qty, remaining)
        cost += take * price
        remaining -= take
        worst = price
        used += 1
    filled = size - remaining
    avg = cost / filled if filled > 0 else None
    slip = None
    if avg is not None and best:
        slip = (avg - best) / best if side is Side.BUY else (best - avg) / best
    return FillEstimate(side=side, size=size, filled=filled, avg_price=avg, worst_price=worst, best_price=best,
                        slippage=slip, levels=used, complete=remaining <= 0)


class _Side:
    """One side of the book: float key -> (price text, size text, update stamp)."""

    __slots__ = ("_order", "descending", "levels")

    def __init__(self, descending: bool):
        self.descending = descending
        self.levels: dict[float, tuple[str, str, int]] = {}
        self._order: list[float] | None = []

    def replace(self, levels: Iterable[Level], stamp: int) -> None:
        self.levels = {}
        self._order = None
        self.update(levels, stamp)

    def update(self, levels: Iterable[Level], stamp: int) -> None:
        """Apply absolute sizes; raises ValueError on text that is not a usable number."""
        book = self.levels
        changed = False
        for price, size in levels:
            key = float(price)
            qty = float(size)
            old = book.get(key)
            if 0.0 < qty < _INF:
                if old is None:
                    if not 0.0 < key < _INF:
                        raise ValueError(f"bad price {price!r}")
                    changed = True
                elif old[0] != price and Decimal(old[0]) != Decimal(price):
                    raise BookError(f"prices {old[0]} and {price} share one float key")
                book[key] = (price, size, stamp)
            elif qty == 0.0:
                if old is not None:
                    del book[key]
                    changed = True
            else:
                raise ValueError(f"bad size {size!r} at price {price!r}")
        if changed:
            self._order = None

    def order(self) -> list[float]:
        if self._order is None:
            self._order = sorted(self.levels, reverse=self.descending)
        return self._order

    def drop(self, key: float) -> None:
        del self.levels[key]
        self._order = None

    def top(self, n: int | None) -> tuple[DecLevel, ...]:
        keys = self.order() if n is None else self.order()[:n]
        book = self.levels
        out = []
        for k in keys:
            p, q, _ = book[k]
            out.append((Decimal(p), Decimal(q)))
        return tuple(out)


class OrderBook:
    """The book of one instrument on one venue, fed by ``apply`` and read by value.

    ``rule`` is the venue's ``SequenceRule``; ``materialize`` decodes a ``LazyBookSnapshot``
    (the codec's ``materialize``) and is needed only for snapshot streams decoded lazily.
    ``max_buffer`` bounds the deltas kept while waiting for a snapshot; when it overflows the
    oldest are dropped and the replay will ask for a fresher snapshot.
    """

    def __init__(
        self,
        venue: str,
        symbol: str,
        rule: SequenceRule = PU_CHAIN,
        *,
        materialize: Callable[[LazyBookSnapshot], BookSnapshot] | None = None,
        max_buffer: int = 4096,
    ):
        self.venue = venue
        self.symbol = symbol
        self.rule = rule
        self.state = SyncState.EMPTY
        self.seq = -1
        self.ts = 0
        self.recv_ts = 0
        self.uncrossed = 0  # levels dropped on read because they crossed newer ones
        self.bad_frames = 0  # lazy snapshots that failed to decode on read
        self._materialize = materialize
        self._lazy: LazyBookSnapshot | None = None
        self._bridged = False
        self._stamp = 0
        self._buffer: deque[BookDelta] = deque(maxlen=max_buffer)
        self._bids = _Side(descending=True)
        self._asks = _Side(descending=False)

    # --- writes ------------------------------------------------------------------------------

    def apply(
        self, event: BookSnapshot | BookDelta | LazyBookSnapshot, recv_ts: int = 0
    ) -> Resync | None:
        """Apply one event. Returns a ``Resync`` the first time the chain breaks, else None."""
        if recv_ts:
            self.recv_ts = recv_ts
        if type(event) is BookDelta:
            if self.state is SyncState.SYNCED:
                return self._apply_delta(event)
            if self.state is SyncState.EMPTY:
                self.state = SyncState.BUFFERING
            self._buffer.append(event)
            return None
        if type(event) is LazyBookSnapshot:
            self._lazy = event
            self.ts = event.ts or self.ts
            self.state = SyncState.SYNCED
            self._buffer.clear()
            return None
        if type(event) is BookSnapshot:
            return self._apply_snapshot(event)
        raise BookError(f"{self.venue} {self.symbol}: cannot apply {type(event).__name__}")

    def invalidate(self, reason: str) -> Resync | None:
        """Mark the book out of sync (reconnect, stall). Returns a Resync unless already so."""
        if self.state in (SyncState.RESYNCING, SyncState.EMPTY, SyncState.BUFFERING):
            return None
        self.state = SyncState.RESYNCING
        self._lazy = None
        self._buffer.clear()
        return Resync(venue=self.venue, symbol=self.symbol, reason=reason)

    def _apply_snapshot(self, snap: BookSnapshot) -> Resync | None:
        self._lazy = None
        self._stamp += 1
        try:
            self._bids.replace(snap.bids, self._stamp)
            self._asks.replace(snap.asks, self._stamp)
        except (ValueError, BookError) as exc:
            self._bids.replace((), self._stamp)
            self._asks.replace((), self._stamp)
            self.state = SyncState.RESYNCING
            return Resync(venue=self.venue, symbol=self.symbol, reason=f"bad snapshot: {exc}")
        self.seq = snap.seq
        self.ts = snap.ts or self.ts
        self.state = SyncState.SYNCED
        self._bridged = False
        pending = list(self._buffer)
        self._buffer.clear()
        for i, delta in enumerate(pending):
            resync = self._apply_delta(delta)
            if resync is not None:
                # keep what came after the gap: a fresher snapshot may bridge it
                self._buffer.extend(pending[i + 1 :])
                return resync
        return None

    def _apply_delta(self, d: BookDelta) -> Resync | None:
        if self._lazy is not None:
            self._load_lazy()
        rule = self.rule
        if rule.stale(d, self.seq):
            return None
        if self._bridged:
            ok = rule.follows(d, self.seq)
        else:
            ok = rule.bridges(d, self.seq)
        if not ok:
            return self._gap(d, f"gap: last seq {self.seq}, delta {d.first_seq}..{d.seq} (prev {d.prev_seq})")
        self._stamp += 1
        try:
            self._bids.update(d.bids, self._stamp)
            self._asks.update(d.asks, self._stamp)
        except (ValueError, BookError) as exc:
            return self._gap(None, f"bad delta {d.first_seq}..{d.seq}: {exc}")
        self._bridged = True
        self.seq = d.seq
        self.ts = d.ts or self.ts
        return None

    def _gap(self, keep: BookDelta | None, reason: str) -> Resync:
        self.state = SyncState.RESYNCING
        self._buffer.clear()
        if keep is not None:
            self._buffer.append(keep)
        return Resync(venue=self.venue, symbol=self.symbol, reason=reason)

    def _load_lazy(self) -> None:
        lazy, self._lazy = self._lazy, None
        if lazy is None:
            return
        if self._materialize is None:
            raise BookError(f"{self.venue} {self.symbol}: lazy snapshot but no materialize")
        try:
            snap = self._materialize(lazy)
        except DecodeError:
            # a bad frame must not reach the reader: the book is out of sync until the next one
            self._bids.replace((), self._stamp)
            self._asks.replace((), self._stamp)
            self.state = SyncState.RESYNCING
            self.bad_frames += 1
            return
        self._stamp += 1
        try:
            self._bids.replace(snap.bids, self._stamp)
            self._asks.replace(snap.asks, self._stamp)
        except (ValueError, BookError):
            self._bids.replace((), self._stamp)
            self._asks.replace((), self._stamp)
            self.state = SyncState.RESYNCING
            return
        self.seq = snap.seq
        self.ts = snap.ts or lazy.ts or self.ts
        self._bridged = False

    # --- reads -------------------------------------------------------------------------------

    def _ready(self) -> None:
        if self._lazy is not None:
            self._load_lazy()
        self._uncross()

    def _uncross(self) -> None:
        bids, asks = self._bids, self._asks
        while bids.levels and asks.levels:
            kb = bids.order()[0]
            ka = asks.order()[0]
            if kb < ka:
                return
            sb = bids.levels[kb][2]
            sa = asks.levels[ka][2]
            if sb <= sa:
                bids.drop(kb)
                self.uncrossed += 1
            if sa <= sb:
                asks.drop(ka)
                self.uncrossed += 1

    def top(self, n: int | None = 10) -> tuple[tuple[DecLevel, ...], tuple[DecLevel, ...]]:
        """The best ``n`` levels of each side (all when ``n`` is None) as Decimals."""
        self._ready()
        return self._bids.top(n), self._asks.top(n)

    def best_bid(self) -> DecLevel | None:
        self._ready()
        top = self._bids.top(1)
        return top[0] if top else None

    def best_ask(self) -> DecLevel | None:
        self._ready()
        top = self._asks.top(1)
        return top[0] if top else None

    def __len__(self) -> int:
        self._ready()
        return len(self._bids.levels) + len(self._asks.levels)

    def depth_for_size(self, side: Side | str, size: Decimal) -> FillEstimate:
        """Average price and slippage of taking ``size``: a BUY walks the asks, a SELL the bids."""
        side = Side(side)
        self._ready()
        book = self._asks if side is Side.BUY else self._bids
        return estimate_fill(((Decimal(book.levels[k][0]), Decimal(book.levels[k][1])) for k in book.order()),
                             side, size)

    def view(self, levels: int | None = 20, now_ms: int | None = None) -> BookView:
        """An immutable copy of the top ``levels`` with seq, timestamps, state and age."""
        bids, asks = self.top(levels)
        age = None if now_ms is None or not self.recv_ts else max(0, now_ms - self.recv_ts)
        return BookView(
            venue=self.venue, symbol=self.symbol, bids=bids, asks=asks, seq=self.seq,
            ts=self.ts, recv_ts=self.recv_ts, state=self.state.name, age_ms=age,
        )
