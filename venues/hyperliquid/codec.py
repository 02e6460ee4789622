"""Hyperliquid perps codec: WebSocket subscriptions, frame decoding, heartbeat (REST in ``rest.py``).

One socket (``ws_url``) carries market and user channels. Each subscription is its own frame
``{"method":"subscribe","subscription":{...}}`` and is acked by a ``subscriptionResponse`` echoing
it; there are no request ids, so acks are matched by topic (``"l2Book:BTC"``, ``"allMids"``,
``"userFills:0x…"``, see ``topics``). The venue drops the whole socket on one unknown coin, so
every per-coin subscription goes through ``Universe.check`` first: load ``meta`` (or pass
``coins=``) before subscribing. The server closes a connection that has not *sent* anything for
60 s, so ``heartbeat()`` (``{"method":"ping"}``, answered by ``pong``) runs every 25 s.

Channel map: BOOK → ``l2Book`` (a whole book per frame, no sequence: decoded lazily to
``LazyBookSnapshot``, ``materialize`` reads the levels), BBO → ``bbo`` (BBO with no symbol →
``allMids``), FUNDING → ``activeAssetCtx`` (rate per hour, interval 1 h, mark ``markPx``, index
``oraclePx``), TRADES → ``trades``, ACCOUNT → the ``user_channels`` of the ``user`` address.
FUNDING_ALL has no coin-keyed stream here (poll ``funding_request``) and LIQUIDATIONS no public
one (own liquidations arrive on ACCOUNT); both raise ``SubscriptionError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar

import msgspec

from perpwire.market.events import (
    BBO,
    BookSnapshot,
    Connected,
    Event,
    FundingRate,
    LazyBookSnapshot,
    Pong,
    Subscribed,
    Trade,
    Unsubscribed,
    VenueRejected,
)
from perpwire.market.sequence import UNCHECKED
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
from perpwire.venues.hyperliquid.account import SIDES, AccountFeed
from perpwire.venues.hyperliquid.rest import FUNDING_INTERVAL_HOURS, HyperliquidRest, snapshot_from
from perpwire.venues.hyperliquid.schemas import (
    HyperliquidAckMsg,
    HyperliquidAllMidsMsg,
    HyperliquidAssetCtxMsg,
    HyperliquidBboMsg,
    HyperliquidBook,
    HyperliquidBookFrame,
    HyperliquidBookMsg,
    HyperliquidEnvelope,
    HyperliquidErrorMsg,
    HyperliquidFrame,
    HyperliquidInfoPayload,
    HyperliquidOrderUpdatesMsg,
    HyperliquidPongMsg,
    HyperliquidPostMsg,
    HyperliquidSubscriptionEcho,
    HyperliquidTradesMsg,
    HyperliquidUserEventsMsg,
    HyperliquidUserFillsMsg,
    HyperliquidUserFundingsMsg,
)
from perpwire.venues.hyperliquid.subscriptions import SubscriptionPlan, Universe, coin_asset, topic_of

_FRAME = msgspec.json.Decoder(HyperliquidFrame)
_BOOK_PREFIX = b'{"channel":"l2Book","data":{"coin":"'
_BOOK_PREFIX_LEN = len(_BOOK_PREFIX)
_ENVELOPE = msgspec.json.Decoder(HyperliquidEnvelope)
_BOOK_FRAME = msgspec.json.Decoder(HyperliquidBookFrame)
_BOOK = msgspec.json.Decoder(HyperliquidBook | None)
_INFO = msgspec.json.Decoder(HyperliquidInfoPayload)
_TEXT = msgspec.json.Decoder(str)
_ENCODE = msgspec.json.encode

_KNOWN_CHANNELS = frozenset(
    t.__struct_config__.tag for t in HyperliquidFrame.__args__  # type: ignore[attr-defined]
)
_VENUE = "hyperliquid"
_GREETING = "Websocket connection established"
#: seconds between pushes (measured on the wire, Sept 2026): ``l2Book`` ~5.4 s by default and
#: ~0.54 s with ``fast``; ``activeAssetCtx`` ~1 s; ``bbo`` only on a change, trades per block
_CADENCE = MappingProxyType({Channel.BOOK: 5.4, Channel.FUNDING: 1.0})
_FAST_CADENCE = MappingProxyType({Channel.BOOK: 0.54, Channel.FUNDING: 1.0})
_ERROR_CODES = (
    ("Already subscribed: ", "already_subscribed"),
    ("Already unsubscribed: ", "already_unsubscribed"),
    ("Error parsing JSON into valid websocket request: ", "invalid_request"),
)


def _as_bytes(frame: str | bytearray | memoryview) -> bytes:
    return frame.encode() if isinstance(frame, str) else bytes(frame)


class HyperliquidCodec(HyperliquidRest, Codec):
    """Hyperliquid perps. Options (all keyword):

    ``ws_url``/``rest_url`` (the simulator serves both on 127.0.0.1; ``/info`` is appended to
    ``rest_url``); ``coins``: names known valid without loading meta; ``user``: the address for
    ACCOUNT subscriptions; ``n_sig_figs`` (2–5), ``mantissa`` (1, 2, 5; only with 5 figures) and
    ``fast`` (5 levels every ~0.5 s instead of 20 every ~5 s) shape ``l2Book``; ``lazy_books``
    (default True) keeps book frames undecoded until read; ``user_channels`` picks the ACCOUNT
    channels; ``spot_mids`` keeps spot keys of ``allMids``; ``max_subscriptions`` is the venue's
    per-IP cap (1000).
    """

    name: ClassVar[str] = _VENUE
    sequence_rule = UNCHECKED  # whole-book frames with no ids: each one replaces the book
    heartbeat_interval_s: ClassVar[float | None] = 25.0  # idle sockets close at 60 s; 30 s is the advice
    max_connection_age_s: ClassVar[float | None] = None  # no documented limit
    example_symbol: ClassVar[str] = "BTC"
    #: market frames are small (20 levels a side, ~2 KB), but the ``userFills``/``userFundings``
    #: snapshot on subscribe has no documented bound (Hyperliquid's subscription docs): keep the 4 MiB default
    max_frame_bytes: ClassVar[int] = 4 * 2**20
    #: with the default ``fast=False``; set per instance
    cadence_s: ClassVar[Mapping[Channel, float]] = _CADENCE
    #: a funding feed only (``activeAssetCtx``, one per coin); a resubscribe re-sends a snapshot
    spec: ClassVar[VenueSpec] = VenueSpec(
        connections=(Connection(name="funding", per_symbol=(Channel.FUNDING,)),),
        funding_per_symbol=True,
        resync_by_resubscribe=True,
        rest=RestBudget(rate_per_s=10.0, burst=100.0,
                        reason="1,200 aggregated weight a minute per IP: half of it"),
        limits=VenueLimits(
            streams_per_connection=1000, control_messages=2000, control_window_s=60.0,
            connections=30, connections_window_s=60.0, rest_weight=1200, rest_window_s=60.0,
            streams_total=1000, control_scope="ip", max_connections_per_ip=10,
            source="hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/rate-limits-and-user-limits "
                   "(per IP: 1,000 subscriptions, 2,000 messages sent a minute across sockets, 10 connections, "
                   "30 new a minute; REST aggregated weight 1,200 a minute)"),
        taker_fee=Decimal("0.00045"),
        taker_fee_source="Hyperliquid fees (hyperliquid.gitbook.io/hyperliquid-docs/trading/fees), base-tier "
                         "perps taker",
    )

    @classmethod
    def session_kind(cls, channels, options, credentials) -> SessionKind:
        """An unknown coin closes the whole socket: without ``coins`` given, load the venue's coin
        list before subscribing."""
        return SessionKind.PLAIN if options.get("coins") else SessionKind.INSTRUMENTS

    def __init__(
        self,
        *,
        ws_url: str = "wss://api.hyperliquid.xyz/ws",
        rest_url: str = "https://api.hyperliquid.xyz",
        coins: Iterable[str] = (),
        user: str | None = None,
        n_sig_figs: int | None = None,
        mantissa: int | None = None,
        fast: bool = False,
        lazy_books: bool = True,
        user_channels: Iterable[str] = ("orderUpdates", "userFills", "userFundings"),
        spot_mids: bool = False,
        max_subscriptions: int = 1000,
    ):
        super().__init__()
        self.ws_url = ws_url
        self.rest_url = rest_url.rstrip("/")
        self.universe = Universe(coins)
        self.plan = SubscriptionPlan(
            self.universe, user=user, n_sig_figs=n_sig_figs, mantissa=mantissa, fast=fast,
            user_channels=user_channels, max_subscriptions=max_subscriptions,
        )
        self.user = user
        self.n_sig_figs = n_sig_figs
        self.mantissa = mantissa
        self.lazy_books = bool(lazy_books)
        self.cadence_s = _FAST_CADENCE if fast else _CADENCE  # type: ignore[misc]
        self.spot_mids = bool(spot_mids)
        self.account = AccountFeed(self.name, user, self.stats)
        self._handlers = {
            HyperliquidBboMsg: self._bbo,
            HyperliquidAssetCtxMsg: self._asset_ctx,
            HyperliquidAllMidsMsg: lambda m: self._mids(m.data.mids),
            HyperliquidTradesMsg: self._trades,
            HyperliquidOrderUpdatesMsg: self.account.orders,
            HyperliquidUserFillsMsg: self.account.user_fills,
            HyperliquidUserFundingsMsg: self.account.user_fundings,
            HyperliquidUserEventsMsg: self.account.user_events,
            HyperliquidAckMsg: self._ack,
            HyperliquidErrorMsg: self._venue_error,
            HyperliquidPongMsg: lambda m: [Pong(venue=self.name)],
            HyperliquidPostMsg: self._post,
        }

    @staticmethod
    def asset(symbol: str) -> str:
        """Canonical asset of a coin ("kPEPE" -> "PEPE", "xyz:SP500" -> "SP500")."""
        return coin_asset(symbol)

    # --- connection and subscriptions -------------------------------------------------------------

    def url(self, stream: str = "market", **params: Any) -> str:
        """Market and user channels share one endpoint."""
        return self.ws_url

    def topics(self, sub: Subscription) -> list[str]:
        """Every topic ``sub`` subscribes (ACCOUNT: one per user channel), as acks will name them."""
        return self.plan.topics(sub)

    def topic(self, sub: Subscription) -> str:
        """The venue channel of ``sub`` ("l2Book:BTC"); for ACCOUNT the first of ``topics``."""
        return self.plan.topics(sub)[0]

    def subscribe(self, subs: Iterable[Subscription]) -> list[str]:
        """One frame per venue subscription; raises ``SubscriptionError`` naming a coin not in meta."""
        return self.plan.subscribe(subs)

    def unsubscribe(self, subs: Iterable[Subscription]) -> list[str]:
        return self.plan.unsubscribe(subs)

    def heartbeat(self) -> str:
        return '{"method":"ping"}'

    def post_info(self, request_id: int, payload: dict[str, Any]) -> str:
        """An info query over the socket (``{"type":"l2Book","coin":"BTC"}``); the reply comes on ``post``."""
        request = {"type": "info", "payload": payload}
        return _ENCODE({"method": "post", "id": int(request_id), "request": request}).decode()

    # --- decoding -----------------------------------------------------------------------------------

    def decode(self, frame: bytes | str) -> list[Event]:
        stats = self.stats
        stats.frames += 1
        try:
            if self.lazy_books and type(frame) is bytes and frame.startswith(_BOOK_PREFIX):
                # a whole book as the venue writes it (channel, then coin first): kept unparsed
                # until it is read (materialize checks it then); the coin is the first string
                end = frame.find(b'"', _BOOK_PREFIX_LEN, _BOOK_PREFIX_LEN + 64)
                if end > _BOOK_PREFIX_LEN and frame.find(b"\\", _BOOK_PREFIX_LEN, end) < 0:
                    stats.events += 1
                    return [LazyBookSnapshot(venue=_VENUE, symbol=frame[_BOOK_PREFIX_LEN:end].decode(), payload=frame)]
            msg = _FRAME.decode(frame)
            if type(msg) is HyperliquidBookMsg:
                # the hot path: a whole book read down to its head; levels wait for materialize
                data = msg.data
                payload = frame if type(frame) is bytes else _as_bytes(frame)
                lazy = LazyBookSnapshot(venue=_VENUE, symbol=data.coin, payload=payload, ts=data.time)
                if self.lazy_books:
                    stats.events += 1
                    return [lazy]
                out: list[Event] = [self.materialize(lazy)]
            else:
                out = self._handlers[type(msg)](msg)
        except msgspec.ValidationError as exc:
            return self._not_ours(frame, exc)
        except msgspec.DecodeError as exc:
            text = frame if isinstance(frame, str) else bytes(frame[: len(_GREETING)]).decode("latin-1")
            if text.startswith(_GREETING):
                stats.events += 1
                return [Connected(venue=self.name)]
            raise self._error(str(exc), frame) from None
        stats.events += len(out)
        return out

    def _not_ours(self, frame: bytes | str, exc: Exception) -> list[Event]:
        """A frame the union refused: an unknown kind (counted) or a malformed known one."""
        try:
            channel = _ENVELOPE.decode(frame).channel
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise self._error(str(exc), frame) from None
        if channel in _KNOWN_CHANNELS:
            raise self._error(str(exc), frame)
        return self._unknown(channel or "no channel")

    def materialize(self, lazy: LazyBookSnapshot) -> BookSnapshot:
        """The ``BookSnapshot`` of an ``l2Book`` frame kept by ``decode``; raises ``DecodeError``."""
        return snapshot_from(self.name, _BOOK_FRAME.decode(lazy.payload).data)

    def _bbo(self, msg: HyperliquidBboMsg) -> list[Event]:
        d = msg.data
        bid, ask = d.bbo
        if bid is None or ask is None:  # a one-sided book has no BBO event shape; count it
            return self._unknown("bbo:one-sided")
        return [BBO(
            venue=self.name, symbol=d.coin, bid_price=Decimal(bid.px), bid_size=Decimal(bid.sz),
            ask_price=Decimal(ask.px), ask_size=Decimal(ask.sz), ts=d.time,
        )]

    def _asset_ctx(self, msg: HyperliquidAssetCtxMsg) -> list[Event]:
        data = msg.data
        ctx = data.ctx
        rate = Decimal(ctx.funding)
        # the venue's rate already is a fraction per hour: per_hour(rate, 1) is rate itself (same
        # value, same exponent), so the one Decimal serves both fields
        return [FundingRate(
            venue=_VENUE, symbol=data.coin, rate=rate, interval_hours=FUNDING_INTERVAL_HOURS, rate_per_hour=rate,
            mark_price=Decimal(ctx.markPx), index_price=Decimal(ctx.oraclePx),
        )]

    def _trades(self, msg: HyperliquidTradesMsg) -> list[Event]:
        return [
            Trade(
                venue=self.name, symbol=t.coin, side=SIDES[t.side], price=Decimal(t.px), size=Decimal(t.sz),
                trade_id=str(t.tid), ts=t.time,
            )
            for t in msg.data
        ]

    def _ack(self, msg: HyperliquidAckMsg) -> list[Event]:
        channels = (topic_of(msg.data.subscription),)
        if msg.data.method == "subscribe":
            return [Subscribed(venue=self.name, channels=channels)]
        return [Unsubscribed(venue=self.name, channels=channels)]

    def _venue_error(self, msg: HyperliquidErrorMsg) -> list[Event]:
        text = msg.data
        for prefix, code in _ERROR_CODES:
            if text.startswith(prefix):
                topic = self._echo_topic(text[len(prefix) :])
                return [VenueRejected(venue=self.name, code=code, message=text, channel=topic)]
        return [VenueRejected(venue=self.name, code="error", message=text)]

    @staticmethod
    def _echo_topic(tail: str) -> str | None:
        """The topic named in an error's JSON tail (a subscription, or a whole request frame)."""
        try:
            raw = msgspec.json.decode(tail)
            body = raw.get("subscription", raw) if isinstance(raw, dict) else None
            return topic_of(msgspec.convert(body, HyperliquidSubscriptionEcho)) if body is not None else None
        except (msgspec.DecodeError, msgspec.ValidationError, AttributeError):
            return None

    def _post(self, msg: HyperliquidPostMsg) -> list[Event]:
        rid = str(msg.data.id)
        resp = msg.data.response
        if resp.type == "error":
            return [VenueRejected(venue=self.name, code="error", message=_TEXT.decode(resp.payload), request_id=rid,
                                  channel="post")]
        if resp.type != "info":
            return self._unknown(f"post:{resp.type}")
        info = _INFO.decode(resp.payload)
        if info.type != "l2Book":
            return self._unknown(f"post:{info.type}")
        book = _BOOK.decode(info.data)
        if book is None:
            return [VenueRejected(venue=self.name, code="no_data", message="l2Book: null reply (unknown coin?)",
                                  request_id=rid, channel="post")]
        return [snapshot_from(self.name, book)]

    def decoders(self) -> dict[str, Callable[[bytes], object]]:
        return {
            **super().decoders(),
            "decode_instruments": self.decode_instruments,
            "decode_funding_history": self.decode_funding_history,
            "decode_predicted_fundings": self.decode_predicted_fundings,
            "decode_user_funding": self.decode_user_funding,
            "decode_all_mids": self.decode_all_mids,
            "decode_server_time": self.decode_server_time,
            "materialize": lambda body: self.materialize(LazyBookSnapshot(venue=self.name, symbol="BTC", payload=body)),
        }
