"""Bybit v5 wire types: the exact shapes of public linear WebSocket frames and REST bodies.

Bybit has no single field that tells every frame apart: data frames carry ``topic`` and
``type`` ("snapshot"/"delta"), control frames (acks, pongs, errors) carry ``op`` and
``success``. So every frame decodes in one pass into ``BybitFrame``, whose ``data`` is an object
(books, tickers: the flat ``BybitData``) or an array (trades, liquidations); the codec routes on
the topic prefix and checks the fields that topic needs (a push whose data fits no shape is read
again as ``BybitEnvelope`` only to tell an unknown topic from a broken one). REST bodies share
``BybitResponse`` whose ``result`` stays raw until ``retCode`` was checked, so an error body with
an empty or odd ``result`` still reads as the venue's error.

Bybit sends every price, size and rate as a decimal *string*, and even ``nextFundingTime`` and
``fundingIntervalHour`` as strings (``""`` on dated futures); only ``u``, ``seq``, ``cs``,
``ts``, ``cts`` and ``T`` are JSON integers. Strings stay strings here (decoding into
``Decimal`` in msgspec is slower than ``Decimal(text)`` afterwards, and ``""`` is legal);
the codec converts what it emits. Book levels decode straight into ``(price, size)`` tuples of
text, which is what ``market.events`` wants.
"""

from __future__ import annotations

import msgspec

# A book level as sent: (price text, size text); size "0" deletes in a delta.
BybitLevel = tuple[str, str]


# --- WebSocket ---------------------------------------------------------------------------------


class BybitData(msgspec.Struct, kw_only=True, gc=False):
    """The object ``data`` of a push: every field of the object-shaped topics, each optional.

    One flat type reads a whole frame in one pass (measured: an envelope with ``Raw`` data decoded
    again per topic made an orderbook delta's decode about 1.7x slower); the codec checks what
    its topic needs. ``orderbook.*`` fills s, b, a, u, seq; ``tickers.*`` fills symbol and the ticker
    fields, and a ticker delta only those that changed.
    """

    s: str = ""  # orderbook: symbol
    b: tuple[BybitLevel, ...] = ()  # orderbook: bids, price descending; a delta lists changed levels only
    a: tuple[BybitLevel, ...] = ()  # orderbook: asks, price ascending
    u: int | None = None  # orderbook: update id, +1 per push on this topic; 1 after a service restart
    seq: int | None = None  # orderbook: cross sequence, comparable across depths and with REST (smaller = earlier)
    symbol: str = ""  # tickers: symbol
    markPrice: str | None = None  # tickers: mark price
    indexPrice: str | None = None  # tickers: index price
    fundingRate: str | None = None  # tickers: predicted rate for nextFundingTime, fraction per interval; "" on futures
    nextFundingTime: str | None = None  # tickers: next settlement, ms as a string; "" on futures
    fundingIntervalHour: str | None = None  # tickers: funding interval in hours ("8"); absent before 2024
    bid1Price: str | None = None  # tickers: best bid price
    bid1Size: str | None = None  # tickers: best bid size (base units)
    ask1Price: str | None = None  # tickers: best ask price
    ask1Size: str | None = None  # tickers: best ask size (base units)


class BybitPublicFill(msgspec.Struct, kw_only=True, gc=False):
    """One element of the array ``data`` of ``publicTrade`` or ``allLiquidation`` (shared core)."""

    T: int  # trade / liquidation time, ms
    s: str  # symbol
    S: str  # publicTrade: taker side; allLiquidation: side of the liquidated POSITION ("Buy" = a long)
    v: str  # size (base units)
    p: str  # price (allLiquidation: bankruptcy price)
    i: str = ""  # publicTrade: trade id
    BT: bool = False  # publicTrade: block trade


class BybitFrame(msgspec.Struct, kw_only=True, gc=False):
    """Every WebSocket frame: a data push (``topic`` set) or a control reply (``op`` set)."""

    topic: str = ""  # data push: "orderbook.50.BTCUSDT", "tickers.BTCUSDT", "publicTrade.…", "allLiquidation.…"
    type: str = ""  # data push: "snapshot" or "delta" (tickers and books); trades/liquidations say "snapshot"
    ts: int = 0  # data push: system time the frame was generated, ms
    data: BybitData | list[BybitPublicFill] | None = None  # data push payload: object or array by topic
    cs: int = 0  # tickers push: cross sequence of the ticker
    op: str = ""  # control: "subscribe", "unsubscribe", "ping" (the linear pong says "ping"), "pong", "auth"
    success: bool | None = None  # control: request outcome; absent on our own echoed requests and option pongs
    ret_msg: str = ""  # control: "" on success, "pong" on a linear pong, the reason on failure
    req_id: str = ""  # control: the req_id we sent ("" when we sent none)
    conn_id: str = ""  # control: the server's connection id (for support tickets)
    args: list[str] | None = None  # option/private pong: [server time ms]; our own requests: topics


class BybitEnvelope(msgspec.Struct, kw_only=True, gc=False):
    """A push whose ``data`` did not fit ``BybitFrame``: read only to tell an unknown topic
    (counted) from a broken known one (an error)."""

    topic: str = ""  # as in BybitFrame
    data: msgspec.Raw = msgspec.Raw()  # left unread


class BybitBookData(msgspec.Struct, kw_only=True, gc=False):
    """``result`` of REST ``/v5/market/orderbook``."""

    s: str  # symbol
    b: tuple[BybitLevel, ...] = ()  # bids, price descending
    a: tuple[BybitLevel, ...] = ()  # asks, price ascending
    u: int  # update id of the 1000-level stream
    seq: int  # cross sequence (the chain ``venues.bybit.orderbook`` uses)
    ts: int = 0  # snapshot time, ms
    cts: int = 0  # matching-engine time, ms


class BybitTicker(msgspec.Struct, kw_only=True, gc=False):
    """One row of REST ``/v5/market/tickers`` (the WS ticker fields live in ``BybitData``).

    Only the fields perpwire uses, each optional: None means "not in this message", never zero.
    """

    symbol: str  # instrument name, e.g. "BTCUSDT"
    markPrice: str | None = None  # mark price
    indexPrice: str | None = None  # index price
    fundingRate: str | None = None  # predicted rate for nextFundingTime, fraction per interval; "" on futures
    nextFundingTime: str | None = None  # next settlement, ms as a string; "" on futures
    fundingIntervalHour: str | None = None  # funding interval in hours as a string ("8"); absent before 2024
    bid1Price: str | None = None  # best bid price
    bid1Size: str | None = None  # best bid size (base units)
    ask1Price: str | None = None  # best ask price
    ask1Size: str | None = None  # best ask size (base units)


# --- requests we send ------------------------------------------------------------------------


class BybitRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A client request: subscribe / unsubscribe (with ``args``) or ping."""

    req_id: str  # echoed in the reply; we key acks on it
    op: str  # "subscribe", "unsubscribe", "ping"
    args: list[str] | None = None  # topics (absent on ping)


# --- REST ------------------------------------------------------------------------------------


class BybitResponse(msgspec.Struct, kw_only=True, gc=False):
    """The REST envelope ``{"retCode","retMsg","result","retExtInfo","time"}``."""

    retCode: int  # 0 on success; 10006 "Too many visits!" is the per-UID rate limit
    retMsg: str = ""  # "OK" or the reason
    result: msgspec.Raw = msgspec.Raw()  # endpoint-specific, decoded once retCode is 0
    time: int = 0  # server time of the answer, ms


class BybitTickerList(msgspec.Struct, kw_only=True, gc=False):
    """``result`` of ``/v5/market/tickers``."""

    category: str = ""  # "linear", "inverse", ...
    list: tuple[BybitTicker, ...]  # one row per symbol


class BybitFundingRow(msgspec.Struct, kw_only=True, gc=False):
    """One settled rate of ``/v5/market/funding/history``."""

    symbol: str  # instrument name
    fundingRate: str  # settled rate, fraction per interval
    fundingRateTimestamp: str  # settlement time, ms as a string


class BybitFundingHistory(msgspec.Struct, kw_only=True, gc=False):
    """``result`` of ``/v5/market/funding/history`` (newest first)."""

    category: str = ""  # "linear" or "inverse"
    list: tuple[BybitFundingRow, ...]  # settled rates


class BybitPriceFilter(msgspec.Struct, kw_only=True, gc=False):
    tickSize: str  # price increment


class BybitLotSizeFilter(msgspec.Struct, kw_only=True, gc=False):
    qtyStep: str  # order quantity increment
    minOrderQty: str | None = None  # smallest order quantity
    minNotionalValue: str | None = None  # smallest order value in the quote coin (linear only)


class BybitLeverageFilter(msgspec.Struct, kw_only=True, gc=False):
    maxLeverage: str | None = None  # highest leverage, e.g. "100.00"


class BybitInstrument(msgspec.Struct, kw_only=True, gc=False):
    """One row of ``/v5/market/instruments-info``."""

    symbol: str  # instrument name
    contractType: str = ""  # "LinearPerpetual", "LinearFutures", "InversePerpetual", ...
    status: str = ""  # "Trading", "PreLaunch", "Delivering", "Closed"
    baseCoin: str = ""  # base coin as Bybit names it ("1000PEPE" for 1000PEPEUSDT)
    quoteCoin: str = ""  # quote coin
    fundingInterval: int = 0  # funding interval in MINUTES (480 = 8 h); 0 on dated futures
    priceFilter: BybitPriceFilter | None = None  # price rules
    lotSizeFilter: BybitLotSizeFilter | None = None  # quantity rules
    leverageFilter: BybitLeverageFilter | None = None  # leverage rules


class BybitInstrumentList(msgspec.Struct, kw_only=True, gc=False):
    """``result`` of ``/v5/market/instruments-info`` (paged by cursor)."""

    category: str = ""  # "linear", ...
    list: tuple[BybitInstrument, ...]  # instruments of this page
    nextPageCursor: str = ""  # "" on the last page
