"""The position ledger: hedged pairs, their fills, funding payments and PnL split three ways.

A pair is a long leg and a short leg of one asset on two venues. Its PnL is kept as
``price`` (mark or exit against entry), ``funding`` (payments at each venue's settlement:
a positive rate makes longs pay shorts) and ``fees``; ``total`` is their sum. Pure bookkeeping:
the executor records fills, the coordinator records settlements and marks.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

ZERO = Decimal(0)


class LegState(msgspec.Struct, kw_only=True):
    venue: str
    symbol: str
    qty: Decimal  # base units, positive; the leg's side gives the sign
    entry_price: Decimal
    mark_price: Decimal | None = None
    exit_price: Decimal | None = None


class PairPosition(msgspec.Struct, kw_only=True):
    id: str
    asset: str
    long: LegState
    short: LegState
    opened_ms: int
    entry_spread_per_hour: Decimal
    entered_on_z: bool = False
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    payments: int = 0
    closed_ms: int | None = None
    close_reason: str | None = None

    @property
    def notional(self) -> Decimal:
        return self.long.qty * self.long.entry_price

    @property
    def is_open(self) -> bool:
        return self.closed_ms is None

    def price_pnl(self) -> Decimal:
        long_px = self.long.exit_price or self.long.mark_price or self.long.entry_price
        short_px = self.short.exit_price or self.short.mark_price or self.short.entry_price
        return (long_px - self.long.entry_price) * self.long.qty + (self.short.entry_price - short_px) * self.short.qty

    def pnl(self) -> dict[str, Decimal]:
        price = self.price_pnl()
        return {"price": price, "funding": self.funding, "fees": -self.fees, "total": price + self.funding - self.fees}


class Ledger:
    def __init__(self) -> None:
        self.positions: dict[str, PairPosition] = {}
        self._next = 0

    def open(self, *, asset: str, long: LegState, short: LegState, opened_ms: int, entry_spread_per_hour: Decimal,
             fees: Decimal, entered_on_z: bool = False) -> PairPosition:
        self._next += 1
        pos = PairPosition(id=f"P{self._next}", asset=asset, long=long, short=short, opened_ms=opened_ms,
                           entry_spread_per_hour=entry_spread_per_hour, fees=fees, entered_on_z=entered_on_z)
        self.positions[pos.id] = pos
        return pos

    def open_positions(self) -> list[PairPosition]:
        return [p for p in self.positions.values() if p.is_open]

    def legs_on(self, venue: str, symbol: str):
        for pos in self.open_positions():
            for leg, sign in ((pos.long, 1), (pos.short, -1)):
                if leg.venue == venue and leg.symbol == symbol:
                    yield pos, leg, sign

    def settle_funding(self, venue: str, symbol: str, rate: Decimal, mark: Decimal) -> Decimal:
        """A settlement of ``rate`` (fraction per interval) at ``mark``: longs pay, shorts receive."""
        total = ZERO
        for pos, leg, sign in self.legs_on(venue, symbol):
            amount = -sign * rate * leg.qty * mark
            pos.funding += amount
            pos.payments += 1
            total += amount
        return total

    def mark(self, venue: str, symbol: str, price: Decimal) -> None:
        for _, leg, _ in self.legs_on(venue, symbol):
            leg.mark_price = price

    def close(self, position_id: str, *, long_exit: Decimal, short_exit: Decimal, fees: Decimal, closed_ms: int,
              reason: str) -> PairPosition:
        pos = self.positions[position_id]
        pos.long.exit_price = long_exit
        pos.short.exit_price = short_exit
        pos.fees += fees
        pos.closed_ms = closed_ms
        pos.close_reason = reason
        return pos

    def summary(self) -> dict[str, Decimal | int]:
        pnl = {"price": ZERO, "funding": ZERO, "fees": ZERO, "total": ZERO}
        for pos in self.positions.values():
            for k, v in pos.pnl().items():
                pnl[k] += v
        closed = sum(1 for p in self.positions.values() if not p.is_open)
        return {"opened": len(self.positions), "closed": closed, "open": len(self.positions) - closed,
                "payments": sum(p.payments for p in self.positions.values()), **pnl}
