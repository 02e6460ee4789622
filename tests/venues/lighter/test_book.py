"""Playback of the recorded CRV book (snapshot + six chained updates) through LighterCodec and OrderBook."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from perpwire.market.book import SyncState
from perpwire.market.events import BookDelta, BookSnapshot, Subscribed
from perpwire.venues.lighter.codec import LighterCodec
from tests.conftest import FIXTURES_DIR

FIX = FIXTURES_DIR / "lighter"
UPDATES = [f"order_book_update_seq{i}.json" for i in range(1, 7)]


def _events(codec: LighterCodec, names: list[str]) -> list:
    out = []
    for n in names:
        out.extend(e for e in codec.decode((FIX / n).read_bytes()) if isinstance(e, BookSnapshot | BookDelta))
    return out


# Hand-computed top 9 after the snapshot and all six updates. Bids: 0.20351 and 0.20308 deleted
# (seq1), 0.20334 -> 55192.5 (seq2), 0.20302 added (seq1) and deleted (seq3), 0.20315 added (seq3)
# and deleted (seq5), 0.20316 added (seq5). Asks: 0.20421 deleted and 0.20416 added (seq1),
# 0.20416 deleted and 0.20417 added (seq3).
TOP_BIDS = (
    (D("0.20350"), D("2495.4")), (D("0.20341"), D("47502.5")), (D("0.20338"), D("47502.5")),
    (D("0.20335"), D("39327.4")), (D("0.20334"), D("55192.5")), (D("0.20326"), D("18000.0")),
    (D("0.20316"), D("25775.2")), (D("0.20300"), D("32203.4")), (D("0.20290"), D("40189.8")),
)
TOP_ASKS = (
    (D("0.20382"), D("7816.7")), (D("0.20383"), D("1915.0")), (D("0.20391"), D("18240.6")),
    (D("0.20395"), D("47502.5")), (D("0.20398"), D("39308.1")), (D("0.20399"), D("47502.5")),
    (D("0.20410"), D("47518.6")), (D("0.20417"), D("25374.8")), (D("0.20436"), D("2495.4")),
)
# nonce of the snapshot, then of seq1..seq6 (read off the fixtures)
NONCES = (18032383898, 18032384006, 18032384057, 18032384126, 18032384612, 18032384667, 18032384785)
# Constructed, not recorded: an empty seventh link of the chain, so a missing sixth update shows too.
TAIL_NONCE = 18032384900
TAIL = (b'{"channel":"order_book:36","order_book":{"code":0,"asks":[],"bids":[],"nonce":%d,"begin_nonce":%d},'
        b'"timestamp":1785358812800,"type":"update/order_book"}' % (TAIL_NONCE, NONCES[-1]))


def test_playback_snapshot_and_six_updates_synced_top_levels():
    codec = LighterCodec()
    book = codec.book("36")
    for ev in _events(codec, ["order_book_snapshot.json", *UPDATES]):
        assert book.apply(ev) is None
    assert book.state is SyncState.SYNCED
    assert book.seq == NONCES[-1]
    assert book.top(9) == (TOP_BIDS, TOP_ASKS)
    # 39 bids - 2 + 1 (0.20316); 40 asks - 0.20421 - 0.20660 + 0.20417
    assert len(book) == 38 + 39


def test_playback_deep_levels_deleted_and_restored():
    codec = LighterCodec()
    book = codec.book("36")
    for ev in _events(codec, ["order_book_snapshot.json", *UPDATES]):
        book.apply(ev)
    bids, asks = book.top(None)
    assert (D("0.20129"), D("200.4")) in bids  # deleted by seq4, restored by seq6
    assert all(p != D("0.20660") for p, _ in asks)  # deleted by seq5


def _relabel(raw: bytes, market: str) -> bytes:
    """The same recorded frame as if it came for another market (a second, independent book)."""
    return raw.replace(b'"channel":"order_book:36"', b'"channel":"order_book:%s"' % market.encode())


@pytest.mark.parametrize("dropped", range(6))
def test_playback_one_update_dropped_one_resync_other_book_untouched(dropped):
    codec = LighterCodec()
    books = {s: codec.book(s) for s in ("36", "0")}
    frames = []
    for name in ["order_book_snapshot.json", *UPDATES, None]:
        raw = TAIL if name is None else (FIX / name).read_bytes()
        frames.append(_relabel(raw, "0"))  # market 0 gets every frame, interleaved on one socket
        if name is None or name != UPDATES[dropped]:
            frames.append(raw)
    resyncs = []
    for frame in frames:
        for ev in codec.decode(frame):
            if isinstance(ev, BookSnapshot | BookDelta):
                resync = books[ev.symbol].apply(ev)
                if resync is not None:
                    resyncs.append(resync)
    assert len(resyncs) == 1
    assert (resyncs[0].venue, resyncs[0].symbol) == ("lighter", "36")
    assert books["36"].state is SyncState.RESYNCING
    assert books["36"].seq == NONCES[dropped]  # nothing after the gap was applied
    other = books["0"]
    assert (other.state, other.seq) == (SyncState.SYNCED, TAIL_NONCE)
    assert other.top(9) == (TOP_BIDS, TOP_ASKS)


def test_playback_resync_frames_unsubscribe_then_subscribe():
    codec = LighterCodec()
    assert codec.resync_frames("36") == [
        '{"type":"unsubscribe","channel":"order_book/36"}',
        '{"type":"subscribe","channel":"order_book/36"}',
    ]


def test_snapshot_frame_subscribed_ack_then_snapshot_seq_nonce():
    codec = LighterCodec()
    ack, snap = codec.decode((FIX / "order_book_snapshot.json").read_bytes())
    assert ack == Subscribed(venue="lighter", channels=("order_book/36",))
    assert isinstance(snap, BookSnapshot)
    assert snap.seq == 18032383898
    assert snap.ts == 1785358811976
    assert len(snap.bids) == 39 and len(snap.asks) == 40
    assert snap.bids[0] == ("0.20351", "7673.9") and snap.asks[0] == ("0.20382", "7816.7")
    assert snap.asks[-1] != snap.asks[0]
