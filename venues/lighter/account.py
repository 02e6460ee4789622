"""Lighter trade prints and private account frames turned into normalised events.

Public ``trade`` frames carry two disjoint arrays: ``trades`` and ``liquidation_trades``; a
liquidation print becomes both a ``Trade`` and a ``Liquidation``. The taker side is the opposite
of the maker's (``is_maker_ask``). Private frames (``account_all``, ``account_all_orders``,
``account_all_positions``, ``account_all_trades``, ``account_all_assets``, ``user_stats``) name
the account in their channel; orders → OrderUpdate (side from ``is_ask``: ``side`` is always
empty; time from ``transaction_time`` µs, the only monotone clock), own trades → Fill (our side
found by matching the account index, order ids kept exact as text), positions → PositionUpdate
(signed by ``sign``), ``funding_histories`` → FundingPayment (``rate`` percent → fraction),
assets and user_stats → BalanceUpdate. Order ids beyond 2^53 never pass through a float.
An optional price or amount written as ``""`` is absent (None); a print's own price and size
are never optional: a trade or fill without them is a bad frame.
"""

from __future__ import annotations

from decimal import Decimal

from perpwire.market.events import (
    BalanceUpdate,
    Event,
    Fill,
    FundingPayment,
    Liquidation,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    Side,
    Trade,
)
from perpwire.market.units import dec, ms_from_us, ms_guess
from perpwire.venues.lighter.schemas import LighterFrame, LighterOrder, LighterTrade

VENUE = "lighter"
_HUNDRED = Decimal(100)
_STATUS = {
    "open": OrderStatus.NEW,
    "pending": OrderStatus.NEW,
    "in-progress": OrderStatus.NEW,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "canceled-expired": OrderStatus.EXPIRED,
}


def opt_dec(text: str | None) -> Decimal | None:
    """An optional price or amount: Lighter writes an absent one (an empty side, no entry yet)
    as ``""``, which is None here rather than a bad frame."""
    return dec(text) if text else None


def _taker_side(t: LighterTrade) -> Side:
    return Side.BUY if t.is_maker_ask else Side.SELL


def public_trades(trades: list[LighterTrade], liquidations: list[LighterTrade]) -> list[Event]:
    out: list[Event] = []
    for t in trades:
        out.append(Trade(venue=VENUE, symbol=str(t.market_id), side=_taker_side(t), price=dec(t.price),
                         size=dec(t.size), trade_id=str(t.trade_id), ts=ms_guess(t.timestamp)))
    for t in liquidations:
        side, symbol, ts = _taker_side(t), str(t.market_id), ms_guess(t.timestamp)
        price, size = dec(t.price), dec(t.size)
        out.append(Trade(venue=VENUE, symbol=symbol, side=side, price=price, size=size, trade_id=str(t.trade_id),
                         ts=ts))
        # the liquidated account is the taker: its order's side is the print's taker side
        out.append(Liquidation(venue=VENUE, symbol=symbol, side=side, price=price, size=size, ts=ts))
    return out


def order_status(o: LighterOrder, filled: Decimal) -> OrderStatus:
    status = _STATUS.get(o.status)
    if status is None:
        if not o.status.startswith("canceled"):
            raise ValueError(f"unknown order status {o.status!r}")
        status = OrderStatus.CANCELED  # canceled-post-only, canceled-self-trade, ...
    if status is OrderStatus.NEW and filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


def order_update(o: LighterOrder) -> OrderUpdate:
    filled = dec(o.filled_base_amount)
    quote = dec(o.filled_quote_amount)
    return OrderUpdate(
        venue=VENUE,
        symbol=str(o.market_index),
        order_id=o.order_id or str(o.order_index),
        client_order_id=str(o.client_order_index) if o.client_order_index else None,
        side=Side.SELL if o.is_ask else Side.BUY,
        status=order_status(o, filled),
        price=opt_dec(o.price),
        size=dec(o.initial_base_amount),
        filled=filled,
        ts=ms_from_us(o.transaction_time) if o.transaction_time else o.timestamp * 1000,
        avg_price=quote / filled if filled > 0 else None,
        order_type=o.type or None,
        reduce_only=o.reduce_only,
    )


def fill(t: LighterTrade, account: int) -> Fill | None:
    """Our side of a trade, or None when neither side is ``account``."""
    if t.ask_account_id == account:
        side, order_id, client, maker = Side.SELL, t.ask_id, t.ask_client_id, t.is_maker_ask
    elif t.bid_account_id == account:
        side, order_id, client, maker = Side.BUY, t.bid_id, t.bid_client_id, not t.is_maker_ask
    else:
        return None
    return Fill(
        venue=VENUE, symbol=str(t.market_id), order_id=str(order_id), side=side, price=dec(t.price),
        size=dec(t.size), trade_id=str(t.trade_id), client_order_id=str(client) if client else None,
        liquidation=t.type == "liquidation", maker=maker, ts=ms_guess(t.timestamp),
    )


def account_events(f: LighterFrame, account: int) -> list[Event]:
    out: list[Event] = []
    for orders in (f.orders or {}).values():
        out.extend(order_update(o) for o in orders)
    trades = f.trades
    if isinstance(trades, dict):
        for rows in trades.values():
            for t in rows:
                ev = fill(t, account)
                if ev is not None:
                    out.append(ev)
    elif trades:
        raise ValueError("account frame with a trades list")
    for p in (f.positions or {}).values():
        size = dec(p.position)
        out.append(PositionUpdate(
            venue=VENUE, symbol=str(p.market_id), size=-size if p.sign < 0 else size,
            entry_price=opt_dec(p.avg_entry_price), unrealized_pnl=opt_dec(p.unrealized_pnl), ts=f.timestamp,
        ))
    for rows in (f.funding_histories or {}).values():
        for h in rows:
            out.append(FundingPayment(venue=VENUE, symbol=str(h.market_id), amount=dec(h.change),
                                      rate=dec(h.rate) / _HUNDRED if h.rate else None,
                                      ts=ms_guess(h.timestamp)))
    for a in (f.assets or {}).values():
        balance = dec(a.balance)
        locked = opt_dec(a.locked_balance)
        out.append(BalanceUpdate(venue=VENUE, asset=a.symbol, balance=balance,
                                 available=balance - locked if locked is not None else None, ts=f.timestamp))
    if f.stats is not None:
        s = f.stats
        out.append(BalanceUpdate(venue=VENUE, asset="USDC", balance=dec(s.collateral),
                                 available=opt_dec(s.available_balance),
                                 reason="user_stats", ts=f.timestamp))
    return out
