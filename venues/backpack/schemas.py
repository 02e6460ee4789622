"""Backpack wire types, as the venue sends them (shared/protocols/backpack.md).

Integer fields (``E``, ``T``, order ids) arrive as JSON strings in 2025 captures and as numbers
in 2026 ones, so they are ``int | str`` here and converted at the edge. Prices and quantities
are decimal strings padded to tick/step.
"""

from __future__ import annotations

import msgspec

IntLike = int | str
Level = tuple[str, str]


class BpEnvelope(msgspec.Struct):
    """Every data frame is ``{"stream", "data"}``; error frames are ``{"id", "error"}``."""

    stream: str | None = None  # "depth.BTC_USDC_PERP"; absent on error frames
    data: msgspec.Raw = msgspec.Raw()  # empty when absent
    error: BpErrorBody | None = None
    e: str | None = None  # unwrapped frames (docs examples) carry the event type at top level


class BpErrorBody(msgspec.Struct):
    code: int | str  # 4002 parse error, 4006 invalid stream, 4008 invalid depth window
    message: str


class BpDepth(msgspec.Struct):
    s: str  # symbol
    U: IntLike  # first update id in this event
    u: IntLike  # last update id
    a: tuple[Level, ...]  # asks, absolute sizes, any order
    b: tuple[Level, ...]  # bids
    E: IntLike = 0  # event time, µs
    T: IntLike | None = None  # engine time, µs


class BpBookTicker(msgspec.Struct):
    s: str
    a: str  # best ask price
    A: str  # best ask size
    b: str  # best bid price
    B: str  # best bid size
    u: IntLike  # update id (same id space as depth)
    E: IntLike = 0


class BpMarkPrice(msgspec.Struct):
    s: str
    p: str  # mark price
    f: str  # estimated funding rate of the current interval, fraction
    i: str  # index price
    n: IntLike  # next funding time, ms
    E: IntLike = 0


class BpTrade(msgspec.Struct):
    s: str
    p: str
    q: str
    t: IntLike  # trade id, sequential per symbol
    m: bool  # buyer is maker (so the taker sold)
    E: IntLike = 0
    T: IntLike | None = None


class BpLiquidation(msgspec.Struct):
    s: str
    p: str
    q: str
    S: str  # "Bid" / "Ask": side of the liquidation order
    E: IntLike = 0
    T: IntLike | None = None


class BpOrderUpdate(msgspec.Struct):
    e: str  # orderAccepted, orderCancelled, orderExpired, orderFill, orderModified, trigger*
    s: str
    S: str  # Bid / Ask
    X: str  # New, PartiallyFilled, Filled, Cancelled, Expired, TriggerPending, TriggerFailed
    i: IntLike  # order id
    E: IntLike = 0
    c: IntLike | None = None  # client id
    o: str | None = None  # LIMIT / MARKET
    q: str | None = None  # quantity
    p: str | None = None  # limit price
    z: str | None = None  # executed quantity
    Z: str | None = None  # executed quote quantity
    t: IntLike | None = None  # trade id (fills)
    l: str | None = None  # noqa: E741 - the venue's name: fill quantity
    L: str | None = None  # fill price
    m: bool | None = None  # maker
    n: str | None = None  # fee
    N: str | None = None  # fee asset
    O: str | None = None  # noqa: E741 - origin: USER, LIQUIDATION_AUTOCLOSE, ...
    T: IntLike | None = None


class BpPositionUpdate(msgspec.Struct):
    s: str
    q: str | int | float  # net quantity, signed (+ long); docs show numbers, the wire strings
    E: IntLike = 0
    e: str | None = None  # absent on the snapshot pushed at subscribe
    B: str | int | float | None = None  # entry price
    M: str | int | float | None = None  # mark price
    P: str | int | float | None = None  # unrealised PnL


# --- REST --------------------------------------------------------------------------------------


class BpRestDepth(msgspec.Struct):
    asks: tuple[Level, ...]  # ascending
    bids: tuple[Level, ...]  # ascending: best bid is LAST
    lastUpdateId: IntLike  # a string on the wire
    timestamp: IntLike = 0  # µs


class BpMarkPriceRow(msgspec.Struct):
    symbol: str
    markPrice: str
    indexPrice: str | None = None
    fundingRate: str | None = None
    nextFundingTimestamp: IntLike | None = None  # ms


class BpFundingRow(msgspec.Struct):
    symbol: str
    fundingRate: str
    intervalEndTimestamp: str  # ISO-8601, naive UTC


class BpPriceFilter(msgspec.Struct):
    tickSize: str


class BpQuantityFilter(msgspec.Struct):
    stepSize: str
    minQuantity: str | None = None


class BpFilters(msgspec.Struct):
    price: BpPriceFilter
    quantity: BpQuantityFilter


class BpMarket(msgspec.Struct):
    symbol: str
    baseSymbol: str
    quoteSymbol: str
    marketType: str  # SPOT, PERP, IPERP, DATED, ...
    filters: BpFilters
    fundingInterval: IntLike | None = None  # ms, int or string
    orderBookState: str | None = None


class BpRestError(msgspec.Struct):
    code: str
    message: str
