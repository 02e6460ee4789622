"""The HTTP control API under ``/_control``: read the counters, move the market, inject faults.

JSON in, JSON out, loopback only. ``GET /_control/urls``, ``GET /_control/stats[?venue=&
connections=0]``, ``POST /_control/stats/reset``, ``GET /_control/market`` (per venue and asset:
touch, update id, funding per interval and per hour, next settlement), ``POST
/_control/funding/shock`` ``{venue, asset, rate, per_hour?}`` (answers when the change took effect:
``wall_ms`` on the server's clock and ``market_ms``; every frame stamped after ``market_ms`` carries
it), ``POST /_control/faults/<kind>``
with the keyword arguments of the matching ``Faults`` method (``drop, stall, unstall, malformed,
age_out, skip_sequence, rest_error``) or ``expire_listen_key`` ``{venue, key?}``, ``GET/POST
/_control/accounts`` (list / mint local test credentials), ``POST /_control/tick`` ``{n}`` (when
the clock is not running) and ``POST /_control/replay`` ``{name, lines, speed?, loop?}``.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

if TYPE_CHECKING:
    from perpwire.simulator.server import Simulator

_encode = msgspec.json.Encoder(decimal_format="string").encode
_FAULTS = ("drop", "stall", "unstall", "malformed", "age_out", "skip_sequence", "rest_error")


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encode(obj), status=status, content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"invalid JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return data


def control_routes(sim: Simulator) -> list[tuple[str, str, Any]]:
    async def urls(request: web.Request) -> web.Response:
        return _json({"venues": sim.urls, "control": f"{sim.base_url}/_control"})

    async def stats(request: web.Request) -> web.Response:
        venue = request.query.get("venue")
        conns = request.query.get("connections", "1") not in ("0", "false")
        # the server's own clocks, so a reader can turn two readings into rates
        return _json({**sim.stats(venue, connections=conns), "wall_ms": sim.clock.wall_ms(), "ticks": sim.clock.ticks})

    async def reset(request: web.Request) -> web.Response:
        sim.reset_stats()
        return _json({"ok": True})

    async def market(request: web.Request) -> web.Response:
        out: dict[str, Any] = {"now_ms": sim.clock.now_ms, "fair": dict(sim.model.fair), "venues": {}}
        for name in sim.venues:
            rows = {}
            for book in sim.model.by_venue[name]:
                inst, lad = book.inst, book.ladder
                rows[inst.asset] = {
                    "symbol": inst.symbol,
                    "best_bid": inst.price_text(lad.best_bid() or 0),
                    "best_ask": inst.price_text(lad.best_ask() or 0),
                    "seq": lad.seq,
                    "funding_rate": sim.funding.rate(name, inst.asset),
                    "funding_rate_per_hour": sim.funding.rate_per_hour(name, inst.asset),
                    "interval_hours": inst.interval_h,
                    "next_funding_ms": sim.funding.next_funding_ms(name),
                }
            out["venues"][name] = rows
        return _json(out)

    async def shock(request: web.Request) -> web.Response:
        b = await _body(request)
        per_hour = b.get("per_hour", False)
        if not isinstance(per_hour, bool):  # bool("false") is True: take JSON booleans only
            return _json({"error": f"per_hour must be true or false, not {per_hour!r}"}, status=400)
        try:
            applied = sim.shock_funding(b["venue"], b["asset"], b["rate"], per_hour=per_hour)
        except (KeyError, ValueError, TypeError) as exc:
            return _json({"error": str(exc)}, status=400)
        return _json({"ok": True, **applied})

    async def fault(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        b = await _body(request)
        try:
            if kind == "expire_listen_key":
                return _json({"affected": sim.expire_listen_key(b["venue"], b.get("key"))})
            if kind not in _FAULTS:
                return _json(
                    {"error": f"unknown fault {kind!r}; known: {', '.join((*_FAULTS, 'expire_listen_key'))}"}, 404
                )
            result = getattr(sim.faults, kind)(**b)
            if inspect.isawaitable(result):
                result = await result
        except (KeyError, LookupError, ValueError, TypeError) as exc:
            return _json({"error": str(exc)}, status=400)
        return _json({"affected": result})

    async def accounts(request: web.Request) -> web.Response:
        if request.method == "POST":
            b = await _body(request)
            try:
                key = sim.new_api_key(b["venue"], b.get("account"))
            except KeyError as exc:
                return _json({"error": f"unknown venue {exc}"}, status=400)
            return _json(_asdict(key))
        return _json({v: [_asdict(k) for k in keys.values()] for v, keys in sim.credentials.items()})

    async def tick(request: web.Request) -> web.Response:
        b = await _body(request)
        n = int(b.get("n", 1))
        sim.tick(max(1, min(n, 100_000)))
        return _json({"ticks": sim.clock.ticks, "now_ms": sim.clock.now_ms})

    async def replay(request: web.Request) -> web.Response:
        b = await _body(request)
        try:
            url = sim.replay(b["name"], b["lines"], speed=b.get("speed", 1.0), loop=bool(b.get("loop", False)))
        except (KeyError, ValueError, TypeError) as exc:
            return _json({"error": str(exc)}, status=400)
        return _json({"url": url})

    return [
        ("GET", "/_control/urls", urls),
        ("GET", "/_control/stats", stats),
        ("POST", "/_control/stats/reset", reset),
        ("GET", "/_control/market", market),
        ("POST", "/_control/funding/shock", shock),
        ("POST", "/_control/faults/{kind}", fault),
        ("GET", "/_control/accounts", accounts),
        ("POST", "/_control/accounts", accounts),
        ("POST", "/_control/tick", tick),
        ("POST", "/_control/replay", replay),
    ]


def _asdict(key: Any) -> dict[str, Any]:
    return {"venue": key.venue, "key": key.key, "secret": key.secret, "account": key.account}
