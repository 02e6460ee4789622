"""The Binance USD-M codec (Aster subclasses it): frames in, ``market.events`` out.

Combined-stream frames (``{"stream","data"}``) are routed by stream name, because partial
and diff depth share ``e == "depthUpdate"``; raw frames by the event type ``e``. Partial-depth
frames (``<sym>@depth20@100ms``, a full top-20 book ten times a second) are not decoded at all:
they become ``LazyBookSnapshot`` holding the frame, with the symbol from the stream name, and
``materialize`` decodes one only when the book is read. The venue's compact combined frames
take a fast path (stream name read off the front of the bytes; other streams decoded in one
pass into ``BinanceCombined``); anything else goes through ``BinanceFrame``, an envelope whose
``data`` stays ``msgspec.Raw``, where acks, ``LIST_SUBSCRIPTIONS`` replies and error frames are
recognised by their keys. Events are the tagged union ``schemas.BinanceEvent``, normalised in
``normalise``; unknown event types are counted, never fatal. Funding rates are a fraction per
interval; the interval per symbol is codec state learned from ``decode_funding_info`` (default
``funding_interval_hours``, 8 h). URLs and subscriptions live in ``streams``, REST in ``rest``,
signing in ``auth``, WS-API frames in ``ws_api``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar

import msgspec

from perpwire.market.events import BookDelta, BookSnapshot, Event, FundingRate, LazyBookSnapshot, MarkPrice
from perpwire.market.funding import per_hour
from perpwire.market.sequence import PU_CHAIN
from perpwire.venues.base import Channel, Codec, Connection, RestBudget, SessionKind, VenueLimits, VenueSpec
from perpwire.venues.binance import normalise
from perpwire.venues.binance.rest import BinanceRest
from perpwire.venues.binance.schemas import (
    KNOWN_EVENTS,
    BinanceAccountUpdate,
    BinanceAggTrade,
    BinanceBookTicker,
    BinanceCombined,
    BinanceCombinedDepth,
    BinanceCombinedMark,
    BinanceCombinedMarkArr,
    BinanceDepthUpdate,
    BinanceEvent,
    BinanceForceOrder,
    BinanceFrame,
    BinanceListenKeyExpired,
    BinanceMarginCall,
    BinanceMarkLean,
    BinanceMarkPriceUpdate,
    BinanceOrderTradeUpdate,
    BinanceProbe,
    BinanceSnapshotFrame,
    BinanceTradeLite,
)
from perpwire.venues.binance.streams import BinanceStreams

_STREAM_PREFIX = b'{"stream":"'
_EVENT_PREFIX = b'{"e":"'
_ARRAY_PREFIX = b'[{"e":"'
_DEPTH_EVENT = b'{"e":"depthUpdate"'
_MARK_EVENT = b'{"e":"markPriceUpdate"'
_MARK_ARRAY = b'[{"e":"markPriceUpdate"'
_ALL_MARKS = b"!markPrice"
_frame = msgspec.json.Decoder(BinanceFrame | list[msgspec.Raw])
_event = msgspec.json.Decoder(BinanceEvent | list[BinanceMarkPriceUpdate])
_combined = msgspec.json.Decoder(BinanceCombined)
_combined_depth = msgspec.json.Decoder(BinanceCombinedDepth)
_snapshot_frame = msgspec.json.Decoder(BinanceSnapshotFrame)
_depth = msgspec.json.Decoder(BinanceDepthUpdate)
_probe = msgspec.json.Decoder(BinanceProbe | list[BinanceProbe])
_mark = msgspec.json.Decoder(BinanceMarkLean)
_marks = msgspec.json.Decoder(tuple[BinanceMarkLean, ...])
_combined_mark = msgspec.json.Decoder(BinanceCombinedMark)
_combined_marks = msgspec.json.Decoder(BinanceCombinedMarkArr)
#: Decimal of each funding interval in hours, made once (``rate / hours`` is ``per_hour``'s division)
_HOURS: dict[int, Decimal] = {}

#: update speeds the venue uses when a stream name carries none (partial and diff depth 250 ms,
#: markPrice 3 s, as the Aster and Binance USD-M stream docs give them)
_DEFAULT_DEPTH_S = 0.25
_DEFAULT_MARK_PRICE_S = 3.0


def _seconds(speed: str | None, default: float) -> float:
    """A stream-name speed suffix in seconds: "100ms" -> 0.1, "1s" -> 1.0, None -> ``default``."""
    if speed is None:
        return default
    if speed.endswith("ms"):
        return int(speed[:-2]) / 1000
    if speed.endswith("s"):
        return float(int(speed[:-1]))
    raise ValueError(f"unknown stream speed {speed!r} (expected e.g. '100ms' or '1s')")


def cadences(book_speed: str | None, depth_speed: str | None, funding_speed: str | None) -> Mapping[Channel, float]:
    """Seconds between pushes of the streams the codec subscribes with these speed options:
    ``depth<N>@<speed>`` (BOOK), ``depth@<speed>`` (DEPTH), ``markPrice@<speed>`` and
    ``!markPrice@arr@<speed>`` (FUNDING, FUNDING_ALL). bookTicker is real-time (on change),
    aggTrade and forceOrder follow trading: no cadence."""
    mark = _seconds(funding_speed, _DEFAULT_MARK_PRICE_S)
    return MappingProxyType({
        Channel.BOOK: _seconds(book_speed, _DEFAULT_DEPTH_S), Channel.DEPTH: _seconds(depth_speed, _DEFAULT_DEPTH_S),
        Channel.FUNDING: mark, Channel.FUNDING_ALL: mark,
    })


_SIMPLE: dict[type, Callable[[str, Any], list[Event]]] = {
    BinanceBookTicker: normalise.book_ticker,
    BinanceDepthUpdate: normalise.depth_update,
    BinanceForceOrder: normalise.force_order,
    BinanceAggTrade: normalise.agg_trade,
    BinanceOrderTradeUpdate: normalise.order_trade_update,
    BinanceAccountUpdate: normalise.account_update,
    BinanceMarginCall: normalise.margin_call,
    BinanceListenKeyExpired: normalise.listen_key_expired,
    BinanceTradeLite: normalise.trade_lite,
}


class BinanceCodec(BinanceStreams, BinanceRest, Codec):
    """Binance USD-M futures. Options (all keyword, all optional):

    ``rest_url`` / ``ws_url`` / ``ws_api_url`` — base URLs (the simulator serves 127.0.0.1);
    ``combined`` — connections use ``/stream`` framing (default True; False: raw ``/ws``);
    ``funding_interval_hours`` — interval of symbols not in fundingInfo (default 8);
    ``funding_intervals`` — known ``{symbol: hours}`` to start with;
    ``book_levels`` / ``book_speed`` — the BOOK stream (``depth20@100ms``);
    ``depth_speed`` — the DEPTH diff stream (``depth@100ms``; None: the venue's 250 ms);
    ``funding_speed`` — markPrice cadence (``1s``; None: 3 s);
    ``user_events`` — Binance ``/private`` event filter (default: none, every event);
    ``first_request_id`` — id of the first SUBSCRIBE/UNSUBSCRIBE request (default 1).
    """

    name: ClassVar[str] = "binance"
    sequence_rule = PU_CHAIN
    heartbeat_interval_s = None  # the server pings at protocol level; websockets answers
    max_connection_age_s = 24 * 3600.0
    example_symbol = "BTCUSDT"
    server_ping_interval_s: ClassVar[float] = 180.0  # server ping frame every 3 min ...
    pong_timeout_s: ClassVar[float] = 600.0  # ... and a pong within 10 min, or it closes
    listen_key_ttl_s: ClassVar[float] = 3600.0
    listen_key_keepalive_s: ClassVar[float] = 1800.0  # PUT every 30 min, half the key's life
    default_rest_url: ClassVar[str] = "https://fapi.binance.com"
    default_ws_url: ClassVar[str] = "wss://fstream.binance.com"
    default_ws_api_url: ClassVar[str | None] = "wss://ws-fapi.binance.com/ws-fapi/v1"
    #: the largest frame is ``!markPrice@arr``: one ~200-byte entry per symbol (fixture
    #: markPrice_arr), under 1,000 symbols even with the 2026 merged UM+CM universe,
    #: ~200 KB, x4 headroom -> 1 MiB; depth20 frames are ~1.5 KB, diff depth a few hundred levels
    max_frame_bytes: ClassVar[int] = 2**20
    #: with the default speed options (100 ms depth streams, 1 s markPrice); set per instance
    cadence_s: ClassVar[Mapping[Channel, float]] = cadences("100ms", "100ms", "1s")
    #: a funding feed only: every symbol's mark price and funding on one ``!markPrice@arr`` stream
    spec: ClassVar[VenueSpec] = VenueSpec(
        connections=(Connection(name="funding", whole_venue=(Channel.FUNDING_ALL,)),),
        rest=RestBudget(rate_per_s=20.0, burst=100.0,
                        reason="half of the 2,400 request weight a minute allowed per IP (exchangeInfo "
                               "rateLimits), so other clients of the same key keep room"),
        limits=VenueLimits(
            streams_per_connection=1024, control_messages=10, control_window_s=1.0,
            connections=300, connections_window_s=300.0, rest_weight=2400, rest_window_s=60.0,
            max_connections_per_ip=None,
            source="developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams "
                   "(10 incoming messages a second per connection, 1,024 streams a connection, 300 connections "
                   "per 5 minutes per IP) and .../usds-margined-futures/general-info (REQUEST_WEIGHT 2,400 a "
                   "minute per IP; HTTP 429, then 418 with Retry-After)"),
        taker_fee=Decimal("0.0004"),
        taker_fee_source="USD-M futures fee schedule (binance.com/en/fee/futureFee), regular-user taker; "
                         "the current VIP 0 rate may differ: set coordinator.taker_fees.binance for your tier",
    )

    @classmethod
    def session_kind(cls, channels, options, credentials) -> SessionKind:
        """User data rides on a listenKey: made by REST before connecting, kept alive, renewed."""
        return SessionKind.LISTEN_KEY if Channel.ACCOUNT in channels else SessionKind.PLAIN

    def __init__(
        self,
        *,
        rest_url: str | None = None,
        ws_url: str | None = None,
        ws_api_url: str | None = None,
        combined: bool = True,
        funding_interval_hours: int = 8,
        funding_intervals: dict[str, int] | None = None,
        book_levels: int = 20,
        book_speed: str | None = "100ms",
        depth_speed: str | None = "100ms",
        funding_speed: str | None = "1s",
        user_events: Iterable[str] = (),
        first_request_id: int = 1,
    ):
        super().__init__()
        self.rest_url = (rest_url or self.default_rest_url).rstrip("/")
        self.ws_url = (ws_url or self.default_ws_url).rstrip("/")
        self.ws_api_url = ws_api_url or self.default_ws_api_url
        self.combined = combined
        if book_levels not in (5, 10, 20):
            raise ValueError(f"book_levels must be 5, 10 or 20, got {book_levels}")
        if funding_interval_hours <= 0:
            raise ValueError(f"funding_interval_hours must be positive, got {funding_interval_hours}")
        self.book_levels = book_levels
        self.book_speed = book_speed
        self.depth_speed = depth_speed
        self.funding_speed = funding_speed
        self.cadence_s = cadences(book_speed, depth_speed, funding_speed)  # type: ignore[misc]
        self.user_events = tuple(user_events)
        self.funding_interval_hours = funding_interval_hours
        self._intervals: dict[str, int] = {}
        self.set_funding_intervals(funding_intervals or {})
        if first_request_id < 0:
            raise ValueError(f"request ids are unsigned, got {first_request_id}")
        self._next_id = first_request_id
        self._reset_connection(None)

    # --- funding interval state --------------------------------------------------------------

    def funding_interval(self, symbol: str) -> int:
        """Funding interval of ``symbol`` in hours: learned, else ``funding_interval_hours``."""
        return self._intervals.get(symbol, self.funding_interval_hours)

    def set_funding_intervals(self, intervals: dict[str, int]) -> None:
        for symbol, hours in intervals.items():
            if int(hours) <= 0:
                raise ValueError(f"funding interval of {symbol} must be positive, got {hours}")
        self._intervals.update({s.upper(): int(h) for s, h in intervals.items()})

    # --- decoding ----------------------------------------------------------------------------

    def decode(self, frame: bytes | str) -> list[Event]:
        self.stats.frames += 1
        if frame[:11] == _STREAM_PREFIX:
            # The venue's compact combined frame, told apart by the stream name at its front
            # with a few byte operations: the first "@" ends the symbol. A partial-depth
            # stream (@depth<N>) is kept whole, unparsed; a diff-depth one (@depth, @depth@…)
            # goes straight into its struct (whatever does not fit takes the general path).
            at = frame.find(b"@")
            if 11 < at < 64 and frame[at + 1] == 100 and frame[at + 1 : at + 6] == b"depth":  # 100: "d"
                if 48 <= frame[at + 6] <= 57:
                    self.stats.events += 1
                    return [LazyBookSnapshot(venue=self.name, symbol=frame[11:at].decode().upper(), payload=frame)]
                out = self._diff_depth(frame, _combined_depth)
            elif frame[at + 1 : at + 10] == b"markPrice":  # <sym>@markPrice[@1s]: the funding feed
                out = self._marks_fast(frame, _combined_mark)
            elif frame[11:at] == _ALL_MARKS:  # !markPrice@arr[@1s]: every symbol's funding
                out = self._marks_fast(frame, _combined_marks)
            else:
                out = self._decode_combined(frame)
        elif frame[:6] == _EVENT_PREFIX or frame[:7] == _ARRAY_PREFIX:
            out = self._decode_raw(frame)
        else:
            out = self._decode(frame)
        self.stats.events += len(out)
        return out

    def _diff_depth(self, frame: bytes, decoder: msgspec.json.Decoder) -> list[Event]:
        """A diff-depth frame, combined (``<sym>@depth[@100ms]``) or raw, decoded straight into its
        struct; anything that does not fit takes the general path (same events or errors)."""
        try:
            d = decoder.decode(frame)
        except msgspec.DecodeError:
            return self._decode(frame)
        if type(d) is BinanceCombinedDepth:
            d = d.data
        return [BookDelta(venue=self.name, symbol=d.symbol, bids=d.bids, asks=d.asks, first_seq=d.first_id,
                          seq=d.last_id, prev_seq=d.prev_id, ts=d.event_time)]

    def _decode_combined(self, frame: bytes) -> list[Event]:
        """Any other compact combined frame, decoded in one pass into ``BinanceCombined``.

        Frames that do not fit (unknown events, errors) take the general path, which gives the
        same events for the frames that do: this is only a shortcut.
        """
        try:
            m = _combined.decode(frame)
        except msgspec.DecodeError:
            return self._decode(frame)
        return self._handle(m.data)

    def _marks_fast(self, frame: bytes | str, decoder: msgspec.json.Decoder) -> list[Event]:
        """The funding feed straight into events: a markPrice frame (combined or raw, one update
        or the whole-venue array) decoded in one pass into ``BinanceMarkLean`` (only the fields
        used); whatever does not fit takes the general path (same events or errors)."""
        try:
            m = decoder.decode(frame)
        except msgspec.ValidationError:
            return self._decode(frame)
        kind = type(m)
        if kind is BinanceCombinedMark or kind is BinanceCombinedMarkArr:
            m = m.data
        if type(m) is BinanceMarkLean:
            return [self._mark_lean(m)]
        return [self._mark_lean(item) for item in m]

    def _mark_lean(self, m: BinanceMarkLean) -> Event:
        """``_mark_price`` for the lean struct: the same event, built with no other object between."""
        r = m.r
        if not r:  # delivery contracts have no funding: mark and index only
            return MarkPrice(venue=self.name, symbol=m.s, mark_price=Decimal(m.p), index_price=Decimal(m.i), ts=m.E)
        rate = Decimal(r)
        hours = self._intervals.get(m.s, self.funding_interval_hours)
        div = _HOURS.get(hours)
        if div is None:
            div = _HOURS[hours] = Decimal(hours)
        return FundingRate(
            venue=self.name, symbol=m.s, rate=rate, interval_hours=hours, rate_per_hour=rate / div,
            mark_price=Decimal(m.p), index_price=Decimal(m.i), next_funding_ts=m.T or None, ts=m.E,
        )

    def _decode_raw(self, frame: bytes) -> list[Event]:
        """A compact raw (``/ws``) event or event array, decoded in one pass; a shortcut too."""
        if frame.startswith(_MARK_EVENT):
            return self._marks_fast(frame, _mark)
        if frame.startswith(_MARK_ARRAY):
            return self._marks_fast(frame, _marks)
        if frame.startswith(_DEPTH_EVENT):
            if self._book_symbols:
                return self._decode(frame)  # may be a partial-depth frame, kept lazily
            return self._diff_depth(frame, _depth)
        try:
            m = _event.decode(frame)
        except msgspec.DecodeError:
            return self._decode(frame)
        return self._handle(m)

    def _decode(self, frame: bytes | str) -> list[Event]:
        """The general path: any frame, read through the ``BinanceFrame`` envelope."""
        f = _frame.decode(frame)
        if type(f) is list:  # a raw array: !markPrice@arr on a /ws connection
            try:
                marks = _marks.decode(frame)
            except msgspec.ValidationError:
                return self._events(frame)
            return [self._mark_lean(m) for m in marks]
        name = f.stream
        if name is not None:
            at = name.find("@depth")
            if at > 0 and name[at + 6 : at + 7].isdigit():  # <sym>@depth<N>...: a top-N snapshot
                payload = frame if isinstance(frame, bytes) else frame.encode()
                return [LazyBookSnapshot(venue=self.name, symbol=name[:at].upper(), payload=payload)]
            return self._events(f.data)
        if f.e is not None:
            if f.e == "depthUpdate" and f.s in self._book_symbols:  # raw partial-depth frame
                payload = frame if isinstance(frame, bytes) else frame.encode()
                return [LazyBookSnapshot(venue=self.name, symbol=f.s, payload=payload)]
            return self._events(frame)
        if f.code is not None or f.error is not None:
            return self._rejected(f)
        if f.status is not None:
            return self._unknown("ws_api_result")  # WS-API answers are read with decode_ws_api
        if f.id is not None and len(f.result):
            return self._ack(f)
        return self._unknown("no_event_type")

    def _events(self, data: bytes | str | msgspec.Raw) -> list[Event]:
        try:
            m = _event.decode(data)
        except msgspec.ValidationError:
            probe = _probe.decode(data)
            kind = (probe[0].e if probe else "empty_array") if type(probe) is list else probe.e
            if kind in KNOWN_EVENTS:
                raise  # a known event that does not fit its schema is broken, not new
            return self._unknown(kind or "no_event_type")
        return self._handle(m)

    def _handle(self, m: Any) -> list[Event]:
        handler = _SIMPLE.get(type(m))
        if handler is not None:
            return handler(self.name, m)
        if type(m) is BinanceMarkPriceUpdate:
            return self._mark_price(m)
        out: list[Event] = []
        for item in m:  # !markPrice@arr: one entry per symbol
            out.extend(self._mark_price(item))
        return out

    def _mark_price(self, m: BinanceMarkPriceUpdate) -> list[Event]:
        mark, index = Decimal(m.mark_price), Decimal(m.index_price)
        if not m.funding_rate:  # delivery contracts have no funding: mark and index only
            return [MarkPrice(venue=self.name, symbol=m.symbol, mark_price=mark, index_price=index, ts=m.event_time)]
        rate = Decimal(m.funding_rate)
        hours = self.funding_interval(m.symbol)
        return [FundingRate(
            venue=self.name, symbol=m.symbol, rate=rate, interval_hours=hours, rate_per_hour=per_hour(rate, hours),
            mark_price=mark, index_price=index, next_funding_ts=m.next_funding_time or None, ts=m.event_time,
        )]

    def materialize(self, lazy: LazyBookSnapshot) -> BookSnapshot:
        """Decode a partial-depth frame kept by ``decode``: the top-N book, ``seq`` = ``u``.

        The payload is the whole frame as received: a combined ``{"stream","data"}`` frame
        (whose stream must be a partial-depth stream) or a raw ``depthUpdate`` event.
        """
        f = _snapshot_frame.decode(lazy.payload)
        if f.stream is None:
            d = _depth.decode(lazy.payload)
        else:
            at = f.stream.find("@depth")
            if f.data is None or at <= 0 or not f.stream[at + 6 : at + 7].isdigit():
                raise ValueError(f"not a partial-depth frame: stream {f.stream!r}")
            d = f.data
        return BookSnapshot(
            venue=self.name, symbol=lazy.symbol, bids=d.bids, asks=d.asks, seq=d.last_id, ts=d.event_time or lazy.ts
        )

    def decoders(self) -> dict[str, Callable[[bytes], object]]:
        return {
            **super().decoders(),
            "decode_funding_history": self.decode_funding_history,
            "decode_funding_info": self.decode_funding_info,
            "decode_instruments": self.decode_instruments,
            "decode_bbo": self.decode_bbo,
            "decode_listen_key": self.decode_listen_key,
            "decode_ws_api": self.decode_ws_api,
            "materialize": lambda body: self.materialize(
                LazyBookSnapshot(venue=self.name, symbol=self.example_symbol, payload=body)
            ),
        }
