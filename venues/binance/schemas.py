"""Binance USD-M (and Aster, its clone) wire types: msgspec Structs shaped like the JSON.

Stream events are a tagged union on the venue's own event-type field ``e``; frames are first
read through ``BinanceFrame``, an envelope whose ``data`` stays ``msgspec.Raw`` so the codec can
route by stream name (partial-depth and diff-depth frames share ``e == "depthUpdate"``) and keep
snapshot frames undecoded. Prices, sizes and rates are JSON strings on the wire and stay ``str``
here (book levels go straight into ``(price, size)`` tuples); the codec makes Decimals. Unknown
fields are ignored (Binance adds fields without notice: ``st``, ``ps``, ``nq``, ``ap``, ``er``).
Field comments give the wire key first.
"""

from __future__ import annotations

import msgspec

Levels = tuple[tuple[str, str], ...]
_EMPTY = msgspec.Raw()


# --- framing and control --------------------------------------------------------------------


class BinanceErrorBody(msgspec.Struct):
    code: int  # code: 0..3 on market streams, negative (-1121, -1022, ...) on REST / WS-API
    msg: str  # msg: human-readable reason


class BinanceFrame(msgspec.Struct):
    """Every WebSocket frame that is a JSON object, read shallowly; absent keys stay None/empty."""

    stream: str | None = None  # stream: combined-stream name ("btcusdt@depth20@100ms")
    data: msgspec.Raw = _EMPTY  # data: the raw event of a combined stream (object or array)
    e: str | None = None  # e: event type of a raw (non-combined) frame
    s: str | None = None  # s: symbol of a raw frame (uppercase)
    id: int | str | None = None  # id: request id of an ack / error / WS-API response
    result: msgspec.Raw = _EMPTY  # result: null (ack), list of streams (LIST_SUBSCRIPTIONS), object (WS-API)
    code: int | None = None  # code: market-stream error frame
    msg: str | None = None  # msg: market-stream error text
    error: BinanceErrorBody | None = None  # error: nested error (WS-API, newer stream errors)
    status: int | None = None  # status: WS-API HTTP-like status


class BinanceProbe(msgspec.Struct):
    """Just the event type, to tell an unknown event from a broken known one."""

    e: str | None = None  # e: event type


class _Event(msgspec.Struct, tag_field="e"):
    """Base of the stream events; ``e`` is the tag."""


# --- market streams -------------------------------------------------------------------------


class BinanceBookTicker(_Event, tag="bookTicker"):
    update_id: int = msgspec.field(name="u")  # u: order-book update id (depth id space)
    symbol: str = msgspec.field(name="s")  # s: symbol
    bid_price: str = msgspec.field(name="b")  # b: best bid price
    bid_size: str = msgspec.field(name="B")  # B: best bid quantity
    ask_price: str = msgspec.field(name="a")  # a: best ask price
    ask_size: str = msgspec.field(name="A")  # A: best ask quantity
    event_time: int = msgspec.field(name="E", default=0)  # E: event time, ms


class BinanceDepthUpdate(_Event, tag="depthUpdate"):
    """Diff depth and partial depth share this shape; only the stream name tells them apart."""

    symbol: str = msgspec.field(name="s")  # s: symbol
    first_id: int = msgspec.field(name="U")  # U: first update id in the event
    last_id: int = msgspec.field(name="u")  # u: final update id in the event
    prev_id: int = msgspec.field(name="pu")  # pu: final update id of the previous event
    bids: Levels = msgspec.field(name="b")  # b: [[price, qty]], qty absolute, "0" deletes
    asks: Levels = msgspec.field(name="a")  # a: [[price, qty]]
    event_time: int = msgspec.field(name="E", default=0)  # E: event time, ms


class BinanceMarkPriceUpdate(_Event, tag="markPriceUpdate"):
    symbol: str = msgspec.field(name="s")  # s: symbol
    mark_price: str = msgspec.field(name="p")  # p: mark price
    index_price: str = msgspec.field(name="i")  # i: index price
    funding_rate: str = msgspec.field(name="r")  # r: predicted rate, fraction per interval ("" off perps)
    next_funding_time: int = msgspec.field(name="T")  # T: next funding time, ms (0 off perps)
    event_time: int = msgspec.field(name="E", default=0)  # E: event time, ms


class BinanceMarkLean(msgspec.Struct, tag_field="e", tag="markPriceUpdate", gc=False):
    """The funding path's read of a ``markPriceUpdate``: only the fields the event carries (msgspec
    skips the rest unread), in a struct the collector never tracks. Prices stay text: ``Decimal``
    of a ``str`` costs less than msgspec's own Decimal decoding (measured: bench/codecs.py)."""

    s: str  # s: symbol
    p: str  # p: mark price
    i: str  # i: index price
    r: str  # r: predicted rate, fraction per interval ("" off perps)
    T: int  # T: next funding time, ms (0 off perps)
    E: int = 0  # E: event time, ms


class BinanceCombinedMark(msgspec.Struct, gc=False):
    """A combined ``<sym>@markPrice[@1s]`` frame, read by the funding path."""

    stream: str  # stream: the stream name
    data: BinanceMarkLean  # data: the update


class BinanceCombinedMarkArr(msgspec.Struct, gc=False):
    """A combined ``!markPrice@arr[@1s]`` frame: every symbol's update in one array."""

    stream: str  # stream: the stream name
    data: tuple[BinanceMarkLean, ...]  # data: one update per symbol


class BinanceForceOrderBody(msgspec.Struct):
    symbol: str = msgspec.field(name="s")  # s: symbol
    side: str = msgspec.field(name="S")  # S: BUY / SELL (SELL: a long was liquidated)
    quantity: str = msgspec.field(name="q")  # q: original quantity
    price: str = msgspec.field(name="p")  # p: order price
    avg_price: str = msgspec.field(name="ap")  # ap: average fill price
    filled: str = msgspec.field(name="z")  # z: accumulated filled quantity
    trade_time: int = msgspec.field(name="T")  # T: trade time, ms


class BinanceForceOrder(_Event, tag="forceOrder"):
    order: BinanceForceOrderBody = msgspec.field(name="o")  # o: the liquidation order
    event_time: int = msgspec.field(name="E", default=0)  # E: event time, ms


class BinanceAggTrade(_Event, tag="aggTrade"):
    agg_id: int = msgspec.field(name="a")  # a: aggregate trade id
    symbol: str = msgspec.field(name="s")  # s: symbol
    price: str = msgspec.field(name="p")  # p: price
    quantity: str = msgspec.field(name="q")  # q: quantity
    trade_time: int = msgspec.field(name="T")  # T: trade time, ms
    buyer_maker: bool = msgspec.field(name="m")  # m: buyer is the maker (the taker sold)


# --- user data stream -----------------------------------------------------------------------


class BinanceOrderBody(msgspec.Struct):
    symbol: str = msgspec.field(name="s")  # s: symbol
    client_id: str = msgspec.field(name="c")  # c: client order id ("autoclose-..." = liquidation)
    side: str = msgspec.field(name="S")  # S: BUY / SELL
    order_type: str = msgspec.field(name="o")  # o: order type (LIMIT, MARKET, ...)
    quantity: str = msgspec.field(name="q")  # q: original quantity
    price: str = msgspec.field(name="p")  # p: limit price, "0" for market orders
    avg_price: str = msgspec.field(name="ap")  # ap: average fill price, "0" before a fill
    exec_type: str = msgspec.field(name="x")  # x: execution type (NEW, TRADE, CANCELED, CALCULATED, ...)
    status: str = msgspec.field(name="X")  # X: order status
    order_id: int = msgspec.field(name="i")  # i: order id
    last_size: str = msgspec.field(name="l")  # l: last filled quantity
    filled: str = msgspec.field(name="z")  # z: accumulated filled quantity
    last_price: str = msgspec.field(name="L")  # L: last filled price
    trade_id: int = msgspec.field(name="t")  # t: trade id (0 without a fill)
    maker: bool = msgspec.field(name="m")  # m: this fill was on the maker side
    reduce_only: bool = msgspec.field(name="R")  # R: reduce-only
    fee: str | None = msgspec.field(name="n", default=None)  # n: commission (only when there is one)
    fee_asset: str | None = msgspec.field(name="N", default=None)  # N: commission asset


class BinanceOrderTradeUpdate(_Event, tag="ORDER_TRADE_UPDATE"):
    order: BinanceOrderBody = msgspec.field(name="o")  # o: the order
    event_time: int = msgspec.field(name="E", default=0)  # E: event time, ms


class BinanceBalance(msgspec.Struct):
    asset: str = msgspec.field(name="a")  # a: asset
    wallet_balance: str = msgspec.field(name="wb")  # wb: wallet balance
    cross_wallet: str = msgspec.field(name="cw")  # cw: cross wallet balance
    change: str | None = msgspec.field(name="bc", default=None)  # bc: change except PnL and commission


class BinancePosition(msgspec.Struct):
    symbol: str = msgspec.field(name="s")  # s: symbol
    amount: str = msgspec.field(name="pa")  # pa: position amount, signed (short < 0)
    entry_price: str = msgspec.field(name="ep")  # ep: entry price
    unrealized_pnl: str = msgspec.field(name="up")  # up: unrealised PnL
    position_side: str = msgspec.field(name="ps", default="BOTH")  # ps: BOTH / LONG / SHORT


class BinanceAccountBody(msgspec.Struct):
    reason: str = msgspec.field(name="m")  # m: ORDER, FUNDING_FEE, DEPOSIT, ...
    balances: list[BinanceBalance] = msgspec.field(name="B", default_factory=list)  # B: balances
    positions: list[BinancePosition] = msgspec.field(name="P", default_factory=list)  # P: positions


class BinanceAccountUpdate(_Event, tag="ACCOUNT_UPDATE"):
    account: BinanceAccountBody = msgspec.field(name="a")  # a: the update
    event_time: int = msgspec.field(name="E", default=0)  # E: event time, ms


class BinanceMarginPosition(msgspec.Struct):
    symbol: str = msgspec.field(name="s")  # s: symbol
    amount: str = msgspec.field(name="pa")  # pa: position amount
    mark_price: str = msgspec.field(name="mp")  # mp: mark price
    unrealized_pnl: str = msgspec.field(name="up")  # up: unrealised PnL
    maintenance: str = msgspec.field(name="mm")  # mm: maintenance margin required


class BinanceMarginCall(_Event, tag="MARGIN_CALL"):
    positions: list[BinanceMarginPosition] = msgspec.field(name="p")  # p: positions at risk
    cross_wallet: str | None = msgspec.field(name="cw", default=None)  # cw: cross wallet balance
    event_time: int = msgspec.field(name="E", default=0)  # E: event time, ms


class BinanceListenKeyExpired(_Event, tag="listenKeyExpired"):
    event_time: int | str = msgspec.field(name="E", default=0)  # E: event time, ms (a string on Binance)


class BinanceTradeLite(_Event, tag="TRADE_LITE"):
    symbol: str = msgspec.field(name="s")  # s: symbol
    client_id: str = msgspec.field(name="c")  # c: client order id
    side: str = msgspec.field(name="S")  # S: BUY / SELL
    last_price: str = msgspec.field(name="L")  # L: last filled price
    last_size: str = msgspec.field(name="l")  # l: last filled quantity
    trade_id: int = msgspec.field(name="t")  # t: trade id
    order_id: int = msgspec.field(name="i")  # i: order id
    maker: bool = msgspec.field(name="m")  # m: maker side
    event_time: int = msgspec.field(name="E", default=0)  # E: event time, ms


BinanceEvent = (
    BinanceBookTicker | BinanceDepthUpdate | BinanceMarkPriceUpdate | BinanceForceOrder | BinanceAggTrade
    | BinanceOrderTradeUpdate | BinanceAccountUpdate | BinanceMarginCall | BinanceListenKeyExpired | BinanceTradeLite
)


class BinanceCombined(msgspec.Struct):
    """A combined-stream frame of a known event, decoded in one pass."""

    stream: str  # stream: the stream name
    data: BinanceEvent | list[BinanceMarkPriceUpdate]  # data: the event (an array for !markPrice@arr)


class BinanceCombinedDepth(msgspec.Struct):
    """A combined-stream diff-depth frame (the stream name said ``@depth`` without a level count)."""

    stream: str  # stream: the stream name
    data: BinanceDepthUpdate  # data: the diff


class BinanceSnapshotFrame(msgspec.Struct):
    """A kept partial-depth frame: combined (``stream`` + ``data``) or a raw event (both None)."""

    stream: str | None = None  # stream: "<sym>@depth<N>[@speed]"
    data: BinanceDepthUpdate | None = None  # data: the top-N book


KNOWN_EVENTS = frozenset(
    t.__struct_config__.tag for t in BinanceEvent.__args__  # type: ignore[attr-defined]
)


# --- REST -----------------------------------------------------------------------------------


class BinanceRestDepth(msgspec.Struct):
    last_update_id: int = msgspec.field(name="lastUpdateId")  # lastUpdateId: the book's update id
    bids: Levels  # bids: [[price, qty]] best first
    asks: Levels  # asks: [[price, qty]] best first
    event_time: int = msgspec.field(name="E", default=0)  # E: message time, ms
    txn_time: int = msgspec.field(name="T", default=0)  # T: transaction time, ms


class BinancePremiumIndex(msgspec.Struct):
    symbol: str  # symbol
    markPrice: str  # markPrice: mark price
    indexPrice: str  # indexPrice: index price
    lastFundingRate: str  # lastFundingRate: current-interval rate, fraction ("" off perps)
    nextFundingTime: int  # nextFundingTime: ms (0 off perps)
    time: int = 0  # time: ms


class BinanceFundingRate(msgspec.Struct):
    symbol: str  # symbol
    fundingRate: str  # fundingRate: settled rate, fraction per interval
    fundingTime: int  # fundingTime: settlement time, ms
    markPrice: str | None = None  # markPrice: mark at settlement (Binance only; may be "")


class BinanceFundingInfo(msgspec.Struct):
    """Binance lists only symbols with adjusted cap/floor/interval; Aster lists all, caps as numbers."""

    symbol: str  # symbol
    fundingIntervalHours: int  # fundingIntervalHours: the symbol's funding interval


class BinanceFilter(msgspec.Struct):
    filterType: str  # filterType: PRICE_FILTER, LOT_SIZE, MIN_NOTIONAL, ...
    tickSize: str | None = None  # tickSize: PRICE_FILTER price increment
    stepSize: str | None = None  # stepSize: LOT_SIZE quantity increment
    minQty: str | None = None  # minQty: LOT_SIZE minimum quantity
    notional: str | None = None  # notional: MIN_NOTIONAL minimum order value


class BinanceSymbol(msgspec.Struct):
    symbol: str  # symbol
    status: str  # status: TRADING, PENDING_TRADING, ...
    quoteAsset: str  # quoteAsset: quote currency
    contractType: str = ""  # contractType: PERPETUAL, CURRENT_QUARTER, "" (not yet listed)
    filters: list[BinanceFilter] = []  # filters: tick/step/notional rules


class BinanceExchangeInfo(msgspec.Struct):
    symbols: list[BinanceSymbol]  # symbols: every contract


class BinanceBookTickerRest(msgspec.Struct):
    symbol: str  # symbol
    bidPrice: str  # bidPrice: best bid price
    bidQty: str  # bidQty: best bid quantity
    askPrice: str  # askPrice: best ask price
    askQty: str  # askQty: best ask quantity
    time: int = 0  # time: ms


class BinanceListenKeyResult(msgspec.Struct):
    listenKey: str  # listenKey: the key


class BinanceListenKey(msgspec.Struct):
    """A listenKey answer: REST ``{"listenKey"}``, ``{}``, ``{"code","msg"}`` or a WS-API response."""

    listenKey: str | None = None  # listenKey: absent in DELETE's and Aster's keepalive answer ``{}``
    code: int | None = None  # code: REST error (-1125: this listenKey does not exist)
    msg: str | None = None  # msg: REST error text
    status: int | None = None  # status: WS-API ``userDataStream.start`` status
    result: BinanceListenKeyResult | None = None  # result: WS-API result
    error: BinanceErrorBody | None = None  # error: WS-API error


class BinanceRateLimit(msgspec.Struct):
    rateLimitType: str  # rateLimitType: REQUEST_WEIGHT, ORDERS
    interval: str  # interval: SECOND, MINUTE, DAY
    intervalNum: int  # intervalNum: interval multiplier
    limit: int  # limit: allowed per interval
    count: int | None = None  # count: used so far (WS-API responses)


class BinanceWsApiResponse(msgspec.Struct):
    status: int  # status: HTTP-like status (200 ok)
    id: int | str | None = None  # id: the request id, null when the request was unreadable
    result: msgspec.Raw = _EMPTY  # result: method-specific object
    error: BinanceErrorBody | None = None  # error: set when status is not 200
    rateLimits: list[BinanceRateLimit] = []  # rateLimits: usage after this request
