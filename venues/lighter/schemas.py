"""Raw Lighter wire types (WebSocket frames and REST bodies), decoded with msgspec.

Lighter frames have no tagged union to lean on: data frames carry ``type`` (``update/<name>``,
``subscribed/<name>``) and ``channel`` (``order_book:36``), control frames only ``type``, and
error frames neither (``{"error":{...}}``). One envelope struct therefore holds every payload
field as optional; msgspec skips the fields a frame does not carry, so an order-book update pays
only for its own. ``market_stats`` stays ``msgspec.Raw`` because its shape depends on the channel
(one market, or a map keyed by market id for ``market_stats:all``). Ids and timestamps are JSON
integers, often beyond 2^53: they are typed ``int`` so they never pass through a float.
Prices, sizes and rates are decimal text and stay ``str`` here.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

#: decimal text that must not be empty: an empty price makes the fast decoder fail over to the
#: lenient one, so the common frame pays nothing for the rare one-sided market
_Text = Annotated[str, msgspec.Meta(min_length=1)]


class LighterLevel(msgspec.Struct, gc=False):
    price: _Text  # decimal text at the market's price decimals
    size: _Text  # absolute size; zero at the size decimals ("0.0") deletes the level


class LighterLevelLenient(msgspec.Struct, gc=False):
    """A level as the venue may write it: an empty price or size (an absent level)."""

    price: str
    size: str


class LighterOrderBook(msgspec.Struct):
    asks: list[LighterLevel] = []  # best (lowest) first
    bids: list[LighterLevel] = []  # best (highest) first
    nonce: int | None = None  # matching-engine id of this state (the chain's seq)
    begin_nonce: int | None = None  # nonce of the previous frame (0 on the snapshot); absent on old wire
    last_updated_at: int = 0  # book change time, µs
    code: int = 0  # always 0 on the wire
    # ``offset`` is deliberately not decoded: it restarts per API server and must never chain


class LighterSide(msgspec.Struct, gc=False):
    price: str  # ticker best price text
    size: str  # ticker best size text


class LighterTicker(msgspec.Struct):
    a: LighterSide  # best ask
    b: LighterSide  # best bid
    s: str = ""  # market name ("BTC")
    last_updated_at: int = 0  # µs


class LighterTrade(msgspec.Struct):
    trade_id: int  # exact int (also sent as trade_id_str)
    market_id: int  # market index
    size: str  # base size text
    price: str  # price text
    is_maker_ask: bool  # the taker is on the other side
    timestamp: int  # ms on the wire (seconds in the docs example)
    type: str = "trade"  # trade | liquidation | deleverage
    ask_id: int = 0  # resting/taking ask order id, often > 2^53
    bid_id: int = 0  # bid order id
    ask_client_id: int = 0  # client order index of the ask, 0 when none
    bid_client_id: int = 0  # client order index of the bid
    ask_account_id: int = -1  # account index on the ask side
    bid_account_id: int = -1  # account index on the bid side
    taker_fee: int | None = None  # omitted when 0; unit undocumented, not converted
    maker_fee: int | None = None  # omitted when 0
    transaction_time: int = 0  # µs


class LighterOrder(msgspec.Struct):
    order_index: int  # exact order index (> 2^53 possible)
    market_index: int  # market of the order
    initial_base_amount: str  # original size text
    remaining_base_amount: str  # open size text
    filled_base_amount: str  # filled size text
    filled_quote_amount: str  # filled notional text
    price: str  # limit price text
    is_ask: bool  # the side; ``side`` is always "" on the wire
    status: str  # open | filled | canceled[-reason] | pending | in-progress ...
    order_id: str = ""  # order_index as text
    client_order_index: int = 0  # our client id, 0 when none
    client_order_id: str = ""  # the same as text
    type: str = ""  # limit | market | stop-loss ...
    time_in_force: str = ""  # good-till-time | immediate-or-cancel | post-only
    reduce_only: bool = False
    timestamp: int = 0  # block-granular seconds, not monotone
    transaction_time: int = 0  # µs, the order to sort by


class LighterPosition(msgspec.Struct):
    market_id: int  # market index
    sign: int  # +1 long, -1 short
    position: str  # unsigned size text
    symbol: str = ""  # market name
    avg_entry_price: str | None = None  # entry price text
    unrealized_pnl: str | None = None  # text


class LighterFundingHistory(msgspec.Struct):
    timestamp: int  # seconds (docs) of the payment
    market_id: int  # market index
    change: str  # the account's funding change text (received positive)
    rate: str | None = None  # percent per hour text
    funding_id: int = 0
    position_size: str | None = None
    position_side: str | None = None  # long | short


class LighterAsset(msgspec.Struct):
    symbol: str  # asset name ("USDC", "ETH")
    balance: str  # total balance text
    locked_balance: str | None = None  # locked part text


class LighterUserStats(msgspec.Struct):
    collateral: str  # account collateral text (USDC)
    available_balance: str | None = None  # free collateral text


class LighterErrorBody(msgspec.Struct):
    code: int  # 2xxxx / 3xxxx error code
    message: str = ""


class LighterFrame(msgspec.Struct):
    """Every server frame; payload fields are present only on their own channel."""

    type: str = ""  # connected | subscribed/<n> | update/<n> | unsubscribed | ping | pong | shutdown ...
    channel: str = ""  # inbound spelling with ':' ("order_book:36", "market_stats:all", "height")
    error: LighterErrorBody | None = None  # error frames carry only this
    session_id: str = ""  # connected
    timestamp: int = 0  # server send time, ms
    close_in_ms: int | None = None  # shutdown
    order_book: LighterOrderBook | None = None
    ticker: LighterTicker | None = None
    nonce: int | None = None  # ticker/trade frame nonce (not a chain)
    market_stats: msgspec.Raw = msgspec.Raw(b"")  # one LighterMarketStats, or a map for ":all"; empty when absent
    trades: list[LighterTrade] | dict[str, list[LighterTrade]] | None = None  # list: public; map: account
    liquidation_trades: list[LighterTrade] | None = None
    orders: dict[str, list[LighterOrder]] | None = None  # market id -> orders
    positions: dict[str, LighterPosition] | None = None  # market id -> position
    funding_histories: dict[str, list[LighterFundingHistory]] | None = None
    assets: dict[str, LighterAsset] | None = None
    stats: LighterUserStats | None = None  # user_stats


class LighterMarketStats(msgspec.Struct):
    market_id: int  # market index
    current_funding_rate: str  # estimate for the coming payment, percent per hour (4 dp)
    mark_price: str | None = None
    index_price: str | None = None
    funding_rate: str | None = None  # the last payment, percent per hour
    funding_timestamp: int | None = None  # ms of the last payment
    symbol: str = ""  # market name, newer frames only


# --- REST ------------------------------------------------------------------------------------


class LighterMarket(msgspec.Struct):
    """A row of ``orderBooks`` or ``orderBookDetails``."""

    symbol: str  # "ETH" for perps, "ETH/USDC" for spot
    market_id: int
    market_type: str = "perp"  # perp | spot
    status: str | None = None  # active | inactive ...
    min_base_amount: str | None = None  # minimum order size text
    min_quote_amount: str | None = None  # minimum notional text
    supported_size_decimals: int | None = None
    supported_price_decimals: int | None = None
    size_decimals: int | None = None  # orderBookDetails
    price_decimals: int | None = None  # orderBookDetails
    min_initial_margin_fraction: int | None = None  # 1e-4 units: 200 = 2 % = 50x
    multiplier: str | None = None  # contract multiplier text ("1.000000000000000000")


class LighterMarketsBody(msgspec.Struct):
    code: int = 200
    message: str = ""
    order_books: list[LighterMarket] | None = None
    order_book_details: list[LighterMarket] | None = None
    spot_order_book_details: list[LighterMarket] | None = None


class LighterFundingRow(msgspec.Struct):
    market_id: int
    exchange: str  # lighter | binance | bybit | hyperliquid (Lighter's view of others)
    rate: float | str  # JSON float: fraction per 8 h for exchange == lighter
    symbol: str = ""


class LighterFundingRatesBody(msgspec.Struct):
    code: int = 200
    message: str = ""
    funding_rates: list[LighterFundingRow] | None = None


class LighterFunding(msgspec.Struct):
    timestamp: int  # seconds
    rate: str  # percent per hour, unsigned, 4 dp truncated
    direction: str  # long: positive (longs pay); short: negative
    value: str | None = None


class LighterFundingsBody(msgspec.Struct):
    code: int = 200
    message: str = ""
    resolution: str = ""
    fundings: list[LighterFunding] | None = None


class LighterErrorEnvelope(msgspec.Struct):
    code: int = 200  # 200 on success
    message: str = ""


class LighterOrderBookLenient(LighterOrderBook):
    asks: list[LighterLevelLenient] = []
    bids: list[LighterLevelLenient] = []


class LighterFrameLenient(LighterFrame):
    """``LighterFrame`` whose book levels may hold empty strings (read only when the strict one fails)."""

    order_book: LighterOrderBookLenient | None = None
