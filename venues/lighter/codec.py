"""Lighter WebSocket codec: one socket for public and private channels, nonce-chained books.

Session: connect to ``ws_url`` (``…/stream``), wait for ``connected`` (→ ``Connected``), then
send one ``{"type":"subscribe","channel":"order_book/36"}`` per channel (private ones carry
``"auth"``). Channels go out with ``/`` and come back with ``:``; the codec maps both ways and
names channels in ``Subscribed``/``Unsubscribed`` in the outbound spelling. There is no ack
frame: the first ``subscribed/<name>`` frame (the snapshot) is the ack. Error frames carry no
channel or id (→ ``VenueRejected``; the channel is read from the message when it names one).
Server ``{"type":"ping"}`` → ``Ping``; the client also sends ``{"type":"ping"}`` every 30 s
(the server drops sockets silent for 2 min). Connections last at most 24 h.

Books (DEPTH = ``order_book/{id}``): ``subscribed/order_book`` → BookSnapshot(seq=nonce), each
``update/order_book`` → BookDelta(first_seq=prev_seq=begin_nonce, seq=nonce) under PREV_NONCE.
``offset`` is never read (it restarts per API server). A delta without ``begin_nonce`` (pre-Dec
2025 wire) gets prev_seq=-1, which the book treats as a gap. Repair = ``resync_frames(symbol)``
(unsubscribe + subscribe; a bare re-subscribe is refused with 30003 and sends no snapshot).

Funding (FUNDING ``market_stats/{id}``, FUNDING_ALL ``market_stats/all``): ``current_funding_rate``
is percent per hour → FundingRate(rate = pct/100 per 1 h interval), next_funding_ts = the hour
after ``funding_timestamp``. ACCOUNT = ``account_all/{account}`` + ``account_all_orders/{account}``;
their subscribe frames carry the auth token, which a session renews on the open socket with
``reauth_frames()``.
Symbols are market indices as text ("1"); ``markets`` maps them to names after decode_instruments.

Empty values: Lighter writes an absent price as ``""``. It is absent per field, never a bad
frame: a book level with an empty price or size is left out (it neither sets nor deletes a
level); a ticker with an empty side gives no BBO (a BBO is two-sided); market_stats with empty
``mark_price``/``index_price`` gives None there, and a market without a ``current_funding_rate``
gives no FundingRate (no estimate is not a zero rate) while the other markets of the frame do.
The ``subscribed/...`` ack of such a frame is always kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

import msgspec
from msgspec.structs import astuple

from perpwire.market.errors import SubscriptionError
from perpwire.market.events import (
    BBO,
    BookDelta,
    BookSnapshot,
    Connected,
    Event,
    FundingRate,
    Ping,
    Pong,
    SessionExpired,
    Subscribed,
    Unsubscribed,
    VenueRejected,
)
from perpwire.market.funding import per_hour
from perpwire.market.sequence import PREV_NONCE
from perpwire.market.units import dec, ms_from_us
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
from perpwire.venues.lighter import account
from perpwire.venues.lighter.rest import (
    DEFAULT_INTERVAL_HOURS,
    READ_ERRORS,
    REST_URL,
    VENUE,
    LighterRest,
    next_funding_ms,
)
from perpwire.venues.lighter.schemas import LighterFrame, LighterFrameLenient, LighterMarketStats, LighterOrderBook

WS_URL = "wss://mainnet.zklighter.elliot.ai/stream"
_HUNDRED = Decimal(100)
_FRAME = msgspec.json.Decoder(LighterFrame)
_FRAME_LENIENT = msgspec.json.Decoder(LighterFrameLenient)
_STATS_ONE = msgspec.json.Decoder(LighterMarketStats)
_STATS_ALL = msgspec.json.Decoder(dict[str, LighterMarketStats])
_PING = '{"type":"ping"}'
_INVALID_PARAM = 20001  # "invalid param : auth field is required: ..."
_INVALID_AUTH = 20013  # "invalid auth: invalid deadline" (expired or more than 8 h ahead) and other bad tokens
_PONG = '{"type":"pong"}'
_PRIVATE = frozenset({"account_all", "account_all_orders", "account_all_positions", "account_all_trades",
                      "account_all_assets", "account_orders", "account_tx", "account_market", "user_stats",
                      "notification"})
_Handler = Callable[[LighterFrame, str, bool], list[Event]]


def _levels(ob: LighterOrderBook, blank: bool) -> tuple[tuple, tuple]:
    """(bids, asks) as (price, size) text pairs; with ``blank``, a level whose price or size is
    empty is an absent level and is left out (neither set nor deleted)."""
    if not blank:
        return tuple(map(astuple, ob.bids)), tuple(map(astuple, ob.asks))
    return (tuple(astuple(lv) for lv in ob.bids if lv.price and lv.size),
            tuple(astuple(lv) for lv in ob.asks if lv.price and lv.size))


class LighterCodec(LighterRest, Codec):
    """Lighter perps. Options: ``ws_url`` (full ``…/stream`` URL), ``rest_url`` (REST base),
    ``auth_token`` (for private channels; rotate with ``set_auth_token``), ``account_index`` (the
    ACCOUNT channels' default account), ``markets`` (market id text → name, else learned by
    ``decode_instruments``), ``funding_interval_hours`` (1), ``readonly`` (append ``?readonly=true``,
    for read-only access from restricted regions), ``api_key_index`` (the API key whose private
    key mints auth tokens, for a session that signs them).

    Account channels: the codec remembers which ones this connection subscribed and which are
    live (their ``subscribed/...`` snapshot arrived). A session that renews the token calls
    ``set_auth_token`` then sends ``reauth_frames()``; with ``defer_private`` set, account
    channels subscribed before any token is known are held back until then. An auth error frame
    (20013, or 20001 about the auth field) is kept in ``auth_rejection`` for that session."""

    name = VENUE
    sequence_rule = PREV_NONCE
    heartbeat_interval_s = 30.0  # docs: send something at least every 2 min
    max_connection_age_s = 24 * 3600.0
    example_symbol = "1"
    liquidations_on_trades = True  # ``liquidation_trades`` ride on ``trade/{id}``
    welcome_required = True  # subscribe after ``connected``
    max_topics_per_connection = 100
    #: the ``subscribed/order_book`` snapshot is ~105 KB for ETH (~2,900 levels, as recorded), x4
    max_frame_bytes = 512 * 1024
    #: order_book updates are batched every 50 ms (Lighter's WebSocket docs); market_stats' cadence is undocumented:
    #: no bound is derived for it, the channel default applies
    cadence_s = MappingProxyType({Channel.DEPTH: 0.05})
    #: one unified connection: books (pausable: a pause unsubscribes only them), every market's
    #: funding and, with a token, the account channels; a (re)subscribe sends a fresh book snapshot
    spec = VenueSpec(
        connections=(Connection(name="unified", per_symbol=(Channel.DEPTH,),
                                whole_venue=(Channel.FUNDING_ALL, Channel.ACCOUNT), pausable=True, account=True),),
        # 100 topics a connection; the first also carries market_stats/all and the two account channels
        max_symbols_per_connection=max_topics_per_connection - 3,
        book_connection="unified",
        bbo_connection="unified",
        resync_by_resubscribe=True,
        rest=RestBudget(rate_per_s=150.0, burst=600.0,
                        reason="standard accounts get 60 weighted requests a minute, most endpoints weighing "
                               "300 (18,000 weight a minute): half of it"),
        limits=VenueLimits(
            streams_per_connection=max_topics_per_connection, control_messages=200, control_window_s=60.0,
            connections=60, connections_window_s=60.0, rest_weight=18_000, rest_window_s=60.0,
            streams_total=1000, control_scope="ip", max_connections_per_ip=100,
            source="apidocs.lighter.xyz/docs/rate-limits (WebSocket: 100 subscriptions a connection, 100 "
                   "connections and 60 new a minute per IP, 200 messages sent a minute; REST: standard "
                   "accounts 60 requests a rolling minute, most endpoints weighing 300, so 18,000 weight; "
                   "HTTP 429)"),
        taker_fee=Decimal("0"),
        taker_fee_source="Lighter fees (docs.lighter.xyz): standard accounts trade without fees; premium "
                         "accounts pay per tier (set coordinator.taker_fees.lighter)",
    )

    @classmethod
    def session_kind(cls, channels, options, credentials) -> SessionKind:
        """Account channels with a token source configured (``auth_token``, or ``api_secret`` to
        mint tokens) get the expiring-token session; a static ``auth_token`` codec option needs none."""
        if Channel.ACCOUNT in channels and credentials & {"auth_token", "api_secret"}:
            return SessionKind.AUTH_TOKEN
        return SessionKind.PLAIN

    def __init__(
        self,
        *,
        ws_url: str = WS_URL,
        rest_url: str = REST_URL,
        auth_token: str | None = None,
        account_index: int | None = None,
        markets: dict[str, str] | None = None,
        funding_interval_hours: int = DEFAULT_INTERVAL_HOURS,
        readonly: bool = False,
        api_key_index: int | None = None,
    ):
        super().__init__()
        self.ws_url = ws_url
        self.rest_url = rest_url.rstrip("/")
        self._auth_token = auth_token
        self.account_index = account_index
        self.markets: dict[str, str] = dict(markets or {})
        self.interval_hours = funding_interval_hours
        self.readonly = readonly
        self.api_key_index = api_key_index
        self.defer_private = False  # True: account channels wait for a token instead of being refused
        self.auth_rejection: VenueRejected | None = None  # the last auth error since the token was sent
        self._private: dict[str, bool] = {}  # account channel ("account_all/516") -> live (snapshot seen)
        self._blank = False  # the frame being decoded holds an empty string
        self._history_symbol: str | None = None
        self._outbound: dict[str, str] = {}  # inbound channel ("order_book:0") -> outbound ("order_book/0")
        self._handlers: dict[str, _Handler] = {
            "order_book": self._order_book,
            "market_stats": self._market_stats,
            "trade": self._trades,
            "ticker": self._ticker,
            "account_all": self._account,
            "account": self._account,  # the docs example's spelling of account_all
            "account_all_orders": self._account,
            "account_all_positions": self._account,
            "account_all_trades": self._account,
            "account_all_assets": self._account,
            "user_stats": self._account,
        }

    def __repr__(self) -> str:  # never show the token
        return f"LighterCodec(ws_url={self.ws_url!r}, account_index={self.account_index!r})"

    def set_auth_token(self, token: str | None) -> None:
        """Replace the auth token (tokens last at most 8 h; rotate before expiry). Channels already
        subscribed keep the old one until ``reauth_frames()`` is sent."""
        self._auth_token = token

    @property
    def has_auth_token(self) -> bool:
        return self._auth_token is not None

    def reset_session(self) -> None:
        """Forget the channel map of the last connection (call on reconnect)."""
        self._outbound.clear()
        self._private.clear()
        self.auth_rejection = None

    @property
    def private_channels(self) -> tuple[str, ...]:
        """The account channels this connection wants, in the outbound spelling."""
        return tuple(self._private)

    @property
    def private_live(self) -> bool:
        """True when every wanted account channel has delivered its snapshot (its token was taken)."""
        return bool(self._private) and all(self._private.values())

    def reauth_frames(self) -> list[str]:
        """Frames that move every wanted account channel to the current token on the open socket.

        A live channel is unsubscribed and subscribed again, adjacent, so its silence lasts one
        round trip and the fresh snapshot restates the open orders (a bare re-subscribe is refused
        with ``30003 Already Subscribed`` and sends nothing). A channel that is not live (refused,
        held back, or still waiting) is only subscribed. The caller sends them in order.
        """
        token = self._auth_token
        if token is None:
            raise SubscriptionError("lighter: re-authorising account channels needs an auth token")
        self.auth_rejection = None
        out = []
        for channel, live in self._private.items():
            if live:
                out.append(msgspec.json.encode({"type": "unsubscribe", "channel": channel}).decode())
            out.append(msgspec.json.encode({"type": "subscribe", "channel": channel, "auth": token}).decode())
            self._private[channel] = False
        return out

    def _private_ack(self, inbound: str, live: bool) -> None:
        channel = self.outbound(inbound)
        if channel in self._private:
            self._private[channel] = live

    # --- connection and subscriptions --------------------------------------------------------

    def url(self, stream: str = "market", **params: object) -> str:
        return f"{self.ws_url}?readonly=true" if self.readonly else self.ws_url

    def heartbeat(self) -> str:
        return _PING

    def pong(self, ping: Ping) -> str:
        return _PONG

    def topics(self, sub: Subscription) -> tuple[str, ...]:
        """Outbound channel names of one subscription (ACCOUNT is two channels)."""
        ch = sub.channel
        if ch is Channel.FUNDING_ALL:
            return ("market_stats/all",)
        if ch is Channel.ACCOUNT:
            acct = sub.symbol if sub.symbol is not None else self.account_index
            if acct is None or not str(acct).isdigit():
                raise SubscriptionError("lighter: ACCOUNT needs an account index (option account_index)")
            return (f"account_all/{acct}", f"account_all_orders/{acct}")
        prefix = {Channel.DEPTH: "order_book", Channel.FUNDING: "market_stats", Channel.TRADES: "trade",
                  Channel.BBO: "ticker"}.get(ch)
        if prefix is None:
            raise SubscriptionError(f"lighter: no channel for {ch.value} (Lighter has no BOOK/LIQUIDATIONS stream;"
                                    " liquidations come on TRADES)")
        if sub.symbol is None or not sub.symbol.isdigit():
            raise SubscriptionError(f"lighter: {ch.value} needs a market index as symbol, got {sub.symbol!r}")
        return (f"{prefix}/{sub.symbol}",)

    def topic(self, sub: Subscription) -> str:
        return self.topics(sub)[0]

    def subscribe(self, subs: Iterable[Subscription]) -> list[str]:
        return self._frames("subscribe", subs)

    def unsubscribe(self, subs: Iterable[Subscription]) -> list[str]:
        return self._frames("unsubscribe", subs)

    def _frames(self, verb: str, subs: Iterable[Subscription]) -> list[str]:
        out = []
        for sub in subs:
            for channel in self.topics(sub):
                name, _, rest = channel.partition("/")
                # multi-segment channels ack as name + first id ("account_orders/1/2" -> "account_orders:1")
                self._outbound[f"{name}:{rest.partition('/')[0]}"] = channel
                msg: dict[str, str] = {"type": verb, "channel": channel}
                if name in _PRIVATE:
                    if verb == "subscribe":
                        self._private.setdefault(channel, False)
                    else:
                        self._private.pop(channel, None)
                    if self._auth_token is None:
                        if self.defer_private:
                            continue  # sent by reauth_frames() once a token is known
                        raise SubscriptionError(f"lighter: {name} needs an auth token (option auth_token)")
                    msg["auth"] = self._auth_token
                out.append(msgspec.json.encode(msg).decode())
        return out

    def outbound(self, inbound: str) -> str:
        """``order_book:0`` → ``order_book/0`` (the name we subscribed with when known)."""
        known = self._outbound.get(inbound)
        return known if known is not None else inbound.replace(":", "/", 1)

    # --- decoding ------------------------------------------------------------------------------

    def decode(self, frame: bytes | str) -> list[Event]:
        stats = self.stats
        stats.frames += 1
        try:
            try:
                f = _FRAME.decode(frame)
                blank = False
            except msgspec.ValidationError:  # an empty level price/size (or a bad frame: fails again)
                f = _FRAME_LENIENT.decode(frame)
                blank = True
            ob = f.order_book
            if f.type == "update/order_book" and ob is not None and ob.nonce is not None:
                # the hot path: a book delta (PREV_NONCE: begin_nonce is both first and prev)
                _, sep, symbol = f.channel.partition(":")
                if not sep:
                    raise ValueError("order_book frame without a channel id")
                prev = ob.begin_nonce if ob.begin_nonce is not None else -1
                if blank:
                    bids, asks = _levels(ob, True)
                else:  # inlined: this line runs for every book frame
                    bids, asks = tuple(map(astuple, ob.bids)), tuple(map(astuple, ob.asks))
                events: list[Event] = [BookDelta(
                    venue=VENUE, symbol=symbol, bids=bids, asks=asks,
                    first_seq=prev, prev_seq=prev, seq=ob.nonce, ts=f.timestamp or ob.last_updated_at // 1000,
                )]
            else:
                self._blank = blank
                events = self._decode_other(f)
        except READ_ERRORS as exc:
            raise self._error(str(exc), frame) from None
        stats.events += len(events)
        return events

    def _decode_other(self, f: LighterFrame) -> list[Event]:
        kind, _, name = f.type.partition("/")
        if kind != "update" and kind != "subscribed":
            return self._control(f, kind)
        handler = self._handlers.get(name)
        if handler is None:
            return self._unknown(f.type)
        _, sep, ident = f.channel.partition(":")
        if not sep:
            raise ValueError(f"{f.type} frame without a channel id")
        events = handler(f, ident, kind == "subscribed")
        if kind == "subscribed" and name in _PRIVATE:
            self._private_ack(f.channel, True)  # the snapshot: the server took this channel's token
        if kind == "subscribed":
            events.insert(0, Subscribed(venue=VENUE, channels=(self.outbound(f.channel),)))
        return events

    def _control(self, f: LighterFrame, kind: str) -> list[Event]:
        if f.error is not None:
            msg = f.error.message
            _, sep, tail = msg.rpartition(" : ")
            channel = self.outbound(tail) if sep and ":" in tail and " " not in tail else None
            ev = VenueRejected(venue=VENUE, code=str(f.error.code), message=msg, channel=channel)
            if f.error.code == _INVALID_AUTH or (f.error.code == _INVALID_PARAM and "auth" in msg):
                self.auth_rejection = ev
            return [ev]
        if kind == "connected":
            return [Connected(venue=VENUE, session_id=f.session_id, ts=f.timestamp)]
        if kind == "ping":
            return [Ping(venue=VENUE, payload=_PING)]
        if kind == "pong":
            return [Pong(venue=VENUE, ts=f.timestamp)]
        if kind == "unsubscribed":
            if not f.channel:
                raise ValueError("unsubscribed without a channel")
            self._private_ack(f.channel, False)
            return [Unsubscribed(venue=VENUE, channels=(self.outbound(f.channel),))]
        if kind == "shutdown":
            return [SessionExpired(venue=VENUE, reason=f"server shutdown in {f.close_in_ms} ms", ts=f.timestamp)]
        return self._unknown(f.type or "frame without type")

    def _order_book(self, f: LighterFrame, symbol: str, first: bool) -> list[Event]:
        ob: LighterOrderBook | None = f.order_book
        if ob is None or ob.nonce is None:
            # frames without nonce (docs before Dec 2025) have only ``offset``, which cannot chain
            raise ValueError("order_book frame without nonce")
        bids, asks = _levels(ob, self._blank)
        ts = f.timestamp or ob.last_updated_at // 1000
        if first:
            return [BookSnapshot(venue=VENUE, symbol=symbol, bids=bids, asks=asks, seq=ob.nonce, ts=ts)]
        prev = ob.begin_nonce if ob.begin_nonce is not None else -1
        return [BookDelta(venue=VENUE, symbol=symbol, bids=bids, asks=asks, first_seq=prev, prev_seq=prev,
                          seq=ob.nonce, ts=ts)]

    def _market_stats(self, f: LighterFrame, ident: str, first: bool) -> list[Event]:
        if not f.market_stats:
            raise ValueError("market_stats frame without market_stats")
        rows = _STATS_ALL.decode(f.market_stats).values() if ident == "all" else (_STATS_ONE.decode(f.market_stats),)
        h = self.interval_hours
        ts = f.timestamp
        markets = self.markets
        out: list[Event] = []
        for s in rows:
            symbol = str(s.market_id)
            if s.symbol:
                markets.setdefault(symbol, s.symbol)
            if not s.current_funding_rate:
                continue  # no estimate published for this market (not a zero rate): no FundingRate
            # pct_rate and opt_dec inline (the same Decimals, the same refusals): at one hour the
            # fraction per hour is the rate itself, so one Decimal serves both
            mark, index = s.mark_price, s.index_price
            try:
                hourly = Decimal(s.current_funding_rate) / _HUNDRED
                mark = Decimal(mark) if mark else None
                index = Decimal(index) if index else None
            except InvalidOperation:
                raise ValueError(f"market_stats {symbol}: not a decimal among current_funding_rate "
                                 f"{s.current_funding_rate!r}, mark_price {s.mark_price!r}, "
                                 f"index_price {s.index_price!r}") from None
            if not (hourly.is_finite() and (mark is None or mark.is_finite())
                    and (index is None or index.is_finite())):
                raise ValueError(f"market_stats {symbol}: not a finite decimal among current_funding_rate "
                                 f"{s.current_funding_rate!r}, mark_price {s.mark_price!r}, "
                                 f"index_price {s.index_price!r}")
            if h == 1:
                rate = hourly
            else:
                rate = hourly * h
                hourly = per_hour(rate, h)
            last = s.funding_timestamp
            out.append(FundingRate(
                venue=VENUE, symbol=symbol, rate=rate, interval_hours=h, rate_per_hour=hourly, mark_price=mark,
                index_price=index, next_funding_ts=next_funding_ms(last, h) if last else None,
                ts=ts,
            ))
        return out

    def _trades(self, f: LighterFrame, symbol: str, first: bool) -> list[Event]:
        if not isinstance(f.trades, list | None):
            raise ValueError("trade frame with a trades map")
        return account.public_trades(f.trades or [], f.liquidation_trades or [])

    def _ticker(self, f: LighterFrame, symbol: str, first: bool) -> list[Event]:
        t = f.ticker
        if t is None:
            raise ValueError("ticker frame without ticker")
        if not (t.b.price and t.b.size and t.a.price and t.a.size):
            return []  # a one-sided market: a BBO needs both sides, so none is reported
        return [BBO(venue=VENUE, symbol=symbol, bid_price=dec(t.b.price), bid_size=dec(t.b.size),
                    ask_price=dec(t.a.price), ask_size=dec(t.a.size),
                    ts=f.timestamp or ms_from_us(t.last_updated_at), seq=f.nonce)]

    def _account(self, f: LighterFrame, ident: str, first: bool) -> list[Event]:
        return account.account_events(f, int(ident))

    def decoders(self) -> dict[str, Callable[[bytes], object]]:
        return {
            **super().decoders(),
            "decode_instruments": self.decode_instruments,
            "decode_funding_history": lambda body: self.decode_funding_history(body, self.example_symbol),
        }

