"""Shared test helpers for the Backpack codec tests: fixture bytes and frame builders."""

from __future__ import annotations

import base64
import json

from tests.conftest import FIXTURES_DIR, fixture_loader

FIX = FIXTURES_DIR / "backpack"
#: a throwaway ED25519 seed (bytes 0..31), never a real key
SEED = bytes(range(32))
SECRET = base64.b64encode(SEED).decode()


fx = fixture_loader("backpack")


def fx_json(name: str):
    return json.loads(fx(name))


def wrap(stream: str, data: dict) -> bytes:
    """A data frame as the venue sends it."""
    return json.dumps({"data": data, "stream": stream}).encode()


def depth_frame(symbol: str, first: int, last: int, bids=(), asks=(), e_us: int = 1790134357267289) -> bytes:
    data = {"E": e_us, "T": e_us - 200, "U": first, "a": [list(x) for x in asks], "b": [list(x) for x in bids],
            "e": "depth", "s": symbol, "u": last}
    return wrap(f"depth.{symbol}", data)
