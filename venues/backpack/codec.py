"""Backpack codec: wrapped frames decoded in one pass, depth deltas chained ``U == prev u + 1``.

One WebSocket URL serves every stream. The venue acknowledges nothing: a valid SUBSCRIBE gets no
reply, unknown or closed symbols stay silent (the I/O layer's watchdog notices them), and only bad
requests come back, as ``{"id": null, "error": ...}`` frames (``VenueRejected``). No stream sends a
book snapshot: a depth book syncs from the REST snapshot (``rest.py``) and every later delta must
start one past the previous one. Private ``account.*`` streams need the ED25519 signature array;
``authorize(secret, timestamp_ms)`` makes it (before each connect: it is good for ``window_ms``)
and the codec keeps only the signature, never the secret.

Caller duties: apply ``BookDelta`` to ``book(symbol)``; on a ``Resync`` fetch ``depth_request``
and feed ``decode_snapshot``; feed ``decode_instruments`` once so funding intervals are known.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, get_args

import msgspec

from perpwire.market.errors import SubscriptionError
from perpwire.market.events import (
    BBO,
    BookDelta,
    Event,
    Fill,
    FundingRate,
    Liquidation,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    Side,
    Trade,
    VenueRejected,
)
from perpwire.market.sequence import CONTIGUOUS
from perpwire.market.units import dec, ms_guess
from perpwire.venues.backpack import auth
from perpwire.venues.backpack.rest import VENUE, BackpackRest
from perpwire.venues.backpack.schemas import (
    BpBookTicker,
    BpData,
    BpDepth,
    BpFrame,
    BpKind,
    BpLiquidation,
    BpLooseFrame,
    BpMarkPrice,
    BpOrderFields,
    BpOrderFill,
    BpOrderUpdate,
    BpPositionFields,
    BpPositionUpdate,
    BpTrade,
)
from perpwire.venues.base import (
    Channel,
    Codec,
    Connection,
    RestBudget,
    SessionKind,
    Subscription,
    VenueLimits,
    VenueSpec,
)

# lax: integer fields come as numbers or as strings of digits (see schemas)
_FRAME = msgspec.json.Decoder(BpFrame, strict=False)
_LOOSE = msgspec.json.Decoder(BpLooseFrame)
_KIND = msgspec.json.Decoder(BpKind)
_DATA = msgspec.json.Decoder(BpData, strict=False)
_POSITION_SNAPSHOT = msgspec.json.Decoder(BpPositionFields, strict=False)
_US_FROM, _US_TO = 10**14, 10**17  # epoch µs after 1973 (ms_guess's µs band)
#: Decimal of each funding interval in hours, made once
_HOURS: dict[int, Decimal] = {}
_KNOWN_KINDS = frozenset(t.__struct_config__.tag for t in get_args(BpData))

#: No published cap; 91 streams in one frame is the most seen served, so frames stay below it.
MAX_STREAMS_PER_FRAME = 90
DEPTH_WINDOWS = ("200ms", "600ms", "1000ms")
ACCOUNT_STREAMS = ("account.orderUpdate", "account.positionUpdate")
_POSITION_STREAM = "account.positionUpdate"

_SIDE = {"Bid": Side.BUY, "Ask": Side.SELL}
_STATUS = {
    "New": OrderStatus.NEW, "PartiallyFilled": OrderStatus.PARTIALLY_FILLED, "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELED, "Expired": OrderStatus.EXPIRED,
    "TriggerPending": OrderStatus.NEW,  # a trigger order waiting for its price
    "TriggerFailed": OrderStatus.REJECTED,
}
# forced closes of our own positions; SETTLEMENT_AUTOCLOSE (market delisting) is not one
_LIQUIDATION_ORIGINS = frozenset({"LIQUIDATION_AUTOCLOSE", "ADL_AUTOCLOSE"})


def _opt(value: Any) -> Decimal | None:
    return None if value is None else dec(value)


class BackpackCodec(BackpackRest, Codec):
    """Options: ``ws_url``, ``rest_url`` (the simulator serves both on 127.0.0.1),
    ``depth_window`` (None for ``depth.<sym>``, or "200ms"/"600ms"/"1000ms" for the aggregated
    streams), ``funding_interval_hours`` (default for markets not learned from
    ``decode_instruments``: 1 since 2025-08-20) and ``funding_intervals`` (symbol -> hours)."""

    name = VENUE
    sequence_rule = CONTIGUOUS
    heartbeat_interval_s = None  # protocol pings every 60 s, answered by the WebSocket library
    max_connection_age_s = None
    example_symbol = "BTC_USDC_PERP"
    #: no stream sends a book snapshot (Backpack's stream docs): the largest frames are depth deltas
    #: aggregated under load; even a whole 1,000-level book (~25 B a level, 50 KB) x4 fits 256 KiB
    max_frame_bytes: ClassVar[int] = 256 * 2**10
    #: markPrice every 1 s even if unchanged (Backpack's stream docs); ``depth.<sym>`` sends on change only
    #: (a quiet book is silent for 30 s), ``depth.<window>.<sym>`` once per window (set per instance)
    cadence_s: ClassVar[Mapping[Channel, float]] = MappingProxyType({Channel.FUNDING: 1.0})
    #: a traded venue: the signed account streams (always on), depth with the BBO (pausable), funding
    spec: ClassVar[VenueSpec] = VenueSpec(
        connections=(
            Connection(name="account", whole_venue=(Channel.ACCOUNT,), account=True),
            Connection(name="depth", per_symbol=(Channel.DEPTH, Channel.BBO), pausable=True),
            Connection(name="funding", per_symbol=(Channel.FUNDING,)),
        ),
        funding_per_symbol=True,
        rest=RestBudget(rate_per_s=20.0, burst=100.0,
                        reason="Backpack publishes no REST limit (only HTTP 429, without Retry-After); "
                               "20 requests a second is what common client libraries assume"),
        limits=VenueLimits(
            streams_per_connection=200, control_messages=10, control_window_s=1.0,
            connections=60, connections_window_s=60.0, rest_weight=1200, rest_window_s=60.0,
            max_connections_per_ip=None,
            source="docs.backpack.exchange/ (the API reference) publishes no REST or WebSocket limits (only "
                   "HTTP 429 "
                   "TOO_MANY_REQUESTS, no Retry-After): figures assumed; 91 streams on one socket observed "
                   "served, 200 assumed; REST 20 requests a second as common client libraries assume"),
        taker_fee=Decimal("0.0004"),
        taker_fee_source="Backpack trading fees (support.backpack.exchange/exchange/trading/trading-fees), "
                         "perpetuals base-tier taker",
    )

    @classmethod
    def session_kind(cls, channels, options, credentials) -> SessionKind:
        """Account streams are subscribed with an ED25519 signature made just before each connect."""
        return SessionKind.SIGNED_SUBSCRIBE if Channel.ACCOUNT in channels else SessionKind.PLAIN

    def __init__(self, *, ws_url: str = "wss://ws.backpack.exchange", rest_url: str = "https://api.backpack.exchange",
                 depth_window: str | None = None, funding_interval_hours: int = 1,
                 funding_intervals: dict[str, int] | None = None):
        super().__init__()
        if depth_window is not None and depth_window not in DEPTH_WINDOWS:
            raise ValueError(f"depth_window must be None or one of {DEPTH_WINDOWS}, got {depth_window!r}")
        if funding_interval_hours <= 0:
            raise ValueError(f"funding_interval_hours must be positive, got {funding_interval_hours}")
        self.ws_url = ws_url
        self.rest_url = rest_url.rstrip("/")
        self.depth_window = depth_window
        if depth_window is not None:
            self.cadence_s = MappingProxyType(  # type: ignore[misc]
                {**self.cadence_s, Channel.DEPTH: int(depth_window.removesuffix("ms")) / 1000})
        self.default_interval = funding_interval_hours
        self.intervals = dict(funding_intervals or {})
        self._signature: list[str] | None = None
        handlers: dict[type, Callable[[Any], list[Event]]] = {
            BpBookTicker: self._bbo, BpMarkPrice: self._mark_price, BpTrade: self._trade,
            BpLiquidation: self._liquidation, BpPositionFields: self._position,  # the snapshot, untagged
        }
        handlers.update(dict.fromkeys(get_args(BpOrderUpdate), self._order))
        handlers.update(dict.fromkeys(get_args(BpPositionUpdate), self._position))
        self._handlers = handlers

    # --- connection and subscriptions --------------------------------------------------------

    def url(self, stream: str = "market", **params: Any) -> str:
        return self.ws_url

    def topics(self, sub: Subscription) -> list[str]:
        """Every stream name of ``sub`` (ACCOUNT is two streams)."""
        ch, sym = sub.channel, sub.symbol
        if ch is Channel.ACCOUNT:
            return [f"{s}.{sym}" if sym else s for s in ACCOUNT_STREAMS]
        if ch is Channel.LIQUIDATIONS:
            return ["liquidation"]  # every market on one stream
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
        raise SubscriptionError(f"{VENUE}: {ch} is not offered (no book snapshot stream, no all-markets funding)")

    def topic(self, sub: Subscription) -> str:
        return self.topics(sub)[0]

    def authorize(self, secret_b64: str, timestamp_ms: int, window_ms: int = auth.DEFAULT_WINDOW_MS) -> None:
        """Sign the account streams' SUBSCRIBE at ``timestamp_ms`` (now); call before each connect."""
        self._signature = auth.subscribe_signature(secret_b64, timestamp_ms, window_ms)

    def subscribe(self, subs: Iterable[Subscription]) -> list[str]:
        """SUBSCRIBE frames. No acknowledgement comes back: data simply starts."""
        return self._frames("SUBSCRIBE", subs)

    def unsubscribe(self, subs: Iterable[Subscription]) -> list[str]:
        return self._frames("UNSUBSCRIBE", subs)

    def _frames(self, method: str, subs: Iterable[Subscription]) -> list[str]:
        topics = list(dict.fromkeys(t for s in subs for t in self.topics(s)))
        public = [t for t in topics if not t.startswith("account.")]
        private = [t for t in topics if t.startswith("account.")]
        out = [json.dumps({"method": method, "params": public[i : i + MAX_STREAMS_PER_FRAME]}, separators=(",", ":"))
               for i in range(0, len(public), MAX_STREAMS_PER_FRAME)]
        if private:
            msg: dict[str, Any] = {"method": method, "params": private}
            if self._signature is not None:
                msg["signature"] = self._signature
            elif method == "SUBSCRIBE":
                raise SubscriptionError(f"{VENUE}: account streams need authorize(secret, timestamp_ms) first")
            out.append(json.dumps(msg, separators=(",", ":")))
        return out

    # --- decoding ----------------------------------------------------------------------------

    def decode(self, frame: bytes | str) -> list[Event]:
        stats = self.stats
        stats.frames += 1
        try:
            f = _FRAME.decode(frame)
            data, error = f.data, f.error
        except msgspec.ValidationError:
            data = error = None
        if data is None and error is None:
            data = self._loose(frame)
        if type(data) is BpDepth:  # the hot path, inlined: a call costs ~0.2 µs of ~3
            e = data.E
            ts = e // 1000 if _US_FROM <= e < _US_TO else ms_guess(e)  # µs on the wire: skip the call
            # no previous-id pointer on this venue: the chain is U == previous u + 1
            events = [BookDelta(venue=VENUE, symbol=data.s, bids=data.b, asks=data.a, first_seq=data.U,
                                seq=data.u, prev_seq=data.U - 1, ts=ts)]
        elif data is not None:
            events = self._handlers[type(data)](data)
        elif error is not None:
            events = [VenueRejected(venue=VENUE, code=str(error.code), message=error.message)]
        else:
            events = []  # counted by _loose
        stats.events += len(events)
        return events

    def _loose(self, frame: bytes | str) -> Any:
        """What the one-pass decoder refused or did not place: the position snapshot (no ``e``),
        event types we do not map, frames sent without the wrapper, broken frames (raise). Returns
        the event's wire struct, or None when the frame was counted as unknown."""
        f = _LOOSE.decode(frame)
        if len(f.data):
            body, stream = f.data, f.stream or ""
        elif f.e is not None:
            body, stream = frame, ""
        else:
            self._unknown("no stream")
            return None
        kind = _KIND.decode(body).e
        if kind is None:
            if stream.startswith(_POSITION_STREAM):
                return _POSITION_SNAPSHOT.decode(body)
            self._unknown(stream.partition(".")[0] or "no event type")
            return None
        if kind not in _KNOWN_KINDS:
            self._unknown(kind)  # ticker, openInterest, kline, balanceUpdate, ...
            return None
        return _DATA.decode(body)  # a known type that failed to validate raises here, with the reason

    def _bbo(self, t: BpBookTicker) -> list[Event]:
        return [BBO(venue=VENUE, symbol=t.s, bid_price=Decimal(t.b), bid_size=Decimal(t.B), ask_price=Decimal(t.a),
                    ask_size=Decimal(t.A), ts=ms_guess(t.E), seq=t.u)]

    def _mark_price(self, m: BpMarkPrice) -> list[Event]:
        """``_funding`` inline for the funding feed (every market, every second): no keyword packing,
        the interval's Decimal made once, and at one hour the rate is its own per-hour value."""
        symbol = m.s
        hours = self.intervals.get(symbol, self.default_interval)
        rate = Decimal(m.f)
        if hours == 1:
            hourly = rate
        else:
            div = _HOURS.get(hours)
            if div is None:
                div = _HOURS[hours] = Decimal(hours)
            hourly = rate / div
        e = m.E
        return [FundingRate(venue=VENUE, symbol=symbol, rate=rate, interval_hours=hours, rate_per_hour=hourly,
                            mark_price=Decimal(m.p), index_price=Decimal(m.i), next_funding_ts=ms_guess(m.n),
                            ts=e // 1000 if _US_FROM <= e < _US_TO else ms_guess(e))]

    def _trade(self, t: BpTrade) -> list[Event]:
        return [Trade(venue=VENUE, symbol=t.s, side=Side.SELL if t.m else Side.BUY, price=Decimal(t.p),
                      size=Decimal(t.q), trade_id=str(t.t), ts=ms_guess(t.E))]

    def _liquidation(self, m: BpLiquidation) -> list[Event]:
        return [Liquidation(venue=VENUE, symbol=m.s, side=_SIDE[m.S], price=Decimal(m.p), size=Decimal(m.q),
                            ts=ms_guess(m.E))]

    def _order(self, o: BpOrderFields) -> list[Event]:
        side, status = _SIDE[o.S], _STATUS[o.X]
        filled = Decimal(o.z)
        quote = _opt(o.Z)
        # an order placed by quote quantity has no base quantity: what executed is all that is known
        size = filled if o.q is None else Decimal(o.q)
        ts = ms_guess(o.E)
        order_id = str(o.i)
        client_id = None if o.c is None else str(o.c)
        fee = _opt(o.n)
        out: list[Event] = [OrderUpdate(
            venue=VENUE, symbol=o.s, order_id=order_id, client_order_id=client_id, side=side, status=status,
            price=_opt(o.p), size=size, filled=filled, ts=ts,
            avg_price=quote / filled if quote is not None and filled else None,
            last_fill_price=_opt(o.L), last_fill_size=_opt(o.l), fee=fee, fee_asset=o.N, order_type=o.o,
            reduce_only=bool(o.r),
        )]
        if type(o) is BpOrderFill and o.l is not None and o.L is not None:
            out.append(Fill(
                venue=VENUE, symbol=o.s, order_id=order_id, side=side, price=Decimal(o.L), size=Decimal(o.l),
                fee=fee, fee_asset=o.N, trade_id="" if o.t is None else str(o.t), client_order_id=client_id,
                liquidation=o.O in _LIQUIDATION_ORIGINS, maker=o.m, ts=ts,
            ))
        return out

    def _position(self, p: BpPositionFields) -> list[Event]:
        return [PositionUpdate(venue=VENUE, symbol=p.s, size=dec(p.q), entry_price=_opt(p.B), mark_price=_opt(p.M),
                               unrealized_pnl=_opt(p.P), ts=ms_guess(p.E))]

    def decoders(self) -> dict[str, Callable[[bytes], object]]:
        return {**super().decoders(), "decode_funding_history": self.decode_funding_history,
                "decode_instruments": self.decode_instruments, "decode_open_interest": self.decode_open_interest,
                "decode_status": self.decode_status}

