"""The sans-I/O codec contract every venue implements.

A codec turns bytes into ``market.events`` and intentions (subscribe, fetch a snapshot, sign an
order) into payloads and request descriptions. It never opens a socket, never awaits and never
reads the clock on its own: times and nonces are arguments. The I/O layer (``actors``) drives it:

1. ``url(stream, **params)`` → where to connect; ``subscribe(subs)`` → frames to send, at once
   or, when ``welcome_required``, after the venue's welcome frame (a ``Connected`` event); acks
   (``Subscribed``/``Unsubscribed``) name channels as ``topic(sub)`` spells them;
2. every received frame → ``decode(frame)`` → events, applied to books built by ``book(symbol)``;
3. a ``Ping`` event → send ``pong(event)``; every ``heartbeat_interval_s`` → send ``heartbeat()``
   when it is not None (venues with protocol-level pings return None);
4. a ``Resync`` → fetch ``depth_request(symbol)`` and feed the body to ``decode_snapshot``; a
   venue whose subscribe brings a fresh snapshot (``spec.resync_by_resubscribe``) is sent
   ``resync_frames(symbol)`` instead.

``decode`` raises only ``DecodeError``; error frames come back as ``VenueRejected`` events and
unknown frame kinds are counted in ``stats.unknown`` and return no events. That contract holds for
any input without each venue remembering it: every entry point that reads venue bytes (``decode``,
``materialize`` and every ``decode_*`` method, mixins included) is wrapped by ``read_boundary``
when a ``Codec`` subclass is defined, so whatever ``READ_ERRORS`` names becomes ``DecodeError``.
"""

from __future__ import annotations

import functools
import inspect
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from types import FunctionType, MappingProxyType
from typing import Any, ClassVar, TypeVar

import msgspec

from perpwire.market.book import OrderBook
from perpwire.market.errors import DecodeError, SubscriptionError
from perpwire.market.events import BookSnapshot, Event, FundingRate, LazyBookSnapshot, Ping
from perpwire.market.sequence import UNCHECKED, SequenceRule

#: what reading venue bytes may raise; ``read_boundary`` turns every one into DecodeError
READ_ERRORS: tuple[type[Exception], ...] = (
    msgspec.DecodeError,  # includes msgspec.ValidationError (and msgspec's "Number out of range")
    ValueError,  # UnicodeDecodeError; int() of a text beyond 4,300 digits; NaN into int()
    ArithmeticError,  # decimal.InvalidOperation/Overflow (huge exponents); OverflowError (int(inf))
    LookupError,  # KeyError, IndexError: a missing key, an unknown enum text
    TypeError, AttributeError,  # a value of the wrong JSON type reaching a conversion
    RecursionError,  # a deeply nested frame ("[" x 100,000): msgspec gives up on the depth
    OSError,  # a codec does no I/O: only datetime.fromtimestamp of an absurd timestamp raises it
)
#: longest exception text kept in a DecodeError reason (a KeyError may hold a whole venue string)
_REASON_CHARS = 200
#: the largest WebSocket frame a venue is assumed to send when its codec declares none
DEFAULT_MAX_FRAME_BYTES = 4 * 2**20

F = TypeVar("F", bound=Callable[..., Any])


class Channel(StrEnum):
    """Venue-neutral channel names; each codec maps them to its own stream names."""

    BOOK = "book"  # snapshot stream of the top N levels (Aster/Binance depth20, Hyperliquid l2Book)
    DEPTH = "depth"  # diff-depth stream synced from a snapshot
    BBO = "bbo"
    FUNDING = "funding"  # per-symbol funding / mark price
    FUNDING_ALL = "funding_all"  # every symbol on one stream (Aster/Binance !markPrice@arr)
    TRADES = "trades"
    LIQUIDATIONS = "liquidations"
    ACCOUNT = "account"  # orders, fills, positions, balances (authenticated)


#: Channels a pause may stop; everything else (user data, funding, liquidations) never stops.
MARKET_DATA_CHANNELS = frozenset({Channel.BOOK, Channel.DEPTH, Channel.BBO, Channel.TRADES})
#: Channels that carry order books (snapshot streams and diff depth).
BOOK_CHANNELS = frozenset({Channel.BOOK, Channel.DEPTH})


class Subscription(msgspec.Struct, frozen=True, order=True):
    """One wanted stream: a channel, for one symbol or for the whole venue (symbol None)."""

    channel: Channel
    symbol: str | None = None


class HttpRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A REST request for the I/O layer to send: ``method base_url+path?params``.

    ``params`` keeps the venue's order (signatures depend on it). ``headers`` may carry an API
    key; never log them. ``body`` is sent as is.
    """

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    weight: int = 1  # the venue's request weight, for the rate budget


# --- the venue's facts: its spec ----------------------------------------------------------------


class SessionKind(StrEnum):
    """The bootstraps a connection may need before (and while) its socket is open; a codec names
    one in ``session_kind`` and the I/O layer implements each kind once, for every venue."""

    PLAIN = "plain"  # connect to the URL as is
    LISTEN_KEY = "listen_key"  # user data behind a key made by REST and kept alive (Binance, Aster)
    SIGNED_SUBSCRIBE = "signed_subscribe"  # the subscribe frame carries a fresh signature (Backpack account)
    BULLET = "bullet"  # a token and endpoint fetched over REST before every connect (KuCoin)
    INSTRUMENTS = "instruments"  # the venue's instrument list loaded before subscribing (Hyperliquid)
    AUTH_TOKEN = "auth_token"  # an expiring auth token sent in subscribe frames and renewed (Lighter account)


class Connection(msgspec.Struct, frozen=True, kw_only=True):
    """One kind of WebSocket connection a venue gets, and what rides on it.

    ``per_symbol`` channels are subscribed once per symbol (and the symbols sharded over several
    connections of this kind); ``whole_venue`` channels once, without a symbol. A ``pausable``
    connection has its market data paused by the coordinator until a trade needs the books. An
    ``account`` connection carries the account's user data: its ``Channel.ACCOUNT`` subscription
    is made only when the deployment streams user data (the connection is left out when nothing
    else rides on it).
    """

    name: str
    per_symbol: tuple[Channel, ...] = ()
    whole_venue: tuple[Channel, ...] = ()
    pausable: bool = False
    account: bool = False


class RestBudget(msgspec.Struct, frozen=True, kw_only=True):
    """A REST request budget in the venue's own weight units (``HttpRequest.weight``): a token
    bucket refilled at ``rate_per_s`` up to ``burst``; ``reason`` says where the figures come from."""

    rate_per_s: float = 20.0
    burst: float = 100.0
    reason: str = ""


class VenueLimits(msgspec.Struct, frozen=True, kw_only=True):
    """A venue's published connection and request limits, as the venue states them (not halved for
    safety: budgets built from them keep their own margin). ``source`` cites the page they come from;
    docs/venue-limits.md tabulates them. The simulator enforces them and the actors pace within them.

    - ``streams_per_connection``: streams, topics or subscriptions one WebSocket connection may hold.
    - ``control_messages`` per ``control_window_s``: messages a client may send on a connection
      (subscribe, unsubscribe, ping, pong); a venue that counts them per IP says so in ``source``.
    - ``connections`` per ``connections_window_s``: new connections per IP.
    - ``rest_weight`` per ``rest_window_s``: REST request weight per IP (``HttpRequest.weight`` units).
    - ``max_connections_per_ip``: connections one IP may hold open at once, None when unpublished.
    - ``streams_total``: subscriptions one IP may hold over all its connections (None: no such cap).
    - ``control_scope``: ``"connection"`` when ``control_messages`` counts per connection, ``"ip"``
      when the venue counts every socket of the IP together (Hyperliquid, Lighter).
    """

    streams_per_connection: int = 200
    control_messages: int = 5
    control_window_s: float = 1.0
    connections: int = 10
    connections_window_s: float = 60.0
    rest_weight: int = 1200
    rest_window_s: float = 60.0
    max_connections_per_ip: int | None = None
    streams_total: int | None = None
    control_scope: str = "connection"
    source: str = ""

    def problems(self) -> list[str]:
        """What is not a usable limit in these figures (empty when all are)."""
        out = []
        for field in ("streams_per_connection", "control_messages", "connections", "rest_weight"):
            if getattr(self, field) < 1:
                out.append(f"limits.{field} must be at least 1, got {getattr(self, field)}")
        for field in ("control_window_s", "connections_window_s", "rest_window_s"):
            if not getattr(self, field) > 0:
                out.append(f"limits.{field} must be positive, got {getattr(self, field)}")
        if self.max_connections_per_ip is not None and self.max_connections_per_ip < 1:
            out.append(f"limits.max_connections_per_ip must be at least 1 or None, got {self.max_connections_per_ip}")
        if self.streams_total is not None and self.streams_total < 1:
            out.append(f"limits.streams_total must be at least 1 or None, got {self.streams_total}")
        if self.control_scope not in ("connection", "ip"):
            out.append(f"limits.control_scope is 'connection' or 'ip', not {self.control_scope!r}")
        return out


class VenueSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the actors need to know about a venue besides its wire protocol: which
    connections it gets, how symbols are spread over them, its REST budget, how a book is
    re-seeded and what a taker fill costs. Pure data, declared beside the codec as ``spec``
    (``venues.spec(name)`` reads it without building a codec); ``actors.topology`` turns it into
    one ``StreamConfig`` per connection, and nothing in the actors names a venue.

    - ``connections``: in the order they are built; names are unique.
    - ``max_symbols_per_connection``: per-symbol channels are sharded into groups of this many.
    - ``book_connection`` / ``bbo_connection``: the connection whose books (and best bid/offer) the
      venue facade reads and the coordinator pauses and resumes.
    - ``funding_per_symbol``: funding comes one stream per symbol (False: one stream for all).
    - ``resync_by_resubscribe``: the venue sends a fresh book snapshot on (re)subscribe, so a
      broken book is re-seeded by resubscribing instead of a REST snapshot.
    - ``limits``: the venue's published per-connection and per-IP limits (``VenueLimits``); the
      default is a conservative guess for codecs driven by hand, every shipped venue cites its own.
    - ``taker_fee``: the default taker fee as a fraction of notional (the base tier; a deployment
      sets its own in ``coordinator.taker_fees``), with ``taker_fee_source`` saying where it is
      published. None: no default, the deployment must give one.
    """

    connections: tuple[Connection, ...] = ()
    max_symbols_per_connection: int = 100
    book_connection: str = "depth"
    bbo_connection: str = "depth"
    funding_per_symbol: bool = False
    rest: RestBudget = RestBudget()
    limits: VenueLimits = VenueLimits()
    resync_by_resubscribe: bool = False
    taker_fee: Decimal | None = None
    taker_fee_source: str = ""

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError(f"VenueSpec: {'; '.join(problems)}")

    def problems(self) -> list[str]:
        """What is inconsistent in this spec (empty when it is sound)."""
        out = []
        names = [c.name for c in self.connections]
        if len(set(names)) != len(names):
            out.append(f"connection names repeat: {names}")
        if self.max_symbols_per_connection < 1:
            out.append("max_symbols_per_connection must be at least 1")
        out.extend(self.limits.problems())
        if not (self.rest.rate_per_s > 0 and self.rest.burst > 0):
            out.append("the REST budget needs a positive rate and burst")
        if self.taker_fee is not None and not (0 <= self.taker_fee < 1):
            out.append(f"taker_fee {self.taker_fee} is no fraction of notional")
        for role, wanted in (("book_connection", BOOK_CHANNELS), ("bbo_connection", BOOK_CHANNELS | {Channel.BBO})):
            holders = [c.name for c in self.connections if wanted & set(c.per_symbol)]
            if holders and getattr(self, role) not in holders:
                out.append(f"{role} {getattr(self, role)!r} is none of the connections carrying books: {holders}")
        return out

    def connection(self, name: str) -> Connection:
        """The connection kind of a connection named ``name`` or ``name-<shard>``."""
        base = name.split("-")[0]
        for conn in self.connections:
            if conn.name == base:
                return conn
        raise KeyError(f"no connection {base!r}; the spec has {[c.name for c in self.connections]}")

    @property
    def account_connections(self) -> frozenset[str]:
        """Names of the connections that carry the account's user data."""
        return frozenset(c.name for c in self.connections if c.account)


class CodecStats:
    """Counters a codec keeps while decoding; the actor exports them."""

    __slots__ = ("errors", "events", "frames", "unknown")

    def __init__(self) -> None:
        self.frames = 0
        self.events = 0
        self.unknown: Counter[str] = Counter()
        self.errors = 0

    def as_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "events": self.events, "unknown": dict(self.unknown), "errors": self.errors}


def _bytes_of(args: tuple[Any, ...]) -> bytes | str | memoryview | None:
    """The venue bytes among an entry point's arguments, for the DecodeError's preview."""
    text = None
    for arg in args:
        if isinstance(arg, bytes | bytearray | memoryview):
            return bytes(arg) if isinstance(arg, bytearray) else arg
        if isinstance(arg, LazyBookSnapshot):
            return arg.payload
        if isinstance(arg, str):
            text = arg  # decode_snapshot(symbol, body): the body comes last
    return text


def unreadable(codec: Codec, exc: BaseException, frame: bytes | str | memoryview | None) -> DecodeError:
    """The ``DecodeError`` for ``exc`` raised while ``codec`` read ``frame`` (counted in its stats);
    the reason names the exception type and is cut short."""
    text = str(exc)
    if len(text) > _REASON_CHARS:
        text = text[:_REASON_CHARS] + "..."
    return codec._error(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, frame)


def read_boundary(fn: F) -> F:
    """Wrap an entry point that reads venue bytes so that it raises only ``DecodeError`` (or the
    venue's own ``VenueError``): anything in ``READ_ERRORS`` becomes ``DecodeError(venue, reason,
    frame)``. ``Codec`` applies it to every subclass's entry points by itself; call it only for a
    reader outside a codec class. The wrapper is one ``try`` around one call: on the hot path it
    costs one Python call per frame, nothing more."""
    if getattr(fn, "__read_boundary__", False):
        return fn
    params = list(inspect.signature(fn).parameters.values())
    single = len(params) == 2 and all(
        p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty for p in params)

    if single:  # decode(self, frame), materialize(self, lazy): no argument packing per call
        def entry(self: Codec, data: Any) -> Any:
            try:
                return fn(self, data)
            except READ_ERRORS as exc:
                raise unreadable(self, exc, _bytes_of((data,))) from None
    else:
        def entry(self: Codec, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except READ_ERRORS as exc:
                raise unreadable(self, exc, _bytes_of(args)) from None

    functools.update_wrapper(entry, fn)
    entry.__read_boundary__ = True  # type: ignore[attr-defined]
    return entry  # type: ignore[return-value]


def is_entry_point(name: str) -> bool:
    """Whether a codec method named ``name`` reads venue bytes: ``decode``, ``decode_*``, ``materialize``."""
    return name == "decode" or name.startswith("decode_") or name == "materialize"


class Codec(ABC):
    """Base of every venue codec. Subclasses set ``name`` and ``sequence_rule``."""

    name: ClassVar[str]
    sequence_rule: ClassVar[SequenceRule] = UNCHECKED
    #: seconds between application-level heartbeats, None when the venue pings at protocol level
    heartbeat_interval_s: ClassVar[float | None] = None
    #: the venue closes connections after this many seconds (rotate before), None if unlimited
    max_connection_age_s: ClassVar[float | None] = None
    #: a symbol in the venue's own spelling, for examples and the contract tests
    example_symbol: ClassVar[str] = "BTCUSDT"
    #: the largest frame this venue legitimately sends over WebSocket; the connection passes it
    #: as the socket's ``max_size``, so a bigger frame is refused before it is buffered
    max_frame_bytes: ClassVar[int] = DEFAULT_MAX_FRAME_BYTES
    #: seconds between the venue's publications on a channel while the market is active, for the
    #: connection's staleness watchdog; channels without a regular cadence (on change, user data,
    #: liquidations, trades) are absent. A codec whose cadence follows its options sets
    #: ``self.cadence_s`` in ``__init__``.
    cadence_s: ClassVar[Mapping[Channel, float]] = MappingProxyType({})
    #: True when the venue greets a new socket (``Connected``) and wants nothing sent before it
    welcome_required: ClassVar[bool] = False
    #: streams one connection of this codec may hold (it refuses more), None: the spec's ``limits`` only
    max_streams_per_connection: ClassVar[int | None] = None
    #: True when liquidations arrive as ``Liquidation`` events on the TRADES stream (no stream of their own)
    liquidations_on_trades: ClassVar[bool] = False
    #: what this codec counted while decoding (one per instance, made in ``__init__``)
    stats: CodecStats
    #: the venue's connections, REST budget, book re-seeding and default taker fee (``VenueSpec``);
    #: every venue declares its own, the empty default suits only codecs driven by hand (tests)
    spec: ClassVar[VenueSpec] = VenueSpec()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Put every entry point that reads venue bytes behind ``read_boundary``, inherited ones
        (mixins) included, so a new venue keeps the "only DecodeError" contract for free."""
        super().__init_subclass__(**kwargs)
        for name in dir(cls):
            if not is_entry_point(name):
                continue
            fn = inspect.getattr_static(cls, name)
            if type(fn) is FunctionType and not getattr(fn, "__isabstractmethod__", False):
                wrapped = read_boundary(fn)
                if wrapped is not fn:
                    setattr(cls, name, wrapped)

    def __init__(self) -> None:
        self.stats = CodecStats()

    @classmethod
    def session_kind(cls, channels: frozenset[Channel], options: Mapping[str, Any],
                     credentials: frozenset[str]) -> SessionKind:
        """The bootstrap a connection subscribing ``channels`` needs, given its codec ``options``
        and the names of the credentials configured for it (``api_key``, ``api_secret``,
        ``auth_token``). Venues that need one override this; the default is none."""
        return SessionKind.PLAIN

    # --- connection and subscriptions --------------------------------------------------------

    @abstractmethod
    def url(self, stream: str = "market", **params: Any) -> str:
        """WebSocket URL for a connection of kind ``stream`` ("market", "user", ...)."""

    @abstractmethod
    def subscribe(self, subs: Iterable[Subscription]) -> list[str]:
        """Frames to send to subscribe ``subs`` (may be several: venues cap a request's size)."""

    @abstractmethod
    def unsubscribe(self, subs: Iterable[Subscription]) -> list[str]:
        """Frames to send to unsubscribe ``subs``."""

    def topic(self, sub: Subscription) -> str:
        """The venue's name for ``sub`` as its acks spell it (``Subscribed.channels``); the connection
        matches acks to subscriptions with it. A venue that acks by channel name overrides this; the
        default raises ``SubscriptionError`` (no name: such acks match nothing)."""
        raise SubscriptionError(f"{self.name}: no channel names for acks ({sub.channel})")

    def route(self, sub: Subscription) -> str:
        """The connection kind (``url(stream)``) that delivers ``sub``: "market" unless the venue
        routes streams over several endpoints (Binance's 2026 ``/public`` and ``/market``)."""
        return "market"

    def topic_count(self, sub: Subscription) -> int:
        """How many of the venue's topics ``sub`` takes (``VenueLimits.streams_per_connection``
        counts these); one unless the venue needs several for one channel."""
        return 1

    def resync_frames(self, symbol: str) -> list[str]:
        """Frames that re-seed one symbol's book on a venue whose subscribe brings a fresh snapshot:
        unsubscribe, then subscribe its depth. A venue with another way overrides this."""
        sub = [Subscription(Channel.DEPTH, symbol)]
        return self.unsubscribe(sub) + self.subscribe(sub)

    def heartbeat(self) -> str | None:
        """Application-level ping to send every ``heartbeat_interval_s``, or None."""
        return None

    def pong(self, ping: Ping) -> str | None:
        """Reply to a venue's application-level ``Ping``."""
        return None

    # --- decoding ----------------------------------------------------------------------------

    @abstractmethod
    def decode(self, frame: bytes | str) -> list[Event]:
        """Events in one WebSocket frame. Raises only ``DecodeError``."""

    @abstractmethod
    def decode_snapshot(self, symbol: str, body: bytes) -> BookSnapshot:
        """A REST depth snapshot. Raises only ``DecodeError``."""

    def depth_request(self, symbol: str, limit: int = 100) -> HttpRequest:
        """The REST request of a depth snapshot of ``symbol`` (its body goes to ``decode_snapshot``),
        ``limit`` levels or the venue's nearest allowed depth. The default raises
        ``SubscriptionError``: a venue without a sequenced REST book re-seeds with ``resync_frames``."""
        raise SubscriptionError(f"{self.name}: no REST depth snapshot; re-seed {symbol} with resync_frames")

    @abstractmethod
    def decode_funding(self, body: bytes) -> list[FundingRate]:
        """Current funding from the venue's REST funding/premium endpoint."""

    def materialize(self, lazy: LazyBookSnapshot) -> BookSnapshot:
        """Decode a snapshot-stream frame kept lazily by ``decode``."""
        raise DecodeError(self.name, "this venue has no lazy snapshots", lazy.payload)

    def decoders(self) -> dict[str, Callable[[bytes], object]]:
        """Every entry point that reads venue bytes, by name.

        The contract tests feed each of them every fixture, cut short and corrupted, and accept
        only a result or ``DecodeError``. Subclasses add their other REST decoders
        (``decode_instruments``, listenKey, ...).
        """
        return {
            "decode": self.decode,
            "decode_snapshot": lambda body: self.decode_snapshot(self.example_symbol, body),
            "decode_funding": self.decode_funding,
        }

    def book(self, symbol: str, **kwargs: Any) -> OrderBook:
        """An empty OrderBook with this venue's sequence rule and lazy decoder."""
        return OrderBook(self.name, symbol, self.sequence_rule, materialize=self.materialize, **kwargs)

    # --- helpers for subclasses --------------------------------------------------------------

    def _error(self, reason: str, frame: bytes | str | memoryview | None) -> DecodeError:
        self.stats.errors += 1
        return DecodeError(self.name, reason, frame)

    def _unknown(self, kind: str) -> list[Event]:
        self.stats.unknown[kind] += 1
        return []
