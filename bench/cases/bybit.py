"""Bybit v5 linear benchmark cases: one per book and funding message kind.

Bybit publishes no live linear book capture, so the diff-depth case replays the docs'
``orderbook.50`` delta (12 levels, deletions included) over the REST orderbook example; the
live spot frames (same shape) run beside it without a target. Tickers are a snapshot followed
by deltas, as on the wire (a delta before its snapshot is refused), so the tickers case cycles
one snapshot and nine deltas.
"""

from __future__ import annotations

from harness import Case, fixture

V = "bybit"


def cases() -> list[Case]:
    snapshot = fixture(V, "tickers_snapshot.json")
    delta = fixture(V, "tickers_delta.json")
    return [
        Case(
            V,
            "orderbook.50 delta",
            [fixture(V, "orderbook_delta.json")],
            apply=True,
            symbol="BTCUSDT",
            snapshot=fixture(V, "rest_orderbook.json"),
            target=3,
        ),
        Case(
            V,
            "orderbook.50 delta (spot live, 1 level)",
            [fixture(V, "orderbook50_delta_spot_live.json")],
            apply=True,
            symbol="BTCUSDT",
            snapshot=fixture(V, "rest_orderbook.json"),
        ),
        Case(
            V,
            "orderbook.50 snapshot (spot live, 50 levels)",
            [fixture(V, "orderbook50_snapshot_spot_live.json")],
            apply=True,
        ),
        Case(V, "tickers (1 snapshot : 9 deltas)", [snapshot] + [delta] * 9, target=8),
        Case(V, "tickers snapshot", [fixture(V, "tickers_snapshot_docs.json")], target=8),
        Case(V, "allLiquidation", [fixture(V, "allLiquidation.json")]),
    ]
