"""Helpers for the simulator tests: fixture shapes, WebSocket receive loops, codec lookup.

``assert_shape(actual, fixture)`` compares two JSON values the way a decoder sees them: the same
keys at every level and the same JSON types (an int where the fixture has a float is allowed —
JSON does not distinguish ``2984`` from ``2984.0``). Lists compare each element with the
fixture's first one, or pairwise when the fixture's elements differ in type or keys. ``extra`` names
keys the simulator may add (documented newer fields), ``missing`` keys it may leave out,
``maps`` keys whose values are objects keyed by ids (compared value by value), ``loose`` keys
whose type is allowed to differ (documented wire drift, e.g. Backpack integers as strings).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import websockets

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(venue: str, name: str) -> Any:
    return json.loads((FIXTURES / venue / name).read_text())


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return type(v).__name__


def assert_shape(
    actual: Any,
    expected: Any,
    path: str = "$",
    *,
    extra: frozenset[str] | set[str] = frozenset(),
    missing: frozenset[str] | set[str] = frozenset(),
    maps: frozenset[str] | set[str] = frozenset(),
    loose: frozenset[str] | set[str] = frozenset(),
) -> None:
    opts = {"extra": extra, "missing": missing, "maps": maps, "loose": loose}
    ka, ke = _kind(actual), _kind(expected)
    key = path.rsplit(".", 1)[-1]
    if key in loose:
        return
    if not (
        ka == ke or (ke == "float" and ka == "int") or (ke == "int" and ka == "float" and float(actual).is_integer())
    ):
        raise AssertionError(f"{path}: simulator sends {ka} ({actual!r:.80}), fixture has {ke} ({expected!r:.80})")
    if ka == "dict":
        if key in maps:
            if expected and actual:
                proto = next(iter(expected.values()))
                for k, v in actual.items():
                    assert_shape(v, proto, f"{path}[{k}]", **opts)
            return
        unexpected = set(actual) - set(expected) - set(extra)
        absent = set(expected) - set(actual) - set(missing)
        if unexpected or absent:
            raise AssertionError(f"{path}: extra keys {sorted(unexpected)}, missing keys {sorted(absent)}")
        for k in set(actual) & set(expected):
            assert_shape(actual[k], expected[k], f"{path}.{k}", **opts)
    elif ka == "list" and actual and expected:
        kinds = {_kind(e) if not isinstance(e, dict) else tuple(sorted(e)) for e in expected}
        if len(kinds) > 1 and len(actual) == len(expected):
            for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
                assert_shape(a, e, f"{path}[{i}]", **opts)
        else:
            for i, a in enumerate(actual):
                assert_shape(a, expected[0], f"{path}[{i}]", **opts)


async def recv_json(ws: Any, timeout: float = 5.0) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws: Any, pred: Callable[[Any], bool], *, timeout: float = 5.0, limit: int = 5000) -> Any:
    """The first message matching ``pred`` (others are skipped); fails after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for _ in range(limit):
        left = deadline - loop.time()
        if left <= 0:
            break
        try:
            msg = await recv_json(ws, left)
        except TimeoutError:
            break
        if pred(msg):
            return msg
    raise AssertionError("no matching message arrived")


async def drain(ws: Any, quiet: float = 0.2) -> list[Any]:
    """Everything that arrives until the socket has been quiet for ``quiet`` seconds (or closed)."""
    return [json.loads(f) for f in await drain_raw(ws, quiet)]


def codec_or_none(name: str, **options: Any) -> Any:
    """The venue's codec when another helper has shipped it, else None (the test then skips)."""
    from perpwire import venues
    try:
        return venues.codec(name, **options)
    except (ImportError, AttributeError):
        return None


async def drain_raw(ws: Any, quiet: float = 0.2) -> list[str | bytes]:
    """Like ``drain`` but the frames as received, for codecs."""
    out = []
    while True:
        try:
            out.append(await asyncio.wait_for(ws.recv(), quiet))
        except (TimeoutError, websockets.ConnectionClosed):
            return out
