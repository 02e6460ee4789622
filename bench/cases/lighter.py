"""Lighter benchmark cases: one per book and funding message kind.

The diff-depth case replays the six recorded CRV ``update/order_book`` frames on top of the
recorded WS snapshot (Lighter has no REST book, so the harness's ``snapshot`` cannot seed it: a
handler seeds the book from the ``subscribed/order_book`` frame once, then applies each update).
The snapshot frame itself and ``market_stats`` (one market, and ``all``) run without a target.
"""

from __future__ import annotations

from harness import Case, fixture

from perpwire.market.events import BookDelta, BookSnapshot
from perpwire.market.sequence import UNCHECKED

V = "lighter"
SYMBOL = "36"
UPDATES = [fixture(V, f"order_book_update_seq{i}.json") for i in range(1, 7)]


def _apply(codec, books, events) -> None:
    book = books.get(SYMBOL)
    if book is None:  # seed once from the recorded WS snapshot (the chain is not under test: frames cycle)
        book = books[SYMBOL] = codec.book(SYMBOL)
        book.rule = UNCHECKED
        for ev in codec.decode(fixture(V, "order_book_snapshot.json")):
            if type(ev) is BookSnapshot:
                book.apply(ev)
    for ev in events:
        if type(ev) is BookDelta or type(ev) is BookSnapshot:
            book.apply(ev)


def cases() -> list[Case]:
    return [
        Case(V, "order_book update", UPDATES, apply=True, target=3, handler=_apply),
        Case(V, "order_book snapshot (subscribed, 79 levels)", [fixture(V, "order_book_snapshot.json")], apply=True),
        Case(V, "market_stats", [fixture(V, "market_stats.json"), fixture(V, "market_stats_ccxt.json")], target=8),
        Case(V, "market_stats all", [fixture(V, "market_stats_all.json")], target=8),
        Case(V, "ticker", [fixture(V, "ticker_update.json")]),
    ]
