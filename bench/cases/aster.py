"""Benchmark cases for the Aster codec (the Binance codec with Aster's hosts), live frames first.

Aster's recorded REST snapshot has only 3 levels per side and its ``depth20@100ms`` frame is a
docs example with 5, so the partial-depth frame is built with 20 levels per side from the docs
frame's shape and prices stepped from the live ETHUSDT diff frame, in the combined envelope.
"""

from __future__ import annotations

import json
from decimal import Decimal

from harness import Case, fixture, read_every_frame

V = "aster"


def depth20_frames(count: int = 32) -> list[bytes]:
    """Frame ``k`` has its mid ``k`` ticks higher, so consecutive frames differ."""
    diff = json.loads(fixture(V, "depthUpdate.json"))
    tick = Decimal("0.10")
    frames = []
    for k in range(count):
        mid = Decimal(diff["a"][0][0]) + tick * k
        bids = [[str(mid - tick * (i + 1)), str(Decimal("1.250") + i + k)] for i in range(20)]
        asks = [[str(mid + tick * i), str(Decimal("0.875") + i + k)] for i in range(20)]
        head = {key: diff[key] for key in ("e", "E", "T", "s", "U", "u", "pu")}
        data = {**head, "E": diff["E"] + 100 * k, "u": diff["u"] + 10 * k, "b": bids, "a": asks}
        frames.append(json.dumps({"stream": "ethusdt@depth20@100ms", "data": data}, separators=(",", ":")).encode())
    return frames


def cases() -> list[Case]:
    return [
        Case(V, "depth20@100ms", depth20_frames(), apply=True, target=15),
        Case(V, "depth20@100ms, read top 5 every frame", depth20_frames(), workload=read_every_frame(5), target=4),
        Case(V, "depth@100ms", [fixture(V, "depthUpdate.json")], apply=True, symbol="ETHUSDT",
             snapshot=fixture(V, "rest_depth.json"), target=3),
        Case(V, "bookTicker", [fixture(V, "bookTicker.json"), fixture(V, "combined_bookTicker.json")]),
        Case(V, "markPriceUpdate", [fixture(V, "markPriceUpdate.json")], target=8),
        Case(V, "!markPrice@arr", [fixture(V, "markPrice_arr.json")], target=8),
    ]
