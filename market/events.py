"""Normalised events: what every venue codec turns its frames into.

Events are frozen msgspec Structs so they are cheap to build, safe to share and serialisable
across Ray. Conventions (part of the contract; add fields freely, never rename):

- ``venue`` is the codec name ("aster", "binance", ...); ``symbol`` is the venue's own
  instrument name (Lighter: the market index as a string).
- Prices, sizes and rates are exact. Scalars are ``Decimal``. Order-book levels are
  ``(price, size)`` pairs of the venue's own decimal text (``str`` whose value is the exact
  decimal): converting every level to ``Decimal`` costs more than the whole decode, so books
  keep the text and convert on read (see ``market.book``).
- Levels are best first; a size of zero in a ``BookDelta`` deletes the level.
- Timestamps are integer milliseconds since the epoch (``ts`` is the venue's event time, 0 when
  the venue sends none).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

Level = tuple[str, str]
Levels = tuple[Level, ...]


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    TRIGGERED = "triggered"
    UNKNOWN = "unknown"  # sent, but whether (and how much) it filled is not known yet: query before acting


class Event(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Base of every normalised event."""

    venue: str


# --- market data -----------------------------------------------------------------------------


class BookSnapshot(Event, frozen=True, kw_only=True, tag=True):
    """A full (or top-N) book that replaces the local one. ``seq`` is the venue's update id."""

    symbol: str
    bids: Levels
    asks: Levels
    seq: int
    ts: int = 0


class LazyBookSnapshot(Event, frozen=True, kw_only=True, tag=True):
    """A snapshot-stream frame kept undecoded until somebody reads the book.

    Snapshot streams (Aster/Binance ``depth20@100ms``) replace the whole book ten times a
    second; most frames are never read, so the codec only finds the symbol and hands over the
    raw object. ``codec.materialize(event)`` turns it into a ``BookSnapshot``.
    """

    symbol: str
    payload: bytes
    ts: int = 0


class BookDelta(Event, frozen=True, kw_only=True, tag=True):
    """Changes to a book. ``first_seq``..``seq`` is the range of update ids it covers and
    ``prev_seq`` is the venue's pointer to the previous event (Binance ``pu``, Lighter
    ``begin_nonce``), or -1 when the venue has none."""

    symbol: str
    bids: Levels
    asks: Levels
    first_seq: int
    seq: int
    prev_seq: int = -1
    ts: int = 0


class BBO(Event, frozen=True, kw_only=True, tag=True):
    symbol: str
    bid_price: Decimal
    bid_size: Decimal
    ask_price: Decimal
    ask_size: Decimal
    ts: int = 0
    seq: int | None = None


class FundingRate(Event, frozen=True, kw_only=True, tag=True):
    """A funding rate, normalised.

    ``rate`` is a fraction per funding interval (percent already divided by 100),
    ``interval_hours`` the venue's interval for this instrument and ``rate_per_hour`` the
    fraction per hour (``rate / interval_hours``). Positive means longs pay shorts.
    ``settled`` is true for a rate that was paid (history), false for the current estimate.
    """

    symbol: str
    rate: Decimal
    interval_hours: int
    rate_per_hour: Decimal
    mark_price: Decimal | None = None
    index_price: Decimal | None = None
    next_funding_ts: int | None = None
    ts: int = 0
    settled: bool = False


class Trade(Event, frozen=True, kw_only=True, tag=True):
    symbol: str
    side: Side  # the taker's side
    price: Decimal
    size: Decimal
    trade_id: str = ""
    ts: int = 0


class Liquidation(Event, frozen=True, kw_only=True, tag=True):
    symbol: str
    side: Side  # side of the liquidation order (SELL = a long was liquidated)
    price: Decimal
    size: Decimal
    ts: int = 0


class MarkPrice(Event, frozen=True, kw_only=True, tag=True):
    """Mark (and index) price without funding (e.g. Backpack REST markPrices per symbol)."""

    symbol: str
    mark_price: Decimal
    index_price: Decimal | None = None
    ts: int = 0


class MidPrice(Event, frozen=True, kw_only=True, tag=True):
    """A venue-published mid price (Hyperliquid ``allMids``)."""

    symbol: str
    price: Decimal
    ts: int = 0


class Instrument(Event, frozen=True, kw_only=True, tag=True):
    """Static description of a perpetual contract, from the venue's markets/exchangeInfo.

    ``contract_size`` is the base quantity of one contract (KuCoin ``multiplier``; 1 where sizes
    are in base units). ``market_id`` is the venue's numeric id where it has one (Lighter).
    """

    symbol: str
    asset: str
    quote: str
    tick_size: Decimal | None = None
    step_size: Decimal | None = None
    min_size: Decimal | None = None
    min_notional: Decimal | None = None
    contract_size: Decimal = Decimal(1)
    funding_interval_hours: int | None = None
    max_leverage: Decimal | None = None
    market_id: int | None = None
    status: str | None = None


# --- user data -------------------------------------------------------------------------------


class OrderUpdate(Event, frozen=True, kw_only=True, tag=True):
    symbol: str
    order_id: str
    client_order_id: str | None
    side: Side
    status: OrderStatus
    price: Decimal | None
    size: Decimal
    filled: Decimal
    ts: int = 0
    avg_price: Decimal | None = None
    last_fill_price: Decimal | None = None
    last_fill_size: Decimal | None = None
    fee: Decimal | None = None
    fee_asset: str | None = None
    order_type: str | None = None
    reduce_only: bool = False


class Fill(Event, frozen=True, kw_only=True, tag=True):
    """One execution of one of our orders (user fills / trades channels)."""

    symbol: str
    order_id: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal | None = None
    fee_asset: str | None = None
    trade_id: str = ""
    client_order_id: str | None = None
    liquidation: bool = False
    maker: bool | None = None
    ts: int = 0


class BalanceUpdate(Event, frozen=True, kw_only=True, tag=True):
    asset: str
    balance: Decimal
    available: Decimal | None = None
    reason: str | None = None
    ts: int = 0


class PositionUpdate(Event, frozen=True, kw_only=True, tag=True):
    """``size`` is signed: positive long, negative short."""

    symbol: str
    size: Decimal
    entry_price: Decimal | None = None
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    ts: int = 0


class FundingPayment(Event, frozen=True, kw_only=True, tag=True):
    """Funding paid (negative) or received (positive) by the account."""

    symbol: str
    amount: Decimal
    rate: Decimal | None = None
    ts: int = 0


# --- session and control ---------------------------------------------------------------------


class Connected(Event, frozen=True, kw_only=True, tag=True):
    """The venue's welcome frame (Lighter ``connected``, KuCoin ``welcome``)."""

    session_id: str = ""
    ts: int = 0


class Subscribed(Event, frozen=True, kw_only=True, tag=True):
    channels: tuple[str, ...] = ()
    request_id: str | None = None


class Unsubscribed(Event, frozen=True, kw_only=True, tag=True):
    channels: tuple[str, ...] = ()
    request_id: str | None = None


class VenueRejected(Event, frozen=True, kw_only=True, tag=True):
    """An error frame. The connection is still usable unless the venue closes it."""

    code: str
    message: str
    request_id: str | None = None
    channel: str | None = None


class Resync(Event, frozen=True, kw_only=True, tag=True):
    """This symbol's book lost its sequence; fetch a snapshot for it (and only it)."""

    symbol: str
    reason: str


class Ping(Event, frozen=True, kw_only=True, tag=True):
    """The venue asked for an application-level reply: send ``codec.pong(event)``."""

    payload: str = ""


class Pong(Event, frozen=True, kw_only=True, tag=True):
    ts: int = 0


class SessionExpired(Event, frozen=True, kw_only=True, tag=True):
    """A listenKey or auth token expired: renew it and reconnect the user-data stream."""

    reason: str
    ts: int = 0


#: the account's own events: the stream actors push these to the coordinator at once
UserEvent = OrderUpdate | Fill | BalanceUpdate | PositionUpdate | FundingPayment


# Funding batches cross actors as one msgpack blob (Decimals travel as their exact text): about a
# fifth of the cost of pickling the structs, on the path every venue's funding feed takes.
_FUNDING_ENCODER = msgspec.msgpack.Encoder()
_FUNDING_DECODER = msgspec.msgpack.Decoder(list[FundingRate])


def pack_funding(batch: list[FundingRate]) -> bytes:
    """One blob for a batch of rates (``unpack_funding`` reads it back, exactly)."""
    return _FUNDING_ENCODER.encode(batch)


def unpack_funding(batch: bytes | list[FundingRate]) -> list[FundingRate]:
    """The rates of a packed batch; a list of rates passes through (callers may send either)."""
    if isinstance(batch, (bytes, bytearray, memoryview)):
        return _FUNDING_DECODER.decode(batch)
    return batch
