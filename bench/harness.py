"""Shared benchmark plumbing: cases, the json.loads + Decimal baseline, timing, JSON lines.

Benchmarks print one JSON object per line and never assert; the figures go into closing notes.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
sys.path.insert(0, str(ROOT))

_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


@dataclass
class Case:
    """One message kind of one venue.

    ``frames`` are decoded in order (cycled). With ``apply`` the book events go into books built
    by ``codec.book`` (seeded from ``snapshot`` when given, the REST body for ``symbol``); lazily
    decoded snapshot streams are applied too (that is their whole handling). ``target`` is the
    speed-up over the baseline the issue asks for, if any.
    """

    venue: str
    kind: str
    frames: list[bytes]
    apply: bool = False
    symbol: str | None = None
    snapshot: bytes | None = None
    target: float | None = None
    codec_options: dict = field(default_factory=dict)
    # called once per frame, after decode, instead of the default apply (rarely needed)
    handler: Callable | None = None
    # the whole per-frame work instead of decode (+ apply): ``workload(codec)`` returns it
    workload: Callable | None = None


def fixture(venue: str, name: str) -> bytes:
    return (FIXTURES / venue / name).read_bytes()


def _convert(obj):
    """Baseline work: every level and every numeric string becomes a Decimal."""
    if isinstance(obj, dict):
        return {k: _convert(v) for k, v in obj.items()}
    if isinstance(obj, list):
        if obj and isinstance(obj[0], list) and len(obj[0]) >= 2 and isinstance(obj[0][0], str):
            return [[Decimal(x[0]), Decimal(x[1]), *x[2:]] for x in obj]
        return [_convert(v) for v in obj]
    if isinstance(obj, str) and _NUMBER.match(obj):
        return Decimal(obj)
    return obj


def baseline(frame: bytes):
    return _convert(json.loads(frame))


def rate(fn: Callable[[bytes], object], frames: list[bytes], seconds: float = 0.4, repeats: int = 3) -> float:
    """Best-of-``repeats`` messages per second of ``fn`` over ``frames``."""
    best = 0.0
    n = len(frames)
    for _ in range(repeats):
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            for f in frames:
                fn(f)
            count += n
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def paired(ours: Callable[[bytes], object], base: Callable[[bytes], object], frames: list[bytes],
           rounds: int = 6, seconds: float = 0.15) -> tuple[float, float]:
    """Messages per second of ``ours`` and ``base``, measured in alternating rounds.

    Each round times one then the other; the best round of each is kept. Interleaving keeps a
    slow stretch of the machine from penalising only one side of a ratio.
    """
    best_ours = best_base = 0.0
    for _ in range(rounds):
        best_ours = max(best_ours, rate(ours, frames, seconds, repeats=1))
        best_base = max(best_base, rate(base, frames, seconds, repeats=1))
    return best_ours, best_base


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


# --- workloads shared by several venues' cases ---------------------------------------------------


def read_every_frame(levels: int | None, how: str = "top") -> Callable:
    """``Case.workload``: decode each snapshot-stream frame, apply it and read the book at once
    (``how``: ``top`` = ``book.top(levels)`` as Decimals, ``view`` = ``book.view(levels)``,
    ``text`` = ``book.top_text(levels)``, the owner's side of a view read across processes)."""
    from perpwire.market.events import BookSnapshot, LazyBookSnapshot
    from perpwire.market.sequence import UNCHECKED

    def make(codec):
        books = {}
        decode = codec.decode

        def handle(frame):
            for ev in decode(frame):
                if type(ev) is LazyBookSnapshot or type(ev) is BookSnapshot:
                    book = books.get(ev.symbol)
                    if book is None:
                        book = books[ev.symbol] = codec.book(ev.symbol)
                        book.rule = UNCHECKED
                    book.apply(ev)
                    if how == "top":
                        book.top(levels)
                    elif how == "view":
                        book.view(levels)
                    else:
                        book.top_text(levels)

        return handle

    return make


def bootstrap(symbol: str, snapshot: bytes) -> Callable:
    """``Case.workload`` for frames ``[snapshot, *diffs]``: the REST snapshot body seeds a new
    book (``decode_snapshot`` + apply), every other frame is decoded and applied to it."""
    from perpwire.market.events import BookDelta
    from perpwire.market.sequence import UNCHECKED

    def make(codec):
        state = {}
        decode = codec.decode

        def handle(frame):
            if frame is snapshot:
                book = state["book"] = codec.book(symbol)
                book.rule = UNCHECKED  # the chain is not under test: the frames cycle
                book.apply(codec.decode_snapshot(symbol, frame))
                return
            book = state["book"]
            for ev in decode(frame):
                if type(ev) is BookDelta:
                    book.apply(ev)

        return handle

    return make
