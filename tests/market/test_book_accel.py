"""The compiled side-update loop (market/_sidec.c) against its Python twin, input for input.

Both must leave the same levels and spelling index, return the same "changed" flag and raise the
same exception (type and message) for any sequence of levels, including junk. Skipped only when
the extension was not built (no C compiler at install time); `make test` builds it.
"""

from __future__ import annotations

import math
import os
import struct
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perpwire.market import book as book_mod
from perpwire.market.book import OrderBook, _Side, _update_book_py, _update_py
from perpwire.market.errors import BookError
from perpwire.market.events import BookDelta, BookSnapshot
from perpwire.market.sequence import CONTIGUOUS

sidec = pytest.importorskip("perpwire.market._sidec", reason="the C extension was not built (no compiler)")

# spellings venues use, spellings they should not, and junk
PRICES = ["100", "100.0", "100.00", "0100.0", "100.5", "100.50", "99.99", "1e2", " 100 ", "1_00", "+100",
          "101", "101.000", "0.0001", ".5", "5.", "-5", "0", "nan", "inf", "abc", "", ".", "-",
          "12345678901234567890", "0.00000000000000000000001", "1.00000000000000000001", "１００"]
SIZES = ["0", "0.000", "-0", "00", "1", "1.5", "2.000", "0.001", "1e-3", "1E2", " 2 ", "1_0", "+3",
         "-1", "nan", "inf", "-inf", "abc", "", ".", "12345678901234567890.5", "0.00000000000000000000001"]

levels = st.lists(st.tuples(st.sampled_from(PRICES), st.sampled_from(SIZES)), max_size=6)


def _outcome(fn):
    try:
        return ("ok", fn())
    except (ValueError, BookError, TypeError) as exc:
        return (type(exc).__name__, str(exc))


def _apply(side: _Side, update, batch, stamp) -> tuple:
    return _outcome(lambda: update(side.levels, side._keys, batch, stamp, side._insert, side._drop_alias))


@settings(max_examples=400, deadline=None)
@given(st.lists(levels, min_size=1, max_size=8), st.booleans())
def test_compiled_loop_matches_python(batches, descending):
    py, c = _Side(descending), _Side(descending)
    for stamp, batch in enumerate(batches, 1):
        assert _apply(c, sidec.update, batch, stamp) == _apply(py, _update_py, batch, stamp)
        assert c.levels == py.levels
        assert c._keys == py._keys


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(levels, levels), min_size=1, max_size=6))
def test_compiled_book_update_matches_python(deltas):
    """Both sides in one call: the same mask, levels and errors as the Python pair of loops."""
    books = {"c": (_Side(True), _Side(False)), "py": (_Side(True), _Side(False))}
    for stamp, (bids, asks) in enumerate(deltas, 1):
        got = {}
        for name, fn in (("c", sidec.update_book), ("py", _update_book_py)):
            b, a = books[name]
            got[name] = _outcome(lambda fn=fn, b=b, a=a, bids=tuple(bids), asks=tuple(asks), stamp=stamp:
                                 fn(b.hot, a.hot, bids, asks, stamp))
        assert got["c"] == got["py"]
        for c_side, py_side in zip(books["c"], books["py"], strict=True):
            assert c_side.levels == py_side.levels
            assert c_side._keys == py_side._keys


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


@settings(max_examples=2000, deadline=None)
@given(st.from_regex(r"\A[+-]?[0-9]{0,20}(\.[0-9]{0,26})?\Z"))
def test_fast_number_reader_is_float_exactly(text):
    expected = _outcome(lambda: _bits(float(text)))
    assert _outcome(lambda: _bits(sidec.number(text))) == expected


@pytest.mark.parametrize("text", ["0.1", "4497.10", "9007199254740993", "0.30000000000000004",
                                  "123456789012345678", "1.7976931348623157", "-0", "-0.0"])
def test_fast_number_reader_edge_values(text):
    assert _bits(sidec.number(text)) == _bits(float(text))
    assert math.copysign(1, sidec.number(text)) == math.copysign(1, float(text))


def test_the_book_uses_the_compiled_loop_when_built():
    if os.environ.get("PERPWIRE_PURE_PYTHON"):
        assert book_mod._update is _update_py
        assert book_mod._update_book is _update_book_py
    else:
        assert book_mod.ACCELERATED
        assert book_mod._update is sidec.update
        assert book_mod._update_book is sidec.update_book


def test_both_loops_build_the_same_book(monkeypatch):
    """A whole book fed through each loop reads the same, crossing and respellings included."""
    snap = BookSnapshot(venue="t", symbol="X", bids=(("100.0", "1"), ("99.5", "2")),
                        asks=(("101", "1"), ("101.5", "3")), seq=10, ts=1)
    deltas = [
        BookDelta(venue="t", symbol="X", bids=(("100.00", "4"), ("99.5", "0")), asks=(("101.0", "0"),),
                  first_seq=11, seq=11, ts=2),
        BookDelta(venue="t", symbol="X", bids=(("101.5", "1"),), asks=(("102", "5"),), first_seq=12, seq=12, ts=3),
    ]
    reads = []
    for update, update_book in ((sidec.update, sidec.update_book), (_update_py, _update_book_py)):
        monkeypatch.setattr(book_mod, "_update", update)
        monkeypatch.setattr(book_mod, "_update_book", update_book)
        b = OrderBook("t", "X", CONTIGUOUS)
        b.apply(snap)
        for d in deltas:
            assert b.apply(d) is None
        reads.append(b.top(None))
    assert reads[0] == reads[1]
    bids, asks = reads[0]
    assert bids == ((Decimal("101.5"), Decimal("1")), (Decimal("100.00"), Decimal("4")))
    assert asks == ((Decimal("102"), Decimal("5")),)  # 101.5 ask was crossed by the newer bid


side_levels = st.lists(st.tuples(st.sampled_from([*PRICES, "99", "98.5", "102", "103.25"]),
                                 st.sampled_from(SIZES)), max_size=8)


@settings(max_examples=600, deadline=None)
@given(side_levels, st.booleans(), st.booleans())
def test_compiled_sorted_keys_matches_python(levels, descending, as_list):
    """The snapshot test (already a valid sorted side?) gives the same floats or None both ways."""
    given_levels = [list(lv) for lv in levels] if as_list else tuple(levels)
    expected = book_mod._sorted_keys_py(given_levels, descending)
    got = book_mod._sorted_keys_c(given_levels, descending)
    assert got == expected
    if expected is not None:  # a valid side: exactly the levels' prices, strictly best first
        floats = [float(p) for p, _ in levels]
        assert expected == floats == sorted(set(floats), reverse=descending)
        assert all(0 < float(q) < math.inf for _, q in levels)


def test_sorted_keys_falls_back_to_python_for_other_shapes():
    assert sidec.sorted_keys((("1", 2),), False) is NotImplemented  # a size that is not str
    assert book_mod._sorted_keys_c((("1", 2),), False) == [1.0]
    assert sidec.sorted_keys(iter([("1", "2")]), False) is NotImplemented
    assert book_mod._sorted_keys_c(iter([("1", "2")]), False) is None
    assert sidec.sorted_keys((("1", "2", "3"),), False) is NotImplemented
    assert book_mod._sorted_keys_c((("1", "2", "3"),), False) is None
    # lists may change after the call: never kept as they came, so never a sorted side
    assert book_mod._sorted_keys_c([("1", "2")], False) is None
    assert book_mod._sorted_keys_c((["1", "2"],), False) is None


def test_a_snapshot_given_as_lists_is_copied_into_the_book():
    bids = [["101", "1"], ["100", "2"]]
    book = OrderBook("t", "X", CONTIGUOUS)
    book.apply(BookSnapshot(venue="t", symbol="X", bids=bids, asks=(("102", "1"),), seq=1))  # type: ignore[arg-type]
    bids[0][1] = "999"
    bids.append(["1", "1"])
    assert book.top(None)[0] == ((Decimal("101"), Decimal("1")), (Decimal("100"), Decimal("2")))


def _script(compiled: bool, snapshots_and_deltas) -> list:
    """Every read after every event of a script, with the loops compiled or in Python."""
    before = book_mod.use_compiled(compiled)
    try:
        book = OrderBook("t", "X", CONTIGUOUS)
        reads = []
        for ev in snapshots_and_deltas:
            reads.append(_outcome(lambda ev=ev: book.apply(ev)))
            reads.append((book.state, book.seq, len(book), book.top(None), book.top_text(3), book.uncrossed,
                          book.depth_for_size("buy", Decimal("2.5")).avg_price))
        return reads
    finally:
        book_mod.use_compiled(before)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), side_levels, side_levels), min_size=1, max_size=6))
def test_books_read_the_same_compiled_and_in_python(steps):
    """Snapshots (sorted ones are kept as they came, others indexed) and deltas, any text: every
    read of the book is the same with the hot loops compiled and in Python."""
    events = []
    for seq, (is_snapshot, bids, asks) in enumerate(steps, 1):
        if is_snapshot:
            events.append(BookSnapshot(venue="t", symbol="X", bids=tuple(bids), asks=tuple(asks), seq=seq))
        else:
            events.append(BookDelta(venue="t", symbol="X", bids=tuple(bids), asks=tuple(asks), first_seq=seq,
                                    seq=seq))
    assert _script(True, events) == _script(False, events)


def test_a_sorted_snapshot_reads_as_one_applied_level_by_level():
    """The kept snapshot and the indexed book hold the same levels, crossing and all."""
    bids = (("101", "1"), ("100.5", "2"), ("100", "3"))
    asks = (("100.75", "1"), ("102", "4"))  # 100.75 crosses 101: both levels share one stamp
    kept = OrderBook("t", "X", CONTIGUOUS)
    kept.apply(BookSnapshot(venue="t", symbol="X", bids=bids, asks=asks, seq=1))
    assert kept._packed
    shuffled = OrderBook("t", "X", CONTIGUOUS)  # same levels, not sorted: indexed level by level
    shuffled.apply(BookSnapshot(venue="t", symbol="X", bids=bids[::-1], asks=asks[::-1], seq=1))
    assert not shuffled._packed
    assert kept.top(None) == shuffled.top(None)
    assert kept.top_text(None) == shuffled.top_text(None)
    assert kept.uncrossed == shuffled.uncrossed == 2
    delta = BookDelta(venue="t", symbol="X", bids=(("100.5", "0"),), asks=(("103", "1"),), first_seq=2, seq=2)
    assert kept.apply(delta) is None and shuffled.apply(delta) is None
    assert kept.top(None) == shuffled.top(None) == (((Decimal("100"), Decimal("3")),),
                                                    ((Decimal("102"), Decimal("4")), (Decimal("103"), Decimal("1"))))


CLEAN_PRICES = ["100", "100.0", "100.5", "101", "101.00", "99", "99.5", "98.25", "102", "103", "0", "abc", "inf"]
CLEAN_SIZES = ["0", "0.0", "1", "2.5", "3", "0.001", "-1", "nan"]
deltas = st.lists(st.tuples(st.sampled_from(CLEAN_PRICES), st.sampled_from(CLEAN_SIZES)), min_size=3, max_size=12)


@settings(max_examples=600, deadline=None)
@given(st.lists(deltas, min_size=1, max_size=6), st.booleans(), st.integers(0, 300))
def test_python_bulk_path_matches_the_compiled_loop(batches, descending, stale):
    """Deltas of three levels or more, all taken by the Python path's bulk pass (its threshold
    lowered to 3 here): the same levels, spelling index, flag and errors as the compiled loop,
    also next to a key index close to compaction (``stale`` keys of prices long gone)."""
    book_mod._BULK_MIN, before = 3, book_mod._BULK_MIN
    try:
        _bulk_matches(batches, descending, stale)
    finally:
        book_mod._BULK_MIN = before


def _bulk_matches(batches, descending, stale):
    py, c = _Side(descending), _Side(descending)
    for side in (py, c):
        side._keys.update({1000.0 + i: f"{1000 + i}" for i in range(stale)})
    for stamp, batch in enumerate(batches, 1):
        assert _apply(c, sidec.update, batch, stamp) == _apply(py, _update_py, batch, stamp)
        assert c.levels == py.levels
        assert c._keys == py._keys


def test_python_bulk_path_takes_the_common_delta():
    side = _Side(True)
    side.replace((("100", "1"), ("99", "2"), ("98", "3")), 1)
    side.unpack()
    levels = (("100", "0"), ("99", "5"), ("97", "1"), ("96.5", "0"))
    assert book_mod._update_bulk(side.levels, side._keys, levels, 2) is True
    assert side.levels == {"99": ("5", 2), "98": ("3", 1), "97": ("1", 2)}
    assert side._keys[97.0] == "97"
    # a respelling of a live price is left to the loop (None: nothing touched)
    assert book_mod._update_bulk(side.levels, side._keys, (("99.0", "1"), ("98", "1"), ("90", "1")), 3) is None
    assert side.levels == {"99": ("5", 2), "98": ("3", 1), "97": ("1", 2)}
