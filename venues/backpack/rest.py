"""REST side of the Backpack codec: public request builders and decoders, signed order requests.

``BackpackRest`` is a mixin of ``BackpackCodec``. Builders return ``HttpRequest`` (base URL from
the codec's ``rest_url`` option; Backpack publishes no request weights, so every weight is 1) and
decoders turn bodies into ``market.events``. A body that is the venue's error object
``{"code": "INVALID_CLIENT_REQUEST", "message": ...}`` raises ``VenueError``; any other unreadable
body raises ``DecodeError``. Funding rates are a fraction per market interval: the interval of each
market is learned from ``decode_instruments`` (``fundingInterval`` ms) and kept in ``intervals``;
markets not seen yet use the codec's default (1 h, every perp since 2025-08-20). Funding history
reaches back past that change: rows settled by then were 8-hour rates and are read as such. Order requests are
signed with ED25519 (``auth``) at a timestamp the caller passes.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from perpwire.market import events as market_events
from perpwire.market.errors import UsageError, VenueError
from perpwire.market.events import BalanceUpdate, BookSnapshot, FundingRate, Instrument, OrderStatus, OrderUpdate, Side
from perpwire.market.funding import asset, interval_hours_from_ms, multiplier, per_hour
from perpwire.market.units import ONE_HOUR_MS, ms_from_iso, ms_guess
from perpwire.venues.backpack import auth
from perpwire.venues.backpack.schemas import (
    BpFundingRow,
    BpMarket,
    BpMarkPriceRow,
    BpOpenInterestRow,
    BpRestDepth,
    BpRestError,
    BpStatus,
)
from perpwire.venues.base import READ_ERRORS, HttpRequest, unreadable

if TYPE_CHECKING:
    from collections.abc import Callable

    from perpwire.market.errors import DecodeError

VENUE = "backpack"
#: Backpack settled funding every 8 h until 2025-08-20T08:00Z and every hour after it, on every
#: perp at once ("Hourly Funding and Real-Time Yield",
#: learn.backpack.exchange/articles/hourly-funding-and-real-time-yield: "Starting August 20th,
#: 2025 at 08:00 UTC, we're launching hourly funding payments"). A history row whose interval ended
#: at or before this instant closed an 8-hour interval (00:00-08:00 was the last one).
LAST_8H_SETTLEMENT_MS = 1_755_676_800_000
PRE_HOURLY_INTERVAL_HOURS = 8
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)  # other values are a plain-text 400
MAX_HISTORY_ROWS = 10_000
_PERPETUAL = frozenset({"PERP", "IPERP"})
_SIDE = {Side.BUY: "Bid", Side.SELL: "Ask"}
_TIME_IN_FORCE = frozenset({"GTC", "IOC", "FOK"})

# lax: integer fields come as numbers or as strings of digits (``lastUpdateId``, ``fundingInterval``)
_depth = msgspec.json.Decoder(BpRestDepth, strict=False)
_mark_prices = msgspec.json.Decoder(list[BpMarkPriceRow] | BpMarkPriceRow, strict=False)
_history = msgspec.json.Decoder(list[BpFundingRow])
_markets = msgspec.json.Decoder(list[BpMarket], strict=False)
_open_interest = msgspec.json.Decoder(list[BpOpenInterestRow], strict=False)
_status = msgspec.json.Decoder(BpStatus)
_rest_error = msgspec.json.Decoder(BpRestError)


class BpOrderAck(msgspec.Struct, frozen=True):
    """``POST/DELETE /api/v1/order`` answer: the order after matching (a Backpack order object)."""

    id: str | int
    symbol: str
    side: str
    status: str
    quantity: str | None = None
    executedQuantity: str = "0"
    executedQuoteQuantity: str = "0"
    clientId: int | None = None
    price: str | None = None
    orderType: str | None = None
    reduceOnly: bool | None = None
    createdAt: int = 0


class BpBalance(msgspec.Struct, frozen=True):
    """One asset of ``GET /api/v1/capital``."""

    available: str
    locked: str = "0"
    staked: str = "0"


# lax: ids and times arrive as numbers or as strings of digits
_order_ack = msgspec.json.Decoder(BpOrderAck, strict=False)
_capital = msgspec.json.Decoder(dict[str, BpBalance], strict=False)
_ORDER_SIDES = {"Bid": Side.BUY, "Ask": Side.SELL}
_ORDER_STATUSES = {
    "New": OrderStatus.NEW, "PartiallyFilled": OrderStatus.PARTIALLY_FILLED, "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELED, "Expired": OrderStatus.EXPIRED, "TriggerPending": OrderStatus.NEW,
    "TriggerFailed": OrderStatus.REJECTED,
}


def _plain(value: Decimal) -> str:
    """Decimal text without an exponent, as the venue parses and as it is signed."""
    return format(value, "f")


def _query_text(value: object) -> str:
    """A query parameter as the venue signs it (booleans as JSON ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _one_order(symbol: str, order_id: str | None, client_id: int | None, what: str) -> dict[str, object]:
    """The parameters naming one order, by exactly one of its venue id and our client id."""
    if (order_id is None) == (client_id is None):
        raise UsageError(f"{VENUE}: {what} needs exactly one of order_id and client_id")
    if order_id is not None:
        return {"symbol": symbol, "orderId": str(order_id)}
    return {"symbol": symbol, "clientId": _client_id(client_id)}


def _client_id(value: int) -> int:
    if not 0 <= value < 2**32:
        raise UsageError(f"{VENUE}: clientId must be a uint32, got {value}")
    return value


class BackpackRest:
    """REST builders and decoders; needs ``rest_url``, ``intervals`` and ``default_interval``."""

    rest_url: str
    intervals: dict[str, int]  # symbol -> funding interval in hours, learned from markets
    default_interval: int
    _error: Callable[[str, Any], DecodeError]

    # --- plumbing ----------------------------------------------------------------------------

    def _get(self, path: str, params: tuple[tuple[str, str], ...] = ()) -> HttpRequest:
        return HttpRequest(method="GET", url=self.rest_url + path, params=params)

    def _read(self, decoder: msgspec.json.Decoder, body: bytes, convert: Callable[[Any], Any]) -> Any:
        """``convert(decoder.decode(body))``; an error body raises VenueError, anything else that
        cannot be read raises DecodeError."""
        try:
            return convert(decoder.decode(body))
        except READ_ERRORS as exc:
            try:
                err = _rest_error.decode(body)
            except READ_ERRORS:
                raise unreadable(self, exc, body) from None  # type: ignore[arg-type]
            raise VenueError(VENUE, err.code, err.message) from None

    def interval_hours(self, symbol: str) -> int:
        """The funding interval of ``symbol``: learned from the markets, else the default."""
        return self.intervals.get(symbol, self.default_interval)

    def _funding(self, symbol: str, rate_text: str, hours: int | None = None, **fields: Any) -> FundingRate:
        """A rate per ``hours`` (default: the market's interval now) and its per-hour value."""
        hours = self.interval_hours(symbol) if hours is None else hours
        rate = Decimal(rate_text)
        return FundingRate(venue=VENUE, symbol=symbol, rate=rate, interval_hours=hours,
                           rate_per_hour=per_hour(rate, hours), **fields)

    # --- order book --------------------------------------------------------------------------

    def depth_request(self, symbol: str, limit: int = 1000) -> HttpRequest:
        """``GET /api/v1/depth``; ``limit`` rounds up to an allowed size (deltas touch any depth,
        so the sync wants the deepest book)."""
        size = next((n for n in DEPTH_LIMITS if n >= limit), DEPTH_LIMITS[-1])
        return self._get("/api/v1/depth", (("symbol", symbol), ("limit", str(size))))

    def decode_snapshot(self, symbol: str, body: bytes) -> BookSnapshot:
        def convert(m: BpRestDepth) -> BookSnapshot:
            # REST bids are ascending (best last); books and deltas want best first
            return BookSnapshot(venue=VENUE, symbol=symbol, bids=m.bids[::-1], asks=m.asks,
                                seq=m.lastUpdateId, ts=ms_guess(m.timestamp))

        return self._read(_depth, body, convert)

    # --- funding -----------------------------------------------------------------------------

    def funding_request(self, symbol: str | None = None) -> HttpRequest:
        """``GET /api/v1/markPrices`` (every perp, or one); CDN-cached for a second."""
        return self._get("/api/v1/markPrices", (("symbol", symbol),) if symbol else ())

    def decode_funding(self, body: bytes) -> list[FundingRate]:
        """Current estimates (``settled`` False). The rows carry no time, so ``ts`` is 0."""

        def convert(got: list[BpMarkPriceRow] | BpMarkPriceRow) -> list[FundingRate]:
            rows = got if isinstance(got, list) else [got]
            return [self._funding(
                r.symbol, r.fundingRate, mark_price=Decimal(r.markPrice),
                index_price=None if r.indexPrice is None else Decimal(r.indexPrice),
                next_funding_ts=None if r.nextFundingTimestamp is None else ms_guess(r.nextFundingTimestamp),
            ) for r in rows]

        return self._read(_mark_prices, body, convert)

    def funding_history_request(self, symbol: str, start_ms: int = 0, end_ms: int | None = None) -> HttpRequest:
        """``GET /api/v1/fundingRates``: newest first from *now*, no time filter. With ``end_ms``
        (pass now) the page is just long enough to reach back to ``start_ms``."""
        rows = 1000
        if end_ms is not None:
            step = self.interval_hours(symbol) * ONE_HOUR_MS
            rows = min(MAX_HISTORY_ROWS, max(1, (end_ms - start_ms) // step + 2))
        return self._get("/api/v1/fundingRates", (("symbol", symbol), ("limit", str(rows))))

    def decode_funding_history(self, body: bytes) -> list[FundingRate]:
        """Rates with ``ts`` = the interval end, newest first, ``settled`` True. The newest row may
        be the interval still running (its end lies in the future): callers cut at their now. Rows
        that ended by 2025-08-20T08:00Z are 8-hour rates (interval 8, per hour = rate / 8); later
        ones use the market's interval."""

        def convert(rows: list[BpFundingRow]) -> list[FundingRate]:
            out = []
            for r in rows:
                ts = ms_from_iso(r.intervalEndTimestamp)
                hours = PRE_HOURLY_INTERVAL_HOURS if ts <= LAST_8H_SETTLEMENT_MS else None
                out.append(self._funding(r.symbol, r.fundingRate, hours, ts=ts, settled=True))
            return out

        return self._read(_history, body, convert)

    # --- markets -----------------------------------------------------------------------------

    def instruments_request(self) -> HttpRequest:
        return self._get("/api/v1/markets", (("marketType", "PERP"),))

    def decode_instruments(self, body: bytes) -> list[Instrument]:
        """Perpetual markets; learns each one's funding interval for later rates."""

        def convert(markets: list[BpMarket]) -> list[Instrument]:
            out = []
            for m in markets:
                if m.marketType not in _PERPETUAL:
                    continue
                hours = None if m.fundingInterval is None else interval_hours_from_ms(m.fundingInterval)
                q = m.filters.quantity
                out.append(Instrument(
                    venue=VENUE, symbol=m.symbol, asset=asset(m.symbol), quote=m.quoteSymbol,
                    tick_size=Decimal(m.filters.price.tickSize), step_size=Decimal(q.stepSize),
                    min_size=None if q.minQuantity is None else Decimal(q.minQuantity),
                    contract_size=Decimal(multiplier(m.symbol)),  # kPEPE: one unit is 1000 PEPE
                    funding_interval_hours=hours, status=m.orderBookState,
                ))
            return out

        instruments = self._read(_markets, body, convert)
        # learned only once the whole body was read, so a bad body changes nothing
        self.intervals.update({i.symbol: i.funding_interval_hours for i in instruments
                               if i.funding_interval_hours is not None})
        return instruments

    def open_interest_request(self, symbol: str | None = None) -> HttpRequest:
        return self._get("/api/v1/openInterest", (("symbol", symbol),) if symbol else ())

    def decode_open_interest(self, body: bytes) -> dict[str, Decimal]:
        """Open interest per symbol, in base units."""
        return self._read(_open_interest, body, lambda rows: {r.symbol: Decimal(r.openInterest) for r in rows})

    def status_request(self) -> HttpRequest:
        return self._get("/api/v1/status")

    def decode_status(self, body: bytes) -> str:
        """The venue's status text: ``"Ok"`` when trading normally."""
        return self._read(_status, body, lambda s: s.status)

    # --- signed orders -----------------------------------------------------------------------

    def new_order_request(
        self, secret_b64: str, *, symbol: str, side: Side | str, quantity: Decimal, timestamp_ms: int,
        price: Decimal | None = None, time_in_force: str = "GTC", post_only: bool = False, reduce_only: bool = False,
        client_id: int | None = None, window_ms: int = auth.DEFAULT_WINDOW_MS,
    ) -> HttpRequest:
        """Signed ``POST /api/v1/order`` (instruction ``orderExecute``): Limit with ``price``, else
        Market. ``client_id`` is the venue's uint32 ``clientId``."""
        params: dict[str, object] = {"symbol": symbol, "side": _SIDE[Side(side)], "quantity": _plain(quantity)}
        if price is None:
            params["orderType"] = "Market"
        else:
            if time_in_force not in _TIME_IN_FORCE:
                raise UsageError(f"{VENUE}: time_in_force must be one of {sorted(_TIME_IN_FORCE)}")
            params.update(orderType="Limit", price=_plain(price), timeInForce=time_in_force)
            if post_only:
                params["postOnly"] = True
        if reduce_only:
            params["reduceOnly"] = True
        if client_id is not None:
            params["clientId"] = _client_id(client_id)
        return self._signed(secret_b64, "POST", "orderExecute", params, timestamp_ms, window_ms)

    def cancel_order_request(
        self, secret_b64: str, *, symbol: str, timestamp_ms: int, order_id: str | None = None,
        client_id: int | None = None, window_ms: int = auth.DEFAULT_WINDOW_MS,
    ) -> HttpRequest:
        """Signed ``DELETE /api/v1/order`` (instruction ``orderCancel``) by order id or client id."""
        params = _one_order(symbol, order_id, client_id, "a cancel")
        return self._signed(secret_b64, "DELETE", "orderCancel", params, timestamp_ms, window_ms)

    def balance_request(self, secret_b64: str, *, timestamp_ms: int,
                        window_ms: int = auth.DEFAULT_WINDOW_MS) -> HttpRequest:
        """Signed ``GET /api/v1/capital`` (instruction ``balanceQuery``): balances per asset."""
        return self._signed_get(secret_b64, "/api/v1/capital", "balanceQuery", {}, timestamp_ms, window_ms)

    def _signed_get(self, secret_b64: str, path: str, instruction: str, params: dict[str, object],
                    timestamp_ms: int, window_ms: int) -> HttpRequest:
        """A signed GET: ``params`` go in the query string and into the signed message."""
        return HttpRequest(method="GET", url=self.rest_url + path,
                           params=tuple((k, _query_text(v)) for k, v in sorted(params.items())),
                           headers=auth.request_headers(secret_b64, instruction, params, timestamp_ms, window_ms))

    def decode_order(self, body: bytes) -> OrderUpdate:
        """An order answer as an ``OrderUpdate``; the venue's error object ``{"code", "message"}``
        (also the body of a rejected order's HTTP 4xx) raises ``VenueError``."""

        def convert(o: BpOrderAck) -> OrderUpdate:
            filled = Decimal(o.executedQuantity)
            quote = Decimal(o.executedQuoteQuantity)
            return OrderUpdate(
                venue=VENUE, symbol=o.symbol, order_id=str(o.id),
                client_order_id=None if o.clientId is None else str(o.clientId), side=_ORDER_SIDES[o.side],
                status=_ORDER_STATUSES[o.status], price=None if o.price is None else Decimal(o.price),
                size=filled if o.quantity is None else Decimal(o.quantity), filled=filled,
                ts=ms_guess(o.createdAt) if o.createdAt else 0, avg_price=quote / filled if filled else None,
                order_type=o.orderType, reduce_only=bool(o.reduceOnly),
            )

        return self._read(_order_ack, body, convert)

    def decode_balances(self, body: bytes) -> list[BalanceUpdate]:
        """``GET /api/v1/capital``: ``balance`` = available + locked + staked, ``available`` as sent."""

        def convert(rows: dict[str, BpBalance]) -> list[BalanceUpdate]:
            return [BalanceUpdate(venue=VENUE, asset=a, available=Decimal(b.available), reason="REST",
                                  balance=Decimal(b.available) + Decimal(b.locked) + Decimal(b.staked))
                    for a, b in rows.items()]

        return self._read(_capital, body, convert)

    def _signed(self, secret_b64: str, method: str, instruction: str, params: dict[str, object], timestamp_ms: int,
                window_ms: int) -> HttpRequest:
        # the body is signed as k=v pairs, so it is sent with the same texts (booleans as JSON true)
        return HttpRequest(method=method, url=self.rest_url + "/api/v1/order",
                           headers=auth.request_headers(secret_b64, instruction, params, timestamp_ms, window_ms),
                           body=json.dumps(params, separators=(",", ":")).encode())

    # --- reconciliation queries --------------------------------------------------------------

    def order_query_request(self, secret_b64: str, *, symbol: str, timestamp_ms: int, order_id: str | None = None,
                            client_id: int | None = None, window_ms: int = auth.DEFAULT_WINDOW_MS) -> HttpRequest:
        """Signed ``GET /api/v1/order`` (instruction ``orderQuery``) by order id or client id. The
        venue answers only for an order still resting on the book: a filled, expired or cancelled
        one is a 404 ``RESOURCE_NOT_FOUND`` (look for its fills with ``fill_history_request``)."""
        params = _one_order(symbol, order_id, client_id, "an order query")
        return self._signed_get(secret_b64, "/api/v1/order", "orderQuery", params, timestamp_ms, window_ms)

    def fill_history_request(self, secret_b64: str, *, timestamp_ms: int, symbol: str | None = None,
                             order_id: str | None = None, from_ms: int | None = None, to_ms: int | None = None,
                             limit: int = 1000, offset: int = 0,
                             window_ms: int = auth.DEFAULT_WINDOW_MS) -> HttpRequest:
        """Signed ``GET /wapi/v1/history/fills`` (instruction ``fillHistoryQueryAll``): our fills,
        newest first, ``limit`` at most 1000 a page."""
        if not 1 <= limit <= 1000:
            raise UsageError(f"{VENUE}: fill history limit must be 1..1000, got {limit}")
        params: dict[str, object] = {"limit": limit, "offset": offset}
        for key, value in (("symbol", symbol), ("orderId", order_id), ("from", from_ms), ("to", to_ms)):
            if value is not None:
                params[key] = value
        return self._signed_get(secret_b64, "/wapi/v1/history/fills", "fillHistoryQueryAll", params, timestamp_ms,
                                window_ms)

    def positions_request(self, secret_b64: str, *, timestamp_ms: int, symbol: str | None = None,
                          window_ms: int = auth.DEFAULT_WINDOW_MS) -> HttpRequest:
        """Signed ``GET /api/v1/position`` (instruction ``positionQuery``): open futures positions."""
        params: dict[str, object] = {} if symbol is None else {"symbol": symbol}
        return self._signed_get(secret_b64, "/api/v1/position", "positionQuery", params, timestamp_ms, window_ms)

    def decode_fills(self, body: bytes) -> list[market_events.Fill]:
        """``OrderFill`` rows as ``Fill`` events (``clientId`` comes as a string here)."""

        def convert(rows: list[BpFillRow]) -> list[market_events.Fill]:
            return [market_events.Fill(venue=VENUE, symbol=r.symbol, order_id=str(r.orderId), side=_ORDER_SIDES[r.side],
                         price=Decimal(r.price), size=Decimal(r.quantity), fee=Decimal(r.fee), fee_asset=r.feeSymbol,
                         trade_id="" if r.tradeId is None else str(r.tradeId),
                         client_order_id=None if r.clientId is None else str(r.clientId), maker=r.isMaker,
                         ts=ms_from_iso(r.timestamp)) for r in rows]

        return self._read(_fills, body, convert)

    def decode_positions(self, body: bytes) -> list[market_events.PositionUpdate]:
        """``FuturePositionWithMargin`` rows: ``netQuantity`` signed (positive long)."""

        def convert(rows: list[BpPositionRow]) -> list[market_events.PositionUpdate]:
            return [market_events.PositionUpdate(venue=VENUE, symbol=r.symbol, size=Decimal(r.netQuantity),
                                   entry_price=Decimal(r.entryPrice), mark_price=Decimal(r.markPrice),
                                   unrealized_pnl=None if r.pnlUnrealized is None else Decimal(r.pnlUnrealized))
                    for r in rows]

        return self._read(_positions, body, convert)


class BpFillRow(msgspec.Struct, frozen=True):
    """One ``OrderFill`` of ``GET /wapi/v1/history/fills``."""

    symbol: str
    orderId: str | int
    side: str
    price: str
    quantity: str
    fee: str
    feeSymbol: str
    isMaker: bool
    timestamp: str
    clientId: str | int | None = None
    tradeId: int | None = None


class BpPositionRow(msgspec.Struct, frozen=True):
    """One ``FuturePositionWithMargin`` of ``GET /api/v1/position`` (the fields read here)."""

    symbol: str
    netQuantity: str
    entryPrice: str
    markPrice: str
    pnlUnrealized: str | None = None


_fills = msgspec.json.Decoder(list[BpFillRow], strict=False)
_positions = msgspec.json.Decoder(list[BpPositionRow], strict=False)
