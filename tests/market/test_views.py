"""The wire form of book views (``market.views``): what a reader unpickles is the view the owner
would have built, field for field, exact to the last digit, for every shape of book."""

from __future__ import annotations

import pickle
from decimal import Decimal

import pytest
import ray.cloudpickle as cloudpickle

from perpwire.market import views
from perpwire.market.book import BookView, OrderBook, SyncState
from perpwire.market.events import BookDelta, BookSnapshot
from perpwire.market.sequence import UNCHECKED


def _book(bids, asks, *, seq=7, ts=1_000, recv_ts=1_010) -> OrderBook:
    book = OrderBook("binance", "BTCUSDT", UNCHECKED)
    book.apply(BookSnapshot(venue="binance", symbol="BTCUSDT", bids=tuple(bids), asks=tuple(asks), seq=seq, ts=ts),
               recv_ts)
    return book


PICKLERS = [pytest.param(pickle, id="pickle"), pytest.param(cloudpickle, id="ray.cloudpickle")]


@pytest.mark.parametrize("pickler", PICKLERS)
@pytest.mark.parametrize("levels", [1, 3, 20, None])
def test_packed_view_unpickles_to_the_view_the_owner_would_build(pickler, levels):
    book = _book([("100.10", "1.5"), ("100.00", "0.00000001"), ("99.5", "1E+3")],
                 [("100.2", "2"), ("101", "3.250"), ("123456789.123456", "0.1")])
    expected = book.view(levels, now_ms=1_500)
    got = pickler.loads(pickler.dumps(views.PackedView(views.wire(book, levels, 1_500))))
    assert type(got) is BookView
    assert got == expected
    # exact text survives: trailing zeros and exponents are the venue's own spelling
    assert [str(p) for p, _ in got.bids][:3] == ["100.10", "100.00", "99.5"][: levels or 3]
    assert all(type(p) is Decimal and type(s) is Decimal for p, s in got.bids + got.asks)


def test_levels_are_best_first_after_deltas_and_deletes():
    book = _book([("10", "1"), ("9", "1")], [("11", "1"), ("12", "1")])
    book.apply(BookDelta(venue="binance", symbol="BTCUSDT", bids=(("10.5", "2"), ("10", "0")), asks=(("11.5", "4"),),
                         first_seq=8, seq=8, prev_seq=7, ts=1_001), 1_020)
    got = views.PackedView(views.wire(book, 20, 2_000)).unpack()
    assert got.bids == ((Decimal("10.5"), Decimal("2")), (Decimal("9"), Decimal("1")))
    assert got.asks == ((Decimal("11"), Decimal("1")), (Decimal("11.5"), Decimal("4")), (Decimal("12"), Decimal("1")))
    assert got == book.view(20, now_ms=2_000)


def test_empty_sides_and_empty_book():
    one_sided = _book([("10", "1")], [])
    got = views.PackedView(views.wire(one_sided, 20, 5)).unpack()
    assert got.asks == () and got.bids == ((Decimal("10"), Decimal("1")),)
    empty = OrderBook("binance", "ETHUSDT")
    got = views.PackedView(views.wire(empty, 20, 5)).unpack()
    assert got.bids == () and got.asks == () and got.state == "EMPTY" and got.age_ms is None and not got.synced


def test_freshness_fields_and_stale_rule_match_the_view():
    book = _book([("10", "1")], [("11", "1")], seq=42, ts=900, recv_ts=1_000)
    fresh = views.PackedView(views.wire(book, 5, 1_400, stale_after_ms=500)).unpack()
    assert (fresh.seq, fresh.ts, fresh.recv_ts, fresh.age_ms, fresh.state) == (42, 900, 1_000, 400, "SYNCED")
    assert fresh.synced
    stale = views.PackedView(views.wire(book, 5, 1_600, stale_after_ms=500)).unpack()
    assert stale.state == SyncState.STALE.name and not stale.synced
    assert stale == book.view(5, now_ms=1_600, stale_after_ms=500)
    # heard from more recently than the last update (a quiet but live stream): still SYNCED
    heard = views.PackedView(views.wire(book, 5, 1_600, stale_after_ms=500, heard_ms=1_550)).unpack()
    assert heard.synced


def test_many_views_in_one_blob_keep_missing_books_as_none():
    books = {f"S{i}": _book([(f"{100 - i}", "1")], [(f"{101 + i}", "2")]) for i in range(50)}
    wires = {s: views.wire(b, 20, 2_000) for s, b in books.items()} | {"NOPE": None}
    got = cloudpickle.loads(cloudpickle.dumps(views.PackedViews(wires)))
    assert list(got) == [*books, "NOPE"] and got["NOPE"] is None
    assert all(got[s] == b.view(20, now_ms=2_000) for s, b in books.items())


def test_wire_of_a_built_view_round_trips():
    view = _book([("1.10", "3")], [("1.2", "0.5")]).view(20, now_ms=1_100)
    assert views.PackedView(views.wire_of(view)).unpack() == view


def test_the_wire_form_is_smaller_than_the_pickled_view():
    book = _book([(f"{1000 - i}.5", f"{i + 1}.125") for i in range(20)], [(f"{1001 + i}.5", "2") for i in range(20)])
    packed = cloudpickle.dumps(views.PackedView(views.wire(book, 20, 2_000)))
    plain = cloudpickle.dumps(book.view(20, now_ms=2_000))
    assert len(packed) < len(plain) / 2


def test_unpack_passes_other_values_through():
    assert views.unpack(None) is None
    view = _book([("1", "1")], []).view()
    assert views.unpack(view) is view
