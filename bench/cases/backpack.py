"""Benchmark cases for the Backpack codec: real recorded frames.

The diff-depth case replays the live multi-level ``depth.200ms`` frame and the live single-level
``depth`` frame onto the docs REST snapshot (the chain is not under test here, the work is).
"""

from __future__ import annotations

from harness import Case, fixture

V = "backpack"


def cases() -> list[Case]:
    snapshot = fixture(V, "rest_depth_docs.json")
    return [
        Case(V, "depth delta", [fixture(V, "depth_200ms.json"), fixture(V, "depth.json")], apply=True,
             symbol="ETH_USDC_PERP", snapshot=snapshot, target=3),
        Case(V, "bookTicker", [fixture(V, "bookTicker.json")]),
        Case(V, "markPrice", [fixture(V, "markPrice.json")]),
    ]
