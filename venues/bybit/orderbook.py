"""Bybit order books: turning ``orderbook.{depth}.{symbol}`` pushes into chained book events.

Bybit numbers every push twice. ``u`` counts the pushes of one topic (+1 each, so a hole in
``u`` is a lost message) but each depth has its own counter and the REST orderbook's ``u`` is
the 1000-level stream's, so ``u`` cannot tie a 50-level stream to a REST snapshot. ``seq``, the
cross sequence, is comparable across depths and with REST (smaller = earlier) but has holes
(it counts matching-engine events, not pushes). perpwire needs both checks, so
``TopicChain`` (state of the codec, one entry per topic) combines them into a pointer chain on
``seq``: a delta whose ``u`` follows the topic's previous push gets ``prev_seq`` = that push's
``seq``; a delta after a hole, a decreasing ``u`` or no snapshot gets ``prev_seq = -1``, which
never chains. Events carry ``seq`` = the cross sequence, and ``CROSS_SEQ_CHAIN`` checks them:

- stale: ``seq`` not above the book's (already contained in it);
- bridges (first delta over a snapshot, WS or REST): ``prev_seq <= snapshot seq < seq``;
- follows: ``prev_seq`` equals the book's ``seq``.

A ``snapshot`` push, or any push with ``u == 1`` (Bybit's "service restarted, overwrite your
book"), becomes a ``BookSnapshot`` that resets the book and the topic's chain. Bybit re-sends a
snapshot on (re)subscribe, so resubscribing is the cheapest resync (its ``VenueSpec`` says so);
a REST snapshot bridges too.
"""

from __future__ import annotations

import msgspec

from perpwire.market.events import BookDelta, BookSnapshot, Event
from perpwire.market.sequence import SequenceRule
from perpwire.venues.bybit.schemas import BybitBookData, BybitData

VENUE = "bybit"
DEPTHS = (1, 50, 200, 1000)  # linear depths; 500 was removed for futures in 2025

_REST_BOOK = msgspec.json.Decoder(BybitBookData)
_TOPIC_LIMIT = 4096  # topics remembered; a codec sees far fewer, this only bounds a misuse


class _CrossSeqChain(SequenceRule):
    """Pointer chain on the cross sequence, built by ``TopicChain`` from ``u`` contiguity."""

    def stale(self, d: BookDelta, seq: int) -> bool:
        return d.seq <= seq

    def bridges(self, d: BookDelta, seq: int) -> bool:
        return 0 <= d.prev_seq <= seq < d.seq

    def follows(self, d: BookDelta, seq: int) -> bool:
        return d.prev_seq >= 0 and d.prev_seq == seq


CROSS_SEQ_CHAIN: SequenceRule = _CrossSeqChain("bybit_cross_seq")


class TopicChain:
    """Per-topic ``(u, seq)`` of the last push, and the events one push becomes."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, int]] = {}

    def reset(self) -> None:
        """Forget every topic (a new connection starts with fresh snapshots)."""
        self._last.clear()

    def events(self, topic: str, kind: str, ts: int, d: BybitData) -> list[Event]:
        """Events of one ``orderbook.*`` push whose frame said ``kind`` and ``ts``."""
        u, seq = d.u, d.seq
        if u is None or seq is None or not d.s:
            raise ValueError("orderbook push without s, u or seq")
        last = self._last
        if kind == "snapshot" or u == 1:
            if len(last) >= _TOPIC_LIMIT and topic not in last:
                last.clear()
            last[topic] = (u, seq)
            return [BookSnapshot(venue=VENUE, symbol=d.s, bids=d.b, asks=d.a, seq=seq, ts=ts)]
        if kind != "delta":
            raise ValueError(f"orderbook push of type {kind!r}")
        prev = last.get(topic)
        if prev is not None and prev[0] + 1 == u:
            prev_seq = prev[1]
            first = prev_seq + 1
        else:
            prev_seq = -1  # a hole, a decreasing u, or no snapshot yet: never chains
            first = seq
        if prev is not None:
            last[topic] = (u, seq)
        return [BookDelta(venue=VENUE, symbol=d.s, bids=d.b, asks=d.a, first_seq=first, seq=seq,
                          prev_seq=prev_seq, ts=ts)]


def rest_snapshot(symbol: str, raw: msgspec.Raw | bytes) -> BookSnapshot:
    """A REST ``/v5/market/orderbook`` ``result`` as a snapshot at its cross sequence."""
    d = _REST_BOOK.decode(raw)
    return BookSnapshot(venue=VENUE, symbol=symbol, bids=d.b, asks=d.a, seq=d.seq, ts=d.ts)
