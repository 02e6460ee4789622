"""Backpack Exchange: one WebSocket URL, wrapped frames, no acks, ED25519 auth; REST ``/api/v1``.

Clients send ``{"method":"SUBSCRIBE"|"UNSUBSCRIBE","params":[...]}``; valid requests get no
reply, a bad method or non-JSON gets ``4002 Parse error``, an unknown stream type ``4006``, a bad
depth window ``4008`` (``{"id":null,"error":{...}}``), unknown symbols stay silent. Data frames
are ``{"data":{...},"stream":"<name>"}`` with µs integer times (the 2026 wire). Streams:
``depth.<sym>`` (every tick's changes, ``U == previous u + 1``), ``depth.<200|600|1000>ms.<sym>``,
``bookTicker.<sym>`` (on change, ``u`` = the depth id), ``markPrice.<sym>`` and ``ticker.<sym>``
(every second), ``trade.<sym>``, ``openInterest.<sym>``, ``liquidation``, and the signed
``account.orderUpdate[.<sym>]`` / ``account.positionUpdate[.<sym>]`` (see ``backpack_account``).
REST also serves ``assets``, ``ticker(s)`` (the rolling day) and ``securities`` (no tokenized
stocks), which ccxt loads. REST depth is served one tick behind the stream, bids ascending (best last), prices without
trailing zeros and ``lastUpdateId`` as a string — the real venue's quirks. Pings every 60 s.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiohttp import web

from perpwire.simulator.catalog import stripped
from perpwire.simulator.hub import Conn, Heartbeat
from perpwire.simulator.ladder import DiffAggregator
from perpwire.simulator.model import Book
from perpwire.simulator.servers.backpack_account import BackpackAccountMixin
from perpwire.simulator.servers.base import VenueServer, decode, encode

_TYPES = ("depth", "bookTicker", "markPrice", "ticker", "trade", "kline", "openInterest", "liquidation", "account")
_WINDOWS = {"200ms": 0.2, "600ms": 0.6, "1000ms": 1.0}
_WINDOW = re.compile(r"^(\d+ms)\.(.+)$")
_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class BackpackServer(BackpackAccountMixin, VenueServer):
    name = "backpack"
    heartbeat: ClassVar[Heartbeat] = Heartbeat(ping_s=60.0, pong_timeout_s=120.0)
    max_age_h = None

    def __init__(self, sim: Any, **options: Any) -> None:
        super().__init__(sim, **options)
        self.aggs = {
            (b.inst.symbol, w): DiffAggregator(b.ladder.seq) for b in self.books for w in (0.0, *_WINDOWS.values())
        }
        self.last_bbo: dict[str, Any] = {}
        # REST depth lags the stream by one tick: (state one tick ago, state now)
        self.lagged: dict[str, tuple[Any, Any]] = {b.inst.symbol: (b.ladder.copy_levels(),) * 2 for b in self.books}

    def routes(self) -> list[tuple[str, str, Any]]:
        r = self.rest
        return [
            ("WS", "", self.ws),
            ("WS", "/", self.ws),
            ("GET", "/api/v1/depth", r(self.get_depth)),
            ("GET", "/api/v1/markPrices", r(self.get_mark_prices)),
            ("GET", "/api/v1/fundingRates", r(self.get_funding_rates)),
            ("GET", "/api/v1/markets", r(self.get_markets)),
            ("GET", "/api/v1/market", r(self.get_market)),
            ("GET", "/api/v1/openInterest", r(self.get_open_interest)),
            ("GET", "/api/v1/assets", r(self.get_assets)),
            ("GET", "/api/v1/ticker", r(self.get_ticker)),
            ("GET", "/api/v1/tickers", r(self.get_tickers)),
            ("GET", "/api/v1/securities", r(self.get_securities)),
            ("GET", "/api/v1/status", r(self.get_status)),
            ("GET", "/api/v1/time", r(self.get_time)),
            *self.account_routes(),
        ]

    async def ws(self, request: web.Request) -> web.StreamResponse:
        return await self.serve_ws(request, self.on_text)

    # --- control frames -----------------------------------------------------------------------

    def error(self, conn: Conn, code: int, message: str) -> None:
        conn.reply(encode({"id": None, "error": {"code": code, "message": message}}))

    def on_text(self, conn: Conn, text: str) -> None:
        try:
            msg = decode(text)
        except Exception:
            self.error(conn, 4002, "Parse error")
            return
        if not isinstance(msg, dict) or msg.get("method") not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            self.error(conn, 4002, "Parse error")
            return
        params = msg.get("params")
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            self.error(conn, 4002, "Parse error")
            return
        valid = []
        for p in params:
            kind, _, rest = p.partition(".")
            if kind not in _TYPES:
                self.error(conn, 4006, "Invalid stream")
            elif kind == "depth" and (m := _WINDOW.match(rest)) and m.group(1) not in _WINDOWS:
                self.error(conn, 4008, "Invalid depth window")
            else:
                valid.append(p)
        private = [p for p in valid if p.startswith("account.")]
        if private and msg["method"] == "SUBSCRIBE" and not self.authorize(conn, msg.get("signature")):
            valid = [p for p in valid if not p.startswith("account.")]
        for p in valid:
            if msg["method"] == "SUBSCRIBE":
                if p.startswith("account."):
                    self.subscribe_private(conn, p)
                else:
                    self.add_sub(conn, p)
            else:
                self.remove_sub(conn, self.private_key(conn, p) if p.startswith("account.") else p)

    def frame(self, stream: str, data: dict[str, Any]) -> bytes:
        return encode({"data": data, "stream": stream})

    # --- streams ------------------------------------------------------------------------------

    def book_of(self, stream: str) -> Book | None:
        kind, _, rest = stream.partition(".")
        if kind not in ("depth", "bookTicker", "trade"):
            return None
        return self.by_symbol.get(rest.rpartition(".")[2])

    def on_tick(self) -> None:
        now_us = self.clock.now_us
        for book in self.moved_books():
            sym = book.inst.symbol
            changes = book.ladder.drain()
            for window in (0.0, *_WINDOWS.values()):
                agg = self.aggs[(sym, window)]
                agg.add(changes)
                if window == 0.0 or self.every(window):
                    name = f"depth.{sym}" if window == 0.0 else f"depth.{int(window * 1000)}ms.{sym}"
                    self._depth(book, name, agg, now_us)
            self._book_ticker(book, now_us)
            for t in book.new_trades:
                if self.wanted(f"trade.{sym}"):
                    self.publish(f"trade.{sym}", self.frame(f"trade.{sym}", self.trade(book, t, now_us)))
            for liq in book.new_liqs:
                if self.wanted("liquidation"):
                    self.publish("liquidation", self.frame("liquidation", self.liquidation(book, liq, now_us)))
            self.lagged[sym] = (self.lagged[sym][1], book.ladder.copy_levels())
        if self.every(1.0):
            for book in self.books:
                sym = book.inst.symbol
                if self.wanted(f"markPrice.{sym}"):
                    self.publish(f"markPrice.{sym}", self.frame(f"markPrice.{sym}", self.mark_price(book, now_us)))
                if self.wanted(f"ticker.{sym}"):
                    self.publish(f"ticker.{sym}", self.frame(f"ticker.{sym}", self.ticker(book, now_us)))
        if self.every(60.0):
            for book in self.books:
                name = f"openInterest.{book.inst.symbol}"
                if self.wanted(name):
                    data = {"e": "openInterest", "E": now_us, "s": book.inst.symbol, "o": f"{book.open_interest:.5f}"}
                    self.publish(name, self.frame(name, data))

    def _depth(self, book: Book, name: str, agg: DiffAggregator, now_us: int) -> None:
        if not self.wanted(name):
            agg.flush()
            return
        out = agg.flush()
        if out is None or self.faults.take_skip(self.name, book.inst.symbol):
            return
        first, last, _, bids, asks = out
        data = {"E": now_us, "T": now_us - 200, "U": first, "a": self.levels(book, asks),
                "b": self.levels(book, bids), "e": "depth", "s": book.inst.symbol, "u": last}  # fmt: skip
        self.publish(name, self.frame(name, data))

    def _book_ticker(self, book: Book, now_us: int) -> None:
        name = f"bookTicker.{book.inst.symbol}"
        if not self.wanted(name):
            return
        bbo = book.ladder.bbo()
        if bbo is None or bbo == self.last_bbo.get(name):
            return
        self.last_bbo[name] = bbo
        bb, bq, ba, aq = bbo
        px, sz = book.inst.price_text, book.inst.size_text
        data = {"A": sz(aq), "B": sz(bq), "E": now_us, "T": now_us - 200, "a": px(ba), "b": px(bb),
                "e": "bookTicker", "s": book.inst.symbol, "u": book.ladder.seq}  # fmt: skip
        self.publish(name, self.frame(name, data))

    def rate_text(self, book: Book) -> str:
        return f"{self.funding.rate(self.name, book.inst.asset):.9f}"

    def mark_price(self, book: Book, now_us: int) -> dict[str, Any]:
        dp = book.inst.price_dp
        return {"E": now_us, "T": now_us - 500, "e": "markPrice", "f": self.rate_text(book),
                "i": self.index_text(book, dp), "n": self.funding.next_funding_ms(self.name),
                "p": self.mark_text(book, dp), "s": book.inst.symbol}  # fmt: skip

    def ticker(self, book: Book, now_us: int) -> dict[str, Any]:
        dp = book.inst.price_dp
        last = book.recent[-1].px * book.inst.tick_value if book.recent else book.mid
        vol = book.day_volume
        return {"E": now_us, "V": f"{vol * last:.5f}", "c": f"{last:.{dp}f}", "e": "ticker",
                "h": f"{book.day_high:.{dp}f}", "l": f"{book.day_low:.{dp}f}", "n": len(book.recent),
                "o": f"{book.day_open:.{dp}f}", "s": book.inst.symbol, "v": f"{vol:.5f}"}  # fmt: skip

    def trade(self, book: Book, t: Any, now_us: int) -> dict[str, Any]:
        inst = book.inst
        return {"E": now_us, "T": t.ts * 1000, "a": t.trade_id * 2 + 1, "b": t.trade_id * 2, "e": "trade",
                "m": not t.taker_buy, "p": inst.price_text(t.px), "q": inst.size_text(t.lots), "s": inst.symbol,
                "t": t.trade_id}  # fmt: skip

    def liquidation(self, book: Book, liq: Any, now_us: int) -> dict[str, Any]:
        inst = book.inst
        return {"e": "liquidation", "E": now_us, "q": inst.size_text(liq.lots), "p": inst.price_text(liq.px),
                "S": "Ask" if liq.sell else "Bid", "s": inst.symbol, "T": liq.ts * 1000}  # fmt: skip

    # --- REST ---------------------------------------------------------------------------------

    def error_body(self, status: int, retry_after: int) -> Any:
        return {"code": "TOO_MANY_REQUESTS" if status == 429 else "FORBIDDEN", "message": "Too many requests"}

    def bad(self, message: str, status: int = 400, code: str = "INVALID_CLIENT_REQUEST") -> web.Response:
        return self.json({"code": code, "message": message}, status=status)

    async def get_depth(self, request: web.Request) -> web.StreamResponse:
        book = self.book_or_none(request.query.get("symbol"))
        if book is None:
            return self.bad("Invalid market symbol")
        limit = request.query.get("limit", "1000")
        if not limit.isdigit() or int(limit) not in _LIMITS:
            return web.Response(status=400, text="Invalid limit: must be one of 5, 10, 20, 50, 100, 500, 1000")
        n = int(limit)
        bids, asks, seq = self.lagged[book.inst.symbol][0]
        inst = book.inst
        top_b = sorted(bids.items(), reverse=True)[:n][::-1]  # ascending: best bid last
        top_a = sorted(asks.items())[:n]
        row = lambda p, s: [stripped(inst.price_text(p)), inst.size_text(s)]  # noqa: E731
        return self.json({"asks": [row(p, s) for p, s in top_a], "bids": [row(p, s) for p, s in top_b],
                          "lastUpdateId": str(seq), "timestamp": self.clock.now_us})  # fmt: skip

    def _books(self, request: web.Request) -> list[Book]:
        symbol = request.query.get("symbol")
        return list(self.books) if symbol is None else [b for b in self.books if b.inst.symbol == symbol]

    async def get_mark_prices(self, request: web.Request) -> web.StreamResponse:
        return self.json([
            {"fundingRate": self.rate_text(b), "indexPrice": self.index_text(b), "markPrice": self.mark_text(b),
             "nextFundingTimestamp": self.funding.next_funding_ms(self.name), "symbol": b.inst.symbol}
            for b in self._books(request)
        ])  # fmt: skip

    async def get_funding_rates(self, request: web.Request) -> web.StreamResponse:
        book = self.book_or_none(request.query.get("symbol"))
        if book is None:
            return self.bad("Invalid market symbol")
        try:
            limit = min(int(request.query.get("limit", "100")), 10_000)
            offset = int(request.query.get("offset", "0"))
        except ValueError:
            return web.Response(status=400, text="Invalid query parameters")
        current = (self.funding.next_funding_ms(self.name), self.funding.rate(self.name, book.inst.asset))
        rows = [current, *self.funding.history(self.name, book.inst.asset, newest_first=True)]
        page = rows[offset : offset + limit]
        body = [
            {"fundingRate": f"{r:.9f}", "intervalEndTimestamp": _iso(ts), "symbol": book.inst.symbol} for ts, r in page
        ]
        resp = self.json(body)
        resp.headers.update(
            {
                "X-PAGE-COUNT": str(-(-len(rows) // max(1, limit))),
                "X-TOTAL": str(len(rows)),
                "X-CURRENT-PAGE": str(offset // max(1, limit) + 1),
                "X-PAGE-SIZE": str(limit),
            }
        )
        return resp

    def market(self, book: Book) -> dict[str, Any]:
        inst = book.inst
        return {
            "symbol": inst.symbol, "baseSymbol": inst.asset, "quoteSymbol": inst.quote, "marketType": "PERP",
            "filters": {
                "price": {"minPrice": str(inst.tick), "maxPrice": "10000000", "tickSize": str(inst.tick),
                          "maxMultiplier": "1.25", "minMultiplier": "0.75", "maxImpactMultiplier": "1.03",
                          "minImpactMultiplier": "0.97",
                          "meanMarkPriceBand": {"maxMultiplier": "1.1", "minMultiplier": "0.9"},
                          "meanPremiumBand": {"tolerancePct": "0.05"}, "borrowEntryFeeMaxMultiplier": None,
                          "borrowEntryFeeMinMultiplier": None},
                "quantity": {"minQuantity": str(inst.step), "maxQuantity": None, "stepSize": str(inst.step)},
            },
            "imfFunction": {"type": "sqrt", "base": "0.02", "factor": "0.0001275"},
            "mmfFunction": {"type": "sqrt", "base": "0.0125", "factor": "0.0000765"},
            "fundingInterval": str(inst.interval_h * 3_600_000), "fundingRateUpperBound": "100",
            "fundingRateLowerBound": "-100", "openInterestLimit": "4000000", "orderBookState": "Open",
            "createdAt": "2025-01-21T06:34:54.691858",
        }  # fmt: skip

    async def get_markets(self, request: web.Request) -> web.StreamResponse:
        return self.json([self.market(b) for b in self.books])

    async def get_market(self, request: web.Request) -> web.StreamResponse:
        book = self.book_or_none(request.query.get("symbol"))
        return self.bad("Invalid market symbol") if book is None else self.json(self.market(book))

    async def get_assets(self, request: web.Request) -> web.StreamResponse:
        """Every asset the simulated markets use (bases and USDC), each with one deposit network."""
        names = {"BTC": ("Bitcoin", "Bitcoin"), "ETH": ("Ethereum", "Ethereum"), "SOL": ("Solana", "Solana"),
                 "USDC": ("USD Coin", "Solana")}  # fmt: skip
        used = [b.inst.asset for b in self.books] + ["USDC"]
        return self.json([
            {"symbol": a, "displayName": names[a][0], "coingeckoId": names[a][0].lower().replace(" ", "-"),
             "tokens": [{"displayName": names[a][0], "blockchain": names[a][1], "contractAddress": None,
                         "depositEnabled": True, "minimumDeposit": "0.0001", "withdrawEnabled": True,
                         "minimumWithdrawal": "0.0002", "maximumWithdrawal": None, "withdrawalFee": "0.0001"}]}
            for a in dict.fromkeys(used) if a in names
        ])  # fmt: skip

    def ticker_row(self, book: Book) -> dict[str, Any]:
        """``GET /api/v1/ticker(s)``: the rolling day (``interval`` 1d, the default), numbers as strings."""
        d, dp = self.day(book), book.inst.price_dp
        return {"symbol": book.inst.symbol, "firstPrice": f"{d.open:.{dp}f}", "lastPrice": f"{d.close:.{dp}f}",
                "priceChange": f"{d.change:.{dp}f}", "priceChangePercent": f"{d.change_pct / 100:.6f}",
                "high": f"{d.high:.{dp}f}", "low": f"{d.low:.{dp}f}", "volume": f"{d.volume:.{book.inst.size_dp}f}",
                "quoteVolume": f"{d.quote_volume:.5f}", "trades": str(d.count)}  # fmt: skip

    async def get_ticker(self, request: web.Request) -> web.StreamResponse:
        book = self.book_or_none(request.query.get("symbol"))
        return self.bad("Invalid market symbol") if book is None else self.json(self.ticker_row(book))

    async def get_tickers(self, request: web.Request) -> web.StreamResponse:
        return self.json([self.ticker_row(b) for b in self.books])

    async def get_securities(self, request: web.Request) -> web.StreamResponse:
        """Tokenized stocks (RFQ markets): none are simulated."""
        return self.json([])

    async def get_open_interest(self, request: web.Request) -> web.StreamResponse:
        return self.json([{"openInterest": f"{b.open_interest:.5f}", "symbol": b.inst.symbol, "timestamp": self.now_ms}
                          for b in self._books(request)])  # fmt: skip

    async def get_status(self, request: web.Request) -> web.StreamResponse:
        return self.json({"message": None, "status": "Ok"})

    async def get_time(self, request: web.Request) -> web.StreamResponse:
        return self.json(self.now_ms)
