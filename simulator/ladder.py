"""One venue's order book for one instrument, in integers, with an update-id counter.

Prices are ticks and sizes lots. Each side is a dict plus a sorted list of its prices (bisect
keeps both in step), so "top N" is a slice and a level change is a dict write and at most one
list insert or delete. Every change takes new update ids (``id_gap`` > 1 makes ids jump like
Binance's, where other streams share the id space; 1 keeps them contiguous like Backpack's and
KuCoin's) and is appended to ``changes`` until the tick's publishers collect it with ``drain``.
"""

from __future__ import annotations

import random
from bisect import bisect_left, insort
from dataclasses import dataclass


@dataclass(slots=True)
class Change:
    is_bid: bool
    px: int
    size: int  # absolute size after the change; 0 deletes the level
    seq: int  # update id this change took


class Ladder:
    __slots__ = ("_ask_keys", "_bid_keys", "asks", "bids", "changes", "id_gap", "rng", "seq", "version")

    def __init__(self, *, seq: int, id_gap: int = 1, rng: random.Random | None = None) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self._bid_keys: list[int] = []  # ascending; best bid last
        self._ask_keys: list[int] = []  # ascending; best ask first
        self.seq = seq
        self.id_gap = id_gap
        self.rng = rng or random.Random(0)
        self.changes: list[Change] = []
        self.version = 0  # bumps on every change; cheap "did anything move" check

    def set(self, is_bid: bool, px: int, size: int) -> None:
        side, keys = (self.bids, self._bid_keys) if is_bid else (self.asks, self._ask_keys)
        old = side.get(px)
        if size <= 0:
            if old is None:
                return
            del side[px]
            del keys[bisect_left(keys, px)]
            size = 0
        else:
            if old == size:
                return
            if old is None:
                insort(keys, px)
            side[px] = size
        self.seq += 1 if self.id_gap == 1 else self.rng.randint(1, self.id_gap)
        self.version += 1
        self.changes.append(Change(is_bid, px, size, self.seq))

    def fill(self, bids: dict[int, int], asks: dict[int, int]) -> None:
        """Replace both sides at once (the starting book): no changes are logged, one id is spent."""
        self.bids, self.asks = dict(bids), dict(asks)
        self._bid_keys, self._ask_keys = sorted(self.bids), sorted(self.asks)
        self.seq += 1
        self.version += 1

    def drain(self) -> list[Change]:
        out, self.changes = self.changes, []
        return out

    # --- reads --------------------------------------------------------------------------------

    def best_bid(self) -> int | None:
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask(self) -> int | None:
        return self._ask_keys[0] if self._ask_keys else None

    def worst_bid(self) -> int | None:
        return self._bid_keys[0] if self._bid_keys else None

    def worst_ask(self) -> int | None:
        return self._ask_keys[-1] if self._ask_keys else None

    def top(self, is_bid: bool, n: int | None) -> list[tuple[int, int]]:
        """Best-first (price, size) pairs of one side."""
        if is_bid:
            keys = self._bid_keys if n is None else self._bid_keys[-n:]
            side = self.bids
            return [(px, side[px]) for px in reversed(keys)]
        keys = self._ask_keys if n is None else self._ask_keys[:n]
        side = self.asks
        return [(px, side[px]) for px in keys]

    def level_count(self, is_bid: bool) -> int:
        return len(self._bid_keys if is_bid else self._ask_keys)

    def nth(self, is_bid: bool, i: int) -> int | None:
        """Price of the i-th best level (0 = best), or None."""
        keys = self._bid_keys if is_bid else self._ask_keys
        if i >= len(keys):
            return None
        return keys[-1 - i] if is_bid else keys[i]

    def bbo(self) -> tuple[int, int, int, int] | None:
        bb, ba = self.best_bid(), self.best_ask()
        if bb is None or ba is None:
            return None
        return bb, self.bids[bb], ba, self.asks[ba]

    def copy_levels(self) -> tuple[dict[int, int], dict[int, int], int]:
        return dict(self.bids), dict(self.asks), self.seq


class DiffAggregator:
    """Changes merged between two flushes of one diff stream (one symbol, one cadence).

    ``flush`` returns ``(first_id, last_id, prev_last_id, bids, asks)`` — the Binance ``U, u, pu``
    — with each side's levels as ascending (price, size) pairs, or None when nothing changed.
    """

    __slots__ = ("asks", "bids", "first", "last", "prev")

    def __init__(self, prev: int) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.first: int | None = None
        self.last = prev
        self.prev = prev

    def add(self, changes: list[Change]) -> None:
        if not changes:
            return
        bids, asks = self.bids, self.asks
        for c in changes:
            (bids if c.is_bid else asks)[c.px] = c.size
        if self.first is None:
            self.first = changes[0].seq
        self.last = changes[-1].seq

    def flush(self) -> tuple[int, int, int, list[tuple[int, int]], list[tuple[int, int]]] | None:
        if self.first is None:
            return None
        out = (self.first, self.last, self.prev, sorted(self.bids.items()), sorted(self.asks.items()))
        self.prev = self.last
        self.first = None
        self.bids = {}
        self.asks = {}
        return out
