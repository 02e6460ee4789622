"""Codec throughput per venue and message kind, beside the json.loads + Decimal baseline.

Run: ``make bench`` or ``python bench/codecs.py [venue ...]``. One JSON line per case:
``ours_msgs_per_s`` (decode, plus apply into an OrderBook for book streams),
``baseline_msgs_per_s`` (json.loads and Decimal of every level and numeric string) and their
ratio, measured in alternating rounds in the same process (best round of each), so a burst
of load elsewhere on the machine cannot land on one side only. Cases live in ``bench/cases/<venue>.py``.
"""

from __future__ import annotations

import importlib.util
import sys

from harness import ROOT, Case, baseline, emit, paired

from perpwire import venues
from perpwire.market.events import BookDelta, BookSnapshot, LazyBookSnapshot
from perpwire.market.sequence import UNCHECKED

_BOOK_EVENTS = (BookDelta, BookSnapshot, LazyBookSnapshot)


def _load_cases(venue: str) -> list[Case]:
    path = ROOT / "bench" / "cases" / f"{venue}.py"
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location(f"bench_cases_{venue}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cases()


def _ours(case: Case):
    codec = venues.codec(case.venue, **case.codec_options)
    books = {}
    if case.symbol is not None:
        # the chain is not under test here (frames are cycled); the apply work is
        book = codec.book(case.symbol)
        book.rule = UNCHECKED
        if case.snapshot is not None:
            book.apply(codec.decode_snapshot(case.symbol, case.snapshot))
        books[case.symbol] = book
    decode = codec.decode

    if case.handler is not None:
        return lambda frame: case.handler(codec, books, decode(frame))
    if not case.apply:
        return decode

    def handle(frame):
        for ev in decode(frame):
            if type(ev) in _BOOK_EVENTS:
                book = books.get(ev.symbol)
                if book is None:
                    book = books[ev.symbol] = codec.book(ev.symbol)
                    book.rule = UNCHECKED
                book.apply(ev)

    return handle


def main(selected: list[str]) -> None:
    for venue in selected or venues.names():
        for case in _load_cases(venue):
            ours, base = paired(_ours(case), baseline, case.frames)
            emit(
                bench="codecs", venue=venue, kind=case.kind, apply=case.apply,
                ours_msgs_per_s=round(ours), baseline_msgs_per_s=round(base),
                speedup=round(ours / base, 2), target=case.target,
                meets_target=None if case.target is None else ours / base >= case.target,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
