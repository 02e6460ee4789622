"""REST side of the Binance-compatible codec: request builders, body decoders, HTTP errors.

``BinanceRest`` is a mixin of ``BinanceCodec``: builders return ``HttpRequest`` (base URL from
the codec's ``rest_url`` option, params in the venue's order, the venue's request weight) and
decoders turn response bodies into ``market.events``. A body that is the venue's error object
``{"code":-1121,"msg":"Invalid symbol."}`` raises ``BinanceRestError`` (a ``VenueError``: the venue
said no); an unreadable body raises ``DecodeError`` (the codec base turns every read failure of a
``decode_*`` method into one); HTTP 429/418 are the I/O layer's to handle (``actors.rest``).
Signed order builders live here too (signing in ``auth``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

import msgspec

from perpwire.market import events as market_events
from perpwire.market.errors import DecodeError, UsageError, VenueError
from perpwire.market.events import (
    BBO,
    BalanceUpdate,
    BookSnapshot,
    FundingRate,
    Instrument,
    OrderStatus,
    OrderUpdate,
    Side,
)
from perpwire.market.funding import asset, per_hour
from perpwire.venues.base import HttpRequest
from perpwire.venues.binance import auth
from perpwire.venues.binance.schemas import (
    BinanceBookTickerRest,
    BinanceErrorBody,
    BinanceExchangeInfo,
    BinanceFundingInfo,
    BinanceFundingRate,
    BinanceListenKey,
    BinancePremiumIndex,
    BinanceRestDepth,
    BinanceWsApiResponse,
)

#: GET /fapi/v1/depth: allowed limits and their weights (same on Aster)
DEPTH_WEIGHTS = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}
_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
_FORM = ("Content-Type", "application/x-www-form-urlencoded")

_depth = msgspec.json.Decoder(BinanceRestDepth)
_premium = msgspec.json.Decoder(list[BinancePremiumIndex] | BinancePremiumIndex)
_history = msgspec.json.Decoder(list[BinanceFundingRate])
_funding_info = msgspec.json.Decoder(list[BinanceFundingInfo])
_exchange_info = msgspec.json.Decoder(BinanceExchangeInfo)
_book_ticker = msgspec.json.Decoder(list[BinanceBookTickerRest] | BinanceBookTickerRest)
_listen_key = msgspec.json.Decoder(BinanceListenKey)
_ws_api = msgspec.json.Decoder(BinanceWsApiResponse)
_rest_error = msgspec.json.Decoder(BinanceErrorBody)


class BinanceOrderAck(msgspec.Struct, frozen=True):
    """``POST/DELETE/GET /fapi/v1/order`` answer (RESULT): the order state after matching."""

    orderId: int
    symbol: str
    status: str
    side: str
    clientOrderId: str = ""
    price: str | None = None
    avgPrice: str | None = None
    origQty: str = "0"
    executedQty: str = "0"
    cumQuote: str | None = None
    type: str | None = None
    reduceOnly: bool = False
    updateTime: int = 0


class BinanceBalanceRow(msgspec.Struct, frozen=True):
    """One asset of ``GET /fapi/v2/balance``."""

    asset: str
    balance: str
    availableBalance: str | None = None
    updateTime: int = 0


_order_ack = msgspec.json.Decoder(BinanceOrderAck)
_balances = msgspec.json.Decoder(list[BinanceBalanceRow])
#: order statuses of REST answers (the user stream's ``X`` uses the same names)
_ORDER_STATUSES = {
    "NEW": OrderStatus.NEW, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED, "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED, "REJECTED": OrderStatus.REJECTED, "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED, "NEW_INSURANCE": OrderStatus.NEW, "NEW_ADL": OrderStatus.NEW,
}


class BinanceRestError(VenueError):
    """The venue answered a REST / WS-API request with ``{"code", "msg"}``: its code and message.

    The text holds no part of the body (WS-API error bodies may echo request params).
    """

    def __init__(self, venue: str, code: int, message: str, status: int | None = None):
        super().__init__(venue, code, message, status=status)


class BinanceRest:
    """REST builders and decoders; mixed into ``BinanceCodec`` (needs ``name``, ``rest_url``)."""

    name: ClassVar[str]
    rest_url: str
    #: weights that differ between Binance and Aster
    premium_index_all_weight: ClassVar[int] = 10
    funding_info_weight: ClassVar[int] = 0  # Binance: shares the 500 / 5 min pool with fundingRate
    book_ticker_weights: ClassVar[tuple[int, int]] = (2, 5)  # (one symbol, all)

    _error: Callable[[str, Any], DecodeError]
    funding_interval: Callable[[str], int]
    set_funding_intervals: Callable[[dict[str, int]], None]

    # --- request builders --------------------------------------------------------------------

    def _get(self, path: str, params: tuple[tuple[str, str], ...] = (), weight: int = 1) -> HttpRequest:
        return HttpRequest(method="GET", url=self.rest_url + path, params=params, weight=weight)

    def depth_request(self, symbol: str, limit: int = 1000) -> HttpRequest:
        if limit not in DEPTH_WEIGHTS:
            raise UsageError(f"{self.name}: depth limit must be one of {sorted(DEPTH_WEIGHTS)}, got {limit}")
        params = (("symbol", symbol.upper()), ("limit", str(limit)))
        return self._get("/fapi/v1/depth", params, DEPTH_WEIGHTS[limit])

    def funding_request(self, symbol: str | None = None) -> HttpRequest:
        if symbol is None:
            return self._get("/fapi/v1/premiumIndex", weight=self.premium_index_all_weight)
        return self._get("/fapi/v1/premiumIndex", (("symbol", symbol.upper()),))

    def funding_history_request(
        self, symbol: str, start_ms: int | None = None, end_ms: int | None = None, limit: int = 1000
    ) -> HttpRequest:
        if not 1 <= limit <= 1000:
            raise UsageError(f"{self.name}: fundingRate limit must be 1..1000, got {limit}")
        params = [("symbol", symbol.upper())]
        if start_ms is not None:
            params.append(("startTime", str(int(start_ms))))
        if end_ms is not None:
            params.append(("endTime", str(int(end_ms))))
        params.append(("limit", str(limit)))
        return self._get("/fapi/v1/fundingRate", tuple(params))

    def funding_info_request(self) -> HttpRequest:
        return self._get("/fapi/v1/fundingInfo", weight=self.funding_info_weight)

    def instruments_request(self) -> HttpRequest:
        return self._get("/fapi/v1/exchangeInfo")

    def bbo_request(self, symbol: str | None = None) -> HttpRequest:
        one, every = self.book_ticker_weights
        if symbol is None:
            return self._get("/fapi/v1/ticker/bookTicker", weight=every)
        return self._get("/fapi/v1/ticker/bookTicker", (("symbol", symbol.upper()),), one)

    def listen_key_request(self, method: str, api_key: str) -> HttpRequest:
        """POST starts (or returns and extends) the key, PUT keeps it alive, DELETE closes it."""
        if method not in ("POST", "PUT", "DELETE"):
            raise UsageError(f"{self.name}: listenKey method must be POST, PUT or DELETE, got {method}")
        return HttpRequest(
            method=method, url=self.rest_url + "/fapi/v1/listenKey", headers=(("X-MBX-APIKEY", api_key),)
        )

    def new_order_request(
        self,
        credentials: auth.Credentials,
        *,
        symbol: str,
        side: Side | str,
        quantity: Decimal,
        timestamp_ms: int,
        price: Decimal | None = None,
        order_type: str | None = None,
        time_in_force: str = "GTC",
        reduce_only: bool = False,
        client_order_id: str | None = None,
        recv_window_ms: int | None = auth.DEFAULT_RECV_WINDOW_MS,
    ) -> HttpRequest:
        """Signed ``POST /fapi/v1/order``: LIMIT when ``price`` is given, else MARKET."""
        kind = order_type or ("LIMIT" if price is not None else "MARKET")
        params = [("symbol", symbol.upper()), ("side", Side(side).value.upper()), ("type", kind)]
        if kind == "LIMIT":
            if price is None:
                raise UsageError(f"{self.name}: a LIMIT order needs a price")
            params.append(("timeInForce", time_in_force))
        params.append(("quantity", _plain(quantity)))
        if price is not None:
            params.append(("price", _plain(price)))
        if reduce_only:
            params.append(("reduceOnly", "true"))
        if client_order_id is not None:
            params.append(("newClientOrderId", client_order_id))
        return self._signed("POST", "/fapi/v1/order", credentials, params, timestamp_ms, recv_window_ms)

    def cancel_order_request(
        self,
        credentials: auth.Credentials,
        *,
        symbol: str,
        timestamp_ms: int,
        order_id: str | int | None = None,
        client_order_id: str | None = None,
        recv_window_ms: int | None = auth.DEFAULT_RECV_WINDOW_MS,
    ) -> HttpRequest:
        """Signed ``DELETE /fapi/v1/order`` by venue order id or by our client order id."""
        params = self._order_ref("cancel", symbol, order_id, client_order_id)
        return self._signed("DELETE", "/fapi/v1/order", credentials, params, timestamp_ms, recv_window_ms)

    def _order_ref(self, what: str, symbol: str, order_id: str | int | None,
                   client_order_id: str | None) -> list[tuple[str, str]]:
        """The params naming one order: the symbol and exactly one of the two ids."""
        if (order_id is None) == (client_order_id is None):
            raise UsageError(f"{self.name}: {what} needs exactly one of order_id and client_order_id")
        if order_id is not None:
            return [("symbol", symbol.upper()), ("orderId", str(order_id))]
        return [("symbol", symbol.upper()), ("origClientOrderId", str(client_order_id))]

    def query_order_request(
        self,
        credentials: auth.Credentials,
        *,
        symbol: str,
        timestamp_ms: int,
        order_id: str | int | None = None,
        client_order_id: str | None = None,
        recv_window_ms: int | None = auth.DEFAULT_RECV_WINDOW_MS,
    ) -> HttpRequest:
        """Signed ``GET /fapi/v1/order`` (weight 1): one order's state, by venue or client order id."""
        params = self._order_ref("an order query", symbol, order_id, client_order_id)
        return self._signed_query("/fapi/v1/order", credentials, params, timestamp_ms, recv_window_ms, weight=1)

    def balance_request(
        self,
        credentials: auth.Credentials,
        *,
        timestamp_ms: int,
        recv_window_ms: int | None = auth.DEFAULT_RECV_WINDOW_MS,
    ) -> HttpRequest:
        """Signed ``GET /fapi/v2/balance`` (weight 5): wallet and available balance per asset."""
        return self._signed_query("/fapi/v2/balance", credentials, [], timestamp_ms, recv_window_ms, weight=5)

    def _signed_query(
        self,
        path: str,
        credentials: auth.Credentials,
        params: list[tuple[str, str]],
        timestamp_ms: int,
        recv_window_ms: int | None,
        *,
        weight: int = 1,
    ) -> HttpRequest:
        """A signed GET: the signed params travel in the query string, in the order they were signed."""
        signed = auth.signed_params(credentials.secret, params, timestamp_ms, recv_window_ms)
        return HttpRequest(method="GET", url=self.rest_url + path, params=signed,
                           headers=(("X-MBX-APIKEY", credentials.api_key),), weight=weight)

    def _signed(
        self,
        method: str,
        path: str,
        credentials: auth.Credentials,
        params: list[tuple[str, str]],
        timestamp_ms: int,
        recv_window_ms: int | None,
    ) -> HttpRequest:
        body = auth.signed_body(credentials.secret, params, timestamp_ms, recv_window_ms)
        headers = (("X-MBX-APIKEY", credentials.api_key), _FORM)
        return HttpRequest(method=method, url=self.rest_url + path, headers=headers, body=body)

    # --- decoders ----------------------------------------------------------------------------

    def _body(self, decoder: msgspec.json.Decoder, body: bytes) -> Any:
        try:
            return decoder.decode(body)
        except msgspec.ValidationError as first:
            try:
                err = _rest_error.decode(body)
            except msgspec.DecodeError:
                raise first from None  # not the venue's error object either
            raise BinanceRestError(self.name, err.code, err.msg) from None

    def decode_snapshot(self, symbol: str, body: bytes) -> BookSnapshot:
        d = self._body(_depth, body)
        return BookSnapshot(
            venue=self.name, symbol=symbol.upper(), bids=d.bids, asks=d.asks, seq=d.last_update_id,
            ts=d.event_time or d.txn_time,
        )

    def decode_funding(self, body: bytes) -> list[FundingRate]:
        """``premiumIndex`` (one object, or an array without ``symbol``); delivery contracts,
        whose ``lastFundingRate`` is empty, are skipped."""
        got = self._body(_premium, body)
        rows = got if isinstance(got, list) else [got]
        out = []
        for p in rows:
            if not p.lastFundingRate:
                continue
            rate = Decimal(p.lastFundingRate)
            hours = self.funding_interval(p.symbol)
            out.append(FundingRate(
                venue=self.name, symbol=p.symbol, rate=rate, interval_hours=hours,
                rate_per_hour=per_hour(rate, hours), mark_price=Decimal(p.markPrice),
                index_price=Decimal(p.indexPrice), next_funding_ts=p.nextFundingTime or None, ts=p.time,
            ))
        return out

    def decode_funding_history(self, body: bytes) -> list[FundingRate]:
        out = []
        for f in self._body(_history, body):
            rate = Decimal(f.fundingRate)
            hours = self.funding_interval(f.symbol)
            out.append(FundingRate(
                venue=self.name, symbol=f.symbol, rate=rate, interval_hours=hours,
                rate_per_hour=per_hour(rate, hours), mark_price=Decimal(f.markPrice) if f.markPrice else None,
                ts=f.fundingTime, settled=True,
            ))
        return out

    def decode_funding_info(self, body: bytes) -> dict[str, int]:
        """Per-symbol funding intervals (hours); also remembered for later funding events."""
        intervals = {f.symbol: f.fundingIntervalHours for f in self._body(_funding_info, body)}
        self.set_funding_intervals(intervals)
        return intervals

    def decode_instruments(self, body: bytes) -> list[Instrument]:
        """Perpetual contracts from ``exchangeInfo`` (quarterlies are skipped)."""
        out = []
        for s in self._body(_exchange_info, body).symbols:
            if s.contractType != "PERPETUAL":
                continue
            f = {flt.filterType: flt for flt in s.filters}
            price, lot, notional = f.get("PRICE_FILTER"), f.get("LOT_SIZE"), f.get("MIN_NOTIONAL")
            out.append(Instrument(
                venue=self.name, symbol=s.symbol, asset=asset(s.symbol), quote=s.quoteAsset,
                tick_size=_opt(price and price.tickSize), step_size=_opt(lot and lot.stepSize),
                min_size=_opt(lot and lot.minQty), min_notional=_opt(notional and notional.notional),
                funding_interval_hours=self.funding_interval(s.symbol), status=s.status,
            ))
        return out

    def decode_bbo(self, body: bytes) -> list[BBO]:
        got = self._body(_book_ticker, body)
        return [
            BBO(venue=self.name, symbol=t.symbol, bid_price=Decimal(t.bidPrice), bid_size=Decimal(t.bidQty),
                ask_price=Decimal(t.askPrice), ask_size=Decimal(t.askQty), ts=t.time)
            for t in (got if isinstance(got, list) else [got])
        ]

    def decode_listen_key(self, body: bytes) -> str | None:
        """The key from a listenKey answer (REST, or WS-API ``userDataStream.start``); None for
        the empty ``{}`` that DELETE (and Aster's PUT) return."""
        k = _listen_key.decode(body)
        if k.error is not None:
            raise BinanceRestError(self.name, k.error.code, k.error.msg, status=k.status)
        if k.code is not None:
            raise BinanceRestError(self.name, k.code, k.msg or "")
        if k.status is not None and k.status != 200:
            raise BinanceRestError(self.name, k.status, "no error body", status=k.status)
        return k.result.listenKey if k.result is not None else k.listenKey

    def decode_order(self, body: bytes) -> OrderUpdate:
        """An order answer (new, cancel, query) as an ``OrderUpdate``; the venue's error object
        ``{"code", "msg"}`` (also the body of a rejected order's HTTP 4xx) raises ``BinanceRestError``."""
        o = self._body(_order_ack, body)
        filled = Decimal(o.executedQty)
        # cumQuote / executedQty is exact; avgPrice is rounded by the venue
        avg = Decimal(o.cumQuote) / filled if filled and o.cumQuote else None
        if not avg and o.avgPrice:
            avg = Decimal(o.avgPrice)
        price = Decimal(o.price) if o.price else None
        return OrderUpdate(
            venue=self.name, symbol=o.symbol, order_id=str(o.orderId), client_order_id=o.clientOrderId or None,
            side=_SIDES[o.side], status=_ORDER_STATUSES[o.status], price=price or None, size=Decimal(o.origQty),
            filled=filled, ts=o.updateTime, avg_price=avg if filled else None, order_type=o.type,
            reduce_only=o.reduceOnly,
        )

    def decode_balances(self, body: bytes) -> list[BalanceUpdate]:
        """``GET /fapi/v2/balance`` rows: ``balance`` is the wallet balance, ``available`` what
        new orders may use."""
        return [
            BalanceUpdate(venue=self.name, asset=r.asset, balance=Decimal(r.balance),
                          available=None if r.availableBalance is None else Decimal(r.availableBalance),
                          reason="REST", ts=r.updateTime)
            for r in self._body(_balances, body)
        ]

    def decode_ws_api(self, body: bytes) -> BinanceWsApiResponse:
        """A WS-API response; a non-200 status raises ``BinanceRestError`` with the venue's code."""
        r = _ws_api.decode(body)
        if r.status != 200 or r.error is not None:
            code, msg = (r.error.code, r.error.msg) if r.error is not None else (r.status, "no error body")
            raise BinanceRestError(self.name, code, msg, status=r.status)
        return r

    # --- reconciliation queries --------------------------------------------------------------

    def position_risk_request(
        self,
        credentials: auth.Credentials,
        *,
        timestamp_ms: int,
        symbol: str | None = None,
        recv_window_ms: int | None = auth.DEFAULT_RECV_WINDOW_MS,
    ) -> HttpRequest:
        """Signed ``GET /fapi/v2/positionRisk`` (weight 5): the account's position per symbol."""
        params = [] if symbol is None else [("symbol", symbol.upper())]
        return self._signed_query("/fapi/v2/positionRisk", credentials, params, timestamp_ms, recv_window_ms, weight=5)

    def decode_positions(self, body: bytes) -> list[market_events.PositionUpdate]:
        """``positionRisk`` rows (one-way mode: ``positionSide`` BOTH) with ``positionAmt`` signed;
        rows of a hedge-mode account's LONG/SHORT sides are summed per symbol by the caller."""
        return [
            market_events.PositionUpdate(
                venue=self.name, symbol=r.symbol, size=Decimal(r.positionAmt), entry_price=_opt(r.entryPrice),
                mark_price=_opt(r.markPrice), unrealized_pnl=_opt(r.unRealizedProfit), ts=r.updateTime)
            for r in self._body(_position_risk, body)
        ]


class BinancePositionRiskRow(msgspec.Struct, frozen=True):
    """One row of ``GET /fapi/v2/positionRisk`` (the fields read here)."""

    symbol: str
    positionAmt: str
    entryPrice: str | None = None
    markPrice: str | None = None
    unRealizedProfit: str | None = None
    positionSide: str = "BOTH"
    updateTime: int = 0


_position_risk = msgspec.json.Decoder(list[BinancePositionRiskRow])


def _plain(value: Decimal | str | int) -> str:
    """Decimal text without exponent ("1E+1" would be rejected by the venue)."""
    d = Decimal(value)
    return format(d, "f")


def _opt(text: str | None) -> Decimal | None:
    return Decimal(text) if text else None
