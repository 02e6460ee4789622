"""Lighter: one socket for everything, ``connected`` first, nonce-chained books; REST ``/api/v1``.

The socket lives at ``/stream``. The first frame is ``{"session_id","type":"connected"}``.
Clients send ``{"type":"subscribe"|"unsubscribe","channel":"order_book/0"}`` (with ``"auth"`` for
account channels), ``{"type":"ping"}`` (answered ``{"type":"pong"}``) and ``jsonapi/sendtx``;
the server names channels with ``:`` and the first id only. Errors are bare ``{"error":{code,
message}}`` frames: 30005 invalid channel (unknown market or kind), 30003 already subscribed (no
snapshot re-sent), 30002 not subscribed, 20001/20013 auth. Public channels: ``order_book/{id}``
(full snapshot on subscribe, then every tick's changes with ``begin_nonce`` = the previous
``nonce``), ``ticker/{id}`` (on BBO change), ``market_stats/{id|all}`` (every second; funding in
percent per hour, 4 dp truncated), ``trade/{id}`` (replays the last 50 on subscribe), ``height``.
The server pings with ``{"type":"ping"}`` and drops clients silent for two minutes; every
connection closes at 24 h. Account channels and transactions: ``lighter_account``.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_DOWN, Decimal
from typing import Any, ClassVar

from aiohttp import web

from perpwire.simulator.hub import Conn, Heartbeat
from perpwire.simulator.ladder import DiffAggregator
from perpwire.simulator.model import Book
from perpwire.simulator.servers.base import VenueServer, decode, encode
from perpwire.simulator.servers.lighter_account import LighterAccountMixin

_PUBLIC = ("order_book", "ticker", "market_stats", "trade", "height")
_PCT4 = Decimal("0.0001")


def err(code: int, message: str) -> bytes:
    return encode({"error": {"code": code, "message": message}})


class LighterServer(LighterAccountMixin, VenueServer):
    name = "lighter"
    heartbeat: ClassVar[Heartbeat] = Heartbeat(ping_s=60.0, app_ping=b'{"type":"ping"}', pong_timeout_s=120.0,
                                               silence_s=120.0)  # fmt: skip

    def __init__(self, sim: Any, **options: Any) -> None:
        super().__init__(sim, **options)
        self.by_id: dict[str, Book] = {str(b.inst.market_id): b for b in self.books}
        self.aggs = {b.inst.market_id: DiffAggregator(b.ladder.seq) for b in self.books}
        self.offset = 415_803
        self.height = 301_813_997
        self.last_bbo: dict[int, Any] = {}
        self.init_account()

    def urls(self, base_http: str, base_ws: str) -> dict[str, str]:
        return {"ws": f"{base_ws}{self.prefix}/stream", "rest": f"{base_http}{self.prefix}"}

    def routes(self) -> list[tuple[str, str, Any]]:
        r = self.rest
        return [
            ("WS", "/stream", self.ws),
            ("GET", "/api/v1/orderBooks", r(self.get_order_books)),
            ("GET", "/api/v1/orderBookDetails", r(self.get_order_book_details)),
            ("GET", "/api/v1/orderBookOrders", r(self.get_order_book_orders)),
            ("GET", "/api/v1/recentTrades", r(self.get_recent_trades)),
            ("GET", "/api/v1/fundings", r(self.get_fundings)),
            ("GET", "/api/v1/funding-rates", r(self.get_funding_rates)),
            ("GET", "/api/v1/assetDetails", r(self.get_asset_details)),
            *self.account_routes(),
        ]

    async def ws(self, request: web.Request) -> web.StreamResponse:
        def opened(conn: Conn) -> None:
            conn.reply(encode({"session_id": str(uuid.uuid4()), "type": "connected"}))

        return await self.serve_ws(request, self.on_text, on_open=opened)

    # --- control frames -----------------------------------------------------------------------

    def on_text(self, conn: Conn, text: str) -> None:
        try:
            msg = decode(text)
        except Exception:
            conn.reply(err(30000, "Invalid message"))
            return
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "ping":
            conn.reply(b'{"type":"pong"}')
        elif kind == "pong":
            pass
        elif kind in ("subscribe", "unsubscribe") and isinstance(msg.get("channel"), str):
            (self.subscribe if kind == "subscribe" else self.unsubscribe)(conn, msg["channel"], msg.get("auth"))
        elif kind in ("jsonapi/sendtx", "jsonapi/sendtxbatch"):
            self.ws_sendtx(conn, msg)
        else:
            conn.reply(err(30000, "Invalid message"))

    def _channel(self, channel: str) -> tuple[str, list[str]] | None:
        kind, *args = channel.split("/")
        if kind in _PUBLIC:
            if kind == "height":
                return (kind, []) if not args else None
            if len(args) != 1 or (args[0] not in self.by_id and not (kind == "market_stats" and args[0] == "all")):
                return None
            return kind, args
        if kind in self.private_kinds() and args and all(a.isdigit() for a in args):
            return kind, args
        return None

    def subscribe(self, conn: Conn, channel: str, auth: Any) -> None:
        parsed = self._channel(channel)
        if parsed is None:
            conn.reply(err(30005, f"Invalid Channel:  ({channel.partition('/')[2] or 'marketId'})"))
            return
        kind, args = parsed
        name = kind if not args else f"{kind}:{args[0]}"
        if name in conn.subs:
            conn.reply(err(30003, f"Already Subscribed to : {name}"))
            return
        if kind not in _PUBLIC:
            self.subscribe_private(conn, kind, args, name, auth)
            return
        if kind == "order_book":
            book = self.by_id[args[0]]
            self._flush_book(book)  # so the snapshot and everyone's chain agree on the nonce
            self.add_sub(conn, name)
            conn.push(self.book_frame(book, "subscribed/order_book", snapshot=True), name)
            return
        self.add_sub(conn, name)
        if kind == "trade":
            book = self.by_id[args[0]]
            conn.push(self.trade_frame(book, list(book.recent)[-50:], [], "subscribed/trade"), name)
        elif kind == "market_stats":
            conn.push(self.stats_frame(args[0], "subscribed/market_stats"), name)
        elif kind == "ticker":
            book = self.by_id[args[0]]
            if book.ladder.bbo() is not None:
                conn.push(self.ticker_frame(book, book.ladder.bbo(), "subscribed/ticker"), name)

    def unsubscribe(self, conn: Conn, channel: str, auth: Any) -> None:
        kind, _, rest = channel.partition("/")
        name = kind if not rest else f"{kind}:{rest.split('/')[0]}"
        if not self.remove_sub(conn, name) and not self.remove_sub(conn, self.private_name(conn, name)):
            conn.reply(err(30002, f"Not Subscribed to : {name}"))
            return
        self.forget_token(conn, name)
        conn.reply(f'{{"type": "unsubscribed", "channel": "{name}"}}'.encode())

    # --- frames -------------------------------------------------------------------------------

    def _next_offset(self) -> int:
        self.offset += 1 + (self.clock.ticks % 3 == 0)  # monotonic, not continuous
        return self.offset

    @staticmethod
    def _levels(book: Book, pairs: list[tuple[int, int]]) -> list[dict[str, str]]:
        px, sz = book.inst.price_text, book.inst.size_text
        return [{"price": px(p), "size": sz(s)} for p, s in pairs]

    def book_frame(
        self,
        book: Book,
        kind: str,
        *,
        snapshot: bool = False,
        delta: tuple[int, int, int, list[Any], list[Any]] | None = None,
    ) -> bytes:
        now_us, offset = self.clock.now_us, self._next_offset()
        if snapshot:
            lad = book.ladder
            asks, bids, nonce, begin = lad.top(False, None), lad.top(True, None), lad.seq, 0
        else:
            assert delta is not None
            _, nonce, begin, bids_asc, asks = delta
            bids = bids_asc[::-1]
        ob = {"code": 0, "asks": self._levels(book, asks), "bids": self._levels(book, bids), "offset": offset,
              "nonce": nonce, "last_updated_at": now_us, "begin_nonce": begin}  # fmt: skip
        return encode({"channel": f"order_book:{book.inst.market_id}", "last_updated_at": now_us, "offset": offset,
                       "order_book": ob, "timestamp": self.now_ms, "type": kind})  # fmt: skip

    def _flush_book(self, book: Book) -> None:
        agg = self.aggs[book.inst.market_id]
        agg.add(book.ladder.drain())
        out = agg.flush()
        name = f"order_book:{book.inst.market_id}"
        if out is not None and self.wanted(name) and not self.faults.take_skip(self.name, book.inst.symbol):
            self.publish(name, self.book_frame(book, "update/order_book", delta=out))

    def ticker_frame(self, book: Book, bbo: tuple[int, int, int, int], kind: str) -> bytes:
        bb, bq, ba, aq = bbo
        px, sz, now_us = book.inst.price_text, book.inst.size_text, self.clock.now_us
        ticker = {"s": book.inst.symbol, "a": {"price": px(ba), "size": sz(aq)}, "b": {"price": px(bb), "size": sz(bq)},
                  "last_updated_at": now_us}  # fmt: skip
        return encode({"channel": f"ticker:{book.inst.market_id}", "last_updated_at": now_us, "nonce": book.ladder.seq,
                       "ticker": ticker, "timestamp": self.now_ms, "type": kind})  # fmt: skip

    def pct(self, rate_per_hour: float) -> str:
        """Fraction per hour → Lighter's percent per hour, 4 decimals, truncated toward zero."""
        return str((Decimal(repr(rate_per_hour)) * 100).quantize(_PCT4, rounding=ROUND_DOWN))

    def stats(self, book: Book) -> dict[str, Any]:
        dp = book.inst.price_dp
        asset = book.inst.asset
        last = self.funding.last_settlement(self.name, asset)
        last_trade = book.recent[-1].px * book.inst.tick_value if book.recent else book.mid
        return {
            "symbol": book.inst.symbol, "market_id": book.inst.market_id, "index_price": self.index_text(book, dp),
            "mark_price": self.mark_text(book, dp), "open_interest": f"{book.open_interest:.6f}",
            "open_interest_limit": "72057594037927936.000000", "funding_clamp_small": "0.0500",
            "funding_clamp_big": "4.0000", "last_trade_price": f"{last_trade:.{dp}f}",
            "current_funding_rate": self.pct(self.funding.rate_per_hour(self.name, asset)),
            "funding_rate": self.pct(last[1]) if last else "0.0000", "funding_timestamp": (last[0] + 4) if last else 0,
            "daily_base_token_volume": round(book.day_volume, 4),
            "daily_quote_token_volume": round(book.day_volume * book.mid, 6),
            "daily_price_low": round(book.day_low, dp), "daily_price_high": round(book.day_high, dp),
            "daily_price_change": (last_trade / book.day_open - 1.0) * 100 if book.day_open else 0.0,
        }  # fmt: skip

    def stats_frame(self, which: str, kind: str = "update/market_stats") -> bytes:
        if which == "all":
            body: Any = {str(b.inst.market_id): self.stats(b) for b in self.books}
        else:
            body = self.stats(self.by_id[which])
        return encode({"channel": f"market_stats:{which}", "market_stats": body, "type": kind})

    def trade_row(self, book: Book, t: Any, kind: str = "trade") -> dict[str, Any]:
        inst = book.inst
        ask_id, bid_id = 10_414_574_258_696_109 + t.trade_id, 10_696_048_997_897_706 + t.trade_id
        price = inst.price_dec(t.px)
        size = inst.size_dec(t.lots)
        return {
            "trade_id": t.trade_id, "trade_id_str": str(t.trade_id), "tx_hash": f"{t.trade_id:064x}{t.ts:016x}",
            "type": kind, "market_id": inst.market_id, "size": inst.size_text(t.lots), "price": inst.price_text(t.px),
            "usd_amount": f"{price * size:.6f}", "ask_id": ask_id, "ask_id_str": str(ask_id), "bid_id": bid_id,
            "bid_id_str": str(bid_id), "ask_client_id": 0, "ask_client_id_str": "0", "bid_client_id": 0,
            "bid_client_id_str": "0", "ask_account_id": 314_233, "bid_account_id": 382_258,
            "is_maker_ask": t.taker_buy, "block_height": self.height, "timestamp": t.ts,
            "taker_position_size_before": "0", "taker_entry_quote_before": "0.000000",
            "taker_initial_margin_fraction_before": 1000, "maker_fee": 28, "maker_position_size_before": "0",
            "maker_entry_quote_before": "0.000000", "maker_initial_margin_fraction_before": 1000,
            "transaction_time": t.ts * 1000 + 1189,
        }  # fmt: skip

    def trade_frame(self, book: Book, trades: list[Any], liqs: list[Any], kind: str) -> bytes:
        return encode({"channel": f"trade:{book.inst.market_id}",
                       "liquidation_trades": [self.trade_row(book, t, "liquidation") for t in liqs],
                       "nonce": book.ladder.seq, "trades": [self.trade_row(book, t) for t in trades],
                       "type": kind})  # fmt: skip

    # --- tick ---------------------------------------------------------------------------------

    def book_of(self, stream: str) -> Book | None:
        kind, _, rest = stream.partition(":")
        if kind not in ("order_book", "ticker", "trade"):
            return None
        return self.by_id.get(rest)

    def on_tick(self) -> None:
        self.height += 1
        self.expire_tokens()
        for book in self.moved_books():
            mid = book.inst.market_id
            self._flush_book(book)
            name = f"ticker:{mid}"
            if self.wanted(name):
                bbo = book.ladder.bbo()
                if bbo is not None and bbo != self.last_bbo.get(mid):
                    self.last_bbo[mid] = bbo
                    self.publish(name, self.ticker_frame(book, bbo, "update/ticker"))
            name = f"trade:{mid}"
            if (book.new_trades or book.new_liqs) and self.wanted(name):
                liqs = [_LiqTrade(book, liq) for liq in book.new_liqs]
                self.publish(name, self.trade_frame(book, book.new_trades, liqs, "update/trade"))
        if self.every(1.0):
            for which in [*self.by_id, "all"]:
                if self.wanted(f"market_stats:{which}"):
                    self.publish(f"market_stats:{which}", self.stats_frame(which))
        if self.every(0.5) and self.wanted("height"):
            self.publish("height", encode({"channel": "height", "height": self.height, "timestamp": self.now_ms,
                                           "type": "update/height"}))  # fmt: skip

    # --- REST ---------------------------------------------------------------------------------

    def error_body(self, status: int, retry_after: int) -> Any:
        return {"code": status, "message": "Too Many Requests"}

    def bad(self, code: int, message: str, status: int = 400) -> web.Response:
        return self.json({"code": code, "message": message}, status=status)

    def _market(self, request: web.Request, required: bool = False) -> Book | web.Response | None:
        mid = request.query.get("market_id")
        if mid is None:
            return self.bad(20001, "invalid param : market_id is required") if required else None
        book = self.by_id.get(mid)
        return book if book is not None else self.bad(21100, "market not found")

    def order_book_row(self, book: Book) -> dict[str, Any]:
        inst = book.inst
        return {
            "symbol": inst.symbol, "market_id": inst.market_id, "market_type": "perp", "base_asset_id": 0,
            "quote_asset_id": 0, "status": "active", "taker_fee": "0.0000", "is_taker_fee_enabled": True,
            "maker_fee": "0.0000", "is_maker_fee_enabled": True, "liquidation_fee": "1.0000",
            "min_base_amount": inst.size_text(1), "min_quote_amount": "10.000000",
            "order_quote_limit": "281474976.710655", "supported_size_decimals": inst.size_dp,
            "supported_price_decimals": inst.price_dp, "supported_quote_decimals": 6,
            "created_at": "1737098461100", "multiplier": "1.000000000000000000",
        }  # fmt: skip

    def _rows(self, request: web.Request) -> list[Book] | web.Response:
        book = self._market(request)
        if isinstance(book, web.Response):
            return book
        return list(self.books) if book is None else [book]

    async def get_order_books(self, request: web.Request) -> web.StreamResponse:
        books = self._rows(request)
        if isinstance(books, web.Response):
            return books
        return self.json({"code": 200, "order_books": [self.order_book_row(b) for b in books]})

    async def get_order_book_details(self, request: web.Request) -> web.StreamResponse:
        books = self._rows(request)
        if isinstance(books, web.Response):
            return books
        details = []
        for b in books:
            s = self.stats(b)
            row = self.order_book_row(b)
            del row["created_at"], row["multiplier"]
            row.update(
                size_decimals=b.inst.size_dp, price_decimals=b.inst.price_dp, quote_multiplier=1,
                default_initial_margin_fraction=500, min_initial_margin_fraction=200, maintenance_margin_fraction=120,
                closeout_margin_fraction=80, last_trade_price=float(s["last_trade_price"]),
                daily_trades_count=len(b.recent), daily_base_token_volume=s["daily_base_token_volume"],
                daily_quote_token_volume=s["daily_quote_token_volume"],
                daily_price_low=s["daily_price_low"], daily_price_high=s["daily_price_high"],
                daily_price_change=s["daily_price_change"], open_interest=round(b.open_interest, 4), daily_chart={},
                market_config={"market_margin_mode": 0, "insurance_fund_account_index": 281474976710655,
                               "liquidation_mode": 0, "force_reduce_only": False, "trading_hours": "",
                               "funding_fee_discounts_enabled": False, "hidden": False, "rfq_enabled": True},
                strategy_index=2,
            )  # fmt: skip
            details.append(row)
        return self.json({"code": 200, "order_book_details": details, "spot_order_book_details": []})

    async def get_order_book_orders(self, request: web.Request) -> web.StreamResponse:
        book = self._market(request, required=True)
        if not isinstance(book, Book):
            return book  # type: ignore[return-value]
        try:
            limit = int(request.query.get("limit", ""))
        except ValueError:
            return self.bad(20001, "invalid param : limit")
        limit = max(1, min(limit, 250))

        def orders(pairs: list[tuple[int, int]], base: int) -> list[dict[str, Any]]:
            return [{"order_index": base + i, "order_id": str(base + i), "owner_account_index": 281_474_976_641_952,
                     "initial_base_amount": book.inst.size_text(s), "remaining_base_amount": book.inst.size_text(s),
                     "price": book.inst.price_text(p), "order_expiry": self.now_ms + 2_419_200_000,
                     "transaction_time": 0} for i, (p, s) in enumerate(pairs)]  # fmt: skip

        asks, bids = book.ladder.top(False, limit), book.ladder.top(True, limit)
        return self.json({"code": 200, "total_asks": len(asks), "asks": orders(asks, 281_476_929_689_581),
                          "total_bids": len(bids), "bids": orders(bids, 562_947_905_454_787)})  # fmt: skip

    async def get_recent_trades(self, request: web.Request) -> web.StreamResponse:
        book = self._market(request, required=True)
        if not isinstance(book, Book):
            return book  # type: ignore[return-value]
        n = max(1, min(int(request.query.get("limit", "100")), 100))
        return self.json({"code": 200, "trades": [self.trade_row(book, t) for t in list(book.recent)[-n:][::-1]]})

    async def get_fundings(self, request: web.Request) -> web.StreamResponse:
        book = self._market(request, required=True)
        if not isinstance(book, Book):
            return book  # type: ignore[return-value]
        q = request.query
        try:
            start = int(q["start_timestamp"]) * 1000 if "start_timestamp" in q else None
            end = int(q["end_timestamp"]) * 1000 if "end_timestamp" in q else None
            count = int(q.get("count_back", "100"))
        except ValueError:
            return self.bad(20001, "invalid param : timestamps")
        rows = self.funding.history(self.name, book.inst.asset, start_ms=start, end_ms=end)[-max(1, count) :]
        mark = Decimal(self.mark_text(book, book.inst.price_dp))
        out = [{"timestamp": ts // 1000, "value": f"{abs(Decimal(repr(r)) * mark):.8f}", "rate": self.pct(abs(r)),
                "direction": "long" if r >= 0 else "short"} for ts, r in rows]  # fmt: skip
        return self.json({"code": 200, "resolution": q.get("resolution", "1h"), "fundings": out})

    async def get_asset_details(self, request: web.Request) -> web.StreamResponse:
        """The spot/collateral assets: USDC only (no spot markets are simulated)."""
        usdc = {"asset_id": 3, "symbol": "USDC", "l1_decimals": 6, "decimals": 6, "min_transfer_amount": "1.000000",
                "min_withdrawal_amount": "1.000000", "margin_mode": "enabled", "index_price": "1.000000",
                "l1_address": "0x95Fd23d5110f9D89A4b0B7d63D78F5B5Ea5074D1"}  # fmt: skip
        asset_id = request.query.get("asset_id")
        if asset_id is not None and asset_id != "3":
            return self.bad(20001, "invalid param : asset_id")
        return self.json({"code": 200, "asset_details": [usdc]})

    async def get_funding_rates(self, request: web.Request) -> web.StreamResponse:
        rows = [{"market_id": b.inst.market_id, "exchange": "lighter", "symbol": b.inst.symbol,
                 "rate": self.funding.rate_per_hour(self.name, b.inst.asset) * 8} for b in self.books]  # fmt: skip
        return self.json({"code": 200, "funding_rates": rows})


class _LiqTrade:
    """A liquidation print shaped like a TradeRec for ``trade_row``."""

    __slots__ = ("lots", "px", "taker_buy", "trade_id", "ts")

    def __init__(self, book: Book, liq: Any) -> None:
        book.trade_id += 1
        self.trade_id, self.ts, self.px, self.lots, self.taker_buy = (
            book.trade_id,
            liq.ts,
            liq.px,
            liq.lots,
            not liq.sell,
        )
