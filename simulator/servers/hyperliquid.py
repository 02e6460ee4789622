"""Hyperliquid: ``/ws`` with one subscription object per frame; ``POST /info`` for REST.

``{"method":"subscribe"|"unsubscribe","subscription":{...}}`` is acknowledged on channel
``subscriptionResponse`` with the defaults filled in (``l2Book``: ``nSigFigs``, ``mantissa``,
``fast``); ``{"method":"ping"}`` gets ``{"channel":"pong"}``; a malformed request gets
``{"channel":"error","data":"Error parsing JSON into valid websocket request: <frame>"}``, a
repeat ``Already subscribed: ...``. An unknown coin closes the whole socket ~100 ms later with
no close frame (the client sees 1006), as the real venue does. Channels: ``l2Book`` (whole book
every ~5.4 s, 20 levels; ``fast``: 5 levels every ~0.54 s), ``bbo`` (when the touch changes),
``activeAssetCtx`` (every second; ``funding`` is already a fraction per hour), ``allMids``
(on subscribe, then every 5 s), ``trades``; ``post`` requests answer ``info`` queries. The server
drops a socket it has sent nothing on for 60 s. ``/info`` takes ``meta``, ``metaAndAssetCtxs``,
``l2Book``, ``fundingHistory``, ``predictedFundings``, ``allMids``, ``exchangeStatus``, and for
clients such as ccxt ``spotMeta``/``spotMetaAndAssetCtxs`` (no spot pairs; the USDC token) and
``perpDexs`` (the first dex only).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from aiohttp import web

from perpwire.simulator.catalog import stripped
from perpwire.simulator.hub import Conn, Heartbeat
from perpwire.simulator.model import Book
from perpwire.simulator.servers.base import VenueServer, decode, encode

_COIN_TYPES = ("l2Book", "bbo", "activeAssetCtx", "trades", "candle")
#: subscription keys that publish a coin's ladder (their subscribers keep the book moving)
_BOOK_KEYS = ('{"type":"l2Book"', '{"type":"bbo"', '{"type":"trades"')
_USER_TYPES = ("orderUpdates", "userEvents", "userFills", "userFundings")


class HyperliquidServer(VenueServer):
    name = "hyperliquid"
    heartbeat: ClassVar[Heartbeat] = Heartbeat(idle_s=60.0)
    max_age_h = None

    def __init__(self, sim: Any, **options: Any) -> None:
        super().__init__(sim, **options)
        self.last_bbo: dict[str, Any] = {}

    def urls(self, base_http: str, base_ws: str) -> dict[str, str]:
        return {"ws": f"{base_ws}{self.prefix}/ws", "rest": f"{base_http}{self.prefix}"}

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("WS", "/ws", self.ws), ("POST", "/info", self.rest(self.post_info))]

    async def ws(self, request: web.Request) -> web.StreamResponse:
        return await self.serve_ws(request, self.on_text)

    # --- control frames -----------------------------------------------------------------------

    def _parse_error(self, conn: Conn, text: str) -> None:
        conn.reply(encode({"channel": "error", "data": f"Error parsing JSON into valid websocket request: {text}"}))

    def normalise(self, sub: Any) -> dict[str, Any] | None:
        """The subscription with defaults filled, or None when it is not a valid request."""
        if not isinstance(sub, dict) or not isinstance(sub.get("type"), str):
            return None
        kind = sub["type"]
        if kind in _COIN_TYPES:
            if not isinstance(sub.get("coin"), str):
                return None
            if kind == "l2Book":
                n, m = sub.get("nSigFigs"), sub.get("mantissa")
                if (n is not None and n not in (2, 3, 4, 5)) or (m is not None and (n != 5 or m not in (1, 2, 5))):
                    return {"type": kind, "coin": "\x00invalid"}  # a bad nSigFigs kills the socket too
                return {
                    "type": kind,
                    "coin": sub["coin"],
                    "nSigFigs": n,
                    "mantissa": m,
                    "fast": bool(sub.get("fast", False)),
                }
            if kind == "candle":
                return {"type": kind, "coin": sub["coin"], "interval": str(sub.get("interval", "1m"))}
            return {"type": kind, "coin": sub["coin"]}
        if kind == "allMids":
            return {"type": kind, **({"dex": sub["dex"]} if "dex" in sub else {})}
        if kind in _USER_TYPES and isinstance(sub.get("user"), str):
            return {"type": kind, "user": sub["user"]}
        return None

    def on_text(self, conn: Conn, text: str) -> Any:
        try:
            msg = decode(text)
            method = msg["method"]
        except Exception:
            self._parse_error(conn, text)
            return None
        if method == "ping":
            conn.reply(b'{"channel":"pong"}')
            return None
        if method == "post":
            return self._post(conn, msg, text)
        if method not in ("subscribe", "unsubscribe"):
            self._parse_error(conn, text)
            return None
        sub = self.normalise(msg.get("subscription"))
        if sub is None:
            self._parse_error(conn, text)
            return None
        if "coin" in sub and sub["coin"] not in self.by_symbol:
            return self._kill(conn)
        key = encode(sub).decode()
        if method == "subscribe":
            if not self.add_sub(conn, key):
                conn.reply(encode({"channel": "error", "data": f"Already subscribed: {key}"}))
                return None
            conn.reply(encode({"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}}))
            self._first(conn, sub, key)
        else:
            if not self.remove_sub(conn, key):
                conn.reply(encode({"channel": "error", "data": f"Already unsubscribed: {key}"}))
                return None
            conn.reply(encode({"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}}))
        return None

    async def _kill(self, conn: Conn) -> None:
        await asyncio.sleep(0.1)
        conn.abort()

    def _first(self, conn: Conn, sub: dict[str, Any], key: str) -> None:
        kind = sub["type"]
        if kind == "allMids":
            conn.push(encode({"channel": "allMids", "data": self.all_mids()}), key)
        elif kind == "userFills":
            conn.push(
                encode({"channel": "userFills", "data": {"isSnapshot": True, "user": sub["user"], "fills": []}}), key
            )
        elif kind == "userFundings":
            data = {"isSnapshot": True, "user": sub["user"], "fundings": []}
            conn.push(encode({"channel": "userFundings", "data": data}), key)
        elif kind == "l2Book":
            book = self.by_symbol[sub["coin"]]
            conn.push(encode({"channel": "l2Book", "data": self.l2(book, 5 if sub["fast"] else 20)}), key)

    def _post(self, conn: Conn, msg: dict[str, Any], text: str) -> None:
        req = msg.get("request")
        if not isinstance(req, dict) or req.get("type") != "info" or not isinstance(req.get("payload"), dict):
            self._parse_error(conn, text)
            return
        payload = req["payload"]
        status, data = self.info(payload)
        response = {"type": "info", "payload": {"type": payload.get("type"), "data": data}}
        if status != 200:
            response = {"type": "error", "payload": str(data)}
        conn.reply(encode({"channel": "post", "data": {"id": msg.get("id"), "response": response}}))

    # --- data ---------------------------------------------------------------------------------

    @staticmethod
    def _level(book: Book, px: int, sz: int) -> dict[str, Any]:
        return {"px": book.inst.price_text(px), "sz": book.inst.size_text(sz), "n": 1 + sz % 37}

    def l2(self, book: Book, n: int) -> dict[str, Any]:
        lad = book.ladder
        return {"coin": book.inst.symbol, "time": self.now_ms,
                "levels": [[self._level(book, p, s) for p, s in lad.top(True, n)],
                           [self._level(book, p, s) for p, s in lad.top(False, n)]]}  # fmt: skip

    def ctx(self, book: Book) -> dict[str, Any]:
        dp = book.inst.price_dp
        mark = self.model.mark_price(book)
        oracle = self.model.index_price(book.inst.asset)
        bb, _, ba, _ = book.ladder.bbo()
        return {
            "funding": stripped(f"{self.funding.rate_per_hour(self.name, book.inst.asset):.10f}"),
            "openInterest": f"{book.open_interest:.5f}", "prevDayPx": f"{book.day_open:.{dp}f}",
            "dayNtlVlm": f"{book.day_volume * mark:.10f}", "premium": f"{(mark - oracle) / oracle:.10f}",
            "oraclePx": f"{oracle:.{dp}f}", "markPx": f"{mark:.{dp}f}", "midPx": f"{book.mid:.{dp + 1}f}",
            "impactPxs": [book.inst.price_text(bb), book.inst.price_text(ba)], "dayBaseVlm": f"{book.day_volume:.5f}",
        }  # fmt: skip

    def all_mids(self) -> dict[str, Any]:
        return {"mids": {b.inst.symbol: f"{b.mid:.{b.inst.price_dp + 1}f}" for b in self.books}}

    def book_of(self, stream: str) -> Book | None:
        if not stream.startswith(_BOOK_KEYS):
            return None
        coin = stream.partition('"coin":"')[2].partition('"')[0]
        return self.by_symbol.get(coin)

    def on_tick(self) -> None:
        now = self.now_ms
        slow, fast = self.every(5.4), self.every(0.54)
        for book in self.moved_books():
            book.ladder.drain()
            coin = book.inst.symbol
            for is_fast, due in ((False, slow), (True, fast)):
                if due:
                    for n in (None, 2, 3, 4, 5):
                        key = encode({"type": "l2Book", "coin": coin, "nSigFigs": n, "mantissa": None, "fast": is_fast})
                        if self.wanted(key.decode()):
                            self.publish(
                                key.decode(), encode({"channel": "l2Book", "data": self.l2(book, 5 if is_fast else 20)})
                            )
            key = f'{{"type":"bbo","coin":"{coin}"}}'
            bbo = book.ladder.bbo()
            if self.wanted(key) and bbo is not None and bbo != self.last_bbo.get(coin):
                self.last_bbo[coin] = bbo
                bb, bq, ba, aq = bbo
                data = {"coin": coin, "time": now, "bbo": [self._level(book, bb, bq), self._level(book, ba, aq)]}
                self.publish(key, encode({"channel": "bbo", "data": data}))
            key = f'{{"type":"trades","coin":"{coin}"}}'
            if book.new_trades and self.wanted(key):
                data = [{"coin": coin, "side": "B" if t.taker_buy else "A", "px": book.inst.price_text(t.px),
                         "sz": book.inst.size_text(t.lots), "time": t.ts, "hash": f"0x{t.trade_id:064x}",
                         "tid": t.trade_id,
                         "users": ["0x" + "a" * 40, "0x" + "b" * 40]} for t in book.new_trades]  # fmt: skip
                self.publish(key, encode({"channel": "trades", "data": data}))
        for book in self.books if self.every(1.0) else ():
            coin = book.inst.symbol
            key = f'{{"type":"activeAssetCtx","coin":"{coin}"}}'
            if self.wanted(key):
                self.publish(key, encode({"channel": "activeAssetCtx", "data": {"coin": coin, "ctx": self.ctx(book)}}))
        if self.every(5.0) and self.wanted('{"type":"allMids"}'):
            self.publish('{"type":"allMids"}', encode({"channel": "allMids", "data": self.all_mids()}))

    # --- REST ---------------------------------------------------------------------------------

    def info(self, body: dict[str, Any]) -> tuple[int, Any]:
        kind = body.get("type")
        if kind == "meta":
            return 200, self.meta()
        if kind == "metaAndAssetCtxs":
            return 200, [self.meta(), [self.ctx(b) for b in self.books]]
        if kind == "l2Book":
            book = self.by_symbol.get(body.get("coin"))  # type: ignore[arg-type]
            return 200, None if book is None else self.l2(book, 20)
        if kind == "spotMeta":
            return 200, self.spot_meta()
        if kind == "spotMetaAndAssetCtxs":
            return 200, [self.spot_meta(), []]
        if kind == "perpDexs":
            return 200, [None]  # the first perp dex (null) only: no builder-deployed (HIP-3) dexes
        if kind == "allMids":
            return 200, self.all_mids()["mids"]
        if kind == "exchangeStatus":
            return 200, {"specialStatuses": None, "time": self.now_ms}
        if kind == "fundingHistory":
            if not isinstance(body.get("startTime"), int):
                return 422, "Failed to deserialize the JSON body into the target type: missing field `startTime`"
            book = self.by_symbol.get(body.get("coin"))  # type: ignore[arg-type]
            if book is None:
                return 500, None
            rows = self.funding.history(self.name, book.inst.asset, start_ms=body["startTime"],
                                        end_ms=body.get("endTime"), limit=500)  # fmt: skip
            return 200, [{"coin": book.inst.symbol, "fundingRate": stripped(f"{r:.10f}"),
                          "premium": f"{r * 8 - 0.0001:.8f}", "time": ts + 37} for ts, r in rows]  # fmt: skip
        if kind == "predictedFundings":
            nxt = self.funding.next_funding_ms(self.name)
            per_hour = self.funding.rate_per_hour
            rates = {b.inst.symbol: stripped(f"{per_hour(self.name, b.inst.asset):.10f}") for b in self.books}
            return 200, [[coin, [["HlPerp", {"fundingRate": r, "nextFundingTime": nxt}]]] for coin, r in rates.items()]
        return 422, "Failed to deserialize the JSON body into the target type"

    def meta(self) -> dict[str, Any]:
        return {"universe": [{"name": b.inst.symbol, "szDecimals": b.inst.size_dp, "maxLeverage": 40,
                              "marginTableId": 56} for b in self.books],
                "marginTables": [[56, {"description": "tiered 40x", "marginTiers": [
                    {"lowerBound": "0.0", "maxLeverage": 40}, {"lowerBound": "150000000.0", "maxLeverage": 20}]}]],
                "collateralToken": 0}  # fmt: skip

    @staticmethod
    def spot_meta() -> dict[str, Any]:
        """No spot pairs are simulated; the one token is USDC, the perps' collateral (``collateralToken`` 0)."""
        usdc = {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0,
                "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054", "isCanonical": True, "evmContract": None,
                "fullName": None, "deployerTradingFeeShare": "0.0"}  # fmt: skip
        return {"universe": [], "tokens": [usdc]}

    async def post_info(self, request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            return web.Response(status=415, text="Expected request with `Content-Type: application/json`")
        try:
            body = decode(await request.read())
        except Exception:
            return web.Response(status=400, text="Failed to parse the request body as JSON")
        if not isinstance(body, dict):
            return web.Response(status=422, text="Failed to deserialize the JSON body into the target type")
        status, data = self.info(body)
        if status == 422:
            return web.Response(status=422, text=data)
        return self.json(data, status=status)
