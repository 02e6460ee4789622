"""Hyperliquid wire types: WebSocket frames and ``POST /info`` bodies, exactly as the venue sends them.

WebSocket frames are ``{"channel": <type>, "data": ...}``; every frame kind is a Struct tagged on
the venue's own ``channel`` field, so one Decoder over ``HyperliquidFrame`` routes a frame in one
pass. Numbers that are prices, sizes or rates are decimal strings on the wire (the docs type some
of them as numbers; the wire sends strings) and stay ``str`` here: the codec converts the few it
keeps. The ``l2Book`` frame is decoded only down to its head (coin and time, levels kept raw) so
snapshots can be materialised later. Unknown fields are ignored by msgspec, so the venue may add
keys freely. Field comments follow the docs (gitbook "websocket/subscriptions", "info-endpoint").
"""

from __future__ import annotations

from typing import Literal

import msgspec

HyperliquidSide = Literal["A", "B"]  # "A" = ask side (seller / sell aggressor), "B" = bid side (buyer)


# --- books -----------------------------------------------------------------------------------


class HyperliquidLevel(msgspec.Struct, frozen=True, gc=False):
    px: str  # price, decimal text
    sz: str  # total size at the price, decimal text
    n: int  # number of orders at the level


class HyperliquidBook(msgspec.Struct, frozen=True, gc=False):
    """``WsBook`` / REST ``l2Book``: the whole (top-20 or top-5) book, bids descending, asks ascending."""

    coin: str  # coin name: "BTC", "kPEPE", "xyz:SP500"
    time: int  # ms; one push clock for every coin on a socket
    levels: tuple[list[HyperliquidLevel], list[HyperliquidLevel]]  # [bids, asks]; delisted coins send [[], []]


class HyperliquidBookHead(msgspec.Struct, frozen=True, gc=False):
    """The parts of a ``WsBook`` needed to route it; levels are skipped (lazy snapshots)."""

    coin: str  # coin name
    time: int  # ms
    levels: msgspec.Raw  # [bids, asks], left undecoded until somebody reads the book


class HyperliquidBbo(msgspec.Struct, frozen=True, gc=False):
    coin: str  # coin name
    time: int  # ms of the block that changed the BBO
    bbo: tuple[HyperliquidLevel | None, HyperliquidLevel | None]  # [bid, ask]; a side may be null


# --- asset contexts (funding, mark, oracle) ----------------------------------------------------


class HyperliquidPerpCtx(msgspec.Struct, frozen=True, gc=False):
    """A perp's context (WS ``activeAssetCtx.ctx``, REST ``metaAndAssetCtxs[1][i]``); all strings."""

    funding: str  # running estimate of the next hourly funding, fraction per hour
    openInterest: str  # in coins
    prevDayPx: str  # price 24 h ago
    dayNtlVlm: str  # 24 h notional volume, USDC
    oraclePx: str  # oracle (index) price: funding is paid on size x oraclePx
    markPx: str  # mark price
    premium: str | None = None  # current premium (null for delisted coins)
    midPx: str | None = None  # book mid (null when the book is empty)
    impactPxs: list[str] | None = None  # [impact bid, impact ask] (null for delisted coins)
    dayBaseVlm: str | None = None  # 24 h volume in coins (absent in older replies)


class HyperliquidActiveAssetCtx(msgspec.Struct, frozen=True, gc=False):
    coin: str  # coin name
    ctx: HyperliquidPerpCtx


class HyperliquidAllMids(msgspec.Struct, frozen=True, gc=False):
    mids: dict[str, str]  # coin -> mid price; the first dex also carries spot keys ("@142", "PURR/USDC")
    dex: str | None = None  # HIP-3 dex name when subscribed with one


# --- trades ----------------------------------------------------------------------------------


class HyperliquidTrade(msgspec.Struct, frozen=True, gc=False):
    coin: str  # coin name
    side: HyperliquidSide  # aggressor: "B" buy, "A" sell
    px: str  # price
    sz: str  # size in coins
    time: int  # ms
    hash: str  # transaction hash
    tid: int  # trade id
    users: list[str] | None = None  # [buyer, seller] addresses


# --- user channels -----------------------------------------------------------------------------


class HyperliquidOrder(msgspec.Struct, frozen=True, gc=False):
    coin: str  # coin name
    side: HyperliquidSide  # "B" buy, "A" sell
    limitPx: str  # limit price
    sz: str  # size still open
    oid: int  # order id
    timestamp: int  # ms the order was placed
    origSz: str  # size when placed
    cloid: str | None = None  # client order id (hex), when given


class HyperliquidWsOrder(msgspec.Struct, frozen=True, gc=False):
    order: HyperliquidOrder
    status: str  # open, filled, canceled, triggered, rejected, marginCanceled, ... (open-ended list)
    statusTimestamp: int  # ms of the status change


class HyperliquidFillLiquidation(msgspec.Struct, frozen=True, gc=False):
    markPx: str  # mark price at liquidation (a string on the wire, though the docs say number)
    method: str  # "market" or "backstop"
    liquidatedUser: str | None = None  # the liquidated address (absent in some replies)


class HyperliquidFill(msgspec.Struct, frozen=True, gc=False):
    """``WsFill``: one execution of one of the user's orders."""

    coin: str  # coin name
    px: str  # price
    sz: str  # size
    side: HyperliquidSide  # "B" buy, "A" sell
    time: int  # ms
    oid: int  # order id
    tid: int  # trade id
    crossed: bool  # true when the order took liquidity (taker)
    fee: str  # fee paid; negative is a rebate
    hash: str | None = None  # transaction hash
    startPosition: str | None = None  # signed position before the fill
    dir: str | None = None  # "Open Long", "Close Short", ...
    closedPnl: str | None = None  # realised PnL of the fill
    feeToken: str | None = None  # fee asset ("USDC"); absent in older frames
    builderFee: str | None = None  # builder fee, when a builder routed the order
    cloid: str | None = None  # client order id
    twapId: int | None = None  # TWAP id for TWAP slices
    liquidation: HyperliquidFillLiquidation | None = None  # set when the fill is part of a liquidation
    liquidationMarkPx: str | None = None  # older frames: mark price when the fill was a liquidation


class HyperliquidUserFills(msgspec.Struct, frozen=True, gc=False):
    user: str  # address the subscription names
    fills: list[HyperliquidFill]
    isSnapshot: bool = False  # first frame after subscribing: recent history, maybe already processed


class HyperliquidUserFunding(msgspec.Struct, frozen=True, gc=False):
    time: int  # ms of the hourly settlement
    coin: str  # coin name
    usdc: str  # amount paid (negative) or received (positive)
    szi: str  # signed position size
    fundingRate: str  # fraction per hour (per 8 h before 2023-06-08)
    nSamples: int | None = None  # premium samples averaged


class HyperliquidUserFundings(msgspec.Struct, frozen=True, gc=False):
    user: str  # address the subscription names
    fundings: list[HyperliquidUserFunding]
    isSnapshot: bool = False  # first frame after subscribing: recent history


class HyperliquidLiquidationEvent(msgspec.Struct, frozen=True, gc=False):
    lid: int  # liquidation id
    liquidator: str  # address
    liquidated_user: str  # address
    liquidated_ntl_pos: str  # notional position liquidated
    liquidated_account_value: str  # account value at liquidation


class HyperliquidUserEvent(msgspec.Struct, frozen=True, gc=False):
    """``userEvents`` (channel ``user``): exactly one of the fields is set."""

    fills: list[HyperliquidFill] | None = None
    funding: HyperliquidUserFunding | None = None
    liquidation: HyperliquidLiquidationEvent | None = None
    nonUserCancel: list[msgspec.Raw] | None = None  # [{coin, oid}] cancelled by the venue


# --- control -----------------------------------------------------------------------------------


class HyperliquidSubscriptionEcho(msgspec.Struct, frozen=True, gc=False):
    """A subscription object as the venue echoes it (defaults filled in)."""

    type: str  # channel type: l2Book, bbo, trades, ...
    coin: str | None = None  # coin name, for per-coin channels
    user: str | None = None  # address, for user channels
    dex: str | None = None  # HIP-3 dex, for allMids
    interval: str | None = None  # candle interval
    nSigFigs: int | None = None  # l2Book aggregation
    mantissa: int | None = None  # l2Book aggregation
    fast: bool | None = None  # l2Book fast mode


class HyperliquidSubscriptionAck(msgspec.Struct, frozen=True, gc=False):
    method: Literal["subscribe", "unsubscribe"]
    subscription: HyperliquidSubscriptionEcho


class HyperliquidPostResponse(msgspec.Struct, frozen=True, gc=False):
    type: str  # "info", "action" or "error"
    payload: msgspec.Raw  # info: {type, data}; error: text


class HyperliquidPostReply(msgspec.Struct, frozen=True, gc=False):
    id: int  # the request id we sent
    response: HyperliquidPostResponse


class HyperliquidInfoPayload(msgspec.Struct, frozen=True, gc=False):
    type: str  # the info request type echoed ("l2Book", ...)
    data: msgspec.Raw  # the info reply; ``null`` for an unknown coin


# --- WebSocket frames, tagged on ``channel`` ----------------------------------------------------


class HyperliquidBookMsg(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="l2Book"):
    data: HyperliquidBookHead


class HyperliquidBookFrame(msgspec.Struct, frozen=True, gc=False):
    """A whole ``l2Book`` frame, levels included (materialising a lazy snapshot)."""

    data: HyperliquidBook


class HyperliquidBboMsg(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="bbo"):
    data: HyperliquidBbo


class HyperliquidAssetCtxMsg(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="activeAssetCtx"):
    data: HyperliquidActiveAssetCtx


class HyperliquidAllMidsMsg(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="allMids"):
    data: HyperliquidAllMids


class HyperliquidTradesMsg(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="trades"):
    data: list[HyperliquidTrade]


class HyperliquidOrderUpdatesMsg(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="orderUpdates"):
    data: list[HyperliquidWsOrder]


class HyperliquidUserFillsMsg(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="userFills"):
    data: HyperliquidUserFills


class HyperliquidUserFundingsMsg(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="userFundings"):
    data: HyperliquidUserFundings


class HyperliquidUserEventsMsg(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="user"):
    data: HyperliquidUserEvent


class HyperliquidAckMsg(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="subscriptionResponse"):
    data: HyperliquidSubscriptionAck


class HyperliquidErrorMsg(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="error"):
    data: str  # "Already subscribed: {...}", "Error parsing JSON into valid websocket request: ..."


class HyperliquidPongMsg(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="pong"):
    pass


class HyperliquidPostMsg(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="post"):
    data: HyperliquidPostReply


HyperliquidFrame = (
    HyperliquidBookMsg | HyperliquidBboMsg | HyperliquidAssetCtxMsg | HyperliquidAllMidsMsg | HyperliquidTradesMsg
    | HyperliquidOrderUpdatesMsg | HyperliquidUserFillsMsg | HyperliquidUserFundingsMsg | HyperliquidUserEventsMsg
    | HyperliquidAckMsg | HyperliquidErrorMsg | HyperliquidPongMsg | HyperliquidPostMsg
)


class HyperliquidEnvelope(msgspec.Struct, frozen=True, gc=False):
    """Just the channel: tells an unknown frame kind from a malformed known one."""

    channel: str | None = None


# --- REST ``POST /info`` -------------------------------------------------------------------------


class HyperliquidAsset(msgspec.Struct, frozen=True, gc=False):
    """``meta.universe[i]``; its index is the asset id used by order actions."""

    name: str  # coin name
    szDecimals: int  # decimals of a size: the size step is 10**-szDecimals
    maxLeverage: int  # leverage cap
    marginTableId: int | None = None  # index into marginTables
    isDelisted: bool | None = None  # present (true) only for delisted coins
    onlyIsolated: bool | None = None  # isolated margin only
    marginMode: str | None = None  # e.g. "strictIsolated", "noCross"


class HyperliquidMeta(msgspec.Struct, frozen=True, gc=False):
    """``meta``; its ``marginTables`` ([[id, {description, marginTiers}]]) are not read here."""

    universe: list[HyperliquidAsset]
    collateralToken: int | None = None  # spot token index of the collateral (0 = USDC)


HyperliquidMetaAndCtxs = tuple[HyperliquidMeta, list[HyperliquidPerpCtx]]


class HyperliquidFundingHistoryRow(msgspec.Struct, frozen=True, gc=False):
    coin: str  # coin name
    fundingRate: str  # settled rate: fraction per hour (per 8 h before 2023-06-08)
    time: int  # ms, 1-118 ms (sometimes seconds) after the settlement hour
    premium: str | None = None  # the hour's average premium, in 8 h units; sometimes absent


class HyperliquidPredictedFunding(msgspec.Struct, frozen=True, gc=False):
    fundingRate: str  # fraction per *that venue's* interval
    nextFundingTime: int  # ms (HlPerp: observed to be the hour just settled)
    fundingIntervalHours: int | None = None  # that venue's interval; absent in older replies


# [[coin, [[venue, prediction | null], ...]], ...]; venue is "BinPerp", "HlPerp", "BybitPerp"
HyperliquidPredictedFundings = list[tuple[str, list[tuple[str, HyperliquidPredictedFunding | None]]]]


class HyperliquidUserFundingDelta(msgspec.Struct, frozen=True, gc=False):
    coin: str  # coin name
    fundingRate: str  # rate applied (per hour; per 8 h before 2023-06-08)
    szi: str  # signed position size
    usdc: str  # amount paid (negative) or received (positive)
    type: str  # "funding"
    nSamples: int | None = None  # premium samples averaged


class HyperliquidUserFundingRow(msgspec.Struct, frozen=True, gc=False):
    delta: HyperliquidUserFundingDelta
    hash: str  # transaction hash
    time: int  # ms


class HyperliquidExchangeStatus(msgspec.Struct, frozen=True, gc=False):
    """``exchangeStatus``; ``specialStatuses`` (null in normal operation) is not read here."""

    time: int  # server clock, ms
