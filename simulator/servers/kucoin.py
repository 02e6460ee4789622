"""KuCoin Futures: bullet token, ``welcome``, JSON ping/pong, topic subscriptions; REST ``/api/v1``.

``POST /api/v1/bullet-public`` issues a token and names the socket endpoint (this simulator's
``/kucoin/``, ``pingInterval`` 18 s); a socket opened without a known token gets an ``error``
frame and is closed. The first frame is ``{"id":<connectId>,"type":"welcome"}``. Clients send
``{"id","type":"ping"}`` (answered ``pong`` with the same id; a client silent for 60 s is dropped)
and ``{"id","type":"subscribe"|"unsubscribe","topic","response":true}`` (acked with the id as a
string). Topics (comma-separated symbols allowed): ``/contractMarket/tickerV2:{sym}`` (on BBO
change, sizes in integer contracts), ``/contractMarket/ticker:{sym}`` (v1: one per match, the trade
and the touch), ``/contractMarket/level2Depth5|50:{sym}`` (top-N snapshots every 100 ms),
``/contractMarket/level2:{sym}`` (one message per level change, ``sequence`` +1 each, ``change`` =
"price,side,size"), ``/contractMarket/execution:{sym}`` (subject ``match``, one per trade: the
taker's side, size in contracts, ``ts`` in ns), ``/contract/instrument:{sym}`` (``mark.index.price``
every second, ``funding.rate`` every ``funding_rate_s``), ``/contract/announcement[:{sym}]``
(``funding.begin``/``funding.end`` at settlement). Funding numbers are JSON numbers.
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from aiohttp import web

from perpwire.simulator.funding import Settlement
from perpwire.simulator.hub import Conn, Heartbeat
from perpwire.simulator.model import Book
from perpwire.simulator.servers.base import VenueServer, decode, encode

_SYMBOL_TOPICS = ("/contractMarket/tickerV2", "/contractMarket/ticker", "/contractMarket/level2Depth5",
                  "/contractMarket/level2Depth50", "/contractMarket/level2", "/contractMarket/execution",
                  "/contract/instrument", "/contract/announcement")  # fmt: skip
#: topics that publish a book's ladder, touch or trades (their subscribers keep the book moving)
_BOOK_TOPICS = frozenset(_SYMBOL_TOPICS[:6])

# the spot API's currency list (``/api/v3/currencies``): the simulated contracts' bases and their quote
_CURRENCIES = {"BTC": ("Bitcoin", "BTC", "btc"), "ETH": ("Ethereum", "ERC20", "eth"),
               "SOL": ("Solana", "SOL", "sol"), "USDT": ("Tether", "ERC20", "eth")}  # fmt: skip


class KucoinServer(VenueServer):
    name = "kucoin"
    heartbeat: ClassVar[Heartbeat] = Heartbeat(silence_s=60.0)

    def __init__(self, sim: Any, **options: Any) -> None:
        super().__init__(sim, **options)
        self.tokens: set[str] = set()
        self.funding_rate_s = float(options.get("funding_rate_s", 60.0))
        self.last_bbo: dict[str, Any] = {}
        self.ws_endpoint = ""

    def urls(self, base_http: str, base_ws: str) -> dict[str, str]:
        self.ws_endpoint = f"{base_ws}{self.prefix}/"
        return {"ws": self.ws_endpoint, "rest": f"{base_http}{self.prefix}"}

    def routes(self) -> list[tuple[str, str, Any]]:
        r = self.rest
        return [
            ("WS", "/", self.ws),
            ("POST", "/api/v1/bullet-public", r(self.post_bullet)),
            ("GET", "/api/v1/level2/snapshot", r(self.get_level2(None))),
            ("GET", "/api/v1/level2/depth20", r(self.get_level2(20))),
            ("GET", "/api/v1/level2/depth100", r(self.get_level2(100))),
            ("GET", "/api/v1/funding-rate/{symbol}/current", r(self.get_funding_current)),
            ("GET", "/api/v1/contract/funding-rates", r(self.get_funding_history)),
            ("GET", "/api/v1/mark-price/{symbol}/current", r(self.get_mark_price)),
            ("GET", "/api/v1/contracts/active", r(self.get_contracts)),
            ("GET", "/api/v1/contracts/{symbol}", r(self.get_contract)),
            ("GET", "/api/v1/ticker", r(self.get_ticker)),
            ("GET", "/api/v3/currencies", r(self.get_currencies)),
        ]

    # --- socket -------------------------------------------------------------------------------

    async def ws(self, request: web.Request) -> web.StreamResponse:
        connect_id = request.query.get("connectId", secrets.token_hex(5))
        valid = request.query.get("token") in self.tokens

        def opened(conn: Conn) -> None:
            if not valid:
                conn.reply(encode({"id": connect_id, "type": "error", "code": 401, "data": "token is invalid"}))
                conn.close_soon(1000, "token is invalid")
                return
            conn.reply(encode({"id": connect_id, "type": "welcome"}))

        return await self.serve_ws(request, self.on_text, on_open=opened)

    def _error(self, conn: Conn, rid: Any, code: int, data: str) -> None:
        conn.reply(encode({"id": str(rid), "type": "error", "code": code, "data": data}))

    def on_text(self, conn: Conn, text: str) -> None:
        try:
            msg = decode(text)
            kind, rid = msg["type"], msg.get("id", "")
        except Exception:
            self._error(conn, "", 400, "invalid message")
            return
        if kind == "ping":
            conn.reply(encode({"id": str(rid), "type": "pong"}))
            return
        if kind not in ("subscribe", "unsubscribe") or not isinstance(msg.get("topic"), str):
            self._error(conn, rid, 400, f"unsupported message type {kind}")
            return
        prefix, _, syms = msg["topic"].partition(":")
        if prefix not in _SYMBOL_TOPICS:
            self._error(conn, rid, 404, f"topic {msg['topic']} is not found")
            return
        symbols = [s for s in syms.split(",") if s]
        if not symbols and prefix != "/contract/announcement":
            self._error(conn, rid, 400, "symbol is required")
            return
        unknown = [s for s in symbols if s not in self.by_symbol]
        if unknown:
            self._error(conn, rid, 400, f"symbol {unknown[0]} is not found")
            return
        keys = [f"{prefix}:{s}" for s in symbols] or [prefix]
        for key in keys:
            (self.add_sub if kind == "subscribe" else self.remove_sub)(conn, key)
        if msg.get("response", False):
            conn.reply(encode({"id": str(rid), "type": "ack"}))

    def message(self, topic: str, subject: str, data: dict[str, Any], sn: int | None = None) -> bytes:
        out: dict[str, Any] = {"topic": topic, "type": "message", "subject": subject}
        if sn is not None:
            out["sn"] = sn
        out["data"] = data
        return encode(out)

    # --- streams ------------------------------------------------------------------------------

    @staticmethod
    def _rows(book: Book, pairs: list[tuple[int, int]]) -> list[list[Any]]:
        return [[book.inst.price_text(p), s] for p, s in pairs]

    def book_of(self, stream: str) -> Book | None:
        prefix, _, sym = stream.partition(":")
        if prefix not in _BOOK_TOPICS:
            return None
        return self.by_symbol.get(sym)

    def on_tick(self) -> None:
        now = self.now_ms
        depth_due = self.every(0.1)
        for book in self.moved_books():
            sym = book.inst.symbol
            changes = book.ladder.drain()
            topic = f"/contractMarket/level2:{sym}"
            if self.wanted(topic):
                px = book.inst.price_text
                for c in changes:
                    if self.faults.take_skip(self.name, sym):
                        continue
                    data = {"sequence": c.seq, "change": f"{px(c.px)},{'buy' if c.is_bid else 'sell'},{c.size}",
                            "timestamp": now}  # fmt: skip
                    self.publish(topic, self.message(topic, "level2", data, c.seq))
            topic = f"/contractMarket/ticker:{sym}"
            if book.new_trades and self.wanted(topic):
                self._trade_tickers(book, topic, now)
            topic = f"/contractMarket/execution:{sym}"
            if book.new_trades and self.wanted(topic):
                for t in book.new_trades:
                    data = {"symbol": sym, "sequence": t.trade_id, "side": "buy" if t.taker_buy else "sell",
                            "size": t.lots, "price": book.inst.price_text(t.px),
                            "takerOrderId": f"{t.trade_id:018d}", "makerOrderId": f"{t.trade_id + 1:018d}",
                            "tradeId": str(t.trade_id), "ts": t.ts * 1_000_000}  # fmt: skip
                    self.publish(topic, self.message(topic, "match", data, t.trade_id))
            topic = f"/contractMarket/tickerV2:{sym}"
            bbo = book.ladder.bbo()
            if self.wanted(topic) and bbo is not None and bbo != self.last_bbo.get(sym):
                self.last_bbo[sym] = bbo
                bb, bq, ba, aq = bbo
                seq = book.ladder.seq
                data = {
                    "symbol": sym,
                    "sequence": seq,
                    "bestBidSize": bq,
                    "bestBidPrice": book.inst.price_text(bb),
                    "bestAskPrice": book.inst.price_text(ba),
                    "bestAskSize": aq,
                    "ts": now * 1_000_000 + 879_000,
                }
                self.publish(topic, self.message(topic, "tickerV2", data, seq))
            for n in (5, 50):
                topic = f"/contractMarket/level2Depth{n}:{sym}"
                if depth_due and self.wanted(topic):
                    lad = book.ladder
                    data = {
                        "bids": self._rows(book, lad.top(True, n)),
                        "sequence": lad.seq,
                        "timestamp": now,
                        "ts": now,
                        "asks": self._rows(book, lad.top(False, n)),
                    }
                    self.publish(topic, self.message(topic, "level2", data, now))
        for book in self.books if self.every(1.0) or self.every(self.funding_rate_s) else ():
            topic = f"/contract/instrument:{book.inst.symbol}"
            if self.wanted(topic):
                if self.every(1.0):
                    mark = round(self.model.mark_price(book), book.inst.price_dp)
                    index = round(self.model.index_price(book.inst.asset), 2)
                    data = {"markPrice": mark, "indexPrice": index, "granularity": 1000, "timestamp": now}
                    self.publish(topic, self.message(topic, "mark.index.price", data))
                if self.every(self.funding_rate_s):
                    data = {"period": 1, "granularity": 60000, "fundingRate": self._rate(book), "timestamp": now}
                    self.publish(topic, self.message(topic, "funding.rate", data))

    def _trade_tickers(self, book: Book, topic: str, now: int) -> None:
        """Ticker v1: one message per match, the trade with the touch after it."""
        bb, bq, ba, aq = book.ladder.bbo()
        px = book.inst.price_text
        for t in book.new_trades:
            data = {"symbol": book.inst.symbol, "sequence": t.trade_id, "side": "buy" if t.taker_buy else "sell",
                    "price": px(t.px), "size": t.lots, "tradeId": str(t.trade_id), "bestBidSize": bq,
                    "bestBidPrice": px(bb), "bestAskPrice": px(ba), "bestAskSize": aq,
                    "ts": t.ts * 1_000_000 + 4_941}  # fmt: skip
            self.publish(topic, self.message(topic, "ticker", data, t.trade_id))

    def _rate(self, book: Book) -> float:
        return round(self.funding.rate(self.name, book.inst.asset), 6)

    def on_settlement(self, s: Settlement) -> None:
        book = self.by_asset[s.asset]
        sym = book.inst.symbol
        for subject, ts in (("funding.begin", s.ts), ("funding.end", s.ts + 10_000)):
            data = {"symbol": sym, "fundingTime": s.ts, "fundingRate": round(s.rate, 6), "timestamp": ts}
            frame = self.message("/contract/announcement", subject, data)
            self.publish(f"/contract/announcement:{sym}", frame)
            self.publish("/contract/announcement", frame)

    # --- REST ---------------------------------------------------------------------------------

    def ok(self, data: Any) -> web.Response:
        return self.json({"code": "200000", "data": data})

    def fail(self, code: str, msg: str, status: int = 400) -> web.Response:
        return self.json({"code": code, "msg": msg}, status=status)

    def error_body(self, status: int, retry_after: int) -> Any:
        return {"code": "429000", "msg": "Too Many Requests"}

    async def post_bullet(self, request: web.Request) -> web.StreamResponse:
        token = secrets.token_urlsafe(96)
        self.tokens.add(token)
        return self.ok({"token": token, "instanceServers": [{"endpoint": self.ws_endpoint, "encrypt": False,
                                                             "protocol": "websocket", "pingInterval": 18000,
                                                             "pingTimeout": 10000}]})  # fmt: skip

    def get_level2(self, limit: int | None) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            book = self.book_or_none(request.query.get("symbol"))
            if book is None:
                return self.fail("400100", "symbol is invalid")
            lad = book.ladder
            num = lambda p: float(book.inst.price_text(p))  # noqa: E731  the REST snapshot prints numbers
            return self.ok({"sequence": lad.seq, "symbol": book.inst.symbol,
                            "bids": [[num(p), s] for p, s in lad.top(True, limit)],
                            "asks": [[num(p), s] for p, s in lad.top(False, limit)],
                            "ts": self.now_ms * 1_000_000 + 766_000})  # fmt: skip

        return handler

    def _path_book(self, request: web.Request) -> Book | None:
        return self.book_or_none(request.match_info.get("symbol"))

    async def get_funding_current(self, request: web.Request) -> web.StreamResponse:
        book = self._path_book(request)
        if book is None:
            return self.fail("400100", "symbol is invalid")
        last = self.funding.last_settlement(self.name, book.inst.asset)
        # value: the rate the coming settlement charges (the model's live rate); timePoint: the
        # period's start. The model has one live rate, so the prediction for the period after is
        # the same number.
        return self.ok({"symbol": f".{book.inst.symbol}FPI8H", "granularity": book.inst.interval_h * 3_600_000,
                        "timePoint": last[0] if last else 0, "value": self._rate(book),
                        "predictedValue": self._rate(book), "fundingRateCap": 0.003, "fundingRateFloor": -0.003,
                        "period": 0, "fundingTime": self.funding.next_funding_ms(self.name)})  # fmt: skip

    async def get_funding_history(self, request: web.Request) -> web.StreamResponse:
        book = self.book_or_none(request.query.get("symbol"))
        if book is None:
            return self.fail("400100", "symbol is invalid")
        try:
            start = int(request.query["from"]) if "from" in request.query else None
            end = int(request.query["to"]) if "to" in request.query else None
        except ValueError:
            return self.fail("400100", "from/to must be integers")
        rows = self.funding.history(self.name, book.inst.asset, start_ms=start, end_ms=end, newest_first=True)[:100]
        return self.ok([{"symbol": book.inst.symbol, "fundingRate": round(r, 6), "timepoint": ts} for ts, r in rows])

    async def get_mark_price(self, request: web.Request) -> web.StreamResponse:
        book = self._path_book(request)
        if book is None:
            return self.fail("400100", "symbol is invalid")
        return self.ok({"symbol": book.inst.symbol, "granularity": 1000, "timePoint": self.now_ms,
                        "value": round(self.model.mark_price(book), book.inst.price_dp),
                        "indexPrice": round(self.model.index_price(book.inst.asset), 2)})  # fmt: skip

    def contract(self, book: Book) -> dict[str, Any]:
        inst = book.inst
        base = "XBT" if inst.asset == "BTC" else inst.asset
        mark = round(self.model.mark_price(book), inst.price_dp)
        return {
            "symbol": inst.symbol, "rootSymbol": "USDT", "type": "FFWCSX", "firstOpenDate": 1585555200000,
            "expireDate": None, "settleDate": None, "baseCurrency": base, "quoteCurrency": "USDT",
            "settleCurrency": "USDT", "maxOrderQty": 1000000, "maxPrice": 1000000.0, "lotSize": 1,
            "tickSize": float(inst.tick), "indexPriceTickSize": 0.01, "multiplier": float(inst.contract),
            "initialMargin": 0.008, "maintainMargin": 0.004, "maxRiskLimit": 100000, "minRiskLimit": 100000,
            "riskStep": 50000, "makerFeeRate": 0.0002, "takerFeeRate": 0.0006, "takerFixFee": 0.0,
            "makerFixFee": 0.0, "settlementFee": None, "isDeleverage": True, "isQuanto": True, "isInverse": False,
            "markMethod": "FairPrice", "fairMethod": "FundingRate", "fundingBaseSymbol": f".{base}INT8H",
            "fundingQuoteSymbol": ".USDTINT8H", "fundingRateSymbol": f".{inst.symbol}FPI8H",
            "indexSymbol": f".K{base}USDT", "settlementSymbol": "", "status": "Open",
            "fundingFeeRate": self._rate(book), "predictedFundingFeeRate": self._rate(book),
            "fundingRateGranularity": inst.interval_h * 3_600_000,
            "openInterest": str(int(book.open_interest / float(inst.contract))),
            "turnoverOf24h": book.day_volume * mark, "volumeOf24h": book.day_volume, "markPrice": mark,
            "indexPrice": round(self.model.index_price(inst.asset), 2), "lastTradePrice": mark,
            "nextFundingRateTime": self.funding.next_funding_ms(self.name) - self.now_ms, "maxLeverage": 125,
            "sourceExchanges": ["binance", "kucoin", "bybit"], "premiumsSymbol1M": f".{inst.symbol}PI",
            "premiumsSymbol8H": f".{inst.symbol}PI8H", "fundingBaseSymbol1M": f".{base}INT",
            "fundingQuoteSymbol1M": ".USDTINT", "lowPrice": book.day_low, "highPrice": book.day_high,
            "priceChgPct": round(book.mid / book.day_open - 1, 4), "priceChg": round(book.mid - book.day_open, 1),
            "k": 490.0, "m": 300.0, "f": 1.3, "mmrLimit": 0.3, "mmrLevConstant": 125.0, "supportCross": True,
            "buyLimit": round(mark * 1.05, 4), "sellLimit": round(mark * 0.95, 4),
        }  # fmt: skip

    async def get_contract(self, request: web.Request) -> web.StreamResponse:
        book = self._path_book(request)
        return self.fail("400100", "symbol is invalid") if book is None else self.ok(self.contract(book))

    async def get_contracts(self, request: web.Request) -> web.StreamResponse:
        return self.ok([self.contract(b) for b in self.books])

    async def get_currencies(self, request: web.Request) -> web.StreamResponse:
        """The spot API's ``GET /api/v3/currencies`` (ccxt loads it with the futures markets)."""
        wanted = {b.inst.asset for b in self.books} | {"USDT"}
        rows = []
        for code, (full, chain, chain_id) in _CURRENCIES.items():
            if code not in wanted:
                continue
            rows.append({
                "currency": code, "name": code, "fullName": full, "precision": 8, "confirms": None,
                "contractAddress": None, "isMarginEnabled": True, "isDebitEnabled": True,
                "chains": [{"chainName": chain, "withdrawalMinSize": "0.001", "depositMinSize": "0.0001",
                            "withdrawFeeRate": "0", "withdrawalMinFee": "0.0005", "isWithdrawEnabled": True,
                            "isDepositEnabled": True, "confirms": 12, "preConfirms": 12, "contractAddress": "",
                            "withdrawPrecision": 8, "maxWithdraw": None, "maxDeposit": None, "needTag": False,
                            "chainId": chain_id}],
            })  # fmt: skip
        return self.ok(rows)

    async def get_ticker(self, request: web.Request) -> web.StreamResponse:
        book = self.book_or_none(request.query.get("symbol"))
        if book is None:
            return self.fail("400100", "symbol is invalid")
        bb, bq, ba, aq = book.ladder.bbo()
        last = book.recent[-1] if book.recent else None
        px = book.inst.price_text
        return self.ok({"sequence": book.ladder.seq, "symbol": book.inst.symbol,
                        "side": "buy" if last is None or last.taker_buy else "sell", "size": last.lots if last else 0,
                        "tradeId": str(last.trade_id if last else 0), "price": px(last.px if last else bb),
                        "bestBidPrice": px(bb), "bestBidSize": bq, "bestAskPrice": px(ba), "bestAskSize": aq,
                        "ts": self.now_ms * 1_000_000})  # fmt: skip
