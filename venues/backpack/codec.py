"""Backpack codec: wrapped frames routed by stream name, deltas chained ``U == prev u + 1``.

There is no subscribe acknowledgement and no WebSocket snapshot: a depth book syncs from the REST
snapshot (string ``lastUpdateId``, bids ascending so best last) and every later delta must start
one past the previous one. Unknown or closed symbols are silent, so the I/O layer's watchdog is
what notices them. Private ``account.*`` subscriptions carry an ED25519 signature over
``instruction=subscribe&timestamp&window``; the caller supplies the secret and the time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import msgspec

from market.errors import SubscriptionError, VenueError
from market.events import (
    BBO,
    BookDelta,
    BookSnapshot,
    Event,
    Fill,
    FundingRate,
    Instrument,
    Liquidation,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    Side,
    Trade,
    VenueRejected,
)
from market.funding import asset, interval_hours_from_ms, per_hour
from market.sequence import CONTIGUOUS
from market.units import ms_from_iso, ms_guess
from venues.backpack import auth
from venues.backpack.schemas import (
    BpBookTicker,
    BpDepth,
    BpEnvelope,
    BpFundingRow,
    BpLiquidation,
    BpMarket,
    BpMarkPrice,
    BpMarkPriceRow,
    BpOrderUpdate,
    BpPositionUpdate,
    BpRestDepth,
    BpRestError,
    BpTrade,
)
from venues.base import Channel, Codec, HttpRequest, Subscription

VENUE = "backpack"
_ENVELOPE = msgspec.json.Decoder(BpEnvelope)
_DEPTH = msgspec.json.Decoder(BpDepth)
_BBO = msgspec.json.Decoder(BpBookTicker)
_MARK = msgspec.json.Decoder(BpMarkPrice)
_TRADE = msgspec.json.Decoder(BpTrade)
_LIQ = msgspec.json.Decoder(BpLiquidation)
_ORDER = msgspec.json.Decoder(BpOrderUpdate)
_POSITION = msgspec.json.Decoder(BpPositionUpdate)
_REST_DEPTH = msgspec.json.Decoder(BpRestDepth)
_MARK_ROWS = msgspec.json.Decoder(list[BpMarkPriceRow])
_FUNDING_ROWS = msgspec.json.Decoder(list[BpFundingRow])
_MARKETS = msgspec.json.Decoder(list[BpMarket])
_REST_ERROR = msgspec.json.Decoder(BpRestError)
_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
_PRIVATE = {"account.orderUpdate", "account.positionUpdate"}
_STATUS = {
    "New": OrderStatus.NEW, "PartiallyFilled": OrderStatus.PARTIALLY_FILLED, "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELED, "Expired": OrderStatus.EXPIRED, "TriggerPending": OrderStatus.NEW,
    "TriggerFailed": OrderStatus.REJECTED,
}
_SIDE = {"Bid": Side.BUY, "Ask": Side.SELL}


def _d(text: Any) -> Decimal:
    return Decimal(str(text))


class BackpackCodec(Codec):
    name = VENUE
    sequence_rule = CONTIGUOUS
    heartbeat_interval_s = None  # protocol pings every 60 s, answered by the WebSocket library
    max_connection_age_s = None
    example_symbol = "BTC_USDC_PERP"

    def __init__(self, *, ws_url: str = "wss://ws.backpack.exchange", rest_url: str = "https://api.backpack.exchange",
                 funding_interval_hours: int = 1, funding_intervals: dict[str, int] | None = None,
                 depth_window: str | None = None):
        super().__init__()
        self.ws_url = ws_url
        self.rest_url = rest_url.rstrip("/")
        self.default_interval = funding_interval_hours
        self.intervals: dict[str, int] = dict(funding_intervals or {})
        if depth_window not in (None, "200ms", "600ms", "1000ms"):
            raise ValueError(f"depth_window must be None, 200ms, 600ms or 1000ms, got {depth_window!r}")
        self.depth_window = depth_window

    # --- connection ----------------------------------------------------------------------------

    def url(self, stream: str = "market", **params: Any) -> str:
        return self.ws_url

    def topics(self, sub: Subscription) -> list[str]:
        ch, sym = sub.channel, sub.symbol
        if ch is Channel.ACCOUNT:
            return ["account.orderUpdate", "account.positionUpdate"]
        if ch is Channel.LIQUIDATIONS:
            return ["liquidation"]
        if sym is None:
            raise SubscriptionError(f"{VENUE}: {ch} needs a symbol")
        if ch is Channel.DEPTH:
            return [f"depth.{self.depth_window}.{sym}" if self.depth_window else f"depth.{sym}"]
        if ch is Channel.BBO:
            return [f"bookTicker.{sym}"]
        if ch is Channel.FUNDING:
            return [f"markPrice.{sym}"]
        if ch is Channel.TRADES:
            return [f"trade.{sym}"]
        raise SubscriptionError(f"{VENUE}: channel {ch} is not offered (no BOOK snapshot stream, no all-funding)")

    def topic(self, sub: Subscription) -> str:
        return self.topics(sub)[0]

    def _frames(self, method: str, subs: Iterable[Subscription], secret_b64: str | None,
                timestamp_ms: int | None) -> list[str]:
        topics = [t for s in subs for t in self.topics(s)]
        public = [t for t in topics if t not in _PRIVATE]
        private = [t for t in topics if t in _PRIVATE]
        out = [json.dumps({"method": method, "params": public}, separators=(",", ":"))] if public else []
        if private:
            if secret_b64 is None or timestamp_ms is None:
                raise SubscriptionError(f"{VENUE}: account streams need the API secret and a timestamp")
            out.append(json.dumps({"method": method, "params": private,
                                   "signature": auth.subscribe_signature(secret_b64, timestamp_ms)},
                                  separators=(",", ":")))
        return out

    def subscribe(self, subs: Iterable[Subscription], *, secret_b64: str | None = None,
                  timestamp_ms: int | None = None) -> list[str]:
        """SUBSCRIBE frames; Backpack sends no acknowledgement, data simply starts."""
        return self._frames("SUBSCRIBE", subs, secret_b64, timestamp_ms)

    def unsubscribe(self, subs: Iterable[Subscription], *, secret_b64: str | None = None,
                    timestamp_ms: int | None = None) -> list[str]:
        return self._frames("UNSUBSCRIBE", subs, secret_b64, timestamp_ms)

    # --- decoding ------------------------------------------------------------------------------

    def decode(self, frame: bytes | str) -> list[Event]:
        self.stats.frames += 1
        try:
            env = _ENVELOPE.decode(frame)
            if env.error is not None:
                out: list[Event] = [VenueRejected(venue=VENUE, code=str(env.error.code), message=env.error.message)]
            elif len(env.data):
                out = self._route(env.stream or "", env.data)
            elif env.e is not None:  # unwrapped frame, routed by its event type
                out = self._route(env.e, frame)
            else:
                return self._unknown("no stream")
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError, KeyError,
                ArithmeticError) as exc:
            raise self._error(str(exc), frame) from None
        self.stats.events += len(out)
        return out

    def _route(self, stream: str, raw: Any) -> list[Event]:
        kind = stream.split(".", 1)[0]
        if kind == "depth":
            m = _DEPTH.decode(raw)
            first, last = int(m.U), int(m.u)
            return [BookDelta(venue=VENUE, symbol=m.s, bids=m.b, asks=m.a, first_seq=first, seq=last,
                              prev_seq=first - 1, ts=ms_guess(m.E))]
        if kind == "bookTicker":
            t = _BBO.decode(raw)
            return [BBO(venue=VENUE, symbol=t.s, bid_price=_d(t.b), bid_size=_d(t.B), ask_price=_d(t.a),
                        ask_size=_d(t.A), ts=ms_guess(t.E), seq=int(t.u))]
        if kind == "markPrice":
            mp = _MARK.decode(raw)
            h = self.intervals.get(mp.s, self.default_interval)
            rate = _d(mp.f)
            return [FundingRate(venue=VENUE, symbol=mp.s, rate=rate, interval_hours=h, rate_per_hour=per_hour(rate, h),
                                mark_price=_d(mp.p), index_price=_d(mp.i), next_funding_ts=ms_guess(mp.n),
                                ts=ms_guess(mp.E))]
        if kind == "trade":
            tr = _TRADE.decode(raw)
            return [Trade(venue=VENUE, symbol=tr.s, side=Side.SELL if tr.m else Side.BUY, price=_d(tr.p),
                          size=_d(tr.q), trade_id=str(tr.t), ts=ms_guess(tr.E))]
        if kind == "liquidation":
            lq = _LIQ.decode(raw)
            return [Liquidation(venue=VENUE, symbol=lq.s, side=_SIDE[lq.S], price=_d(lq.p), size=_d(lq.q),
                                ts=ms_guess(lq.E))]
        if stream.startswith("account.orderUpdate") or kind.startswith("order"):
            return self._order(_ORDER.decode(raw))
        if stream.startswith("account.positionUpdate") or kind.startswith("position"):
            p = _POSITION.decode(raw)
            return [PositionUpdate(venue=VENUE, symbol=p.s, size=_d(p.q),
                                   entry_price=None if p.B is None else _d(p.B),
                                   mark_price=None if p.M is None else _d(p.M),
                                   unrealized_pnl=None if p.P is None else _d(p.P), ts=ms_guess(p.E))]
        return self._unknown(kind or "?")

    def _order(self, o: BpOrderUpdate) -> list[Event]:
        try:
            status, side = _STATUS[o.X], _SIDE[o.S]
        except KeyError as exc:
            raise ValueError(f"unknown order state or side {exc}") from None
        ts = ms_guess(o.E)
        out: list[Event] = [OrderUpdate(
            venue=VENUE, symbol=o.s, order_id=str(o.i), client_order_id=None if o.c is None else str(o.c), side=side,
            status=status, price=None if o.p is None else _d(o.p), size=_d(o.q or "0"), filled=_d(o.z or "0"),
            ts=ts, last_fill_price=None if o.L is None else _d(o.L), last_fill_size=None if o.l is None else _d(o.l),
            fee=None if o.n is None else _d(o.n), fee_asset=o.N, order_type=o.o,
        )]
        if o.e == "orderFill" and o.l is not None and o.L is not None:
            out.append(Fill(venue=VENUE, symbol=o.s, order_id=str(o.i), side=side, price=_d(o.L), size=_d(o.l),
                            fee=None if o.n is None else _d(o.n), fee_asset=o.N,
                            trade_id="" if o.t is None else str(o.t),
                            client_order_id=None if o.c is None else str(o.c),
                            liquidation=(o.O or "").endswith("AUTOCLOSE"), maker=o.m, ts=ts))
        return out

    # --- REST ----------------------------------------------------------------------------------

    def _get(self, path: str, params: tuple[tuple[str, str], ...] = (), weight: int = 1) -> HttpRequest:
        return HttpRequest(method="GET", url=f"{self.rest_url}{path}", params=params, weight=weight)

    def _rest(self, decoder: msgspec.json.Decoder, body: bytes) -> Any:
        try:
            return decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            try:
                err = _REST_ERROR.decode(body)
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
                raise self._error(str(exc), body) from None
            raise VenueError(VENUE, err.code, err.message) from None

    def depth_request(self, symbol: str, limit: int = 100) -> HttpRequest:
        size = next((n for n in _DEPTH_LIMITS if n >= limit), 1000)
        return self._get("/api/v1/depth", (("symbol", symbol), ("limit", str(size))))

    def decode_snapshot(self, symbol: str, body: bytes) -> BookSnapshot:
        m = self._rest(_REST_DEPTH, body)
        try:
            seq, ts = int(m.lastUpdateId), ms_guess(m.timestamp)
        except ValueError as exc:
            raise self._error(str(exc), body) from None
        # REST bids are ascending (best last); deltas and books want best first
        return BookSnapshot(venue=VENUE, symbol=symbol, bids=m.bids[::-1], asks=m.asks, seq=seq, ts=ts)

    def funding_request(self, symbol: str | None = None) -> HttpRequest:
        return self._get("/api/v1/markPrices", (("symbol", symbol),) if symbol else ())

    def decode_funding(self, body: bytes) -> list[FundingRate]:
        out = []
        try:
            for r in self._rest(_MARK_ROWS, body):
                if r.fundingRate is None:
                    continue
                h = self.intervals.get(r.symbol, self.default_interval)
                rate = _d(r.fundingRate)
                out.append(FundingRate(
                    venue=VENUE, symbol=r.symbol, rate=rate, interval_hours=h, rate_per_hour=per_hour(rate, h),
                    mark_price=_d(r.markPrice), index_price=None if r.indexPrice is None else _d(r.indexPrice),
                    next_funding_ts=None if r.nextFundingTimestamp is None else ms_guess(r.nextFundingTimestamp)))
        except (ValueError, ArithmeticError) as exc:
            raise self._error(str(exc), body) from None
        return out

    def funding_history_request(self, symbol: str, start_ms: int = 0, end_ms: int | None = None) -> HttpRequest:
        # newest first, at most 10000 rows; the endpoint takes no time filter, callers cut the window
        return self._get("/api/v1/fundingRates", (("symbol", symbol), ("limit", "1000")))

    def decode_funding_history(self, body: bytes) -> list[FundingRate]:
        """Settled rates, ``ts`` = the interval end. The newest row may still be in progress
        (Backpack includes the running estimate); callers cut at their own ``now``."""
        out = []
        try:
            for r in self._rest(_FUNDING_ROWS, body):
                h = self.intervals.get(r.symbol, self.default_interval)
                rate = _d(r.fundingRate)
                out.append(FundingRate(venue=VENUE, symbol=r.symbol, rate=rate, interval_hours=h,
                                       rate_per_hour=per_hour(rate, h), ts=ms_from_iso(r.intervalEndTimestamp),
                                       settled=True))
        except (ValueError, ArithmeticError) as exc:
            raise self._error(str(exc), body) from None
        return out

    def instruments_request(self) -> HttpRequest:
        return self._get("/api/v1/markets", (("marketType", "PERP"),))

    def decode_instruments(self, body: bytes) -> list[Instrument]:
        """Perpetual markets; also learns each market's funding interval for later rates."""
        out = []
        try:
            for m in self._rest(_MARKETS, body):
                if m.marketType != "PERP":
                    continue
                hours = None if m.fundingInterval is None else interval_hours_from_ms(int(m.fundingInterval))
                if hours is not None:
                    self.intervals[m.symbol] = hours
                q = m.filters.quantity
                out.append(Instrument(
                    venue=VENUE, symbol=m.symbol, asset=asset(m.symbol), quote=m.quoteSymbol,
                    tick_size=_d(m.filters.price.tickSize), step_size=_d(q.stepSize),
                    min_size=None if q.minQuantity is None else _d(q.minQuantity),
                    funding_interval_hours=hours, status=m.orderBookState))
        except (ValueError, ArithmeticError) as exc:
            raise self._error(str(exc), body) from None
        return out

    def order_request(self, secret_b64: str, *, symbol: str, side: Side | str, quantity: Decimal,
                      timestamp_ms: int, price: Decimal | None = None, reduce_only: bool = False,
                      client_id: int | None = None, window_ms: int = auth.DEFAULT_WINDOW_MS) -> HttpRequest:
        """Signed ``POST /api/v1/order`` (instruction ``orderExecute``): Limit with a price, else Market."""
        params: dict[str, object] = {"symbol": symbol, "side": "Bid" if Side(side) is Side.BUY else "Ask",
                                     "orderType": "Limit" if price is not None else "Market",
                                     "quantity": format(quantity, "f")}
        if price is not None:
            params["price"] = format(price, "f")
            params["timeInForce"] = "IOC"
        if reduce_only:
            params["reduceOnly"] = True
        if client_id is not None:
            params["clientId"] = client_id
        return HttpRequest(method="POST", url=f"{self.rest_url}/api/v1/order",
                           headers=auth.request_headers(secret_b64, "orderExecute", params, timestamp_ms, window_ms),
                           body=json.dumps(params, separators=(",", ":")).encode())

    def cancel_request(self, secret_b64: str, *, symbol: str, order_id: str, timestamp_ms: int,
                       window_ms: int = auth.DEFAULT_WINDOW_MS) -> HttpRequest:
        params = {"symbol": symbol, "orderId": order_id}
        return HttpRequest(method="DELETE", url=f"{self.rest_url}/api/v1/order",
                           headers=auth.request_headers(secret_b64, "orderCancel", params, timestamp_ms, window_ms),
                           body=json.dumps(params, separators=(",", ":")).encode())

    def decoders(self) -> dict:
        return {**super().decoders(), "decode_funding_history": self.decode_funding_history,
                "decode_instruments": self.decode_instruments}

