"""REST market data of the Binance-style venues (Aster, Binance USD-M): ``/fapi/v1/...``.

``depth`` (limits 5–1000, ``lastUpdateId`` = the book's current update id), ``premiumIndex``,
``fundingRate`` (settled history, ascending), ``fundingInfo``, ``exchangeInfo``,
``ticker/bookTicker``, ``ticker/24hr`` (the model's day so far), ``time`` and ``ping``; errors use
the venues' ``{"code","msg"}`` body (``-1121 Invalid symbol.``, ``-1130`` for a bad ``limit``) and
injected 429/418 answers carry ``-1003`` and ``Retry-After``. Aster also serves the same paths under ``/fapi/v3``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from perpwire.simulator.model import Book

_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


class BinanceRestMixin:
    """Mixed into a VenueServer subclass; relies on its books, funding and json helpers."""

    api_prefixes: tuple[str, ...] = ("/fapi/v1",)

    def rest_routes(self: Any) -> list[tuple[str, str, Any]]:
        out = []
        for p in self.api_prefixes:
            out += [
                ("GET", f"{p}/depth", self.rest(self.get_depth)),
                ("GET", f"{p}/premiumIndex", self.rest(self.get_premium_index)),
                ("GET", f"{p}/fundingRate", self.rest(self.get_funding_rate)),
                ("GET", f"{p}/fundingInfo", self.rest(self.get_funding_info)),
                ("GET", f"{p}/exchangeInfo", self.rest(self.get_exchange_info)),
                ("GET", f"{p}/ticker/bookTicker", self.rest(self.get_book_ticker)),
                ("GET", f"{p}/ticker/24hr", self.rest(self.get_ticker_24hr)),
                ("GET", f"{p}/time", self.rest(self.get_time)),
                ("GET", f"{p}/ping", self.rest(self.get_ping)),
            ]
        return out

    def error_body(self: Any, status: int, retry_after: int) -> Any:
        if status == 418:
            until = self.clock.wall_ms() + retry_after * 1000
            msg = (
                f"Way too many requests; IP(127.0.0.1) banned until {until}. "
                "Please use the websocket for live updates to avoid bans."
            )
            return {"code": -1003, "msg": msg}
        if status == 429:
            return {
                "code": -1003,
                "msg": "Too many requests; current limit of IP(127.0.0.1) is 2400 requests per minute. "
                "Please use the websocket for live updates to avoid polling the API.",
            }
        return {"code": -1000, "msg": "An unknown error occurred while processing the request."}

    def bad(self: Any, code: int, msg: str, status: int = 400) -> web.Response:
        return self.json({"code": code, "msg": msg}, status=status)

    def _symbol_books(self: Any, request: web.Request) -> list[Book] | web.Response:
        symbol = request.query.get("symbol")
        if symbol is None:
            return list(self.books)
        book = self.by_symbol.get(symbol)
        if book is None:
            return self.bad(-1121, "Invalid symbol.")
        return [book]

    async def get_depth(self: Any, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol")
        if symbol is None:
            return self.bad(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        book = self.by_symbol.get(symbol)
        if book is None:
            return self.bad(-1121, "Invalid symbol.")
        try:
            limit = int(request.query.get("limit", "500"))
        except ValueError:
            limit = -1
        if limit not in _DEPTH_LIMITS:
            return self.bad(-1130, "Data sent for parameter 'limit' is not valid.")
        lad, now = book.ladder, self.now_ms
        return self.json(
            {
                "lastUpdateId": lad.seq,
                "E": now,
                "T": now,
                "bids": self.levels(book, lad.top(True, limit)),
                "asks": self.levels(book, lad.top(False, limit)),
            }
        )

    def premium_row(self: Any, book: Book) -> dict[str, Any]:
        idx = self.index_text(book)
        return {
            "symbol": book.inst.symbol,
            "markPrice": self.mark_text(book),
            "indexPrice": idx,
            "estimatedSettlePrice": idx,
            "lastFundingRate": f"{self.funding.rate(self.name, book.inst.asset):.8f}",
            "nextFundingTime": self.funding.next_funding_ms(self.name),
            "interestRate": "0.00010000",
            "time": self.now_ms,
        }

    async def get_premium_index(self: Any, request: web.Request) -> web.Response:
        books = self._symbol_books(request)
        if isinstance(books, web.Response):
            return books
        rows = [self.premium_row(b) for b in books]
        return self.json(rows[0] if "symbol" in request.query else rows)

    def funding_row(self: Any, book: Book, ts: int, rate: float) -> dict[str, Any]:
        return {"symbol": book.inst.symbol, "fundingRate": f"{rate:.8f}", "fundingTime": ts}

    async def get_funding_rate(self: Any, request: web.Request) -> web.Response:
        books = self._symbol_books(request)
        if isinstance(books, web.Response):
            return books
        q = request.query
        try:
            limit = int(q.get("limit", "100"))
            start = int(q["startTime"]) if "startTime" in q else None
            end = int(q["endTime"]) if "endTime" in q else None
        except ValueError:
            return self.bad(-1100, "Illegal characters found in a parameter.")
        limit = max(1, min(limit, 1000))
        rows: list[tuple[int, Book, float]] = []
        for b in books:
            hist = self.funding.history(self.name, b.inst.asset, start_ms=start, end_ms=end)
            rows += [(ts, b, r) for ts, r in hist]
        rows.sort(key=lambda r: r[0])
        rows = rows[:limit] if start is not None else rows[-limit:]
        return self.json([self.funding_row(b, ts, r) for ts, b, r in rows])

    async def get_funding_info(self: Any, request: web.Request) -> web.Response:
        return self.json([self.funding_info_row(b) for b in self.books])

    def funding_info_row(self: Any, book: Book) -> dict[str, Any]:
        return {
            "symbol": book.inst.symbol,
            "interestRate": "0.00010000",
            "time": self.now_ms,
            "fundingIntervalHours": book.inst.interval_h,
            "fundingFeeCap": 0.03,
            "fundingFeeFloor": -0.03,
        }

    def symbol_info(self: Any, book: Book) -> dict[str, Any]:
        inst = book.inst
        tick, step = str(inst.tick), str(inst.step)
        return {
            "symbol": inst.symbol, "pair": inst.symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000", "baseAsset": inst.asset, "quoteAsset": inst.quote,
            "marginAsset": inst.quote, "pricePrecision": inst.price_dp, "quantityPrecision": inst.size_dp,
            "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [],
            "settlePlan": 0, "triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.05",
            "filters": [
                {"minPrice": tick, "maxPrice": "10000000", "filterType": "PRICE_FILTER", "tickSize": tick},
                {"stepSize": step, "filterType": "LOT_SIZE", "maxQty": "100000", "minQty": step},
                {"stepSize": step, "filterType": "MARKET_LOT_SIZE", "maxQty": "1000", "minQty": step},
                {"limit": 200, "filterType": "MAX_NUM_ORDERS"},
                {"limit": 10, "filterType": "MAX_NUM_ALGO_ORDERS"},
                {"notional": "5", "filterType": "MIN_NOTIONAL"},
                {"multiplierDown": "0.9500", "multiplierUp": "1.0500", "multiplierDecimal": "4",
                 "filterType": "PERCENT_PRICE"},
            ],
            "orderTypes": ["LIMIT", "MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        }  # fmt: skip

    async def get_exchange_info(self: Any, request: web.Request) -> web.Response:
        quotes = sorted({b.inst.quote for b in self.books})
        return self.json(
            {
                "timezone": "UTC",
                "serverTime": self.now_ms,
                "futuresType": "U_MARGINED",
                "rateLimits": [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
                ],
                "exchangeFilters": [],
                "assets": [{"asset": q, "marginAvailable": True, "autoAssetExchange": "-10000"} for q in quotes],
                "symbols": [self.symbol_info(b) for b in self.books],
            }
        )

    async def get_book_ticker(self: Any, request: web.Request) -> web.Response:
        books = self._symbol_books(request)
        if isinstance(books, web.Response):
            return books
        rows = []
        for b in books:
            bb, bq, ba, aq = b.ladder.bbo()
            inst = b.inst
            rows.append({
                "symbol": inst.symbol, "bidPrice": inst.price_text(bb), "bidQty": inst.size_text(bq),
                "askPrice": inst.price_text(ba), "askQty": inst.size_text(aq), "time": self.now_ms,
            })  # fmt: skip
        return self.json(rows[0] if "symbol" in request.query else rows)

    def ticker_24hr_row(self: Any, book: Book) -> dict[str, Any]:
        d, inst = self.day(book), book.inst
        dp = inst.price_dp
        return {
            "symbol": inst.symbol, "priceChange": f"{d.change:.{dp}f}", "priceChangePercent": f"{d.change_pct:.3f}",
            "weightedAvgPrice": f"{d.vwap:.{dp}f}", "lastPrice": f"{d.close:.{dp}f}",
            "lastQty": inst.size_text(d.last_lots), "openPrice": f"{d.open:.{dp}f}", "highPrice": f"{d.high:.{dp}f}",
            "lowPrice": f"{d.low:.{dp}f}", "volume": f"{d.volume:.{inst.size_dp}f}",
            "quoteVolume": f"{d.quote_volume:.2f}", "openTime": d.open_ms, "closeTime": self.now_ms,
            "firstId": d.first_id, "lastId": d.last_id, "count": d.count,
        }  # fmt: skip

    async def get_ticker_24hr(self: Any, request: web.Request) -> web.Response:
        books = self._symbol_books(request)
        if isinstance(books, web.Response):
            return books
        rows = [self.ticker_24hr_row(b) for b in books]
        return self.json(rows[0] if "symbol" in request.query else rows)

    async def get_time(self: Any, request: web.Request) -> web.Response:
        return self.json({"serverTime": self.now_ms})

    async def get_ping(self: Any, request: web.Request) -> web.Response:
        return self.json({})
