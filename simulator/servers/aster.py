"""Aster futures (Binance USD-M compatible, no 2026 URL split): market streams and REST.

WebSocket: ``/ws`` and ``/ws/<s1>/<s2>`` (raw payloads), ``/stream?streams=<s1>/<s2>`` (every
frame wrapped as ``{"stream","data"}``), ``/ws/<listenKey>`` (user data, see ``aster_user``).
Control frames ``SUBSCRIBE``/``UNSUBSCRIBE``/``LIST_SUBSCRIPTIONS``/``SET_PROPERTY``/
``GET_PROPERTY`` are answered with ``{"result","id"}`` or the documented ``{"code","msg"}``
errors; more than ``max_msgs_per_s`` client frames in a second closes the socket; the server
pings with protocol frames. Streams: ``<sym>@bookTicker`` (on change), ``<sym>@depth<N>[@speed]``
(top-N ``depthUpdate`` snapshots), ``<sym>@depth[@speed]`` (diffs chained by ``pu``),
``<sym>@markPrice[@1s]``, ``!markPrice@arr[@1s]``, ``<sym>@forceOrder``, ``!forceOrder@arr``
(≤1 per symbol per second), ``<sym>@aggTrade``, ``!bookTicker``, ``<sym>@ticker``
(``24hrTicker``) and ``<sym>@miniTicker`` every 500 ms, ``!ticker@arr`` and ``!miniTicker@arr``
every second. A control frame may leave out ``id`` (the answer then carries ``"id":null``), as
the real venue allows. Diff and partial-depth events of one cadence share ``U/u/pu``; REST
``lastUpdateId`` is the book's current id, so the documented sync procedure bridges. Unknown
stream names are acknowledged and stay silent.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from aiohttp import web

from perpwire.simulator.hub import Conn, Heartbeat
from perpwire.simulator.ladder import DiffAggregator
from perpwire.simulator.model import Book
from perpwire.simulator.servers.aster_rest import BinanceRestMixin
from perpwire.simulator.servers.aster_user import BinanceUserMixin
from perpwire.simulator.servers.base import VenueServer, decode, encode

_STREAM = re.compile(
    r"^([a-z0-9]+)@(bookTicker|aggTrade|forceOrder|markPrice|ticker|miniTicker|depth(5|10|20)?)(@(1s|100ms|250ms|500ms))?$"
)
_SPEEDS = {"100ms": 0.1, "250ms": 0.25, "500ms": 0.5}
_METHODS = "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"


class AsterServer(BinanceUserMixin, BinanceRestMixin, VenueServer):
    name = "aster"
    heartbeat: ClassVar[Heartbeat] = Heartbeat(ping_s=300.0, pong_timeout_s=900.0)
    max_streams = 200
    max_msgs_per_s = 10
    api_prefixes: ClassVar[tuple[str, ...]] = ("/fapi/v1", "/fapi/v3")

    def __init__(self, sim: Any, **options: Any) -> None:
        super().__init__(sim, **options)
        self.max_msgs_per_s = options.get("max_msgs_per_s", type(self).max_msgs_per_s)
        self.aggs: dict[tuple[str, float], DiffAggregator] = {
            (b.inst.symbol, s): DiffAggregator(b.ladder.seq) for b in self.books for s in _SPEEDS.values()
        }
        self.last_bbo: dict[str, tuple[int, int, int, int] | None] = {b.inst.symbol: None for b in self.books}
        self.last_liq_ms: dict[str, int] = {}
        self.lower = {b.inst.symbol.lower(): b for b in self.books}
        self.init_user()

    # --- routes -------------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("WS", "/ws", self.ws_raw),
            ("WS", "/ws/{path:.+}", self.ws_raw),
            ("WS", "/stream", self.ws_combined),
            ("GET", "/api/v3/exchangeInfo", self.rest(self.get_spot_exchange_info)),
            *self.rest_routes(),
            *self.user_routes(),
        ]

    async def get_spot_exchange_info(self, request: web.Request) -> web.StreamResponse:
        """Aster's spot API (``sapi`` host, ``/api/v3``): the simulator lists no spot markets."""
        return self.json({
            "timezone": "UTC", "serverTime": self.now_ms,
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                           {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
            "exchangeFilters": [], "assets": [], "symbols": [],
        })  # fmt: skip

    async def ws_raw(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info.get("path", "")
        names = [p for p in path.split("/") if p]
        if len(names) == 1 and "@" not in names[0] and not names[0].startswith("!"):
            return await self.ws_user(request, names[0])
        return await self._ws(request, names, combined=False)

    async def ws_combined(self, request: web.Request) -> web.StreamResponse:
        names = [p for p in request.query.get("streams", "").split("/") if p]
        return await self._ws(request, names, combined=True)

    async def _ws(self, request: web.Request, names: list[str], *, combined: bool) -> web.StreamResponse:
        def opened(conn: Conn) -> None:
            conn.state["combined"] = combined
            for name in names[: self.max_streams]:
                self.add_sub(conn, name)

        return await self.serve_ws(request, self.on_text, on_open=opened)

    # --- control frames -----------------------------------------------------------------------

    def _too_chatty(self, conn: Conn) -> bool:
        now = self.clock.wall_ms() // 1000
        window, count = conn.state.get("rate", (now, 0))
        count = count + 1 if window == now else 1
        conn.state["rate"] = (now, count)
        return count > self.max_msgs_per_s

    def on_text(self, conn: Conn, text: str) -> None:
        if self._too_chatty(conn):
            conn.close_soon(1008, "too many messages")
            return
        try:
            msg = decode(text)
        except Exception:
            conn.reply(encode({"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}))
            return
        if not isinstance(msg, dict) or "method" not in msg:
            conn.reply(
                encode({"code": 2, "msg": f"Invalid request: missing field `method` at line 1 column {len(text)}"})
            )
            return
        rid = msg.get("id")  # may be left out: the venue then answers with "id": null
        if rid is not None and (isinstance(rid, bool) or not isinstance(rid, int) or rid < 0):
            conn.reply(encode({"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}))
            return
        method, params = msg["method"], msg.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                conn.reply(encode({"code": 2, "msg": "Invalid request: invalid type: expected a sequence of strings"}))
                return
            if method == "SUBSCRIBE":
                if len(conn.subs | set(params)) > self.max_streams:
                    conn.reply(encode({"code": 2, "msg": "Invalid request: too many streams", "id": rid}))
                    return
                for p in params:
                    self.add_sub(conn, p)
            else:
                for p in params:
                    self.remove_sub(conn, p)
            conn.reply(encode({"result": None, "id": rid}))
        elif method == "LIST_SUBSCRIPTIONS":
            conn.reply(encode({"result": sorted(conn.subs), "id": rid}))
        elif method in ("SET_PROPERTY", "GET_PROPERTY"):
            self._property(conn, method, params, rid)
        else:
            conn.reply(
                encode(
                    {
                        "code": 2,
                        "msg": f"Invalid request: unknown variant `{method}`, expected one of {_METHODS}"
                        " at line 1 column 28",
                    }
                )
            )

    def _property(self, conn: Conn, method: str, params: Any, rid: int | None) -> None:
        if not isinstance(params, list) or not params or not isinstance(params[0], str):
            conn.reply(encode({"code": 2, "msg": "Invalid request: property name must be a string"}))
        elif params[0] != "combined":
            conn.reply(encode({"code": 0, "msg": "Unknown property", "id": rid}))
        elif method == "GET_PROPERTY":
            conn.reply(encode({"result": bool(conn.state.get("combined")), "id": rid}))
        elif len(params) < 2 or not isinstance(params[1], bool):
            conn.reply(encode({"code": 1, "msg": "Invalid value type: expected Boolean"}))
        else:
            conn.state["combined"] = params[1]
            conn.reply(encode({"result": None, "id": rid}))

    def publish(self, stream: str, data: bytes) -> None:
        subs = self.subs.get(stream)
        if not subs:
            return
        wrapped = None
        for conn in tuple(subs):
            if conn.state.get("combined"):
                if wrapped is None:
                    wrapped = b'{"stream":"' + stream.encode() + b'","data":' + data + b"}"
                conn.push(wrapped, stream)
            else:
                conn.push(data, stream)

    # --- market streams -----------------------------------------------------------------------

    def book_of(self, stream: str) -> Book | None:
        m = _STREAM.match(stream)
        if m is None or m.group(2) in ("markPrice", "forceOrder"):
            return None
        return self.lower.get(m.group(1))

    def on_tick(self) -> None:
        now = self.now_ms
        flush = {s: self.every(s) for s in _SPEEDS.values()}
        for book in self.moved_books():
            sym = book.inst.symbol
            low = sym.lower()
            changes = book.ladder.drain()
            for speed in _SPEEDS.values():
                agg = self.aggs[(sym, speed)]
                agg.add(changes)
                if flush[speed]:
                    self._depth(book, low, speed, agg, now)
            self._book_ticker(book, low, now)
            for t in book.new_trades:
                if self.wanted(f"{low}@aggTrade"):
                    self.publish(f"{low}@aggTrade", encode(self.agg_trade(book, t, now)))
            for liq in book.new_liqs:
                self._force_order(book, low, liq, now)
        if self.every(0.5):
            self._tickers(now)
        if self.every(1.0):
            self._mark_prices("@1s", now)
            self.user_tick()
        if self.every(3.0):
            self._mark_prices("", now)

    def _depth(self, book: Book, low: str, speed: float, agg: DiffAggregator, now: int) -> None:
        label = f"@{int(speed * 1000)}ms"
        names = [f"{low}@depth{label}"] + ([f"{low}@depth"] if speed == 0.25 else [])
        partial = [(n, f"{low}@depth{n}{label}") for n in (5, 10, 20)]
        if speed == 0.25:
            partial += [(n, f"{low}@depth{n}") for n in (5, 10, 20)]
        if not any(self.wanted(n) for n in names) and not any(self.wanted(n) for _, n in partial):
            agg.flush()
            return
        out = agg.flush()
        if out is None or self.faults.take_skip(self.name, book.inst.symbol):
            return
        first, last, prev, bids, asks = out
        head = {"e": "depthUpdate", "E": now, "T": now, "s": book.inst.symbol, "U": first, "u": last, "pu": prev}
        if any(self.wanted(n) for n in names):
            frame = encode(
                {**head, "b": self.levels(book, bids), "a": self.levels(book, asks)} | self.extra_depth(book)
            )
            for n in names:
                self.publish(n, frame)
        for depth, n in partial:
            if self.wanted(n):
                lad = book.ladder
                body = {"b": self.levels(book, lad.top(True, depth)), "a": self.levels(book, lad.top(False, depth))}
                self.publish(n, encode({**head, **body} | self.extra_depth(book)))

    def extra_depth(self, book: Book) -> dict[str, Any]:
        return {}

    def book_ticker(self, book: Book, bbo: tuple[int, int, int, int], now: int) -> dict[str, Any]:
        bb, bq, ba, aq = bbo
        inst = book.inst
        return {
            "e": "bookTicker",
            "u": book.ladder.seq,
            "s": inst.symbol,
            "b": inst.price_text(bb),
            "B": inst.size_text(bq),
            "a": inst.price_text(ba),
            "A": inst.size_text(aq),
            "T": now,
            "E": now,
        }

    def _book_ticker(self, book: Book, low: str, now: int) -> None:
        name = f"{low}@bookTicker"
        if not (self.wanted(name) or self.wanted("!bookTicker")):
            return
        bbo = book.ladder.bbo()
        if bbo is None or bbo == self.last_bbo[book.inst.symbol]:
            return
        self.last_bbo[book.inst.symbol] = bbo
        frame = encode(self.book_ticker(book, bbo, now))
        self.publish(name, frame)
        self.publish("!bookTicker", frame)

    def agg_trade(self, book: Book, t: Any, now: int) -> dict[str, Any]:
        inst = book.inst
        return {
            "e": "aggTrade", "E": now, "a": t.trade_id, "s": inst.symbol, "p": inst.price_text(t.px),
            "q": inst.size_text(t.lots), "f": t.trade_id, "l": t.trade_id, "T": t.ts, "m": not t.taker_buy,
        }  # fmt: skip

    def force_order(self, book: Book, liq: Any, now: int) -> dict[str, Any]:
        inst = book.inst
        px, qty = inst.price_text(liq.px), inst.size_text(liq.lots)
        order = {
            "s": inst.symbol, "S": "SELL" if liq.sell else "BUY", "o": "LIMIT", "f": "IOC", "q": qty, "p": px,
            "ap": px, "X": "FILLED", "l": qty, "z": qty, "T": liq.ts,
        }  # fmt: skip
        return {"e": "forceOrder", "E": now, "o": order}

    def _force_order(self, book: Book, low: str, liq: Any, now: int) -> None:
        # the venue samples: at most one liquidation per symbol per second
        if now - self.last_liq_ms.get(book.inst.symbol, -10_000) < 1000:
            return
        self.last_liq_ms[book.inst.symbol] = now
        frame = encode(self.force_order(book, liq, now))
        self.publish(f"{low}@forceOrder", frame)
        self.publish("!forceOrder@arr", frame)

    def mark_price(self, book: Book, now: int) -> dict[str, Any]:
        idx = self.index_text(book)
        return {
            "e": "markPriceUpdate",
            "E": now,
            "s": book.inst.symbol,
            "p": self.mark_text(book),
            "P": idx,
            "i": idx,
            "r": f"{self.funding.rate(self.name, book.inst.asset):.8f}",
            "T": self.funding.next_funding_ms(self.name),
        }

    def ticker(self, book: Book, now: int) -> dict[str, Any]:
        """The ``24hrTicker`` event (key order of the live capture)."""
        d, inst = self.day(book), book.inst
        dp = inst.price_dp
        return {
            "e": "24hrTicker", "E": now, "s": inst.symbol, "p": f"{d.change:.{dp}f}", "P": f"{d.change_pct:.3f}",
            "w": f"{d.vwap:.{dp}f}", "c": f"{d.close:.{dp}f}", "Q": inst.size_text(d.last_lots),
            "o": f"{d.open:.{dp}f}", "h": f"{d.high:.{dp}f}", "l": f"{d.low:.{dp}f}",
            "v": f"{d.volume:.{inst.size_dp}f}", "q": f"{d.quote_volume:.2f}", "O": d.open_ms, "C": now,
            "F": d.first_id, "L": d.last_id, "n": d.count,
        }  # fmt: skip

    def mini_ticker(self, book: Book, now: int) -> dict[str, Any]:
        """The ``24hrMiniTicker`` event: the ticker's prices and volumes only."""
        full = self.ticker(book, now)
        return {"e": "24hrMiniTicker", **{k: full[k] for k in ("E", "s", "c", "o", "h", "l", "v", "q")}}

    def _tickers(self, now: int) -> None:
        """``<sym>@ticker``/``@miniTicker`` every 500 ms, ``!ticker@arr``/``!miniTicker@arr`` every second."""
        for kind, build in (("ticker", self.ticker), ("miniTicker", self.mini_ticker)):
            all_name = f"!{kind}@arr"
            every_s = self.every(1.0) and self.wanted(all_name)
            rows = []
            for book in self.books:
                name = f"{book.inst.symbol.lower()}@{kind}"
                if self.wanted(name) or every_s:
                    obj = build(book, now)
                    if self.wanted(name):
                        self.publish(name, encode(obj))
                    rows.append(obj)
            if every_s and rows:
                self.publish(all_name, encode(rows))

    def _mark_prices(self, suffix: str, now: int) -> None:
        frames = []
        for book in self.books:
            name = f"{book.inst.symbol.lower()}@markPrice{suffix}"
            all_name = f"!markPrice@arr{suffix}"
            if self.wanted(name) or self.wanted(all_name):
                obj = self.mark_price(book, now)
                frames.append(obj)
                if self.wanted(name):
                    self.publish(name, encode(obj))
        if frames and self.wanted(f"!markPrice@arr{suffix}"):
            self.publish(f"!markPrice@arr{suffix}", encode(frames))

    def symbol_info(self, book: Book) -> dict[str, Any]:
        info = super().symbol_info(book)
        # Aster-only fields seen in its live exchangeInfo
        info.update(symbolType=0, tradingMode=0, name=book.inst.asset, channel="{}", sequenceNo=100)
        info["filters"][-1].update(ltMultiplierDown="0.9700", ltMultiplierUp="1.0300")
        return info

    @staticmethod
    def valid_stream(name: str) -> bool:
        return bool(_STREAM.match(name)) or name in (
            "!markPrice@arr", "!markPrice@arr@1s", "!forceOrder@arr", "!bookTicker", "!ticker@arr",
            "!miniTicker@arr",
        )  # fmt: skip
