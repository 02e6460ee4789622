"""Bybit books: snapshot/delta decoding, the u-contiguity chain on the cross sequence, resets, gaps."""

from __future__ import annotations

import json
from decimal import Decimal

from perpwire.market.book import SyncState
from perpwire.market.events import BookDelta, BookSnapshot, Resync
from perpwire.venues.bybit import BybitCodec
from perpwire.venues.bybit.orderbook import CROSS_SEQ_CHAIN
from tests.venues.bybit.helpers import book_frame, load

D = Decimal


def test_snapshot_docs_decodes_levels_as_text_and_cross_seq():
    [snap] = BybitCodec().decode(load("orderbook_snapshot.json"))
    assert snap == BookSnapshot(
        venue="bybit", symbol="BTCUSDT", bids=(("16493.50", "0.006"), ("16493.00", "0.100")),
        asks=(("16611.00", "0.029"), ("16612.00", "0.213")), seq=7961638724, ts=1672304484978,
    )


def test_delta_docs_without_snapshot_never_chains():
    [delta] = BybitCodec().decode(load("orderbook_delta.json"))
    assert isinstance(delta, BookDelta)
    assert delta.bids[0] == ("30247.20", "30.028") and delta.bids[-1] == ("30240.00", "0")
    assert delta.asks == (("30248.70", "0"), ("30249.30", "0.892"), ("30249.50", "1.778"), ("30249.60", "0"),
                          ("30251.90", "2.947"), ("30252.20", "0.659"), ("30252.50", "4.591"))
    assert (delta.seq, delta.first_seq, delta.prev_seq, delta.ts) == (66544703342, 66544703342, -1, 1687940967466)


def test_spot_live_snapshot_then_delta_chain_and_build_the_book():
    codec = BybitCodec()
    book = codec.book("BTCUSDT")
    [snap] = codec.decode(load("orderbook50_snapshot_spot_live.json"))
    [delta] = codec.decode(load("orderbook50_delta_spot_live.json"))
    assert isinstance(snap, BookSnapshot) and len(snap.bids) == 50 and len(snap.asks) == 50
    assert (snap.seq, snap.bids[0], snap.asks[-1]) == (792472629, ("27579.99", "0.031443"), ("27670.21", "0.001161"))
    # u 1323396 -> 1323397: contiguous, so the delta points at the snapshot's cross sequence
    assert (delta.prev_seq, delta.first_seq, delta.seq) == (792472629, 792472630, 792472763)
    assert book.apply(snap) is None
    assert book.apply(delta) is None
    assert book.state is SyncState.SYNCED and book.seq == 792472763
    assert book.best_bid() == (D("27579.99"), D("0.031244"))
    assert book.best_ask() == (D("27580"), D("0.080386"))
    assert len(book) == 100


def test_historic_level1_spot_delta_decodes_as_unchained_delta():
    [delta] = BybitCodec().decode(load("orderbook1_delta_spot_live_2023.json"))
    assert delta == BookDelta(venue="bybit", symbol="BTCUSDT", bids=(("27579.99", "0.030954"),), asks=(),
                              first_seq=792472862, seq=792472862, prev_seq=-1, ts=1682083233502)


def test_docs_delta_replayed_over_snapshot_inserts_replaces_and_deletes():
    codec = BybitCodec()
    book = codec.book("BTCUSDT")
    before = json.loads(load("orderbook_delta.json"))["data"]
    snapshot = book_frame("snapshot", before["u"] - 1, before["seq"] - 50,
                          bids=[("30247.20", "1"), ("30240.00", "2"), ("30239.90", "3")],
                          asks=[("30248.70", "4"), ("30249.60", "5"), ("30260.00", "6")])
    for frame in (snapshot, load("orderbook_delta.json")):
        for ev in codec.decode(frame):
            assert book.apply(ev) is None
    bids, asks = book.top(None)
    assert bids == ((D("30247.20"), D("30.028")), (D("30245.40"), D("0.224")), (D("30242.10"), D("1.593")),
                    (D("30240.30"), D("1.305")), (D("30239.90"), D(3)))
    assert asks == ((D("30249.30"), D("0.892")), (D("30249.50"), D("1.778")), (D("30251.90"), D("2.947")),
                    (D("30252.20"), D("0.659")), (D("30252.50"), D("4.591")), (D("30260.00"), D(6)))
    assert book.seq == before["seq"]


def test_gap_in_u_gives_resync_and_new_snapshot_recovers():
    codec = BybitCodec()
    book = codec.book("BTCUSDT")
    frames = [
        book_frame("snapshot", 100, 5000, bids=[("10.0", "1")], asks=[("11.0", "1")]),
        book_frame("delta", 101, 5007, bids=[("10.5", "2")]),
        book_frame("delta", 103, 5020, bids=[("10.6", "3")]),  # u 102 was lost
    ]
    results = [book.apply(ev) for f in frames for ev in codec.decode(f)]
    assert results[:2] == [None, None]
    assert isinstance(results[2], Resync) and results[2].symbol == "BTCUSDT"
    assert book.state is SyncState.RESYNCING
    assert book.best_bid() == (D("10.5"), D(2))  # the delta after the hole was not applied
    # resubscribing brings a fresh snapshot; it resets the book and the topic's chain
    for f in (book_frame("snapshot", 104, 5030, bids=[("10.7", "4")], asks=[("11.0", "1")]),
              book_frame("delta", 105, 5031, asks=[("10.9", "5")])):
        for ev in codec.decode(f):
            assert book.apply(ev) is None
    assert book.state is SyncState.SYNCED
    assert (book.best_bid(), book.best_ask(), book.seq) == ((D("10.7"), D(4)), (D("10.9"), D(5)), 5031)


def test_decreasing_u_delta_never_chains():
    codec = BybitCodec()
    codec.decode(book_frame("snapshot", 100, 5000))
    [delta] = codec.decode(book_frame("delta", 90, 5001))
    assert delta.prev_seq == -1
    assert not CROSS_SEQ_CHAIN.follows(delta, 5000)


def test_u_equal_one_is_a_snapshot_even_when_typed_delta():
    codec = BybitCodec()
    book = codec.book("BTCUSDT")
    book.apply(codec.decode(book_frame("snapshot", 500, 9000, bids=[("10.0", "1")]))[0])
    [ev] = codec.decode(book_frame("delta", 1, 9100, bids=[("20.0", "1")], asks=[("21.0", "1")]))
    assert isinstance(ev, BookSnapshot) and ev.seq == 9100
    assert book.apply(ev) is None
    assert (book.best_bid(), book.best_ask()) == ((D("20.0"), D(1)), (D("21.0"), D(1)))
    [nxt] = codec.decode(book_frame("delta", 2, 9105, bids=[("20.5", "1")]))
    assert nxt.prev_seq == 9100
    assert book.apply(nxt) is None and book.seq == 9105


def test_rest_snapshot_bridges_ws_deltas_by_cross_sequence():
    codec = BybitCodec()
    book = codec.book("BTCUSDT")
    rest_seq = 1432604333  # rest_orderbook.json
    frames = [
        book_frame("snapshot", 40, rest_seq - 30, bids=[("65000", "1")], asks=[("66000", "1")]),
        book_frame("delta", 41, rest_seq - 10, bids=[("65485.47", "1")]),  # contained in the REST snapshot
        book_frame("delta", 42, rest_seq + 5, bids=[("65490.00", "2")]),  # straddles it: bridges
        book_frame("delta", 43, rest_seq + 9, asks=[("65557.7", "0")]),  # follows
    ]
    events = [ev for f in frames for ev in codec.decode(f)]
    assert book.apply(codec.decode_snapshot("BTCUSDT", load("rest_orderbook.json"))) is None
    for ev in events[1:]:
        assert book.apply(ev) is None
    assert book.state is SyncState.SYNCED and book.seq == rest_seq + 9
    bids, asks = book.top(None)
    assert bids == ((D("65490.00"), D(2)), (D("65485.47"), D("47.081829")))
    assert asks == ()


def test_rest_snapshot_older_than_the_chain_gives_resync():
    codec = BybitCodec()
    book = codec.book("BTCUSDT")
    rest_seq = 1432604333
    codec.decode(book_frame("snapshot", 40, rest_seq + 10))
    [delta] = codec.decode(book_frame("delta", 41, rest_seq + 20, bids=[("1", "1")]))
    assert book.apply(delta) is None  # buffered
    resync = book.apply(codec.decode_snapshot("BTCUSDT", load("rest_orderbook.json")))
    assert isinstance(resync, Resync)


def test_level1_snapshots_each_replace_the_book():
    codec = BybitCodec(depth=1)
    book = codec.book("BTCUSDT")
    for u, bid in ((7, "10.0"), (7, "10.0"), (8, "10.1")):  # unchanged re-push keeps u
        for ev in codec.decode(book_frame("snapshot", u, 100 + u, bids=[(bid, "1")], asks=[("11", "1")], depth=1)):
            assert book.apply(ev) is None
    assert book.best_bid() == (D("10.1"), D(1)) and len(book) == 2
