"""KuCoin Futures wire types: the exact shapes of WebSocket frames and REST bodies, nothing more.

Every WS frame decodes in one pass into ``KucoinFrame``; the codec dispatches on its topic
prefix (data frames) or ``type`` (control frames): KuCoin has no single field that
discriminates every frame (docs examples omit ``type``, control frames have no ``subject``, and
depth snapshots and increments share ``subject: "level2"``). REST bodies share
``KucoinResponse`` whose ``data`` stays ``msgspec.Raw`` until ``code`` was checked, so an error
body with an unexpected ``data`` still reads as the venue's error.

Numbers are as loose as the venue: prices are strings on WS depth and tickerV2 but JSON numbers
on REST and in the 2023 docs, rates come as ``6.1E-5``. Scalars decode into ``Decimal`` (msgspec
keeps a JSON number's exact text); book levels decode into ``str | int | float`` and become text
in the codec (see ``rest.levels_text``). ``ts`` fields named so are nanoseconds; ``timestamp``,
``timePoint``, ``fundingTime`` are milliseconds.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

# A book level as sent: price text or number, size an integer count of contracts.
KucoinNumber = str | int | float
KucoinLevel = tuple[KucoinNumber, KucoinNumber]


# --- WebSocket ---------------------------------------------------------------------------------


class KucoinData(msgspec.Struct, kw_only=True, gc=False):
    """The ``data`` object of a data frame: every field any subject carries, each optional.

    One flat type (rather than a Raw payload decoded again per subject) reads the whole frame in
    one pass: measured, that is what lets a level2 increment decode and apply at 3x the baseline.
    The codec checks the fields its subject needs. Subjects and their fields:
    ``level2`` increments (topic ``/contractMarket/level2``): sequence, change, timestamp;
    ``level2`` depth snapshots (``level2Depth{5,50}``): sequence, timestamp, bids, asks;
    ``tickerV2``: symbol, sequence, bestBid*/bestAsk*, ts; ``funding.rate``: granularity,
    fundingRate, timestamp, period; ``mark.index.price``: markPrice, indexPrice, granularity,
    timestamp; ``funding.begin``/``funding.end``: symbol, fundingTime, fundingRate, timestamp; ``match``
    (topic ``/contractMarket/execution``): symbol, sequence, side, size, price, tradeId, ts (ns).
    """

    sequence: int | None = None  # per-symbol book sequence; contiguous (+1 per change) on level2 increments
    change: str | None = None  # level2 increment "price,side,size": side "buy"/"sell", size in contracts, "0" deletes
    bids: msgspec.Raw = msgspec.Raw()  # depth snapshot levels, best first, kept raw until the book is read
    asks: msgspec.Raw = msgspec.Raw()
    timestamp: int | None = None  # ms
    ts: int | None = None  # tickerV2: ns, 19 digits (depth snapshots: ms, unused)
    symbol: str | None = None  # the contract (announcement topics may lack it)
    bestBidPrice: Decimal | None = None  # string live, number in the 2023 docs
    bestBidSize: Decimal | None = None  # contracts (integer)
    bestAskPrice: Decimal | None = None
    bestAskSize: Decimal | None = None  # contracts (integer)
    markPrice: Decimal | None = None  # JSON number
    indexPrice: Decimal | None = None  # JSON number
    # ms: funding.rate 60000 = the estimate refreshed each minute, 28800000 = a settled 8 h rate;
    # mark.index.price 1000 = the push period
    granularity: int | None = None
    fundingRate: Decimal | None = None  # fraction per funding interval, a JSON number
    fundingTime: int | None = None  # ms, the settlement time (announcements)
    period: int | None = None  # undocumented (live funding.rate carries 1); not used
    side: str | None = None  # execution ``match``: the taker's side, "buy"/"sell"
    size: Decimal | None = None  # execution: contracts filled (integer)
    price: Decimal | None = None  # execution: a JSON number
    tradeId: str | None = None  # execution


class KucoinFrame(msgspec.Struct, kw_only=True, gc=False):
    """Any WS frame: control (welcome/ack/pong/ping/error/notice) or data (``message``)."""

    id: str | int | None = None  # request id echoed as a string by acks; connectId on welcome
    type: str = ""  # "welcome", "ack", "pong", "ping", "error", "notice", "message" (absent in old docs)
    topic: str = ""  # data frames: "/contractMarket/level2:XBTUSDTM" (announcements: no ":symbol")
    subject: str = ""  # data frames: "level2", "tickerV2", "funding.rate", "funding.begin", ...
    data: KucoinData | str | None = None  # data frames: the payload; error frames: the message
    code: int | str | None = None  # error frames: 401, 404, ...


class KucoinDepth(msgspec.Struct, kw_only=True):
    """``/contractMarket/level2Depth{5,50}:{symbol}`` data, decoded when the book is read."""

    sequence: int  # book sequence at the time of the snapshot
    timestamp: int  # ms
    bids: tuple[KucoinLevel, ...]  # best (highest) first
    asks: tuple[KucoinLevel, ...]  # best (lowest) first


class KucoinDepthFrame(msgspec.Struct, kw_only=True):
    """A whole ``level2Depth`` frame as kept by ``LazyBookSnapshot.payload``."""

    data: KucoinDepth


class KucoinRequest(msgspec.Struct, kw_only=True):
    """Outbound subscribe/unsubscribe (key order as in KuCoin's docs)."""

    id: int  # ours; the ack echoes it as a string
    type: str  # "subscribe" or "unsubscribe"
    topic: str
    privateChannel: bool = False
    response: bool = True  # ask for an ack


class KucoinPingFrame(msgspec.Struct, kw_only=True):
    """Outbound application ping, or our pong to a venue ping."""

    id: str
    type: str  # "ping" or "pong"


# --- REST --------------------------------------------------------------------------------------


class KucoinResponse(msgspec.Struct, kw_only=True):
    """Every REST body: ``code`` "200000" on success, else ``msg`` says why."""

    code: str | int  # "200000" ok; "429000" rate limited; "400100" bad parameter ...
    data: msgspec.Raw = msgspec.Raw()
    msg: str = ""


class KucoinInstanceServer(msgspec.Struct, kw_only=True):
    """One push server offered by bullet-public."""

    endpoint: str  # "wss://ws-api-futures.kucoin.com/" (may change: always use this one)
    pingInterval: int  # ms between our pings
    pingTimeout: int  # ms to wait for the pong
    protocol: str = "websocket"
    encrypt: bool = True


class KucoinBulletData(msgspec.Struct, kw_only=True):
    """``POST /api/v1/bullet-public`` data."""

    token: str  # valid 24 h; goes into the WS URL
    instanceServers: list[KucoinInstanceServer]


class KucoinSnapshot(msgspec.Struct, kw_only=True):
    """``GET /api/v1/level2/snapshot`` (and ``depth20``/``depth100``) data."""

    sequence: int  # increments with sequence <= this are already in the snapshot
    symbol: str
    bids: tuple[KucoinLevel, ...]  # best first; prices are JSON numbers live
    asks: tuple[KucoinLevel, ...]
    ts: int  # ns


class KucoinFundingCurrent(msgspec.Struct, kw_only=True):
    """``GET /api/v1/funding-rate/{symbol}/current`` data."""

    symbol: str  # the funding-index symbol ".XBTUSDTMFPI8H", not the contract
    granularity: int  # ms, the funding interval
    timePoint: int  # ms, start of the current period (previous settlement)
    value: Decimal  # fraction for the current period, settled at fundingTime
    predictedValue: Decimal | None = None  # estimate for the period after
    fundingRateCap: Decimal | None = None
    fundingRateFloor: Decimal | None = None
    period: int | None = None  # undocumented
    fundingTime: int | None = None  # ms, next settlement


class KucoinFundingHistoryRow(msgspec.Struct, kw_only=True):
    """``GET /api/v1/contract/funding-rates`` row (newest first)."""

    symbol: str  # the contract
    fundingRate: Decimal  # fraction per interval, settled
    timepoint: int  # ms, settlement time (lower-case "p" on this endpoint)


class KucoinMarkPrice(msgspec.Struct, kw_only=True):
    """``GET /api/v1/mark-price/{symbol}/current`` data."""

    symbol: str
    value: Decimal  # mark price
    indexPrice: Decimal
    timePoint: int  # ms
    granularity: int = 1000


class KucoinTicker(msgspec.Struct, kw_only=True):
    """``GET /api/v1/ticker`` data (last trade and best bid/offer)."""

    symbol: str
    bestBidPrice: Decimal
    bestBidSize: Decimal  # contracts
    bestAskPrice: Decimal
    bestAskSize: Decimal  # contracts
    ts: int  # ns
    sequence: int | None = None
    price: Decimal | None = None  # last trade
    size: Decimal | None = None  # last trade, contracts
    side: str | None = None  # last trade taker side


class KucoinContract(msgspec.Struct, kw_only=True):
    """``GET /api/v1/contracts/{symbol}`` data, or one element of ``/api/v1/contracts/active``."""

    symbol: str  # "XBTUSDTM"
    type: str  # "FFWCSX" perpetual, "FFICSX" dated future
    baseCurrency: str  # "XBT"
    quoteCurrency: str  # "USDT"
    multiplier: Decimal  # base per contract (0.001 XBT); negative (-1 USD) on inverse contracts
    lotSize: Decimal  # order size step, contracts
    tickSize: Decimal  # price step
    status: str  # "Open", "Paused", ...
    isInverse: bool = False
    maxLeverage: Decimal | None = None
    fundingRateSymbol: str | None = None  # ".XBTUSDTMFPI8H": how funding endpoints name this contract
    fundingFeeRate: Decimal | None = None  # current period's rate (null on dated futures)
    predictedFundingFeeRate: Decimal | None = None
    fundingRateGranularity: int | None = None  # ms, the funding interval
    nextFundingRateTime: int | None = None  # ms COUNTDOWN to the next settlement, not an epoch time
    markPrice: Decimal | None = None
    indexPrice: Decimal | None = None
