"""Benchmark cases for the Backpack codec: the recorded live frames, one case per message kind.

The diff-depth case replays the two live ``depth.<sym>`` frames (the stream the codec subscribes by
default; live deltas are mostly one level) onto books seeded from the docs REST snapshot, one per
symbol (the chain is not under test: frames cycle). The aggregated ``depth.200ms`` frame (six
levels, the ``depth_window`` option) runs as its own case: with six levels the book's apply is more
than half the time, which the codec cannot shorten.
"""

from __future__ import annotations

from harness import Case, fixture

from perpwire.market.events import BookDelta
from perpwire.market.sequence import UNCHECKED

V = "backpack"
SNAPSHOT = fixture(V, "rest_depth_docs.json")


def _apply(codec, books, events) -> None:
    for ev in events:
        if type(ev) is BookDelta:
            book = books.get(ev.symbol)
            if book is None:  # seed once per symbol from the REST snapshot
                book = books[ev.symbol] = codec.book(ev.symbol)
                book.rule = UNCHECKED
                book.apply(codec.decode_snapshot(ev.symbol, SNAPSHOT))
            book.apply(ev)


def cases() -> list[Case]:
    return [
        Case(V, "depth delta", [fixture(V, "depth.json"), fixture(V, "depth_level_delete.json")], apply=True,
             symbol="BTC_USDC_PERP", snapshot=SNAPSHOT, target=3, handler=_apply),
        Case(V, "depth.200ms delta (6 levels)", [fixture(V, "depth_200ms.json")], apply=True,
             symbol="ETH_USDC_PERP", snapshot=SNAPSHOT, handler=_apply),
        Case(V, "bookTicker", [fixture(V, "bookTicker.json")]),
        Case(V, "markPrice", [fixture(V, "markPrice.json")], target=8),
    ]
