"""One instrument's order book and its synchronisation state machine.

``EMPTY → BUFFERING → SYNCED → RESYNCING``: deltas that arrive before a snapshot are buffered,
the snapshot replaces the book, buffered deltas are replayed (stale ones dropped, the first one
must bridge the snapshot), and from then on every delta must follow the venue's chain
(``market.sequence``). A gap does not apply the delta: the book turns RESYNCING, buffers what
follows and ``apply`` returns a ``Resync`` for this symbol, once; the caller fetches a snapshot.

Representation, chosen by measurement (bench/codecs.py): each side maps the venue's exact price
text to its ``(size_text, stamp)``, so applying a level costs one ``float()`` of its size and one
dict store. A float index of the prices catches the same price spelt two ways (``"100.0"`` and
``"100.00"``: one level) and prices a float cannot tell apart (more than 15 significant digits:
refused, never merged). Reads return ``Decimal``. Sorting is lazy: a side is re-sorted (by
``float`` of the text) on read only after a level appeared or went.

Invariants after every operation: no level has a zero, negative or non-finite size or price,
sides read sorted best first, and a book read while SYNCED is never crossed (on read, the older
of two crossing levels is dropped: the newer one is the venue's latest word).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from enum import Enum
from itertools import repeat
from math import isfinite as _isfinite

import msgspec

from perpwire.market.errors import BookError, DecodeError
from perpwire.market.events import BookDelta, BookSnapshot, LazyBookSnapshot, Level, Resync, Side
from perpwire.market.sequence import PU_CHAIN, SequenceRule

_INF = float("inf")

DecLevel = tuple[Decimal, Decimal]


class SyncState(Enum):
    EMPTY = "EMPTY"
    BUFFERING = "BUFFERING"
    SYNCED = "SYNCED"
    RESYNCING = "RESYNCING"
    #: a read-time state, never held by a book: SYNCED by sequence, but its stream has not been
    #: heard from within the reader's freshness bound, so nobody may take it for fresh
    STALE = "STALE"


_SYNCED = SyncState.SYNCED


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


#: levels in one update from which ``_update_bulk`` beats the loop: its dozen passes of builtins
#: cost about what twenty iterations do (measured on Binance diff frames: bench/codecs.py)
_BULK_MIN = 24


def _update_bulk(book: dict[str, tuple[str, int]], keys: dict[float, str], levels: tuple | list,
                 stamp: int) -> bool | None:
    """``_update_py`` for the common delta, in a few passes of builtins instead of one Python
    iteration per level: what the loop would leave, or None (nothing touched) when the loop must
    decide because order or a spelling could matter. It decides only deltas whose prices all
    read as distinct floats, whose sizes are all finite and >= 0, whose new prices are positive
    and finite and take no float key held by another live spelling, whose deletes of absent
    prices have no live alias, and that cannot make the key index due for compaction on the way
    (``_Side._insert``)."""
    try:
        prices, sizes = zip(*levels, strict=True)
        qty = list(map(float, sizes))
        floats = list(map(float, prices))
        if len(set(floats)) != len(floats):
            return None  # a price twice, or two spellings of one: order decides
    except (TypeError, ValueError):
        return None
    if not (all(map(_isfinite, qty)) and min(qty) >= 0.0):
        return None
    if 0.0 in qty:
        dels = [p for p, q in zip(prices, qty, strict=True) if q == 0.0]
        absent = [k for p, k, q in zip(prices, floats, qty, strict=True) if q == 0.0 and p not in book]
        if [k for k in absent if (o := keys.get(k)) is not None and o in book]:
            return None  # a delete of a price held under another spelling
        sets = [(p, z, k) for p, z, k, q in zip(prices, sizes, floats, qty, strict=True) if q != 0.0]
    else:
        dels = absent = []
        sets = list(zip(prices, sizes, floats, strict=True))
    new = [(k, p) for p, _, k in sets if p not in book]
    if new:
        if not all(0.0 < k < _INF for k, _ in new):
            return None  # a bad price: the loop names it
        if [p for k, p in new if (o := keys.get(k)) is not None and o != p and o in book]:
            return None  # the same price spelt another way: _insert decides
        if len(keys) + len(new) > 2 * (len(book) - len(dels) + len(absent)) + 256:
            return None  # the index may be due for compaction on the way
        keys.update(new)
    book.update(zip([p for p, _, _ in sets], zip([z for _, z, _ in sets], repeat(stamp)), strict=True))
    for p in dels:
        book.pop(p, None)
    return bool(new) or len(dels) > len(absent)


def _update_py(
    book: dict[str, tuple[str, int]], keys: dict[float, str], levels: Iterable[Level], stamp: int,
    insert: Callable[[str], None], drop_alias: Callable[[str], bool],
) -> bool:
    """``_Side.update``'s loop: set or delete each level; True when a level appeared or went.

    market/_sidec.c is the same loop compiled (used when built); keep the two in step. Common
    updates of ``_BULK_MIN`` levels or more (a snapshot applied level by level, deep deltas) take
    ``_update_bulk``, the same result in bulk; the loop decides the rest.
    """
    if (type(levels) is tuple or type(levels) is list) and len(levels) >= _BULK_MIN:
        done = _update_bulk(book, keys, levels, stamp)
        if done is not None:
            return done
    changed = False
    for price, size in levels:
        qty = float(size)
        if 0.0 < qty < _INF:
            if price not in book:
                insert(price)
                changed = True
            book[price] = (size, stamp)
        elif qty == 0.0:
            if book.pop(price, None) is not None or (keys.get(float(price)) is not None and drop_alias(price)):
                changed = True
        else:
            raise ValueError(f"bad size {size!r} at price {price!r}")
    return changed


def _update_book_py(bid_side: tuple, ask_side: tuple, bids: Iterable[Level], asks: Iterable[Level], stamp: int) -> int:
    """Both sides of one delta (a side is ``_Side.hot``); bit 1: the bids changed shape, bit 2: the asks."""
    mask = 0
    if bids:
        mask |= _update(bid_side[0], bid_side[1], bids, stamp, bid_side[2], bid_side[3])
    if asks:
        mask |= _update(ask_side[0], ask_side[1], asks, stamp, ask_side[2], ask_side[3]) << 1
    return mask


def _sorted_keys_py(levels: Iterable[Level], descending: bool) -> list[float] | None:
    """The float of every price of ``levels`` when they already are a valid side, as venues send
    snapshots: a tuple of ``(price, size)`` tuples, strictly best first (no price twice, no two spellings of
    one price), every price and size positive and finite. None when not (the caller then applies
    them level by level, which sorts, merges and names what is wrong).

    Bulk builtins only (``zip``, ``map``, ``sorted``, ``set``); market/_sidec.c has the same test
    compiled (``sorted_keys``) for pairs of str, and this one decides everything else.
    """
    if type(levels) is not tuple:
        return None  # a list may change after the call: only immutable levels are kept as they came
    if not levels:
        return []
    if len(set(map(type, levels))) != 1 or type(levels[0]) is not tuple:
        return None  # a level that is a list may change too
    try:
        prices, sizes = zip(*levels, strict=True)
        keys = list(map(float, prices))
        qty = list(map(float, sizes))
    except (TypeError, ValueError):
        return None
    if not (all(map(_isfinite, qty)) and min(qty) > 0.0 and all(map(_isfinite, keys))):
        return None
    if descending:
        if not (keys[-1] > 0.0 and keys == sorted(keys, reverse=True)):
            return None
    elif not (keys[0] > 0.0 and keys == sorted(keys)):
        return None
    if len(set(keys)) != len(keys):
        return None
    return keys


def _sorted_keys_c(levels: Iterable[Level], descending: bool) -> list[float] | None:
    keys = _sorted_keys_compiled(levels, descending)
    return _sorted_keys_py(levels, descending) if keys is NotImplemented else keys


try:  # the compiled loops, unless not built or PERPWIRE_PURE_PYTHON is set
    from perpwire.market._sidec import sorted_keys as _sorted_keys_compiled
    from perpwire.market._sidec import update as _update_c
    from perpwire.market._sidec import update_book as _update_book_c
except ImportError:  # pragma: no cover - depends on the install
    _update_c = _update_book_c = _sorted_keys_compiled = None

ACCELERATED = _update_c is not None and not os.environ.get("PERPWIRE_PURE_PYTHON")
_update = _update_c if ACCELERATED else _update_py
_update_book = _update_book_c if ACCELERATED else _update_book_py
# the compiled test itself (``_Side.replace`` asks the Python one when it says NotImplemented)
_sorted_keys = _sorted_keys_compiled if ACCELERATED else _sorted_keys_py


def use_compiled(compiled: bool) -> bool:
    """Run the book's hot loops compiled (when built) or in Python from now on, in this process;
    returns whether they were compiled before. For benchmarks and tests comparing the two."""
    global _update, _update_book, _sorted_keys
    before = _update is _update_c and _update_c is not None
    if compiled and _update_c is not None:
        _update, _update_book, _sorted_keys = _update_c, _update_book_c, _sorted_keys_compiled
    else:
        _update, _update_book, _sorted_keys = _update_py, _update_book_py, _sorted_keys_py
    return before


class _Side:
    """One side of the book: price text -> (size text, update stamp).

    Keyed by the venue's own price text, so an update costs one float() (of the size) and one
    dict store. ``_keys`` indexes the float of every price text ever inserted (stale entries are
    harmless and compacted): a new text whose float is taken by another live text is the same
    price spelt differently (the new spelling replaces it) or, past 15 significant digits, two
    prices one float cannot tell apart (a ``BookError``: never merged silently).

    A snapshot that is already a valid sorted side (``_sorted_keys``: what venues send) is kept
    as it came, ``snap``, with the dicts empty: reads take the levels they want straight from it
    and nothing is indexed until a delta or a drop needs the dicts (``unpack``, in bulk).
    """

    __slots__ = ("_keys", "_order", "_snap_keys", "_snap_stamp", "descending", "hot", "levels", "snap")

    def __init__(self, descending: bool):
        self.descending = descending
        self.levels: dict[str, tuple[str, int]] = {}
        self._keys: dict[float, str] = {}
        self._order: list[str] | None = []
        # a sorted snapshot not unpacked yet (then ``levels`` and ``_keys`` are empty), its price
        # floats and its stamp
        self.snap: tuple[Level, ...] | None = None
        self._snap_keys: list[float] = []
        self._snap_stamp = 0
        # what the hot loop is handed on every update (the dicts are never replaced, only cleared)
        self.hot = (self.levels, self._keys, self._insert, self._drop_alias)

    def replace(self, levels: Iterable[Level], stamp: int) -> bool:
        """Replace the side; True when it was kept as a sorted snapshot (nothing indexed yet)."""
        self.levels.clear()
        self._keys.clear()
        self._order = None
        keys = _sorted_keys(levels, self.descending)
        if keys is NotImplemented:  # the compiled test leaves other shapes to the Python one
            keys = _sorted_keys_py(levels, self.descending)
        if keys is not None:
            self.snap, self._snap_keys, self._snap_stamp = levels, keys, stamp  # type: ignore[assignment]
            return True
        self.snap = None
        self.update(levels, stamp)
        return False

    def unpack(self) -> None:
        """Index a kept snapshot into the dicts (in place: the hot loop holds them)."""
        snap = self.snap
        if snap is None:
            return
        self.snap = None
        if not snap:
            self._order = []
            return
        prices, sizes = zip(*snap, strict=True)
        self.levels.update(zip(prices, zip(sizes, repeat(self._snap_stamp)), strict=False))
        self._keys.update(zip(self._snap_keys, prices, strict=True))
        self._snap_keys = []
        self._order = list(prices)

    def update(self, levels: Iterable[Level], stamp: int) -> None:
        """Apply absolute sizes; raises ValueError on text that is not a usable number."""
        if self.snap is not None:
            self.unpack()
        try:
            changed = _update(self.levels, self._keys, levels, stamp, self._insert, self._drop_alias)
        except BaseException:
            self._order = None  # levels before the bad one may have been set
            raise
        if changed:
            self._order = None

    def _insert(self, price: str) -> None:
        key = float(price)
        if not 0.0 < key < _INF:
            raise ValueError(f"bad price {price!r}")
        keys = self._keys
        other = keys.get(key)
        if other is not None and other != price and other in self.levels:
            if Decimal(other) != Decimal(price):
                raise BookError(f"prices {other} and {price} share one float key")
            del self.levels[other]  # the same price spelt another way: the newest spelling holds it
        keys[key] = price
        if len(keys) > 2 * len(self.levels) + 256:  # forget prices long gone (in place: see _update)
            live = {float(p): p for p in self.levels}
            keys.clear()  # in place: the hot loop holds this dict
            keys.update(live)

    def _drop_alias(self, price: str) -> bool:
        """A delete of a price held under another spelling (``"100.0"`` for ``"100.00"``)."""
        other = self._keys.get(float(price))
        if other is None or other == price or other not in self.levels or Decimal(other) != Decimal(price):
            return False
        del self.levels[other]
        return True

    def order(self) -> list[str]:
        if self.snap is not None:
            self.unpack()
        if self._order is None:
            self._order = sorted(self.levels, key=float, reverse=self.descending)
        return self._order

    def drop(self, price: str) -> None:
        if self.snap is not None:
            self.unpack()
        del self.levels[price]
        self._order = None

    def __len__(self) -> int:
        snap = self.snap
        return len(self.levels) if snap is None else len(snap)

    def best(self) -> tuple[str, int] | None:
        """The best price text and its stamp, None when the side is empty."""
        snap = self.snap
        if snap is not None:
            return (snap[0][0], self._snap_stamp) if snap else None
        if not self.levels:
            return None
        price = self.order()[0]
        return price, self.levels[price][1]

    def pairs(self, n: int | None) -> list[Level]:
        """The best ``n`` levels (all when None) as ``(price, size)`` text, best first."""
        snap = self.snap
        if snap is not None:
            return list(snap if n is None else snap[:n])
        prices = self.order() if n is None else self.order()[:n]
        book = self.levels
        return [(p, book[p][0]) for p in prices]

    def text(self, n: int | None) -> tuple[list[str], list[str]]:
        """The best ``n`` prices and their sizes as text (new lists)."""
        snap = self.snap
        if snap is not None:
            top = snap if n is None else snap[:n]
            return [p for p, _ in top], [q for _, q in top]
        prices = self.order()[:n]  # a copy, also when n is None
        book = self.levels
        return prices, [book[p][0] for p in prices]

    def top(self, n: int | None) -> tuple[DecLevel, ...]:
        snap = self.snap
        if snap is not None:
            return tuple([(Decimal(p), Decimal(q)) for p, q in (snap if n is None else snap[:n])])
        prices = self.order() if n is None else self.order()[:n]
        book = self.levels
        return tuple([(Decimal(p), Decimal(book[p][0])) for p in prices])


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
        self._packed = False  # a side holds a sorted snapshot not unpacked yet (``_Side.snap``)

    # --- writes ------------------------------------------------------------------------------

    def apply(
        self, event: BookSnapshot | BookDelta | LazyBookSnapshot, recv_ts: int = 0
    ) -> Resync | None:
        """Apply one event. Returns a ``Resync`` the first time the chain breaks, else None."""
        if recv_ts:
            self.recv_ts = recv_ts
        if type(event) is BookDelta:
            if self.state is _SYNCED:
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
            self._replace(snap.bids, snap.asks)
        except (ValueError, BookError) as exc:
            self._replace((), ())
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
        if self._packed:
            self._unpack()
        seq = self.seq
        rule = self.rule
        if not (self._bridged and rule.continues(d, seq)):  # the hot path asks one question
            if rule.stale(d, seq):
                return None
            if not (rule.follows(d, seq) if self._bridged else rule.bridges(d, seq)):
                return self._gap(d, f"gap: last seq {seq}, delta {d.first_seq}..{d.seq} (prev {d.prev_seq})")
        stamp = self._stamp = self._stamp + 1
        try:  # both sides' _Side.update in one call: the hottest line of a diff-depth stream
            changed = _update_book(self._bids.hot, self._asks.hot, d.bids, d.asks, stamp)
            if changed:
                if changed & 1:
                    self._bids._order = None
                if changed & 2:
                    self._asks._order = None
        except (ValueError, BookError) as exc:
            # levels before the bad one may have been set: neither side's order can be trusted
            self._bids._order = self._asks._order = None
            return self._gap(None, f"bad delta {d.first_seq}..{d.seq}: {exc}")
        self._bridged = True
        self.seq = d.seq
        if d.ts:
            self.ts = d.ts
        return None

    def _replace(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Both sides from a snapshot, at the current stamp; sorted ones are kept as they came."""
        self._packed = False  # an error below leaves dicts only (the caller then empties both)
        packed = self._bids.replace(bids, self._stamp)
        packed = self._asks.replace(asks, self._stamp) or packed
        self._packed = packed

    def _unpack(self) -> None:
        self._bids.unpack()
        self._asks.unpack()
        self._packed = False

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
            self._replace((), ())
            self.state = SyncState.RESYNCING
            self.bad_frames += 1
            return
        self._stamp += 1
        try:
            self._replace(snap.bids, snap.asks)
        except (ValueError, BookError):
            self._replace((), ())
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
        while True:
            best_bid, best_ask = bids.best(), asks.best()
            if best_bid is None or best_ask is None:
                return
            kb, sb = best_bid
            ka, sa = best_ask
            if float(kb) < float(ka):
                return
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
        return len(self._bids) + len(self._asks)

    def depth_for_size(self, side: Side | str, size: Decimal) -> FillEstimate:
        """Average price and slippage of taking ``size``: a BUY walks the asks, a SELL the bids."""
        side = Side(side)
        self._ready()
        book = self._asks if side is Side.BUY else self._bids
        return estimate_fill(((Decimal(p), Decimal(q)) for p, q in book.pairs(None)), side, size)

    def view(self, levels: int | None = 20, now_ms: int | None = None, *, stale_after_ms: int | None = None,
             heard_ms: int | None = None) -> BookView:
        """An immutable copy of the top ``levels`` with seq, timestamps, state and age.

        With ``now_ms`` and ``stale_after_ms``, a SYNCED book whose stream was last heard from
        (``heard_ms``, default its last update) longer ago than that reads as STALE."""
        bids, asks = self.top(levels)
        state, age = self.freshness(now_ms, stale_after_ms, heard_ms)
        return BookView(
            venue=self.venue, symbol=self.symbol, bids=bids, asks=asks, seq=self.seq,
            ts=self.ts, recv_ts=self.recv_ts, state=state.name, age_ms=age,
        )

    def freshness(self, now_ms: int | None, stale_after_ms: int | None = None,
                  heard_ms: int | None = None) -> tuple[SyncState, int | None]:
        """The state a reader at ``now_ms`` sees (STALE past the freshness bound) and the age."""
        age = None if now_ms is None or not self.recv_ts else max(0, now_ms - self.recv_ts)
        state = self.state
        if state is _SYNCED and stale_after_ms is not None and now_ms is not None:
            heard = self.recv_ts if heard_ms is None else heard_ms
            if now_ms - heard > stale_after_ms:
                state = SyncState.STALE
        return state, age

    def top_text(self, n: int | None) -> tuple[list[str], list[str], list[str], list[str]]:
        """The best ``n`` levels of each side as the venue's own text: bid prices, bid sizes, ask
        prices, ask sizes. What a view's wire form carries (``market.views``): no Decimal built."""
        self._ready()
        bid_px, bid_sz = self._bids.text(n)
        ask_px, ask_sz = self._asks.text(n)
        return bid_px, bid_sz, ask_px, ask_sz
