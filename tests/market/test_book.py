"""OrderBook: state machine, sequence rules, reads, and invariants under random event streams."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perpwire.market.book import OrderBook, SyncState
from perpwire.market.errors import BookError
from perpwire.market.events import BookDelta, BookSnapshot, LazyBookSnapshot, Resync, Side
from perpwire.market.sequence import CONTIGUOUS, PREV_NONCE, PU_CHAIN, UNCHECKED

D = Decimal


def snap(seq, bids=(("100", "1"),), asks=(("101", "1"),), symbol="X"):
    return BookSnapshot(venue="t", symbol=symbol, bids=tuple(bids), asks=tuple(asks), seq=seq, ts=seq)


def delta(first, last, prev=-1, bids=(), asks=(), symbol="X"):
    return BookDelta(venue="t", symbol=symbol, bids=tuple(bids), asks=tuple(asks), first_seq=first, seq=last,
                     prev_seq=prev, ts=last)


def test_book_new_is_empty_with_no_levels():
    book = OrderBook("t", "X")
    assert book.state is SyncState.EMPTY
    assert book.best_bid() is None and book.best_ask() is None
    assert book.state.name == "EMPTY"


def test_book_delta_before_snapshot_buffers_then_replays_straddling_delta():
    book = OrderBook("t", "X", PU_CHAIN)
    assert book.apply(delta(5, 8, 4, bids=[("100", "9")])) is None  # stale once the snapshot is 10
    assert book.apply(delta(9, 12, 8, bids=[("100", "2")])) is None  # straddles 10
    assert book.apply(delta(13, 14, 12, asks=[("101", "0"), ("102", "3")])) is None
    assert book.state is SyncState.BUFFERING
    assert book.apply(snap(10)) is None
    assert book.state is SyncState.SYNCED
    assert book.seq == 14
    assert book.top(5) == (((D(100), D(2)),), ((D(102), D(3)),))


def test_book_pu_chain_break_returns_resync_once_and_buffers():
    book = OrderBook("t", "X", PU_CHAIN)
    book.apply(snap(10))
    assert book.apply(delta(10, 11, 9)) is None
    r = book.apply(delta(13, 14, 12))
    assert isinstance(r, Resync) and r.symbol == "X" and "gap" in r.reason
    assert book.state is SyncState.RESYNCING
    assert book.apply(delta(15, 16, 14)) is None  # no second Resync while resyncing
    assert book.apply(snap(14, bids=[("99", "5")])) is None
    assert book.state is SyncState.SYNCED and book.seq == 16
    assert book.best_bid() == (D(99), D(5))


def test_book_contiguous_rule_requires_next_id():
    book = OrderBook("t", "X", CONTIGUOUS)
    book.apply(snap(10))
    assert book.apply(delta(8, 10)) is None  # stale: already in the snapshot
    assert book.apply(delta(11, 12)) is None
    assert isinstance(book.apply(delta(14, 15)), Resync)


def test_book_prev_nonce_rule_chains_on_begin_nonce():
    book = OrderBook("t", "X", PREV_NONCE)
    book.apply(snap(100))
    assert book.apply(delta(100, 107, 100, bids=[("100.5", "1")])) is None
    assert book.apply(delta(107, 111, 107)) is None
    assert isinstance(book.apply(delta(112, 113, 112)), Resync)


def test_book_snapshot_that_does_not_bridge_buffer_asks_for_fresher_one():
    book = OrderBook("t", "X", CONTIGUOUS)
    book.apply(delta(20, 21))
    r = book.apply(snap(10))
    assert isinstance(r, Resync)
    assert book.state is SyncState.RESYNCING
    assert book.apply(snap(19)) is None
    assert book.state is SyncState.SYNCED and book.seq == 21


def test_book_zero_size_deletes_and_unknown_delete_is_harmless():
    book = OrderBook("t", "X", UNCHECKED)
    book.apply(snap(1, bids=[("100", "1"), ("99", "2")]))
    book.apply(delta(2, 2, bids=[("100.00", "0.000"), ("98", "0")]))
    assert book.top(None)[0] == ((D(99), D(2)),)


def test_book_same_price_different_text_is_one_level():
    book = OrderBook("t", "X", UNCHECKED)
    book.apply(snap(1, bids=[("100.10", "1")]))
    book.apply(delta(2, 2, bids=[("100.1", "4")]))
    assert book.top(None)[0] == ((D("100.1"), D(4)),)


@pytest.mark.parametrize("level", [("abc", "1"), ("100", "-1"), ("100", "nan"), ("-5", "1"), ("inf", "1")])
def test_book_bad_level_text_resyncs_instead_of_raising(level):
    book = OrderBook("t", "X", UNCHECKED)
    book.apply(snap(1))
    r = book.apply(delta(2, 2, bids=[level]))
    assert isinstance(r, Resync) and book.state is SyncState.RESYNCING


def test_book_read_never_crossed_newer_level_wins():
    book = OrderBook("t", "X", UNCHECKED)
    book.apply(snap(1, bids=[("100", "1"), ("99", "1")], asks=[("101", "1"), ("102", "1")]))
    book.apply(delta(2, 2, bids=[("101.5", "3")]))  # newer bid crosses the older 101 ask
    bids, asks = book.top(None)
    assert bids[0] == (D("101.5"), D(3))
    assert asks[0] == (D(102), D(1))
    assert book.uncrossed == 1


def test_book_lazy_snapshot_materializes_on_read_only():
    calls = []

    def materialize(lazy):
        calls.append(lazy)
        return snap(7, bids=[("50", "1")], asks=[("51", "2")])

    book = OrderBook("t", "X", UNCHECKED, materialize=materialize)
    for _ in range(3):
        book.apply(LazyBookSnapshot(venue="t", symbol="X", payload=b"{}", ts=5))
    assert calls == [] and book.state is SyncState.SYNCED
    view = book.view(5, now_ms=0)
    assert len(calls) == 1 and view.seq == 7 and view.asks == ((D(51), D(2)),)


def test_book_lazy_snapshot_without_materialize_is_a_usage_error():
    book = OrderBook("t", "X")
    book.apply(LazyBookSnapshot(venue="t", symbol="X", payload=b"{}"))
    with pytest.raises(BookError):
        book.top()


def test_book_invalidate_reports_resync_once():
    book = OrderBook("t", "X")
    book.apply(snap(1))
    assert isinstance(book.invalidate("reconnect"), Resync)
    assert book.invalidate("again") is None


def test_book_view_carries_freshness():
    book = OrderBook("t", "X", UNCHECKED)
    book.apply(snap(3), recv_ts=1_000)
    v = book.view(1, now_ms=1_250)
    assert (v.seq, v.ts, v.recv_ts, v.age_ms, v.state, v.synced) == (3, 3, 1_000, 250, "SYNCED", True)


def test_depth_for_size_walks_levels_and_reports_slippage():
    book = OrderBook("t", "X", UNCHECKED)
    book.apply(snap(1, bids=[("99", "1")], asks=[("100", "1"), ("102", "1"), ("110", "5")]))
    est = book.depth_for_size(Side.BUY, D(2))
    assert est.complete and est.filled == 2 and est.avg_price == D(101) and est.worst_price == D(102)
    assert est.slippage == D("0.01") and est.levels == 2
    short = book.depth_for_size("buy", D(10))
    assert not short.complete and short.filled == D(7)


# --- properties ------------------------------------------------------------------------------

prices = st.integers(min_value=1, max_value=60).map(lambda i: f"{i / 2:.2f}")
sizes = st.one_of(st.just("0"), st.integers(min_value=1, max_value=500).map(lambda i: f"{i / 10:.1f}"))
levels = st.lists(st.tuples(prices, sizes), max_size=8)


@st.composite
def streams(draw):
    """A snapshot followed by chained deltas; bids below 15.25, asks above, so none cross."""
    bid_px = st.integers(min_value=1, max_value=30).map(lambda i: f"{i / 2:.2f}")
    ask_px = st.integers(min_value=31, max_value=60).map(lambda i: f"{i / 2:.2f}")
    sz = sizes
    first = (draw(st.lists(st.tuples(bid_px, sz), max_size=10)), draw(st.lists(st.tuples(ask_px, sz), max_size=10)))
    deltas = draw(st.lists(st.tuples(st.lists(st.tuples(bid_px, sz), max_size=5),
                                     st.lists(st.tuples(ask_px, sz), max_size=5)), max_size=30))
    return first, deltas


def _model(snapshot_levels, updates):
    side = {}
    for p, q in snapshot_levels:
        if Decimal(q) > 0:
            side[Decimal(p)] = Decimal(q)
        else:
            side.pop(Decimal(p), None)
    for p, q in updates:
        if Decimal(q) == 0:
            side.pop(Decimal(p), None)
        else:
            side[Decimal(p)] = Decimal(q)
    return side


def _check_invariants(book):
    bids, asks = book.top(None)
    assert all(q > 0 and p > 0 for p, q in bids + asks)
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    if bids and asks and book.state is SyncState.SYNCED:
        assert bids[0][0] < asks[0][0]


@settings(max_examples=150, deadline=None)
@given(streams())
def test_book_property_random_streams_keep_invariants_and_equal_rebuild(stream):
    (bids0, asks0), deltas = stream
    book = OrderBook("t", "X", CONTIGUOUS)
    book.apply(snap(0, bids=[lv for lv in bids0 if float(lv[1]) > 0], asks=[lv for lv in asks0 if float(lv[1]) > 0]))
    _check_invariants(book)
    for i, (b, a) in enumerate(deltas, start=1):
        assert book.apply(delta(i, i, bids=b, asks=a)) is None
        _check_invariants(book)
    all_bids = [lv for b, _ in deltas for lv in b]
    all_asks = [lv for _, a in deltas for lv in a]
    want_bids = _model([lv for lv in bids0 if float(lv[1]) > 0], all_bids)
    want_asks = _model([lv for lv in asks0 if float(lv[1]) > 0], all_asks)
    got_bids, got_asks = book.top(None)
    assert dict(got_bids) == want_bids and dict(got_asks) == want_asks
    rebuilt = OrderBook("t", "X", CONTIGUOUS)
    rebuilt.apply(snap(len(deltas), bids=[(str(p), str(q)) for p, q in got_bids],
                       asks=[(str(p), str(q)) for p, q in got_asks]))
    assert rebuilt.top(None) == book.top(None)


@settings(max_examples=100, deadline=None)
@given(levels, levels, st.lists(st.tuples(levels, levels), max_size=20))
def test_book_property_crossing_updates_never_read_crossed(b0, a0, deltas):
    book = OrderBook("t", "X", UNCHECKED)
    book.apply(snap(0, bids=[lv for lv in b0 if float(lv[1]) > 0], asks=[lv for lv in a0 if float(lv[1]) > 0]))
    for i, (b, a) in enumerate(deltas, start=1):
        book.apply(delta(i, i, bids=b, asks=a))
        _check_invariants(book)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=40), st.integers(0, 39))
def test_book_property_any_dropped_delta_is_detected(sizes_, drop):
    book = OrderBook("t", "X", CONTIGUOUS)
    book.apply(snap(0))
    drop = drop % len(sizes_)
    resyncs = 0
    for i, _ in enumerate(sizes_, start=1):
        if i - 1 == drop:
            continue
        if isinstance(book.apply(delta(i, i, bids=[("100", "1")])), Resync):
            resyncs += 1
    expected = 1 if drop < len(sizes_) - 1 else 0
    assert resyncs == expected


def test_book_view_depth_for_size_matches_book():
    book = OrderBook("t", "X", UNCHECKED)
    book.apply(snap(1, bids=[("99", "1"), ("98", "3")], asks=[("100", "1"), ("102", "1")]))
    view = book.view(10)
    for side, size in (("buy", D("1.5")), ("sell", D(4)), ("sell", D(9))):
        assert view.depth_for_size(side, size) == book.depth_for_size(side, size)


def test_book_lazy_snapshot_that_fails_to_decode_resyncs_instead_of_raising():
    from perpwire.market.errors import DecodeError

    def materialize(lazy):
        raise DecodeError("t", "bad levels", lazy.payload)

    book = OrderBook("t", "X", UNCHECKED, materialize=materialize)
    book.apply(LazyBookSnapshot(venue="t", symbol="X", payload=b"{bad}"))
    assert book.top(5) == ((), ())
    assert book.state is SyncState.RESYNCING and book.bad_frames == 1


def test_book_pu_chain_first_delta_starting_right_after_snapshot_bridges():
    book = OrderBook("t", "X", PU_CHAIN)
    book.apply(snap(10))
    assert book.apply(delta(11, 15, 10, bids=[("100", "3")])) is None
    assert book.seq == 15 and book.best_bid() == (D(100), D(3))
    other = OrderBook("t", "X", PU_CHAIN)
    other.apply(snap(10))
    assert isinstance(other.apply(delta(12, 15, 11)), Resync)
