"""The live SUSHIUSDT session (REST snapshot + 255 diff frames) replayed into an OrderBook.

Recorded 2021-07-22 (tests/fixtures/binance/SOURCES.md): the snapshot's ``lastUpdateId`` is
600859605926; frames 0-2 end before it (dropped), frame 3 straddles it, and every later frame's
``pu`` is the previous ``u``. So the replay must sync with no false gap, and losing any one
frame after the sync must surface as a ``Resync`` for SUSHIUSDT at the next frame.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from perpwire.market.book import SyncState
from perpwire.market.events import BookDelta, Resync
from perpwire.venues.binance.codec import BinanceCodec
from tests.conftest import FIXTURES_DIR

FIX = FIXTURES_DIR / "binance"
SYMBOL = "SUSHIUSDT"
FIRST_APPLIED = 3


@pytest.fixture(scope="module")
def session():
    codec = BinanceCodec()
    frames = [json.dumps(f, separators=(",", ":")).encode()
              for f in json.loads((FIX / "depthUpdate_sequence_SUSHIUSDT.json").read_bytes())]
    deltas = [codec.decode(f)[0] for f in frames]
    snapshot = codec.decode_snapshot(SYMBOL, (FIX / "rest_depth.json").read_bytes())
    return codec, snapshot, deltas


def test_replay_sequence_frames_are_sushi_deltas(session):
    _, snapshot, deltas = session
    assert len(deltas) == 255 and all(isinstance(d, BookDelta) and d.symbol == SYMBOL for d in deltas)
    assert [d.seq < snapshot.seq for d in deltas[:4]] == [True, True, True, False]
    assert deltas[FIRST_APPLIED].first_seq <= snapshot.seq <= deltas[FIRST_APPLIED].seq


def test_replay_buffered_then_snapshot_syncs_without_gap(session):
    codec, snapshot, deltas = session
    book = codec.book(SYMBOL)
    early = FIRST_APPLIED + 2  # frames that arrived before the REST answer, as recorded
    assert [book.apply(d) for d in deltas[:early]] == [None] * early
    assert book.state is SyncState.BUFFERING
    assert book.apply(snapshot) is None
    assert [book.apply(d) for d in deltas[early:]] == [None] * (len(deltas) - early)
    assert book.state is SyncState.SYNCED and book.seq == deltas[-1].seq
    (bid, _), (ask, _) = book.best_bid(), book.best_ask()
    assert bid < ask and Decimal("7") < bid < Decimal("8")


def test_replay_snapshot_first_drops_stale_frames_and_syncs(session):
    codec, snapshot, deltas = session
    book = codec.book(SYMBOL)
    book.apply(snapshot)
    assert [book.apply(d) for d in deltas] == [None] * len(deltas)
    assert book.state is SyncState.SYNCED and book.seq == deltas[-1].seq


@pytest.mark.parametrize("dropped", range(FIRST_APPLIED))
def test_replay_without_a_stale_frame_still_syncs(session, dropped):
    codec, snapshot, deltas = session
    book = codec.book(SYMBOL)
    book.apply(snapshot)
    assert [r for d in deltas[:dropped] + deltas[dropped + 1 :] if (r := book.apply(d))] == []
    assert book.state is SyncState.SYNCED


def test_replay_without_any_one_frame_after_sync_resyncs_that_symbol(session):
    codec, snapshot, deltas = session
    # the last frame has no successor to reveal its loss, so every other applied frame is tried
    for dropped in range(FIRST_APPLIED, len(deltas) - 1):
        book = codec.book(SYMBOL)
        book.apply(snapshot)
        kept = deltas[:dropped] + deltas[dropped + 1 :]
        resyncs = [(i, r) for i, d in enumerate(kept) if (r := book.apply(d)) is not None]
        assert len(resyncs) == 1, f"dropping frame {dropped}: {resyncs}"
        (at, resync), = resyncs
        assert at == dropped, f"dropping frame {dropped}: gap found at {at}"
        assert isinstance(resync, Resync) and resync.symbol == SYMBOL and resync.venue == "binance"
        assert book.state is SyncState.RESYNCING
