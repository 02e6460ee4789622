"""Backpack depth sync: deltas decoded from frames, replayed onto the REST snapshot (CONTIGUOUS)."""

from __future__ import annotations

from decimal import Decimal

from perpwire import venues
from perpwire.market.book import SyncState
from perpwire.market.events import BookSnapshot, Resync
from tests.venues.backpack.helpers import depth_frame, fx

D = Decimal
SYM = "SOL_USDC"
L = 1684026955123  # lastUpdateId of rest_depth_docs.json


def _delta(codec, first, last, bids=(), asks=()):
    [d] = codec.decode(depth_frame(SYM, first, last, bids, asks))
    return d


def test_snapshot_rest_body_has_best_bid_first():
    codec = venues.codec("backpack")
    snap = codec.decode_snapshot(SYM, fx("rest_depth_docs.json"))
    assert isinstance(snap, BookSnapshot) and (snap.symbol, snap.seq, snap.ts) == (SYM, L, 1684026955123)
    # the wire's bids are ascending (best last): reversed to best first
    assert snap.bids == (("20.5", "499.555"), ("20.12", "255.123"))
    assert snap.asks == (("21.9", "500.123"), ("22.1", "2321.11"))


def test_replay_buffered_deltas_onto_snapshot_syncs_with_right_top():
    codec = venues.codec("backpack")
    book = codec.book(SYM)
    stale = _delta(codec, L - 5, L - 1, bids=[("20.4", "9")])  # already inside the snapshot
    bridge = _delta(codec, L - 1, L + 2, bids=[("20.6", "1.5")], asks=[("21.9", "0.000")])  # straddles L + 1
    after = _delta(codec, L + 3, L + 3, asks=[("22.0", "3")])
    for d in (stale, bridge, after):
        assert book.apply(d) is None
    assert book.state is SyncState.BUFFERING
    assert book.apply(codec.decode_snapshot(SYM, fx("rest_depth_docs.json"))) is None
    assert book.state is SyncState.SYNCED and book.seq == L + 3
    bids, asks = book.top(3)
    assert bids == ((D("20.6"), D("1.5")), (D("20.5"), D("499.555")), (D("20.12"), D("255.123")))
    assert asks == ((D("22.0"), D(3)), (D("22.1"), D("2321.11")))  # 21.9 deleted by the bridge


def test_replay_live_delta_after_snapshot_follows_u_plus_one():
    codec = venues.codec("backpack")
    book = codec.book(SYM)
    book.apply(codec.decode_snapshot(SYM, fx("rest_depth_docs.json")))
    assert book.apply(_delta(codec, L + 1, L + 4, bids=[("20.5", "0.00")])) is None
    assert book.apply(_delta(codec, L + 5, L + 5, bids=[("20.7", "2")])) is None
    assert book.state is SyncState.SYNCED and book.seq == L + 5
    assert book.best_bid() == (D("20.7"), D(2)) and len(book) == 4


def test_replay_skipped_first_id_resyncs_the_symbol():
    codec = venues.codec("backpack")
    book = codec.book(SYM)
    book.apply(codec.decode_snapshot(SYM, fx("rest_depth_docs.json")))
    assert book.apply(_delta(codec, L + 1, L + 2)) is None
    resync = book.apply(_delta(codec, L + 4, L + 6, bids=[("20.9", "1")]))  # L + 3 never came
    assert isinstance(resync, Resync) and (resync.venue, resync.symbol) == ("backpack", SYM)
    assert book.state is SyncState.RESYNCING and book.best_bid() == (D("20.5"), D("499.555"))


def test_replay_snapshot_ahead_of_the_socket_waits_for_the_bridge():
    # the REST book can be ahead of every buffered delta: they are dropped, the next live one bridges
    codec = venues.codec("backpack")
    book = codec.book(SYM)
    book.apply(_delta(codec, L - 3, L - 2, bids=[("20.4", "1")]))
    assert book.apply(codec.decode_snapshot(SYM, fx("rest_depth_docs.json"))) is None
    assert book.apply(_delta(codec, L - 1, L, bids=[("20.4", "2")])) is None  # still inside the snapshot
    assert book.apply(_delta(codec, L + 1, L + 1, bids=[("20.45", "2")])) is None
    assert book.state is SyncState.SYNCED and book.seq == L + 1
    assert book.top(2)[0] == ((D("20.5"), D("499.555")), (D("20.45"), D(2)))
