"""Benchmark cases for the Binance USD-M codec: book streams and funding, real frames first.

``depth20@100ms`` was never captured live, so its frame is built from the live SUSHIUSDT REST
snapshot (top 20 levels per side) in the live combined-stream envelope; the diff-depth case
replays the 255 live SUSHIUSDT frames on top of that snapshot.
"""

from __future__ import annotations

import json

from harness import Case, bootstrap, fixture, read_every_frame

V = "binance"


def depth20_frames(snapshot: bytes, stream: str, symbol: str, count: int = 32) -> list[bytes]:
    """Combined-stream partial-depth frames, each 20 levels a side from a REST snapshot.

    Frame ``k`` starts ``k`` levels deeper, so consecutive frames differ as the live ones do
    (several frames also keep the harness's clock reads from dominating a 5 µs decode).
    """
    book = json.loads(snapshot)
    last = book["lastUpdateId"]
    frames = []
    for k in range(count):
        data = {
            "e": "depthUpdate", "E": 1626992741364 + 100 * k, "T": 1626992741335 + 100 * k, "s": symbol,
            "U": last + 10 * k - 5, "u": last + 10 * k, "pu": last + 10 * k - 9,
            "b": book["bids"][k : k + 20], "a": book["asks"][k : k + 20],
        }
        frames.append(json.dumps({"stream": stream, "data": data}, separators=(",", ":")).encode())
    return frames


def combined(stream: str, event: bytes) -> bytes:
    """A raw event in the combined-stream envelope, compact, as the venue sends it."""
    return b'{"stream":"' + stream.encode() + b'","data":' + event.strip() + b"}"


def mark_price_arr(entry: bytes, count: int = 300) -> bytes:
    """``!markPrice@arr@1s`` as a combined frame of ``count`` symbols: the live entry's fields,
    key order and number types, its prices and rate stepped per symbol (300 symbols: the scale
    the issue measures)."""
    one = json.loads(entry)
    rows = []
    for k in range(count):
        row = dict(one)
        row["s"] = f"A{k:03d}USDT"
        row["p"] = f"{float(one['p']) * (1 + k / 1000):.8f}"
        row["i"] = f"{float(one['i']) * (1 + k / 1000):.8f}"
        row["P"] = f"{float(one['P']) * (1 + k / 1000):.8f}"
        row["r"] = f"{float(one['r']) + (k - 150) / 1e7:.8f}"
        rows.append(row)
    return combined("!markPrice@arr@1s", json.dumps(rows, separators=(",", ":")).encode())


def cases() -> list[Case]:
    snapshot = fixture(V, "rest_depth.json")
    recorded = json.loads(fixture(V, "depthUpdate_sequence_SUSHIUSDT.json"))
    diffs = [json.dumps(f, separators=(",", ":")).encode() for f in recorded]
    depth20 = depth20_frames(snapshot, "sushiusdt@depth20@100ms", "SUSHIUSDT")
    return [
        Case(V, "depth20@100ms", depth20, apply=True, target=15),
        Case(V, "depth20@100ms, read top 5 every frame", depth20, workload=read_every_frame(5), target=4),
        Case(V, "depth20@100ms, view(20) every frame", depth20, workload=read_every_frame(20, "view")),
        Case(V, "depth20@100ms, top_text(20) every frame", depth20, workload=read_every_frame(20, "text"), target=4),
        Case(V, "depth@100ms", diffs, apply=True, symbol="SUSHIUSDT", snapshot=snapshot, target=3),
        Case(V, "bootstrap: REST snapshot (1000 levels a side) + 255 diffs", [snapshot, *diffs],
             workload=bootstrap("SUSHIUSDT", snapshot), target=4),
        Case(V, "bookTicker", [fixture(V, "bookTicker.json")]),
        Case(V, "markPriceUpdate", [fixture(V, "markPriceUpdate.json")], target=8),
        Case(V, "markPriceUpdate (combined)", [combined("btcusdt@markPrice@1s", fixture(V, "markPriceUpdate.json"))],
             target=8),
        Case(V, "!markPrice@arr", [fixture(V, "markPrice_arr_sdk_post_cm_migration.json")], target=8),
        Case(V, "!markPrice@arr@1s (300 symbols, combined)", [mark_price_arr(fixture(V, "markPriceUpdate.json"))],
             target=8),
    ]
