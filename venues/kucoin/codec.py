"""KuCoin Futures public market data: session bootstrap, subscriptions and frame decoding.

What the I/O layer must do, in order (KuCoin's handshake is stricter than most venues'):

1. send ``bullet_request()`` and feed the body to ``decode_bullet``: the codec keeps the token,
   the endpoint and the heartbeat schedule (``heartbeat_interval_s``, ``ping_timeout_s``);
2. connect to ``url("market", connect_id=...)`` with a fresh connect id per connection (the
   codec reads no clock; KuCoin's SDK uses the time in ns);
3. wait for the ``Connected`` event (KuCoin's ``welcome``) BEFORE sending ``subscribe`` frames
   (``welcome_required``): KuCoin's docs say to send nothing earlier, and its SDK gives up on a
   connection that sends no welcome within 5 s;
4. every ``heartbeat_interval_s`` send ``heartbeat()`` (a JSON ping, not a WS ping frame); no
   ``Pong`` within ``ping_timeout_s`` means the link is dead; a venue ``Ping`` gets ``pong``;
5. on reconnect call ``reset_session()`` and start again at 1 (tokens last 24 h, connections too).

Channels: FUNDING is two topics, ``/contract/instrument`` (``funding.rate`` → FundingRate
estimate, ``mark.index.price`` → MarkPrice) and ``/contract/announcement`` (``funding.begin`` and
``funding.end`` → the same settled FundingRate, ts = the settlement time, so a store keyed on
venue, symbol and ts keeps one; never FundingPayment, which is the account's own amount and
only comes on private channels). BOOK is ``level2Depth50`` (or 5), a full snapshot every push,
handed over as ``LazyBookSnapshot``; DEPTH is ``level2`` increments, one change each, chained
by ``sequence`` (CONTIGUOUS) on top of the REST ``level2/snapshot``; BBO is ``tickerV2``; TRADES
is ``/contractMarket/execution`` (subject ``match``, the taker's side, ``ts`` in ns).
Sizes on every book, BBO, trade and delta event stay in CONTRACTS as KuCoin sends them; multiply by
``contract_size(symbol)`` (learned by ``decode_instruments``) for base units.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import ClassVar
from urllib.parse import quote

import msgspec

from perpwire.market.errors import SubscriptionError
from perpwire.market.events import (
    BBO,
    BookDelta,
    BookSnapshot,
    Connected,
    Event,
    FundingRate,
    LazyBookSnapshot,
    MarkPrice,
    Ping,
    Pong,
    Side,
    Subscribed,
    Trade,
    Unsubscribed,
    VenueRejected,
)
from perpwire.market.funding import interval_hours_from_ms
from perpwire.market.sequence import CONTIGUOUS
from perpwire.market.units import ONE_HOUR_MS, ms_from_ns
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
from perpwire.venues.kucoin.contracts import DEFAULT_INTERVAL_HOURS, ContractTable
from perpwire.venues.kucoin.rest import REST_URL, Bullet, KucoinRest, levels_text
from perpwire.venues.kucoin.schemas import KucoinData, KucoinDepthFrame, KucoinFrame, KucoinPingFrame, KucoinRequest

VENUE = "kucoin"
_FRAME = msgspec.json.Decoder(KucoinFrame)
_DEPTH_FRAME = msgspec.json.Decoder(KucoinDepthFrame)
_ENCODER = msgspec.json.Encoder()
_TAKER = {"buy": Side.BUY, "sell": Side.SELL}

_PENDING_LIMIT = 1024  # unanswered requests remembered; the oldest go first
_DEPTH_TOPIC = b'{"topic":"/contractMarket/level2Depth'
_DEPTH_LEVELS = frozenset((b"5", b"50"))
_ROUTE_LIMIT = 4096  # topics remembered with their handler and symbol
#: Decimal of each funding interval in hours, made once
_HOURS: dict[int, Decimal] = {}
_Handler = Callable[[KucoinData, str, str, bytes | str], list[Event]]
_Route = tuple[_Handler | None, str]


class KucoinCodec(KucoinRest, Codec):
    """KuCoin Futures (USDT/USDC-margined and inverse perpetuals), public market data.

    Options: ``rest_url`` (REST base, also for bullet-public), ``ws_url`` (overrides the
    endpoint bullet-public names, e.g. the simulator's), ``book_depth`` (5 or 50: the BOOK
    topic), ``lazy_books`` (False decodes BOOK pushes at once into BookSnapshot),
    ``funding_interval_hours`` (interval for contracts not yet learned, 8), ``first_request_id``.
    """

    name = VENUE
    sequence_rule = CONTIGUOUS
    heartbeat_interval_s = 18.0  # until decode_bullet reads pingInterval (18 s today, 50 s in 2023)
    max_connection_age_s = 24 * 3600.0
    example_symbol = "XBTUSDTM"
    #: the I/O layer must wait for ``Connected`` before sending subscribe frames
    welcome_required = True
    #: KuCoin's (2023) limits: topics per connection, and client messages per 10 s to pace sends
    max_topics_per_connection = 100
    uplink_messages_per_10s = 100
    #: public frames are small: the largest, a ``level2Depth50`` push, is 100 levels of ~20 B,
    #: 2 KB (KuCoin futures WebSocket docs); x4 is 8 KB, raised to the 256 KiB the other small-frame venues use
    max_frame_bytes: ClassVar[int] = 256 * 2**10
    #: KuCoin futures WebSocket docs: ``level2Depth50``/``level2Depth5`` every 100 ms; the FUNDING rate
    #: (``funding.rate``) once a minute (``mark.index.price`` each second carries no rate);
    #: ``level2`` increments and ``tickerV2`` are real-time, on change
    cadence_s: ClassVar[Mapping[Channel, float]] = MappingProxyType({Channel.BOOK: 0.1, Channel.FUNDING: 60.0})
    #: a funding feed only (``funding.rate``, one per contract)
    spec: ClassVar[VenueSpec] = VenueSpec(
        connections=(Connection(name="funding", per_symbol=(Channel.FUNDING,)),),
        max_symbols_per_connection=max_topics_per_connection // 2,  # FUNDING takes two topics per contract
        funding_per_symbol=True,
        rest=RestBudget(rate_per_s=20.0, burst=100.0,
                        reason="the VIP 0 futures pool is 2,000 per 30 s (~66 a second): 20 a second leaves room"),
        limits=VenueLimits(
            streams_per_connection=max_topics_per_connection, control_messages=100, control_window_s=10.0,
            connections=30, connections_window_s=60.0, rest_weight=2000, rest_window_s=30.0,
            max_connections_per_ip=50,
            source="github.com/Kucoin/kucoin-futures-api-docs index.en.html.md, Request Rate Limit / WEBSOCKET "
                   "(100 topics a connection, 100 uplink messages per 10 s, 30 connections a minute, 50 "
                   "connections per user ID) and kucoin.com/docs-new/rate-limit (futures VIP 0 pool 2,000 per "
                   "30 s; HTTP 429 code 429000)"),
        taker_fee=Decimal("0.0006"),
        taker_fee_source="KuCoin futures fee levels (kucoin.com/vip/privilege), level 0 taker",
    )

    @classmethod
    def session_kind(cls, channels, options, credentials) -> SessionKind:
        """Every connection starts with a bullet-public token and the endpoint it names."""
        return SessionKind.BULLET

    def __init__(
        self,
        *,
        rest_url: str = REST_URL,
        ws_url: str | None = None,
        book_depth: int = 50,
        lazy_books: bool = True,
        funding_interval_hours: int = DEFAULT_INTERVAL_HOURS,
        first_request_id: int = 1,
    ):
        super().__init__()
        if book_depth not in (5, 50):
            raise ValueError(f"book_depth must be 5 or 50, got {book_depth}")
        self.rest_url = rest_url.rstrip("/")
        self.ws_url = ws_url
        self.book_depth = book_depth
        self.lazy_books = lazy_books
        self.contracts = ContractTable(funding_interval_hours)
        self.bullet: Bullet | None = None
        self.ping_timeout_s = 10.0
        self.welcomed = False
        self._next_id = first_request_id
        self._pending: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._routes: dict[str, _Handler] = {
            "/contractMarket/level2": self._level2,
            "/contractMarket/level2Depth50": self._depth,
            "/contractMarket/level2Depth5": self._depth,
            "/contractMarket/tickerV2": self._ticker,
            "/contractMarket/execution": self._execution,
            "/contract/instrument": self._instrument,
            "/contract/announcement": self._announcement,
        }
        self._route_cache: dict[str, _Route] = {}

    # --- connection ----------------------------------------------------------------------------

    def url(
        self, stream: str = "market", *, connect_id: str | int, token: str | None = None,
        endpoint: str | None = None,
    ) -> str:
        """``{endpoint}?token=...&connectId=...`` from the last ``decode_bullet`` (or the
        arguments). The welcome frame echoes ``connect_id``."""
        if stream != "market":
            raise SubscriptionError(f"kucoin: no {stream!r} stream here (public market data only)")
        bullet = self.bullet
        endpoint = endpoint or self.ws_url or (bullet.endpoint if bullet else None)
        token = token or (bullet.token if bullet else None)
        if not endpoint or not token:
            raise SubscriptionError("kucoin: the WebSocket URL needs a token: decode_bullet() first")
        sep = "&" if "?" in endpoint else "?"
        return f"{endpoint}{sep}token={quote(token, safe='=')}&connectId={quote(str(connect_id), safe='')}"

    def reset_session(self) -> None:
        """Forget the welcome and unanswered requests (a new connection starts over)."""
        self.welcomed = False
        self._pending.clear()

    def _take_id(self) -> int:
        rid = self._next_id
        self._next_id += 1
        return rid

    def heartbeat(self, msg_id: str | int | None = None) -> str:
        """``{"id":..,"type":"ping"}``; the id defaults to the request counter."""
        rid = str(self._take_id() if msg_id is None else msg_id)
        return _ENCODER.encode(KucoinPingFrame(id=rid, type="ping")).decode()

    def pong(self, ping: Ping) -> str:
        return _ENCODER.encode(KucoinPingFrame(id=ping.payload, type="pong")).decode()

    # --- subscriptions -------------------------------------------------------------------------

    def topics(self, sub: Subscription) -> tuple[str, ...]:
        """Every KuCoin topic one subscription needs (FUNDING needs two)."""
        sym = sub.symbol
        if not sym:
            raise SubscriptionError(f"kucoin: {sub.channel} needs a symbol (topics are per contract)")
        ch = sub.channel
        if ch is Channel.FUNDING:
            return f"/contract/instrument:{sym}", f"/contract/announcement:{sym}"
        if ch is Channel.BOOK:
            return (f"/contractMarket/level2Depth{self.book_depth}:{sym}",)
        if ch is Channel.DEPTH:
            return (f"/contractMarket/level2:{sym}",)
        if ch is Channel.BBO:
            return (f"/contractMarket/tickerV2:{sym}",)
        if ch is Channel.TRADES:
            return (f"/contractMarket/execution:{sym}",)
        raise SubscriptionError(f"kucoin: channel {ch} is not supported")

    def topic_count(self, sub: Subscription) -> int:
        return len(self.topics(sub))

    def topic(self, sub: Subscription) -> str:
        """The subscription's main topic (FUNDING: the instrument topic; see ``topics``)."""
        return self.topics(sub)[0]

    def subscribe(self, subs: Iterable[Subscription]) -> list[str]:
        """One frame per topic (KuCoin takes one topic per request); acks name the topic."""
        return self._requests("subscribe", subs)

    def unsubscribe(self, subs: Iterable[Subscription]) -> list[str]:
        return self._requests("unsubscribe", subs)

    def _requests(self, verb: str, subs: Iterable[Subscription]) -> list[str]:
        topics = list(dict.fromkeys(t for sub in subs for t in self.topics(sub)))
        if len(topics) > self.max_topics_per_connection:
            raise SubscriptionError(
                f"kucoin: {len(topics)} topics, at most {self.max_topics_per_connection} per connection"
            )
        frames = []
        for t in topics:
            rid = self._take_id()
            if len(self._pending) >= _PENDING_LIMIT:
                del self._pending[next(iter(self._pending))]
            self._pending[str(rid)] = (verb, (t,))
            frames.append(_ENCODER.encode(KucoinRequest(id=rid, type=verb, topic=t)).decode())
        return frames

    # --- decoding ------------------------------------------------------------------------------

    def decode(self, frame: bytes | str) -> list[Event]:
        stats = self.stats
        stats.frames += 1
        if self.lazy_books and type(frame) is bytes and frame.startswith(_DEPTH_TOPIC):
            # A full-depth push, as the venue writes it (topic first): kept whole, unparsed,
            # until the book is read (materialize checks it then); the symbol ends the topic.
            end = frame.find(b'"', len(_DEPTH_TOPIC))
            colon = frame.rfind(b":", 0, end)
            if 0 < colon < end < 96 and frame[len(_DEPTH_TOPIC) : colon] in _DEPTH_LEVELS:
                stats.events += 1
                return [LazyBookSnapshot(venue=VENUE, symbol=frame[colon + 1 : end].decode(), payload=frame)]
        f = _FRAME.decode(frame)
        route = self._route_cache.get(f.topic)
        if route is not None and f.type == "message" and type(f.data) is KucoinData:
            events = route[0](f.data, f.subject, route[1], frame)  # the hot path: a known topic
        else:
            events = self._decode_other(f, frame)
        stats.events += len(events)
        return events

    def _decode_other(self, f: KucoinFrame, frame: bytes | str) -> list[Event]:
        """Control frames, data frames of a topic seen for the first time, unknown topics."""
        if not f.topic or f.type not in ("message", ""):  # old docs examples omit the type
            return self._control(f)
        handler, symbol = self._route_cache.get(f.topic) or self._route(f.topic)
        if handler is None:
            return self._unknown(f"topic {f.topic.partition(':')[0]}")
        if type(f.data) is not KucoinData:
            raise ValueError(f"{f.topic} frame without a data object")
        return handler(f.data, f.subject, symbol, frame)

    def _route(self, topic: str) -> _Route:
        prefix, _, symbol = topic.partition(":")
        handler = self._routes.get(prefix)
        if handler is not None and not symbol and handler != self._announcement:
            raise ValueError(f"topic {topic!r} without a symbol")
        if len(self._route_cache) >= _ROUTE_LIMIT:
            self._route_cache.clear()
        route = self._route_cache[topic] = (handler, symbol)
        return route

    def _level2(self, d: KucoinData, subject: str, symbol: str, frame: bytes | str) -> list[Event]:
        change, seq = d.change, d.sequence
        if change is None or seq is None:
            raise ValueError("level2 increment without change or sequence")
        price, side, size = change.split(",")
        if side == "sell":
            return [BookDelta(
                venue=VENUE, symbol=symbol, bids=(), asks=((price, size),), first_seq=seq, seq=seq,
                ts=d.timestamp or 0,
            )]
        if side == "buy":
            return [BookDelta(
                venue=VENUE, symbol=symbol, bids=((price, size),), asks=(), first_seq=seq, seq=seq,
                ts=d.timestamp or 0,
            )]
        raise ValueError(f"level2 change side {side!r}")

    def _depth(self, d: KucoinData, subject: str, symbol: str, frame: bytes | str) -> list[Event]:
        if d.sequence is None or d.timestamp is None or not d.bids or not d.asks:
            raise ValueError("depth snapshot without sequence, timestamp, bids or asks")
        payload = frame.encode() if isinstance(frame, str) else bytes(frame)
        lazy = LazyBookSnapshot(venue=VENUE, symbol=symbol, payload=payload, ts=d.timestamp)
        if self.lazy_books:
            return [lazy]
        return [self.materialize(lazy)]

    def materialize(self, lazy: LazyBookSnapshot) -> BookSnapshot:
        """The BookSnapshot of a ``level2Depth`` frame kept lazily (sizes in contracts)."""
        d = _DEPTH_FRAME.decode(lazy.payload).data
        return BookSnapshot(
            venue=VENUE, symbol=lazy.symbol, bids=levels_text(d.bids), asks=levels_text(d.asks),
            seq=d.sequence, ts=d.timestamp,
        )

    def _ticker(self, d: KucoinData, subject: str, symbol: str, frame: bytes | str) -> list[Event]:
        bid, bid_size, ask, ask_size, ts = d.bestBidPrice, d.bestBidSize, d.bestAskPrice, d.bestAskSize, d.ts
        if bid is None or bid_size is None or ask is None or ask_size is None or ts is None:
            raise ValueError("tickerV2 without best bid/ask or ts")
        return [BBO(
            venue=VENUE, symbol=d.symbol or symbol, bid_price=bid, bid_size=bid_size, ask_price=ask,
            ask_size=ask_size, ts=ms_from_ns(ts), seq=d.sequence,
        )]

    def _execution(self, d: KucoinData, subject: str, symbol: str, frame: bytes | str) -> list[Event]:
        if subject != "match":
            return self._unknown(f"subject {subject}")
        side, price, size, ts = d.side, d.price, d.size, d.ts
        if price is None or size is None or ts is None or side not in _TAKER:
            raise ValueError("match without price, size, ts or a buy/sell side")
        return [Trade(venue=VENUE, symbol=d.symbol or symbol, side=_TAKER[side], price=price, size=size,
                      trade_id=d.tradeId or "", ts=ms_from_ns(ts))]

    def _instrument(self, d: KucoinData, subject: str, symbol: str, frame: bytes | str) -> list[Event]:
        if subject == "funding.rate":
            rate, granularity, ts = d.fundingRate, d.granularity, d.timestamp
            if rate is None or granularity is None or ts is None:
                raise ValueError("funding.rate without fundingRate, granularity or timestamp")
            if granularity >= ONE_HOUR_MS:
                # a settled rate: its granularity is the interval it was charged for
                hours: int | None = interval_hours_from_ms(granularity)
                settled = True
            else:
                # the minute-by-minute estimate for the running interval
                hours, settled = None, False
            # ContractTable.funding inline (the once-a-minute feed of every contract): the same
            # event, without keyword packing, the interval's Decimal made once
            contracts = self.contracts
            if hours is None:
                hours = contracts.interval_hours(symbol)
            div = _HOURS.get(hours)
            if div is None:
                if hours <= 0:
                    raise ValueError(f"funding interval must be positive, got {hours}")
                div = _HOURS[hours] = Decimal(hours)
            return [FundingRate(venue=VENUE, symbol=symbol, rate=rate, interval_hours=hours, rate_per_hour=rate / div,
                                next_funding_ts=contracts.next_funding(symbol, ts), ts=ts, settled=settled)]
        if subject == "mark.index.price":
            if d.markPrice is None or d.timestamp is None:
                raise ValueError("mark.index.price without markPrice or timestamp")
            return [MarkPrice(
                venue=VENUE, symbol=symbol, mark_price=d.markPrice, index_price=d.indexPrice, ts=d.timestamp,
            )]
        return self._unknown(f"subject {subject}")

    def _announcement(self, d: KucoinData, subject: str, symbol: str, frame: bytes | str) -> list[Event]:
        if subject not in ("funding.begin", "funding.end"):
            return self._unknown(f"subject {subject}")
        # the frame's topic often lacks ":symbol": the contract is in the data
        contract, rate, at = d.symbol, d.fundingRate, d.fundingTime
        if contract is None or rate is None or at is None:
            raise ValueError(f"{subject} without symbol, fundingRate or fundingTime")
        following = at + self.contracts.interval_hours(contract) * ONE_HOUR_MS
        self.contracts.note_settlement(contract, following)
        return [self.contracts.funding(VENUE, contract, rate, at, settled=True, next_funding_ts=following)]

    def _control(self, f: KucoinFrame) -> list[Event]:
        kind = f.type
        rid = None if f.id is None else str(f.id)
        if kind == "welcome":
            self.welcomed = True
            return [Connected(venue=VENUE, session_id=rid or "")]
        if kind == "pong":
            return [Pong(venue=VENUE)]
        if kind == "ping":
            return [Ping(venue=VENUE, payload=rid or "")]
        if kind == "ack":
            pending = self._pending.pop(rid, None) if rid is not None else None
            if pending is None:
                return self._unknown("ack of an unknown request")
            verb, topics = pending
            ack = Subscribed if verb == "subscribe" else Unsubscribed
            return [ack(venue=VENUE, channels=topics, request_id=rid)]
        if kind == "error":
            pending = self._pending.pop(rid, None) if rid is not None else None
            return [VenueRejected(
                venue=VENUE, code="" if f.code is None else str(f.code),
                message=f.data if isinstance(f.data, str) else "", request_id=rid,
                channel=pending[1][0] if pending else None,
            )]
        if kind == "message":
            raise ValueError("message frame without a topic")
        return self._unknown(kind or "frame without type")

    def decoders(self) -> dict[str, Callable[[bytes], object]]:
        return {
            **super().decoders(),
            "decode_bullet": self.decode_bullet,
            "decode_funding_history": self.decode_funding_history,
            "decode_instruments": self.decode_instruments,
            "decode_mark_price": self.decode_mark_price,
            "decode_ticker": self.decode_ticker,
            "materialize": lambda body: self.materialize(
                LazyBookSnapshot(venue=self.name, symbol=self.example_symbol, payload=body)
            ),
        }

