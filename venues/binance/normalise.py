"""Binance/Aster wire events → ``market.events``: one function per stream event type.

Each function takes the venue name and one decoded wire Struct (``schemas``) and returns the
normalised events. Book levels pass through as the tuples msgspec built (no per-level work);
scalars become ``Decimal``; times are already integer ms on this venue. Mapping choices that are
not obvious from the field names:

- ``aggTrade.m`` (buyer is maker) means the taker sold: ``side = SELL``.
- ``forceOrder``: price is the average fill price ``ap`` and size the filled quantity ``z``,
  falling back to the order's ``p`` / ``q`` while nothing is filled.
- ``ORDER_TRADE_UPDATE`` gives an ``OrderUpdate`` and, when ``x == "TRADE"``, a ``Fill``;
  a zero ``p`` / ``ap`` (market order, nothing filled) is ``None``.
- ``ACCOUNT_UPDATE`` gives a ``BalanceUpdate`` per ``B`` entry and a ``PositionUpdate`` per
  ``P`` entry; in hedge mode one symbol has a LONG and a SHORT entry (``pa`` is signed).
- ``MARGIN_CALL`` gives a ``PositionUpdate`` per position at risk (with mark price).
- ``TRADE_LITE`` is a lighter copy of an ``ORDER_TRADE_UPDATE`` fill (same trade id, no fee).
"""

from __future__ import annotations

from decimal import Decimal

from perpwire.market.events import (
    BBO,
    BalanceUpdate,
    BookDelta,
    Event,
    Fill,
    Liquidation,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    SessionExpired,
    Side,
    Trade,
)
from perpwire.venues.binance.schemas import (
    BinanceAccountUpdate,
    BinanceAggTrade,
    BinanceBookTicker,
    BinanceDepthUpdate,
    BinanceForceOrder,
    BinanceListenKeyExpired,
    BinanceMarginCall,
    BinanceOrderTradeUpdate,
    BinanceTradeLite,
)

SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
STATUSES = {
    "NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,  # self-trade prevention
    "NEW_INSURANCE": OrderStatus.NEW,  # liquidation with the insurance fund
    "NEW_ADL": OrderStatus.NEW,  # auto-deleveraging counter-side
}
#: client-order-id prefixes the venue gives its own liquidation / ADL / settlement orders
LIQUIDATION_PREFIXES = ("autoclose-", "adl_autoclose", "settlement_autoclose-")
_ZERO = Decimal(0)


def book_ticker(venue: str, m: BinanceBookTicker) -> list[Event]:
    return [BBO(
        venue=venue, symbol=m.symbol, bid_price=Decimal(m.bid_price), bid_size=Decimal(m.bid_size),
        ask_price=Decimal(m.ask_price), ask_size=Decimal(m.ask_size), ts=m.event_time, seq=m.update_id,
    )]


def depth_update(venue: str, m: BinanceDepthUpdate) -> list[Event]:
    return [BookDelta(
        venue=venue, symbol=m.symbol, bids=m.bids, asks=m.asks, first_seq=m.first_id, seq=m.last_id,
        prev_seq=m.prev_id, ts=m.event_time,
    )]


def force_order(venue: str, m: BinanceForceOrder) -> list[Event]:
    o = m.order
    filled = Decimal(o.filled)
    avg = Decimal(o.avg_price)
    return [Liquidation(
        venue=venue, symbol=o.symbol, side=SIDES[o.side], price=avg if avg else Decimal(o.price),
        size=filled if filled else Decimal(o.quantity), ts=o.trade_time or m.event_time,
    )]


def agg_trade(venue: str, m: BinanceAggTrade) -> list[Event]:
    return [Trade(
        venue=venue, symbol=m.symbol, side=Side.SELL if m.buyer_maker else Side.BUY, price=Decimal(m.price),
        size=Decimal(m.quantity), trade_id=str(m.agg_id), ts=m.trade_time,
    )]


def order_trade_update(venue: str, m: BinanceOrderTradeUpdate) -> list[Event]:
    o = m.order
    side = SIDES[o.side]
    price = Decimal(o.price)
    avg = Decimal(o.avg_price)
    last_size = Decimal(o.last_size)
    last_price = Decimal(o.last_price)
    fee = None if o.fee is None else Decimal(o.fee)
    out: list[Event] = [OrderUpdate(
        venue=venue, symbol=o.symbol, order_id=str(o.order_id), client_order_id=o.client_id or None,
        side=side, status=STATUSES[o.status], price=price if price else None, size=Decimal(o.quantity),
        filled=Decimal(o.filled), ts=m.event_time, avg_price=avg if avg else None,
        last_fill_price=last_price if last_size else None, last_fill_size=last_size if last_size else None,
        fee=fee, fee_asset=o.fee_asset, order_type=o.order_type, reduce_only=o.reduce_only,
    )]
    if o.exec_type == "TRADE":
        out.append(Fill(
            venue=venue, symbol=o.symbol, order_id=str(o.order_id), side=side, price=last_price, size=last_size,
            fee=fee, fee_asset=o.fee_asset, trade_id=str(o.trade_id), client_order_id=o.client_id or None,
            liquidation=o.client_id.startswith(LIQUIDATION_PREFIXES), maker=o.maker, ts=m.event_time,
        ))
    return out


def trade_lite(venue: str, m: BinanceTradeLite) -> list[Event]:
    return [Fill(
        venue=venue, symbol=m.symbol, order_id=str(m.order_id), side=SIDES[m.side], price=Decimal(m.last_price),
        size=Decimal(m.last_size), trade_id=str(m.trade_id), client_order_id=m.client_id or None,
        liquidation=m.client_id.startswith(LIQUIDATION_PREFIXES), maker=m.maker, ts=m.event_time,
    )]


def account_update(venue: str, m: BinanceAccountUpdate) -> list[Event]:
    a = m.account
    out: list[Event] = [
        BalanceUpdate(venue=venue, asset=b.asset, balance=Decimal(b.wallet_balance), reason=a.reason, ts=m.event_time)
        for b in a.balances
    ]
    out.extend(
        PositionUpdate(
            venue=venue, symbol=p.symbol, size=Decimal(p.amount), entry_price=Decimal(p.entry_price),
            unrealized_pnl=Decimal(p.unrealized_pnl), ts=m.event_time,
        )
        for p in a.positions
    )
    return out


def margin_call(venue: str, m: BinanceMarginCall) -> list[Event]:
    return [
        PositionUpdate(
            venue=venue, symbol=p.symbol, size=Decimal(p.amount), mark_price=Decimal(p.mark_price),
            unrealized_pnl=Decimal(p.unrealized_pnl), ts=m.event_time,
        )
        for p in m.positions
    ]


def listen_key_expired(venue: str, m: BinanceListenKeyExpired) -> list[Event]:
    # the frame names the expired key; it is a credential, so it stays out of the event
    return [SessionExpired(venue=venue, reason="listenKeyExpired", ts=int(m.event_time))]
