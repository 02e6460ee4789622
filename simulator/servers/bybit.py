"""Bybit v5 linear: ``/v5/public/linear`` with snapshot+delta books and tickers; REST ``/v5/market``.

Clients send ``{"op":"subscribe"|"unsubscribe","args":[...],"req_id"?}`` and get one ack per
request (``success`` false with ``ret_msg`` naming the bad topic, e.g. the removed depth 500),
and ``{"op":"ping"}`` answered by a pong whose ``op`` is ``"ping"``. Topics:
``orderbook.{1|50|200|1000}.{sym}`` (a snapshot on subscribe, then deltas of the top-N window
at 20/100/200 ms with ``u`` +1 per message; level 1 is snapshot-only), ``tickers.{sym}``
(snapshot, then every 100 ms a delta carrying only the fields that changed), ``publicTrade.{sym}``
and ``allLiquidation.{sym}`` (``S`` = the liquidated position's side). All values are strings.
The server drops clients silent for 10 minutes. REST: ``orderbook`` (its ``u`` is the 1000-level
stream's), ``tickers``, ``funding/history`` (settled, newest first), ``instruments-info`` (linear perpetuals;
the spot, inverse and option categories are listed empty, as ccxt asks for every category).
"""

from __future__ import annotations

import re
import uuid
from typing import Any, ClassVar

from aiohttp import web

from perpwire.simulator.hub import Conn, Heartbeat
from perpwire.simulator.model import Book
from perpwire.simulator.servers.base import VenueServer, decode, encode

_TOPIC = re.compile(r"^(orderbook)\.(\d+)\.(\w+)$|^(tickers|publicTrade|allLiquidation)\.(\w+)$")
_DEPTH_CADENCE = {1: 0.05, 50: 0.05, 200: 0.1, 1000: 0.2}


class BybitServer(VenueServer):
    name = "bybit"
    heartbeat: ClassVar[Heartbeat] = Heartbeat(silence_s=600.0)
    max_age_h = None

    def __init__(self, sim: Any, **options: Any) -> None:
        super().__init__(sim, **options)
        self.ob: dict[tuple[str, int], dict[str, Any]] = {}  # (sym, depth) -> {"bids","asks","u"}
        self.tickers: dict[str, dict[str, str]] = {}

    def urls(self, base_http: str, base_ws: str) -> dict[str, str]:
        return {"ws": f"{base_ws}{self.prefix}/v5/public/linear", "rest": f"{base_http}{self.prefix}"}

    def routes(self) -> list[tuple[str, str, Any]]:
        r = self.rest
        return [
            ("WS", "/v5/public/linear", self.ws),
            ("GET", "/v5/market/orderbook", r(self.get_orderbook)),
            ("GET", "/v5/market/tickers", r(self.get_tickers)),
            ("GET", "/v5/market/funding/history", r(self.get_funding_history)),
            ("GET", "/v5/market/instruments-info", r(self.get_instruments)),
        ]

    async def ws(self, request: web.Request) -> web.StreamResponse:
        def opened(conn: Conn) -> None:
            conn.state["conn_id"] = str(uuid.uuid4())

        return await self.serve_ws(request, self.on_text, on_open=opened, on_close=self._gc)

    def _gc(self, conn: Conn) -> None:
        for key in [k for k in self.ob if f"orderbook.{k[1]}.{k[0]}" not in self.subs]:
            del self.ob[key]

    # --- control frames -----------------------------------------------------------------------

    def ack(self, conn: Conn, op: str, req_id: Any, ok: bool, msg: str = "") -> None:
        conn.reply(encode({"success": ok, "ret_msg": msg, "conn_id": conn.state["conn_id"],
                           "req_id": "" if req_id is None else str(req_id), "op": op}))  # fmt: skip

    def on_text(self, conn: Conn, text: str) -> None:
        try:
            msg = decode(text)
            op = msg["op"]
        except Exception:
            self.ack(conn, "", None, False, "error:invalid op")
            return
        req_id = msg.get("req_id")
        if op == "ping":
            conn.reply(encode({"success": True, "ret_msg": "pong", "conn_id": conn.state["conn_id"],
                               "req_id": "" if req_id is None else str(req_id), "op": "ping"}))  # fmt: skip
            return
        args = msg.get("args")
        if (
            op not in ("subscribe", "unsubscribe")
            or not isinstance(args, list)
            or not all(isinstance(a, str) for a in args)
        ):
            self.ack(conn, str(op), req_id, False, f"error:invalid op {op}")
            return
        for topic in args:
            problem = self._check(topic)
            if problem:
                self.ack(conn, op, req_id, False, problem)
                return
        if op == "subscribe":
            dup = [t for t in args if t in conn.subs]
            if dup:
                self.ack(conn, op, req_id, False, f"error:already subscribed,topic:{dup[0]}")
                return
            self.ack(conn, op, req_id, True)
            for topic in args:
                self.add_sub(conn, topic)
                self._snapshot(conn, topic)
        else:
            for topic in args:
                self.remove_sub(conn, topic)
            self._gc(conn)
            self.ack(conn, op, req_id, True)

    def _check(self, topic: str) -> str | None:
        m = _TOPIC.match(topic)
        if m is None:
            return f"Invalid topic :[{topic}]"
        if m.group(1):
            if int(m.group(2)) not in _DEPTH_CADENCE:
                return f"error:handler not found,topic:{topic}"
            sym = m.group(3)
        else:
            sym = m.group(5)
        return None if sym in self.by_symbol else f"Invalid symbol :[{topic}]"

    def _snapshot(self, conn: Conn, topic: str) -> None:
        kind, _, rest = topic.partition(".")
        if kind == "orderbook":
            depth_s, _, sym = rest.partition(".")
            state = self._ob_state(sym, int(depth_s))
            conn.push(
                self._ob_frame(self.by_symbol[sym], topic, "snapshot", state["bids"], state["asks"], state["u"]), topic
            )
        elif kind == "tickers":
            state = self.tickers.get(rest) or self.tickers.setdefault(rest, self.ticker(self.by_symbol[rest]))
            conn.push(self._ticker_frame(topic, "snapshot", state, self.by_symbol[rest]), topic)

    # --- books --------------------------------------------------------------------------------

    def _ob_state(self, sym: str, depth: int) -> dict[str, Any]:
        state = self.ob.get((sym, depth))
        if state is None:
            lad = self.by_symbol[sym].ladder
            state = {"bids": dict(lad.top(True, depth)), "asks": dict(lad.top(False, depth)),
                     "u": 1 + (lad.seq % 10_000_000)}  # fmt: skip
            self.ob[(sym, depth)] = state
        return state

    def _ob_frame(self, book: Book, topic: str, kind: str, bids: dict[int, int], asks: dict[int, int], u: int) -> bytes:
        inst, now = book.inst, self.now_ms
        b, a = sorted(bids.items(), reverse=True), sorted(asks.items())
        data = {"s": inst.symbol, "b": self.levels(book, b), "a": self.levels(book, a), "u": u, "seq": book.ladder.seq}
        return encode({"topic": topic, "type": kind, "ts": now, "data": data, "cts": now - 2})

    def _publish_books(self) -> None:
        for (sym, depth), state in list(self.ob.items()):
            if not self.every(_DEPTH_CADENCE[depth]):
                continue
            topic = f"orderbook.{depth}.{sym}"
            book = self.by_symbol[sym]
            lad = book.ladder
            bids, asks = dict(lad.top(True, depth)), dict(lad.top(False, depth))
            db = {p: s for p, s in bids.items() if state["bids"].get(p) != s}
            db.update({p: 0 for p in state["bids"] if p not in bids})
            da = {p: s for p, s in asks.items() if state["asks"].get(p) != s}
            da.update({p: 0 for p in state["asks"] if p not in asks})
            if not db and not da:
                continue
            state.update(bids=bids, asks=asks, u=state["u"] + 1)
            if self.faults.take_skip(self.name, sym):
                continue
            if depth == 1:  # level 1 is snapshot-only
                self.publish(topic, self._ob_frame(book, topic, "snapshot", bids, asks, state["u"]))
            else:
                self.publish(topic, self._ob_frame(book, topic, "delta", db, da, state["u"]))

    # --- tickers ------------------------------------------------------------------------------

    def ticker(self, book: Book) -> dict[str, str]:
        inst, dp = book.inst, book.inst.price_dp
        bb, bq, ba, aq = book.ladder.bbo()
        last = book.recent[-1].px * inst.tick_value if book.recent else book.mid
        mark = self.model.mark_price(book)
        return {
            "symbol": inst.symbol, "tickDirection": "PlusTick" if last >= book.mid else "MinusTick",
            "price24hPcnt": f"{(last / book.day_open - 1):.6f}", "lastPrice": f"{last:.{dp}f}",
            "prevPrice24h": f"{book.day_open:.{dp}f}", "highPrice24h": f"{book.day_high:.{dp}f}",
            "lowPrice24h": f"{book.day_low:.{dp}f}", "prevPrice1h": f"{book.day_open:.{dp}f}",
            "markPrice": f"{mark:.{dp}f}", "indexPrice": self.index_text(book, dp),
            "openInterest": f"{book.open_interest:.3f}", "openInterestValue": f"{book.open_interest * mark:.2f}",
            "turnover24h": f"{book.day_volume * mark:.4f}", "volume24h": f"{book.day_volume:.4f}",
            "fundingIntervalHour": str(inst.interval_h), "fundingCap": "0.005",
            "nextFundingTime": str(self.funding.next_funding_ms(self.name)),
            "fundingRate": f"{self.funding.rate(self.name, inst.asset):.6f}",
            "bid1Price": inst.price_text(bb), "bid1Size": inst.size_text(bq), "ask1Price": inst.price_text(ba),
            "ask1Size": inst.size_text(aq), "preOpenPrice": "", "preQty": "", "curPreListingPhase": "",
        }  # fmt: skip

    def _ticker_frame(self, topic: str, kind: str, data: dict[str, str], book: Book) -> bytes:
        return encode({"topic": topic, "type": kind, "data": data, "cs": book.ladder.seq, "ts": self.now_ms})

    # --- tick ---------------------------------------------------------------------------------

    def book_of(self, stream: str) -> Book | None:
        kind, _, rest = stream.partition(".")
        if kind not in ("orderbook", "publicTrade"):
            return None
        return self.by_symbol.get(rest.rpartition(".")[2])

    def on_tick(self) -> None:
        moved = self.moved_books()
        for book in moved:
            book.ladder.drain()  # books are diffed from the ladder itself, not from its change log
        self._publish_books()
        now = self.now_ms
        for book in moved:
            sym = book.inst.symbol
            topic = f"publicTrade.{sym}"
            if book.new_trades and self.wanted(topic):
                data = [{"T": t.ts, "s": sym, "S": "Buy" if t.taker_buy else "Sell", "v": book.inst.size_text(t.lots),
                         "p": book.inst.price_text(t.px), "L": "ZeroPlusTick", "i": str(uuid.UUID(int=t.trade_id)),
                         "BT": False} for t in book.new_trades]  # fmt: skip
                self.publish(topic, encode({"topic": topic, "type": "snapshot", "ts": now, "data": data}))
            topic = f"allLiquidation.{sym}"
            if book.new_liqs and self.wanted(topic):
                data = [{"T": liq.ts, "s": sym, "S": "Buy" if liq.sell else "Sell", "v": book.inst.size_text(liq.lots),
                         "p": book.inst.price_text(liq.px)} for liq in book.new_liqs]  # fmt: skip
                self.publish(topic, encode({"topic": topic, "type": "snapshot", "ts": now, "data": data}))
        if self.every(0.1):
            for book in self.books:
                sym = book.inst.symbol
                topic = f"tickers.{sym}"
                if not self.wanted(topic):
                    self.tickers.pop(sym, None)
                    continue
                new = self.ticker(book)
                old = self.tickers.get(sym, {})
                delta = {k: v for k, v in new.items() if old.get(k) != v}
                self.tickers[sym] = new
                if delta:
                    self.publish(topic, self._ticker_frame(topic, "delta", {"symbol": sym, **delta}, book))

    # --- REST ---------------------------------------------------------------------------------

    def envelope(self, result: Any, code: int = 0, msg: str = "OK", status: int = 200) -> web.Response:
        return self.json({"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": self.now_ms},
                         status=status)  # fmt: skip

    def error_body(self, status: int, retry_after: int) -> Any:
        return {"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {}, "time": self.now_ms}

    async def get_orderbook(self, request: web.Request) -> web.StreamResponse:
        book = self.book_or_none(request.query.get("symbol"))
        if request.query.get("category") != "linear" or book is None:
            return self.envelope({}, 10001, "params error: symbol invalid")
        try:
            limit = max(1, min(int(request.query.get("limit", "25")), 1000))
        except ValueError:
            return self.envelope({}, 10001, "params error: limit invalid")
        lad, now = book.ladder, self.now_ms
        state = self.ob.get((book.inst.symbol, 1000))
        u = state["u"] if state else 1 + (lad.seq % 10_000_000)
        return self.envelope({"s": book.inst.symbol, "a": self.levels(book, lad.top(False, limit)),
                              "b": self.levels(book, lad.top(True, limit)), "ts": now, "u": u, "seq": lad.seq,
                              "cts": now - 2})  # fmt: skip

    async def get_tickers(self, request: web.Request) -> web.StreamResponse:
        symbol = request.query.get("symbol")
        books = [b for b in self.books if symbol is None or b.inst.symbol == symbol]
        if request.query.get("category") != "linear" or not books:
            return self.envelope({}, 10001, "params error: symbol invalid")
        return self.envelope({"category": "linear", "list": [self.ticker(b) for b in books]})

    async def get_funding_history(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        book = self.book_or_none(q.get("symbol"))
        if book is None or q.get("category") not in ("linear", "inverse"):
            return self.envelope({}, 10001, "params error: symbol invalid")
        if "startTime" in q and "endTime" not in q:
            return self.envelope({}, 10001, "params error: endTime is required when startTime is set")
        try:
            start = int(q["startTime"]) if "startTime" in q else None
            end = int(q["endTime"]) if "endTime" in q else None
            limit = max(1, min(int(q.get("limit", "200")), 200))
        except ValueError:
            return self.envelope({}, 10001, "params error")
        rows = self.funding.history(self.name, book.inst.asset, start_ms=start, end_ms=end, newest_first=True)[:limit]
        return self.envelope({"category": q["category"], "list": [
            {"symbol": book.inst.symbol, "fundingRate": f"{r:.6f}", "fundingRateTimestamp": str(ts)} for ts, r in rows
        ]})  # fmt: skip

    async def get_instruments(self, request: web.Request) -> web.StreamResponse:
        """Linear perpetuals only: spot, inverse and option lists are empty (none are simulated), as is
        ``status=PreLaunch``; an unknown category is the venue's params error."""
        q = request.query
        category = q.get("category")
        if category not in ("linear", "inverse", "spot", "option"):
            return self.envelope({}, 10001, "params error: category is invalid")
        books = self.books if category == "linear" and q.get("status", "Trading") == "Trading" else []
        if "symbol" in q:
            books = [b for b in books if b.inst.symbol == q["symbol"]]
        if "baseCoin" in q:
            books = [b for b in books if b.inst.asset == q["baseCoin"]]
        rows = [self.instrument(b) for b in books]
        return self.envelope({"category": category, "list": rows, "nextPageCursor": ""})

    def instrument(self, b: Book) -> dict[str, Any]:
        inst = b.inst
        step = str(inst.step)
        return {
            "symbol": inst.symbol, "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": inst.asset,
            "quoteCoin": "USDT", "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "",
            "priceScale": str(inst.price_dp),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": str(inst.tick), "maxPrice": "1999999.80", "tickSize": str(inst.tick)},
            "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": step, "qtyStep": step,
                              "postOnlyMaxOrderQty": "1190.000", "maxMktOrderQty": "500.000",
                              "minNotionalValue": "5"},
            "unifiedMarginTrade": True, "fundingInterval": inst.interval_h * 60, "settleCoin": "USDT",
            "copyTrading": "both", "upperFundingRate": "0.005", "lowerFundingRate": "-0.005", "isPreListing": False,
            "preListingInfo": None,
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"}, "displayName": "",
        }  # fmt: skip
