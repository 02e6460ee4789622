"""KuCoin books: level2 increments replayed onto the REST snapshot (CONTIGUOUS), gaps, lazy depth50 books."""

from __future__ import annotations

import json
from decimal import Decimal

from perpwire.market.book import SyncState
from perpwire.market.events import Resync
from perpwire.venues.kucoin import KucoinCodec
from tests.conftest import FIXTURES_DIR, fixture_loader

FIXTURES = FIXTURES_DIR / "kucoin"
D = Decimal
SNAP_SEQ = 1695731285612  # rest_level2_snapshot.json


load = fixture_loader("kucoin")


def increment(seq: int, change: str, symbol: str = "XBTUSDCM") -> bytes:
    frame = json.loads(load("level2_increment.json"))
    frame["topic"] = f"/contractMarket/level2:{symbol}"
    frame["data"].update(sequence=seq, change=change)
    return json.dumps(frame).encode()


def test_increments_buffer_then_replay_onto_snapshot():
    codec = KucoinCodec()
    book = codec.book("XBTUSDCM")
    frames = [
        increment(SNAP_SEQ - 1, "110135.5,buy,999"),  # already in the snapshot: dropped
        increment(SNAP_SEQ, "110131.8,buy,999"),  # already in the snapshot: dropped
        increment(SNAP_SEQ + 1, "110135.5,buy,0"),  # best bid gone
        increment(SNAP_SEQ + 2, "110140.0,buy,5"),  # new best bid
        increment(SNAP_SEQ + 3, "110269.7,sell,40"),  # best ask resized
    ]
    for frame in frames:
        for ev in codec.decode(frame):
            assert book.apply(ev) is None
    assert book.state is SyncState.BUFFERING
    assert book.apply(codec.decode_snapshot("XBTUSDCM", load("rest_level2_snapshot.json"))) is None
    assert book.state is SyncState.SYNCED
    assert book.seq == SNAP_SEQ + 3
    bids, asks = book.top(3)
    assert bids == ((D("110140.0"), D(5)), (D("110131.8"), D(640)), (D("0.1"), D(15602000)))
    assert asks == ((D("110269.7"), D(40)), (D("110275.0"), D(612)), (D("141999.9"), D(3)))


def test_increment_gap_gives_resync_for_that_symbol_once():
    codec = KucoinCodec()
    book = codec.book("XBTUSDCM")
    book.apply(codec.decode_snapshot("XBTUSDCM", load("rest_level2_snapshot.json")))
    [first] = codec.decode(increment(SNAP_SEQ + 1, "110140.0,buy,5"))
    assert book.apply(first) is None
    [skipped] = codec.decode(increment(SNAP_SEQ + 3, "110141.0,buy,1"))  # SNAP_SEQ + 2 never came
    resync = book.apply(skipped)
    assert isinstance(resync, Resync)
    assert (resync.venue, resync.symbol) == ("kucoin", "XBTUSDCM")
    assert book.state is SyncState.RESYNCING
    [after] = codec.decode(increment(SNAP_SEQ + 4, "110142.0,buy,1"))
    assert book.apply(after) is None  # buffered, no second Resync


def test_first_increment_after_snapshot_must_be_next_sequence():
    codec = KucoinCodec()
    book = codec.book("XBTUSDCM")
    book.apply(codec.decode_snapshot("XBTUSDCM", load("rest_level2_snapshot.json")))
    [late] = codec.decode(increment(SNAP_SEQ + 2, "110140.0,buy,5"))
    assert isinstance(book.apply(late), Resync)


def test_depth50_lazy_snapshot_applies_and_reads_on_demand():
    codec = KucoinCodec()
    book = codec.book("XBTUSDTM")
    for ev in codec.decode(load("level2Depth50.json")):
        assert book.apply(ev) is None
    assert book.state is SyncState.SYNCED
    assert book.best_bid() == (D("89778.6"), D(1534))
    assert book.best_ask() == (D("89778.7"), D(854))
    assert (book.seq, book.ts) == (1709294490099, 1731680249700)
