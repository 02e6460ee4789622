"""Shared test helpers for the Bybit codec: fixture loading and frame builders."""

from __future__ import annotations

import json

from tests.conftest import FIXTURES_DIR, fixture_loader

FIXTURES = FIXTURES_DIR / "bybit"


load = fixture_loader("bybit")


def load_json(name: str):
    return json.loads(load(name))


def book_frame(kind: str, u: int, seq: int, bids=(), asks=(), *, depth: int = 50, symbol: str = "BTCUSDT",
               ts: int = 1700000000000) -> bytes:
    """An ``orderbook.{depth}.{symbol}`` push in the linear shape (``type`` before ``ts``)."""
    return json.dumps({
        "topic": f"orderbook.{depth}.{symbol}", "type": kind, "ts": ts,
        "data": {"s": symbol, "b": [list(x) for x in bids], "a": [list(x) for x in asks], "u": u, "seq": seq},
        "cts": ts - 2,
    }).encode()


def envelope(result, ret_code: int = 0, ret_msg: str = "OK", time: int = 1700000000000) -> bytes:
    """A REST body ``{"retCode","retMsg","result","retExtInfo","time"}``."""
    body = {"retCode": ret_code, "retMsg": ret_msg, "result": result, "retExtInfo": {}, "time": time}
    return json.dumps(body).encode()
