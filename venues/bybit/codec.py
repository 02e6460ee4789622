"""Bybit v5 public linear market data: subscriptions, heartbeat and WebSocket frame decoding.

What the I/O layer must do: connect to ``url()`` (``/v5/public/linear``), send the frames of
``subscribe(subs)`` (a request holds at most ``max_args_per_request`` topics; Bybit answers each
request with one ack naming only its ``req_id``, which the codec maps back to the topics), and
send ``heartbeat()`` (a JSON ``{"op":"ping"}``) every ``heartbeat_interval_s`` = 20 s: without
traffic Bybit closes the socket after 10 minutes. The reply is a frame whose ``op`` is "ping"
(``ret_msg`` "pong") and decodes to ``Pong``. A failed request (``success: false``, e.g. the
removed depth 500) decodes to ``VenueRejected``; the connection stays usable.

Channels: DEPTH and BOOK are ``orderbook.{depth}.{symbol}`` (``depth`` option: 1, 50, 200,
1000), a snapshot then deltas, chained as ``venues.bybit.orderbook`` explains (a ``Resync`` is
best answered by resubscribing: Bybit sends a fresh snapshot); FUNDING and BBO are
``tickers.{symbol}`` (deltas merged per symbol, see ``venues.bybit.tickers``); TRADES is
``publicTrade.{symbol}``; LIQUIDATIONS is ``allLiquidation.{symbol}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import ClassVar

import msgspec

from perpwire.market.errors import SubscriptionError
from perpwire.market.events import Event, Liquidation, Pong, Side, Subscribed, Trade, Unsubscribed, VenueRejected
from perpwire.market.units import dec
from perpwire.venues.base import Channel, Codec, Connection, RestBudget, Subscription, VenueLimits, VenueSpec
from perpwire.venues.bybit.orderbook import CROSS_SEQ_CHAIN, DEPTHS, TopicChain
from perpwire.venues.bybit.rest import REST_URL, BybitRest
from perpwire.venues.bybit.schemas import BybitData, BybitEnvelope, BybitFrame, BybitPublicFill, BybitRequest
from perpwire.venues.bybit.tickers import DEFAULT_INTERVAL_HOURS, TickerState

VENUE = "bybit"
WS_URL = "wss://stream.bybit.com/v5/public/linear"
#: Bybit's cap on the summed length of the topics subscribed on one public connection
MAX_ARGS_CHARS = 21_000

_FRAME = msgspec.json.Decoder(BybitFrame)
_ENVELOPE = msgspec.json.Decoder(BybitEnvelope)
_ENCODER = msgspec.json.Encoder()
_PENDING_LIMIT = 1024  # unanswered requests remembered; the oldest go first
_ROUTE_LIMIT = 4096  # topics remembered with their handler (saves a split per frame)
_TAKER = {"Buy": Side.BUY, "Sell": Side.SELL}
# allLiquidation "S" is the liquidated POSITION's side: a long ("Buy") is closed by a forced sell
_LIQUIDATION_ORDER = {"Buy": Side.SELL, "Sell": Side.BUY}
_Handler = Callable[[BybitFrame, str], list[Event]]
#: push interval of ``orderbook.{depth}`` on linear contracts, by depth (Bybit v5 WebSocket orderbook docs)
BOOK_PUSH_S = {1: 0.01, 50: 0.02, 200: 0.1, 1000: 0.2}
#: ``tickers.{symbol}`` pushes every 100 ms on linear (Bybit v5 ticker docs); trades and liquidations
#: (500 ms batches, only when there are any) have no cadence
TICKERS_PUSH_S = 0.1


def cadences(depth: int) -> Mapping[Channel, float]:
    """Seconds between pushes on each channel for the ``depth`` option."""
    book = BOOK_PUSH_S[depth]
    return MappingProxyType({Channel.BOOK: book, Channel.DEPTH: book, Channel.FUNDING: TICKERS_PUSH_S,
                             Channel.BBO: TICKERS_PUSH_S})


class BybitCodec(BybitRest, Codec):
    """Bybit v5 linear perpetuals (USDT/USDC), public market data and REST fallbacks.

    Options: ``ws_url`` (public linear WebSocket), ``rest_url`` (REST base), ``depth`` (book
    topic depth: 1, 50, 200 or 1000; level 1 is snapshot-only), ``max_args_per_request``
    (topics per subscribe frame, 10 by default: Bybit's spot cap, harmless on linear, which has
    none), ``funding_interval_hours`` (interval for symbols not yet learned, 8),
    ``funding_intervals`` (known intervals by symbol), ``first_request_id``.
    """

    name = VENUE
    sequence_rule = CROSS_SEQ_CHAIN
    heartbeat_interval_s = 20.0
    max_connection_age_s = None  # no forced disconnect on public streams
    example_symbol = "BTCUSDT"
    #: the largest frame is an ``orderbook.1000`` snapshot (the deepest ``depth`` option):
    #: 2,000 levels of ~25 B (fixture orderbook50_snapshot: 100 levels in 2.4 KB), 50 KB, x4
    max_frame_bytes: ClassVar[int] = 256 * 2**10
    #: with the default ``depth`` option (50); set per instance
    cadence_s: ClassVar[Mapping[Channel, float]] = cadences(50)
    #: a funding feed only (``tickers.<symbol>``, one per symbol); a resubscribe re-sends a snapshot
    spec: ClassVar[VenueSpec] = VenueSpec(
        connections=(Connection(name="funding", per_symbol=(Channel.FUNDING,)),),
        funding_per_symbol=True,
        resync_by_resubscribe=True,
        rest=RestBudget(rate_per_s=20.0, burst=100.0,
                        reason="600 requests per 5 s are allowed per IP (403 and a 10-minute stop beyond); "
                               "20 a second stays far below"),
        limits=VenueLimits(
            streams_per_connection=1000, control_messages=10, control_window_s=1.0,
            connections=500, connections_window_s=300.0, rest_weight=600, rest_window_s=5.0,
            max_connections_per_ip=1000,
            source="bybit-exchange.github.io/docs/v5/ws/connect (linear args: no count limit but at most "
                   "21,000 characters a connection, so 1,000 topics of up to 20 characters; at most 500 new "
                   "connections per 5 minutes and 1,000 market-data connections per IP; no uplink message "
                   "rate published: 10 a second assumed) and .../docs/v5/rate-limit (600 requests per 5 s "
                   "per IP, HTTP 403 beyond)"),
        taker_fee=Decimal("0.00055"),
        taker_fee_source="Bybit trading fee structure (bybit.com/en/help-center, Trading Fee Structure), "
                         "non-VIP derivatives taker",
    )

    def __init__(
        self,
        *,
        ws_url: str = WS_URL,
        rest_url: str = REST_URL,
        depth: int = 50,
        max_args_per_request: int = 10,
        funding_interval_hours: int = DEFAULT_INTERVAL_HOURS,
        funding_intervals: dict[str, int] | None = None,
        first_request_id: int = 1,
    ):
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"bybit depth must be one of {DEPTHS}, got {depth}")
        if max_args_per_request < 1:
            raise ValueError(f"max_args_per_request must be positive, got {max_args_per_request}")
        self.ws_url = ws_url
        self.rest_url = rest_url.rstrip("/")
        self.depth = depth
        self.cadence_s = cadences(depth)  # type: ignore[misc]
        self.max_args_per_request = max_args_per_request
        self.tickers = TickerState(funding_interval_hours, funding_intervals)
        self.instruments_cursor: str | None = None
        self._chain = TopicChain()
        self._next_id = first_request_id
        self._pending: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._active: dict[str, None] = {}  # topics subscribed on the connection (ordered set)
        self._routes: dict[str, _Handler] = {
            "orderbook": self._book,
            "tickers": self._ticker,
            "publicTrade": self._trades,
            "allLiquidation": self._liquidations,
        }
        self._route_cache: dict[str, _Handler] = {}

    # --- connection ----------------------------------------------------------------------------

    def url(self, stream: str = "market", **params: object) -> str:
        if stream not in ("market", "public"):
            raise SubscriptionError(f"bybit: no {stream!r} stream here (public linear market data only)")
        return self.ws_url

    def reset_session(self) -> None:
        """Forget per-connection state: unanswered requests, subscribed topics, book chains and
        merged tickers (the new connection sends fresh snapshots). Learned intervals stay."""
        self._pending.clear()
        self._active.clear()
        self._chain.reset()
        self.tickers.reset()

    def _take_id(self) -> str:
        rid = self._next_id
        self._next_id += 1
        return str(rid)

    def heartbeat(self, req_id: str | None = None) -> str:
        """``{"req_id":..,"op":"ping"}``; the reply (``op`` "ping", ``ret_msg`` "pong") is a Pong."""
        return _ENCODER.encode(BybitRequest(req_id=req_id or self._take_id(), op="ping")).decode()

    # --- subscriptions -------------------------------------------------------------------------

    def topic(self, sub: Subscription) -> str:
        sym = sub.symbol
        if not sym:
            raise SubscriptionError(f"bybit: {sub.channel} needs a symbol (topics are per symbol)")
        ch = sub.channel
        if ch is Channel.DEPTH or ch is Channel.BOOK:
            return f"orderbook.{self.depth}.{sym}"
        if ch is Channel.FUNDING or ch is Channel.BBO:
            return f"tickers.{sym}"
        if ch is Channel.TRADES:
            return f"publicTrade.{sym}"
        if ch is Channel.LIQUIDATIONS:
            return f"allLiquidation.{sym}"
        raise SubscriptionError(f"bybit: channel {ch} is not supported on the public linear stream")

    def subscribe(self, subs: Iterable[Subscription]) -> list[str]:
        """Frames of at most ``max_args_per_request`` topics each; refuses (SubscriptionError)
        to go past Bybit's 21,000 characters of topics per connection."""
        topics = self._topics(subs)
        new = [t for t in topics if t not in self._active]
        total = sum(map(len, self._active)) + sum(map(len, new))
        if total > MAX_ARGS_CHARS:
            raise SubscriptionError(
                f"bybit: {total} characters of topics on one connection, at most {MAX_ARGS_CHARS}; shard the symbols"
            )
        self._active.update(dict.fromkeys(new))
        return self._requests("subscribe", topics)

    def unsubscribe(self, subs: Iterable[Subscription]) -> list[str]:
        topics = self._topics(subs)
        for t in topics:
            self._active.pop(t, None)
        return self._requests("unsubscribe", topics)

    def _topics(self, subs: Iterable[Subscription]) -> list[str]:
        return list(dict.fromkeys(self.topic(s) for s in subs))

    def _requests(self, op: str, topics: list[str]) -> list[str]:
        frames = []
        step = self.max_args_per_request
        for i in range(0, len(topics), step):
            chunk = tuple(topics[i : i + step])
            rid = self._take_id()
            if len(self._pending) >= _PENDING_LIMIT:
                del self._pending[next(iter(self._pending))]
            self._pending[rid] = (op, chunk)
            frames.append(_ENCODER.encode(BybitRequest(req_id=rid, op=op, args=list(chunk))).decode())
        return frames

    # --- decoding ------------------------------------------------------------------------------

    def decode(self, frame: bytes | str) -> list[Event]:
        self.stats.frames += 1
        try:
            f = _FRAME.decode(frame)
        except msgspec.ValidationError:
            # data of a shape we do not read: an unknown topic is counted, a known one is broken
            prefix = _ENVELOPE.decode(frame).topic.partition(".")[0]
            if prefix and prefix not in self._routes:
                return self._unknown(f"topic {prefix}")
            raise
        topic = f.topic
        if topic:
            handler = self._route_cache.get(topic) or self._route(topic)
            if handler is None:
                return self._unknown(f"topic {topic.partition('.')[0]}")
            events = handler(f, topic)
        elif f.op:
            events = self._control(f)
        else:
            return self._unknown("frame without topic or op")
        self.stats.events += len(events)
        return events

    def _route(self, topic: str) -> _Handler | None:
        handler = self._routes.get(topic.partition(".")[0])
        if handler is not None:
            if len(self._route_cache) >= _ROUTE_LIMIT:
                self._route_cache.clear()
            self._route_cache[topic] = handler
        return handler

    def _book(self, f: BybitFrame, topic: str) -> list[Event]:
        d = f.data
        if type(d) is not BybitData:
            raise ValueError(f"{topic} push without a data object")
        return self._chain.events(topic, f.type, f.ts, d)

    def _ticker(self, f: BybitFrame, topic: str) -> list[Event]:
        d = f.data
        if type(d) is not BybitData:
            raise ValueError(f"{topic} push without a data object")
        events = self.tickers.apply(f.type, d, f.ts, f.cs or None)
        if events is None:
            return self._unknown("tickers delta before snapshot")
        return events

    @staticmethod
    def _fills(f: BybitFrame, topic: str) -> list[BybitPublicFill]:
        d = f.data
        if type(d) is not list:
            raise ValueError(f"{topic} push without a data array")
        return d

    def _trades(self, f: BybitFrame, topic: str) -> list[Event]:
        return [
            Trade(venue=VENUE, symbol=t.s, side=_TAKER[t.S], price=dec(t.p), size=dec(t.v), trade_id=t.i,
                  ts=t.T)
            for t in self._fills(f, topic)
        ]

    def _liquidations(self, f: BybitFrame, topic: str) -> list[Event]:
        return [
            Liquidation(venue=VENUE, symbol=t.s, side=_LIQUIDATION_ORDER[t.S], price=dec(t.p),
                        size=dec(t.v), ts=t.T)
            for t in self._fills(f, topic)
        ]

    def _control(self, f: BybitFrame) -> list[Event]:
        op = f.op
        if f.success is None and op in ("ping", "subscribe", "unsubscribe"):
            return self._unknown(f"{op} request")  # our own request echoed back (or replayed)
        if op == "ping" or op == "pong":
            # linear/spot pong: op "ping", ret_msg "pong"; option/private: op "pong", args [server ms]
            arg = f.args[0] if f.args else ""
            return [Pong(venue=VENUE, ts=int(arg) if arg.isdigit() else 0)]
        if op == "subscribe" or op == "unsubscribe":
            rid = f.req_id or None
            pending = self._pending.pop(rid, None) if rid is not None else None
            channels = pending[1] if pending is not None and pending[0] == op else ()
            if f.success:
                ack = Subscribed if op == "subscribe" else Unsubscribed
                return [ack(venue=VENUE, channels=channels, request_id=rid)]
            if op == "subscribe":
                for t in channels:
                    self._active.pop(t, None)
            return [VenueRejected(
                venue=VENUE, code="", message=f.ret_msg, request_id=rid, channel=_rejected(f.ret_msg, channels),
            )]
        return self._unknown(f"op {op}")

    def decoders(self) -> dict[str, Callable[[bytes], object]]:
        return {
            **super().decoders(),
            "decode_bbo": self.decode_bbo,
            "decode_funding_history": self.decode_funding_history,
            "decode_instruments": self.decode_instruments,
        }


def _rejected(message: str, channels: tuple[str, ...]) -> str | None:
    """The topic a failure names ("error:handler not found,topic:orderbook.500.BTCUSDT"), else
    the request's topics joined by commas (Bybit fails the whole request), None if unknown."""
    for t in channels:
        if t in message:
            return t
    return ",".join(channels) or None
