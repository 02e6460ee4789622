"""The sans-I/O codec contract every venue implements.

A codec turns bytes into ``market.events`` and intentions (subscribe, fetch a snapshot, sign an
order) into payloads and request descriptions. It never opens a socket, never awaits and never
reads the clock on its own: times and nonces are arguments. The I/O layer (``actors``) drives it:

1. ``url(stream, **params)`` → where to connect; ``subscribe(subs)`` → frames to send;
2. every received frame → ``decode(frame)`` → events, applied to books built by ``book(symbol)``;
3. a ``Ping`` event → send ``pong(event)``; every ``heartbeat_interval_s`` → send ``heartbeat()``
   when it is not None (venues with protocol-level pings return None);
4. a ``Resync`` → fetch ``depth_request(symbol)`` and feed the body to ``decode_snapshot``.

``decode`` raises only ``DecodeError``; error frames come back as ``VenueRejected`` events and
unknown frame kinds are counted in ``stats.unknown`` and return no events.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any, ClassVar

import msgspec

from market.book import OrderBook
from market.errors import DecodeError
from market.events import BookSnapshot, Event, FundingRate, LazyBookSnapshot, Ping
from market.sequence import UNCHECKED, SequenceRule

#: what decoding venue bytes may raise; every codec entry point turns these into DecodeError
READ_ERRORS: tuple[type[Exception], ...] = (
    msgspec.DecodeError,  # includes msgspec.ValidationError
    ValueError,  # includes UnicodeDecodeError
    ArithmeticError,  # includes decimal.InvalidOperation
    KeyError, IndexError, TypeError, AttributeError,
)


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

    def __init__(self) -> None:
        self.stats = CodecStats()

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
