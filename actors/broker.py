"""Brokers place orders. ``PaperBroker`` fills against live (or simulated) books, with fees.

A paper order is an immediate-or-cancel limit order: it takes liquidity from the current book of
its venue up to its limit price, pays the venue's taker fee, and whatever the book cannot fill
at that price is cancelled — so partial fills happen exactly when the market is thin, which is
what the executor must handle. ``reject_next`` lets tests make a venue refuse an order.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from decimal import Decimal
from typing import Protocol

import msgspec

from actors.facade import VenueFacade
from market.book import estimate_fill
from market.events import OrderStatus, Side

ZERO = Decimal(0)


class OrderResult(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    symbol: str
    side: Side
    order_id: str
    status: OrderStatus
    requested: Decimal
    filled: Decimal
    avg_price: Decimal | None
    fee: Decimal
    reason: str | None = None


class Broker(Protocol):
    async def available(self, venue: str) -> Decimal: ...

    async def place(self, venue: str, symbol: str, side: Side, size: Decimal, limit_price: Decimal | None, *,
                    reduce_only: bool = False) -> OrderResult: ...


class PaperBroker:
    def __init__(self, facades: dict[str, VenueFacade], *, taker_fees: dict[str, Decimal],
                 balances: dict[str, Decimal] | None = None, default_balance: Decimal = Decimal(100_000)):
        self.facades = facades
        self.taker_fees = taker_fees
        self.balances: defaultdict[str, Decimal] = defaultdict(lambda: default_balance, balances or {})
        self._ids = itertools.count(1)
        self._rejects: dict[str, list[str]] = defaultdict(list)
        self.orders: list[OrderResult] = []

    def reject_next(self, venue: str, reason: str = "rejected by venue") -> None:
        self._rejects[venue].append(reason)

    async def available(self, venue: str) -> Decimal:
        return self.balances[venue]

    async def place(self, venue: str, symbol: str, side: Side, size: Decimal, limit_price: Decimal | None, *,
                    reduce_only: bool = False) -> OrderResult:
        order_id = f"paper-{next(self._ids)}"
        if self._rejects[venue]:
            result = OrderResult(venue=venue, symbol=symbol, side=side, order_id=order_id,
                                 status=OrderStatus.REJECTED, requested=size, filled=ZERO, avg_price=None, fee=ZERO,
                                 reason=self._rejects[venue].pop(0))
            self.orders.append(result)
            return result
        view = (await self.facades[venue].get_order_book_depth(symbol, 100)).view
        levels = view.asks if side is Side.BUY else view.bids
        if limit_price is not None:
            levels = tuple(lv for lv in levels if (lv[0] <= limit_price if side is Side.BUY else lv[0] >= limit_price))
        est = estimate_fill(levels, side, size)
        fee = ZERO if est.avg_price is None else est.filled * est.avg_price * self.taker_fees.get(venue, ZERO)
        self.balances[venue] -= fee
        if est.filled == 0:
            status = OrderStatus.CANCELED
        elif est.complete:
            status = OrderStatus.FILLED
        else:
            status = OrderStatus.PARTIALLY_FILLED
        result = OrderResult(venue=venue, symbol=symbol, side=side, order_id=order_id, status=status, requested=size,
                             filled=est.filled, avg_price=est.avg_price, fee=fee,
                             reason=None if est.complete else "book too thin at the limit price")
        self.orders.append(result)
        return result
