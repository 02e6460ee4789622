"""Brokers place orders. ``PaperBroker`` fills against live (or simulated) books, with fees.

A paper order is an immediate-or-cancel limit order: it takes liquidity from the current book of
its venue up to its limit price, pays the venue's taker fee, and whatever the book cannot fill
at that price is cancelled — so partial fills happen exactly when the market is thin, which is
what the executor must handle. ``reject_next`` lets tests make a venue refuse an order.

The paper broker is its own venue, so what it filled must outlive the process: with a ``record``
callable (the store's ``record_paper_fill``) every order is kept under its client order id before
``place`` returns, ``query_order`` reads it back and ``venue_positions`` sums the recorded fills —
what reconciliation compares the ledger with after a restart. An order whose client id was
recorded already is not filled again: its recorded result is returned.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Protocol

import msgspec

from perpwire.actors.trading.facade import VenueFacade
from perpwire.market.book import estimate_fill
from perpwire.market.events import OrderStatus, PositionUpdate, Side
from perpwire.market.ledger import PaperFill

ZERO = Decimal(0)


def fill_status(filled: Decimal, size: Decimal) -> OrderStatus:
    """What an immediate-or-cancel order that filled ``filled`` of ``size`` ended as (paper and live)."""
    if filled >= size:
        return OrderStatus.FILLED
    return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.CANCELED


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
                    reduce_only: bool = False, client_id: str | None = None) -> OrderResult: ...


class PaperBroker:
    def __init__(self, facades: dict[str, VenueFacade], *, taker_fees: dict[str, Decimal],
                 balances: dict[str, Decimal] | None = None, default_balance: Decimal = Decimal(100_000),
                 record: Callable[[PaperFill], Awaitable[bool]] | None = None,
                 recorded: Callable[[list[str] | None], Awaitable[list[PaperFill]]] | None = None):
        self.facades = facades
        self.record = record
        self.recorded = recorded
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
                    reduce_only: bool = False, client_id: str | None = None) -> OrderResult:
        order_id = client_id or f"paper-{next(self._ids)}"
        if client_id is not None and self.recorded is not None:
            known = await self.recorded([client_id])
            if known:  # placed before (a retry after a restart): the venue fills an order once
                return self._from_fill(known[0])
        if self._rejects[venue]:
            result = OrderResult(venue=venue, symbol=symbol, side=side, order_id=order_id,
                                 status=OrderStatus.REJECTED, requested=size, filled=ZERO, avg_price=None, fee=ZERO,
                                 reason=self._rejects[venue].pop(0))
            await self._keep(result, reduce_only)
            self.orders.append(result)
            return result
        view = (await self.facades[venue].get_order_book_depth(symbol, 100)).view
        levels = view.asks if side is Side.BUY else view.bids
        if limit_price is not None:
            levels = tuple(lv for lv in levels if (lv[0] <= limit_price if side is Side.BUY else lv[0] >= limit_price))
        est = estimate_fill(levels, side, size)
        fee = ZERO if est.avg_price is None else est.filled * est.avg_price * self.taker_fees.get(venue, ZERO)
        self.balances[venue] -= fee
        status = fill_status(est.filled, size)
        result = OrderResult(venue=venue, symbol=symbol, side=side, order_id=order_id, status=status, requested=size,
                             filled=est.filled, avg_price=est.avg_price, fee=fee,
                             reason=None if est.complete else "book too thin at the limit price")
        await self._keep(result, reduce_only)
        self.orders.append(result)
        return result

    async def _keep(self, result: OrderResult, reduce_only: bool) -> None:
        """Record the order before it counts as placed (a crash before this: it never happened)."""
        if self.record is None:
            return
        await self.record(PaperFill(client_id=result.order_id, venue=result.venue, symbol=result.symbol,
                                    side=Side(result.side).value, status=result.status.value,
                                    requested=result.requested, filled=result.filled, avg_price=result.avg_price,
                                    fee=result.fee, reduce_only=reduce_only))

    @staticmethod
    def _from_fill(f: PaperFill) -> OrderResult:
        return OrderResult(venue=f.venue, symbol=f.symbol, side=Side(f.side), order_id=f.client_id,
                           status=OrderStatus(f.status), requested=f.requested, filled=f.filled,
                           avg_price=f.avg_price, fee=f.fee)

    async def query_order(self, venue: str, symbol: str, side: Side, size: Decimal, client_id: str
                          ) -> OrderResult | None:
        """The recorded result of paper order ``client_id``; None when it was never placed."""
        if self.recorded is None:
            known = [o for o in self.orders if o.order_id == client_id]
            return known[-1] if known else None
        found = await self.recorded([client_id])
        return self._from_fill(found[0]) if found else None

    async def venue_positions(self, venue: str) -> dict[str, PositionUpdate]:
        """The paper venue's net position per symbol: every recorded fill on ``venue``, signed."""
        fills = await self.recorded(None) if self.recorded is not None else [
            PaperFill(client_id=o.order_id, venue=o.venue, symbol=o.symbol, side=Side(o.side).value,
                      status=o.status.value, requested=o.requested, filled=o.filled, avg_price=o.avg_price, fee=o.fee)
            for o in self.orders]
        net: dict[str, Decimal] = defaultdict(Decimal)
        for f in fills:
            if f.venue == venue:
                net[f.symbol] += f.filled if f.side == "buy" else -f.filled
        return {s: PositionUpdate(venue=venue, symbol=s, size=q) for s, q in net.items() if q != 0}
