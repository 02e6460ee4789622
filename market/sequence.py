"""Sequence rules: how a venue chains its book deltas, so one OrderBook serves every venue.

A codec names its rule (``codec.sequence_rule``); the book asks the rule three questions:

- ``stale(delta, seq)``: is this delta already contained in the book at update id ``seq``?
- ``bridges(delta, seq)``: may this delta be the first one applied on top of a snapshot ``seq``?
- ``follows(delta, seq)``: does it continue the chain after the last applied update ``seq``?

``continues(delta, seq)`` is the hot path's one question, ``follows and not stale``; each rule
answers it in one expression (a delta that passes it is applied without asking the others).

Rules shipped here:

- ``PU_CHAIN`` (Binance USD-M, Aster): drop ``u < lastUpdateId``; the first delta straddles,
  ``U <= lastUpdateId <= u``, or starts right after it (``pu == lastUpdateId``); then ``pu``
  equals the previous ``u``.
- ``CONTIGUOUS`` (Backpack ``U == prev u + 1``, KuCoin, Bybit): ids have no holes.
- ``PREV_NONCE`` (Lighter): ``begin_nonce`` equals the previous ``nonce``; never ``offset``,
  which restarts on reconnect.
- ``UNCHECKED``: the venue gives no usable chain; every delta follows.
"""

from __future__ import annotations

from dataclasses import dataclass

from perpwire.market.events import BookDelta


@dataclass(frozen=True, slots=True)
class SequenceRule:
    name: str

    def stale(self, d: BookDelta, seq: int) -> bool:
        return d.seq <= seq

    def bridges(self, d: BookDelta, seq: int) -> bool:
        return d.first_seq <= seq + 1 <= d.seq

    def follows(self, d: BookDelta, seq: int) -> bool:
        return d.first_seq == seq + 1

    def continues(self, d: BookDelta, seq: int) -> bool:
        return d.first_seq == seq + 1 and d.seq > seq


class _PuChain(SequenceRule):
    def stale(self, d: BookDelta, seq: int) -> bool:
        return d.seq < seq

    def bridges(self, d: BookDelta, seq: int) -> bool:
        # the documented straddle, or an event that starts right after the snapshot (pu == it)
        return d.first_seq <= seq <= d.seq or d.prev_seq == seq

    def follows(self, d: BookDelta, seq: int) -> bool:
        return d.prev_seq == seq

    def continues(self, d: BookDelta, seq: int) -> bool:
        return d.prev_seq == seq and d.seq >= seq


class _PrevNonce(SequenceRule):
    def bridges(self, d: BookDelta, seq: int) -> bool:
        return d.prev_seq <= seq < d.seq

    def follows(self, d: BookDelta, seq: int) -> bool:
        return d.prev_seq == seq

    def continues(self, d: BookDelta, seq: int) -> bool:
        return d.prev_seq == seq and d.seq > seq


class _Unchecked(SequenceRule):
    def stale(self, d: BookDelta, seq: int) -> bool:
        return False

    def bridges(self, d: BookDelta, seq: int) -> bool:
        return True

    def follows(self, d: BookDelta, seq: int) -> bool:
        return True

    def continues(self, d: BookDelta, seq: int) -> bool:
        return True


PU_CHAIN: SequenceRule = _PuChain("pu_chain")
CONTIGUOUS: SequenceRule = SequenceRule("contiguous")
PREV_NONCE: SequenceRule = _PrevNonce("prev_nonce")
UNCHECKED: SequenceRule = _Unchecked("unchecked")
