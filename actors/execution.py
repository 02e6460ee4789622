"""Two-leg execution with the seed-004 pre-flight, never leaving a naked leg by design.

For every open and close: resume both venues' market data and wait for fresh books (the facade
falls back to REST when a book is not ready), cap leverage at the lower venue limit, check
margin on both venues, check that both books hold the size within ``max_slippage``, then send
both limit orders at the touch ± ``offset`` at once. If the legs fill unequally the excess of
the larger one is taken back with reduce-only orders (bounded retries, every step logged), so
what remains is hedged or flat. Market data is paused again in a ``finally``.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import ROUND_DOWN, Decimal

import msgspec

from actors.broker import Broker, OrderResult
from actors.facade import VenueFacade
from actors.pacing import now_ms
from market.book import BookView
from market.events import Instrument, OrderStatus, Side
from market.ledger import Ledger, LegState, PairPosition
from strategies.base import Leg, Open

log = logging.getLogger(__name__)
ZERO = Decimal(0)


class ExecutionReport(msgspec.Struct, kw_only=True):
    action: str  # "open" or "close"
    ok: bool
    reason: str
    position_id: str | None = None
    long_filled: Decimal = ZERO
    short_filled: Decimal = ZERO
    unwound: Decimal = ZERO
    book_sources: tuple[str, ...] = ()
    leverage: int | None = None


class Executor:
    def __init__(self, facades: dict[str, VenueFacade], broker: Broker, ledger: Ledger, *,
                 instruments: dict[tuple[str, str], Instrument] | None = None, offset: Decimal = Decimal("0.001"),
                 max_slippage: Decimal = Decimal("0.005"), max_unwind_attempts: int = 3, clock=None):
        self.facades = facades
        self.broker = broker
        self.ledger = ledger
        self.instruments = instruments or {}
        self.offset = offset
        self.max_slippage = max_slippage
        self.max_unwind_attempts = max_unwind_attempts
        self._clock = clock
        self.reports: list[ExecutionReport] = []

    def _now_ms(self) -> int:
        return self._clock() if self._clock is not None else now_ms()

    async def _books(self, legs: list[Leg]) -> list[tuple[BookView, str]]:
        await asyncio.gather(*(self.facades[leg.venue].resume_market_data_streams(leg.symbol) for leg in legs))
        answers = await asyncio.gather(*(self.facades[leg.venue].get_order_book_depth(leg.symbol, 50) for leg in legs))
        return [(a.view, a.source) for a in answers]

    async def _pause(self, legs: list[Leg]) -> None:
        venues = {leg.venue for leg in legs}
        results = await asyncio.gather(*(self.facades[v].pause_market_data_streams() for v in venues),
                                       return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                log.warning("pause after execution failed: %s", r)

    def _step(self, leg: Leg) -> Decimal | None:
        inst = self.instruments.get((leg.venue, leg.symbol))
        return None if inst is None else inst.step_size

    def _max_leverage(self, leg: Leg) -> Decimal | None:
        inst = self.instruments.get((leg.venue, leg.symbol))
        return None if inst is None else inst.max_leverage

    def _size(self, notional: Decimal, price: Decimal, legs: list[Leg]) -> Decimal:
        size = notional / price
        steps = [s for s in (self._step(leg) for leg in legs) if s]
        step = max(steps) if steps else Decimal("0.0001")
        return (size / step).to_integral_value(rounding=ROUND_DOWN) * step

    # --- open --------------------------------------------------------------------------------

    async def open(self, cmd: Open, *, entry_spread_per_hour: Decimal = ZERO, entered_on_z: bool = False
                   ) -> ExecutionReport:
        legs = [cmd.long, cmd.short]
        try:
            report = await self._open(cmd, legs, entry_spread_per_hour, entered_on_z)
        except Exception as exc:
            log.exception("open %s failed", cmd.asset)
            report = ExecutionReport(action="open", ok=False, reason=f"error: {exc}")
        finally:
            await self._pause(legs)
        self.reports.append(report)
        log.info("open %s: %s (%s)", cmd.asset, "ok" if report.ok else "not opened", report.reason)
        return report

    async def _open(self, cmd: Open, legs, spread, on_z) -> ExecutionReport:
        (long_view, long_src), (short_view, short_src) = await self._books(legs)
        sources = (long_src, short_src)
        if not long_view.asks or not short_view.bids:
            return ExecutionReport(action="open", ok=False, reason="empty book", book_sources=sources)
        caps = [c for c in (self._max_leverage(leg) for leg in legs) if c]
        leverage = int(min([Decimal(cmd.leverage), *caps]))
        ask, bid = long_view.asks[0][0], short_view.bids[0][0]
        size = self._size(cmd.notional, (ask + bid) / 2, legs)
        if size <= 0:
            return ExecutionReport(action="open", ok=False, reason="size rounds to zero", book_sources=sources)
        margin = cmd.notional / leverage
        for leg in legs:
            if (avail := await self.broker.available(leg.venue)) < margin:
                return ExecutionReport(action="open", ok=False, book_sources=sources,
                                       reason=f"{leg.venue}: margin {avail} < {margin:.2f}")
        for view, side, leg in ((long_view, Side.BUY, cmd.long), (short_view, Side.SELL, cmd.short)):
            est = view.depth_for_size(side, size)
            if not est.complete or est.slippage > self.max_slippage:
                return ExecutionReport(action="open", ok=False, book_sources=sources,
                                       reason=f"{leg.venue} {leg.symbol}: not enough liquidity for {size}")
        long_res, short_res = await asyncio.gather(
            self.broker.place(cmd.long.venue, cmd.long.symbol, Side.BUY, size, ask * (1 + self.offset)),
            self.broker.place(cmd.short.venue, cmd.short.symbol, Side.SELL, size, bid * (1 - self.offset)),
        )
        hedged, unwound, fees = await self._balance(cmd.long, long_res, cmd.short, short_res)
        report = ExecutionReport(action="open", ok=hedged > 0, position_id=None, long_filled=long_res.filled,
                                 short_filled=short_res.filled, unwound=unwound, book_sources=sources,
                                 leverage=leverage, reason="opened" if hedged > 0 else "no leg filled both sides")
        if hedged > 0:
            pos = self.ledger.open(
                asset=cmd.asset, opened_ms=self._now_ms(), entry_spread_per_hour=spread, fees=fees,
                entered_on_z=on_z,
                long=LegState(venue=cmd.long.venue, symbol=cmd.long.symbol, qty=hedged, entry_price=long_res.avg_price),
                short=LegState(venue=cmd.short.venue, symbol=cmd.short.symbol, qty=hedged,
                               entry_price=short_res.avg_price),
            )
            report.position_id = pos.id
            if long_res.status is not OrderStatus.FILLED or short_res.status is not OrderStatus.FILLED:
                report.reason = f"opened {hedged} of {size} (legs filled unequally, excess unwound)"
        return report

    async def _balance(self, long_leg: Leg, long_res: OrderResult, short_leg: Leg, short_res: OrderResult):
        """Make both legs equal by taking back the excess of the larger; returns (hedged, unwound, fees)."""
        fees = long_res.fee + short_res.fee
        hedged = min(long_res.filled, short_res.filled)
        unwound = ZERO
        for leg, res, back in ((long_leg, long_res, Side.SELL), (short_leg, short_res, Side.BUY)):
            excess = res.filled - hedged
            attempts = 0
            while excess > 0 and attempts < self.max_unwind_attempts:
                attempts += 1
                log.warning("%s %s: unwinding naked %s (attempt %d)", leg.venue, leg.symbol, excess, attempts)
                fix = await self.broker.place(leg.venue, leg.symbol, back, excess, None, reduce_only=True)
                fees += fix.fee
                excess -= fix.filled
                unwound += fix.filled
            if excess > 0:
                log.error("%s %s: %s still naked after %d unwind attempts", leg.venue, leg.symbol, excess, attempts)
        return hedged, unwound, fees

    # --- close -------------------------------------------------------------------------------

    async def close(self, pos: PairPosition, reason: str) -> ExecutionReport:
        legs = [Leg(venue=pos.long.venue, symbol=pos.long.symbol), Leg(venue=pos.short.venue, symbol=pos.short.symbol)]
        try:
            report = await self._close(pos, legs, reason)
        except Exception as exc:
            log.exception("close %s failed", pos.id)
            report = ExecutionReport(action="close", ok=False, reason=f"error: {exc}", position_id=pos.id)
        finally:
            await self._pause(legs)
        self.reports.append(report)
        log.info("close %s: %s (%s)", pos.id, "ok" if report.ok else "still open", report.reason)
        return report

    async def _close(self, pos: PairPosition, legs: list[Leg], reason: str) -> ExecutionReport:
        (long_view, long_src), (short_view, short_src) = await self._books(legs)
        sources = (long_src, short_src)
        if not long_view.bids or not short_view.asks:
            return ExecutionReport(action="close", ok=False, reason="empty book", position_id=pos.id,
                                   book_sources=sources)
        qty = pos.long.qty
        long_res, short_res = await asyncio.gather(
            self.broker.place(pos.long.venue, pos.long.symbol, Side.SELL, qty, None, reduce_only=True),
            self.broker.place(pos.short.venue, pos.short.symbol, Side.BUY, qty, None, reduce_only=True),
        )
        fees = long_res.fee + short_res.fee
        for leg, res, side in ((legs[0], long_res, Side.SELL), (legs[1], short_res, Side.BUY)):
            left, attempts = qty - res.filled, 0
            while left > 0 and attempts < self.max_unwind_attempts:
                attempts += 1
                fix = await self.broker.place(leg.venue, leg.symbol, side, left, None, reduce_only=True)
                fees += fix.fee
                left -= fix.filled
            if left > 0:
                return ExecutionReport(action="close", ok=False, position_id=pos.id, book_sources=sources,
                                       reason=f"{leg.venue} {leg.symbol}: {left} could not be closed")
        self.ledger.close(pos.id, long_exit=long_res.avg_price or pos.long.entry_price,
                          short_exit=short_res.avg_price or pos.short.entry_price, fees=fees,
                          closed_ms=self._now_ms(), reason=reason)
        return ExecutionReport(action="close", ok=True, reason=reason, position_id=pos.id, long_filled=long_res.filled,
                               short_filled=short_res.filled, book_sources=sources)
