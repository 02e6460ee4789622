"""Backpack wire types, as the venue sends them (its API docs and recorded frames).

Every WebSocket data frame is ``{"stream": <name>, "data": {...}}`` and ``data.e`` names the event,
so ``BpFrame`` decodes the whole frame in one pass with ``data`` a tagged union on ``e``
(``BpData``). Two documented shapes fall outside it and go through ``BpLooseFrame`` (``data`` kept
raw): the position snapshot pushed on subscribe has no ``e``, and event types we do not map.
Error frames are ``{"id": null, "error": {...}}``.

Integer fields (``E``, ``T``, ids) arrive as JSON strings in 2025 captures and as numbers in 2026
ones. Every decoder of these types is lax (``strict=False``), which reads a string of digits into
an ``int`` field in C; identifiers are ``IntLike`` instead, so their text is kept as sent. Prices
and quantities are decimal strings padded to tick/step; book levels stay the venue's text. The
WebSocket types hold no reference cycles, so they opt out of the garbage collector (``gc=False``:
measurably faster).
"""

from __future__ import annotations

import msgspec

IntLike = int | str  # identifiers: kept as sent, number or text
Level = tuple[str, str]
Levels = tuple[Level, ...]
Number = str | int | float  # the docs show numbers where the wire sends strings


class BpErrorBody(msgspec.Struct, gc=False):
    code: int | str  # 4002 parse error, 4006 invalid stream, 4008 invalid depth window
    message: str


# --- public streams ------------------------------------------------------------------------------


class BpDepth(msgspec.Struct, tag_field="e", tag="depth", gc=False):
    """``depth.<sym>`` and ``depth.<200|600|1000>ms.<sym>``: absolute sizes, zero deletes."""

    s: str  # symbol
    U: int  # first update id in this event (a number on every capture)
    u: int  # last update id; the next event starts at u + 1
    a: Levels  # asks [[price, size], ...], any order
    b: Levels  # bids, any order (a 2026 capture has them ascending)
    E: int = 0  # event time, µs


class BpBookTicker(msgspec.Struct, tag_field="e", tag="bookTicker", gc=False):
    s: str
    a: str  # best ask price
    A: str  # best ask size
    b: str  # best bid price
    B: str  # best bid size
    u: int  # update id, the depth stream's id at the same instant (docs: string; wire: number)
    E: int = 0  # µs


class BpMarkPrice(msgspec.Struct, tag_field="e", tag="markPrice", gc=False):
    """Pushed every second, changed or not."""

    s: str
    p: str  # mark price
    f: str  # estimated funding rate of the current interval, a fraction per interval
    i: str  # index price
    n: int  # next funding time, ms (the Rust client says µs: converted by magnitude)
    E: int = 0  # µs


class BpTrade(msgspec.Struct, tag_field="e", tag="trade", gc=False):
    s: str
    p: str  # price
    q: str  # quantity
    t: IntLike  # trade id, sequential per symbol
    m: bool  # buyer is maker, so the taker sold
    E: int = 0  # µs


class BpLiquidation(msgspec.Struct, tag_field="e", tag="liquidation", gc=False):
    """The all-markets ``liquidation`` stream (docs only: never captured live)."""

    s: str
    p: str  # price
    q: str  # quantity
    S: str  # "Bid" / "Ask": side of the liquidation order
    E: int = 0  # µs (``T`` in the docs example is a placeholder, 567)


# --- private streams: account.orderUpdate --------------------------------------------------------


class BpOrderFields(msgspec.Struct, gc=False):
    """``account.orderUpdate[.<sym>]``; the event type is the tag of each subclass."""

    s: str
    S: str  # Bid / Ask
    X: str  # New, PartiallyFilled, Filled, Cancelled, Expired, TriggerPending, TriggerFailed
    i: IntLike  # order id
    z: str  # executed quantity
    E: int = 0  # µs
    c: IntLike | None = None  # client id, when the order had one
    o: str | None = None  # LIMIT / MARKET
    q: str | None = None  # quantity; absent on orders placed by quote quantity
    Q: str | None = None  # quote quantity
    p: str | None = None  # limit price
    Z: str | None = None  # executed quote quantity
    r: bool | None = None  # reduce only (on captures, not in the docs' list)
    t: IntLike | None = None  # trade id (fills; null otherwise)
    l: str | None = None  # noqa: E741 - the venue's name: fill quantity
    L: str | None = None  # fill price
    m: bool | None = None  # the fill was a maker fill
    n: str | None = None  # fee
    N: str | None = None  # fee asset
    O: str | None = None  # noqa: E741 - origin: USER, LIQUIDATION_AUTOCLOSE, ADL_AUTOCLOSE, ...


class BpOrderAccepted(BpOrderFields, tag_field="e", tag="orderAccepted"):
    pass


class BpOrderCancelled(BpOrderFields, tag_field="e", tag="orderCancelled"):
    pass


class BpOrderExpired(BpOrderFields, tag_field="e", tag="orderExpired"):
    pass


class BpOrderFill(BpOrderFields, tag_field="e", tag="orderFill"):
    pass


class BpOrderModified(BpOrderFields, tag_field="e", tag="orderModified"):
    pass


class BpTriggerPlaced(BpOrderFields, tag_field="e", tag="triggerPlaced"):
    pass


class BpTriggerFailed(BpOrderFields, tag_field="e", tag="triggerFailed"):
    pass


# --- private streams: account.positionUpdate -----------------------------------------------------


class BpPositionFields(msgspec.Struct, gc=False):
    """``account.positionUpdate[.<sym>]``. Untagged, this is the snapshot of open positions the
    venue pushes on subscribe (no ``e``); the subclasses are the tagged updates."""

    s: str
    q: Number  # net quantity, signed: + long
    E: int = 0  # µs
    B: Number | None = None  # entry price
    M: Number | None = None  # mark price
    P: Number | None = None  # unrealised PnL


class BpPositionOpened(BpPositionFields, tag_field="e", tag="positionOpened"):
    pass


class BpPositionAdjusted(BpPositionFields, tag_field="e", tag="positionAdjusted"):
    pass


class BpPositionClosed(BpPositionFields, tag_field="e", tag="positionClosed"):
    pass


class BpPositionUpdated(BpPositionFields, tag_field="e", tag="positionUpdated"):  # handled by ccxt
    pass


BpOrderUpdate = (
    BpOrderAccepted | BpOrderCancelled | BpOrderExpired | BpOrderFill | BpOrderModified | BpTriggerPlaced
    | BpTriggerFailed
)
BpPositionUpdate = BpPositionOpened | BpPositionAdjusted | BpPositionClosed | BpPositionUpdated
BpData = BpDepth | BpBookTicker | BpMarkPrice | BpTrade | BpLiquidation | BpOrderUpdate | BpPositionUpdate


class BpFrame(msgspec.Struct, gc=False):
    """Any frame, in one pass (``stream`` is not read: ``data.e`` says it all). Raises
    ValidationError for the shapes ``BpLooseFrame`` reads."""

    data: BpData | None = None
    error: BpErrorBody | None = None


class BpLooseFrame(msgspec.Struct):
    """The same frame with ``data`` undecoded; ``e`` is set on frames sent without the wrapper
    (the docs' examples, some captures)."""

    stream: str | None = None
    data: msgspec.Raw = msgspec.Raw()  # empty when absent
    e: str | None = None


class BpKind(msgspec.Struct):
    e: str | None = None  # the event type, absent on the position snapshot


# --- REST ----------------------------------------------------------------------------------------


class BpRestDepth(msgspec.Struct):
    """``GET /api/v1/depth``."""

    asks: Levels  # ascending: best first
    bids: Levels  # ascending: best bid is LAST
    lastUpdateId: int  # a string on the wire
    timestamp: int = 0  # µs


class BpMarkPriceRow(msgspec.Struct):
    """``GET /api/v1/markPrices``: no timestamp in the rows (CDN-cached for 1 s)."""

    symbol: str
    markPrice: str
    fundingRate: str  # fraction per funding interval, up to ~28 significant digits
    indexPrice: str | None = None
    nextFundingTimestamp: int | None = None  # ms


class BpFundingRow(msgspec.Struct):
    """``GET /api/v1/fundingRates``: newest first, the in-progress interval included."""

    symbol: str
    fundingRate: str  # fraction per interval, rounded to 9 dp
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
    """``GET /api/v1/markets`` row."""

    symbol: str
    baseSymbol: str
    quoteSymbol: str
    marketType: str  # SPOT, PERP, IPERP, DATED, PREDICTION, RFQ
    filters: BpFilters
    fundingInterval: int | None = None  # ms, a number or a string
    orderBookState: str | None = None  # Open, Closed, CancelOnly, LimitOnly, PostOnly


class BpOpenInterestRow(msgspec.Struct):
    """``GET /api/v1/openInterest``."""

    symbol: str
    openInterest: str  # base units (contract size 1)
    timestamp: int = 0  # ms


class BpStatus(msgspec.Struct):
    """``GET /api/v1/status``."""

    status: str  # "Ok" when trading normally
    message: str | None = None


class BpRestError(msgspec.Struct):
    """REST error body, e.g. 400 ``INVALID_CLIENT_REQUEST``, 404 ``RESOURCE_NOT_FOUND``."""

    code: str
    message: str
