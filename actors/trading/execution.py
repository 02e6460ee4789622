"""Two-leg execution behind a pre-flight, journaled so that a crash never leaves a naked leg.

For every open and close: resume both venues' market data and wait for fresh books (the facade
falls back to REST when a book is not ready), cap leverage at the lower venue limit, check
margin on both venues, check that both books hold the size within ``max_slippage``, then send
both orders at once. Market data is paused again in a ``finally``.

Every open and close is an ``Intent`` (``market.ledger``) written to the journal before its first
order leaves, each order carrying a client order id derived from the intent, and saved again as
the orders return. ``complete`` finishes an intent from what its orders did: if any outcome is
``UNKNOWN`` it first asks the venue by client id (bounded retries with backoff) and, while it
still cannot tell, leaves the intent open for reconciliation and books nothing. Otherwise the
excess of the larger leg is taken back with reduce-only orders (journaled like the others), the
hedged part is booked (or the position closed) and the intent marked done in the same
transaction as the ledger change. Reconciliation after a restart (``actors.reconcile``) calls
the same ``complete`` for the intents it finds open.

``checkpoint(step)`` is called at each step (``open.journal``, ``open.orders``,
``open.between_legs``, ``open.filled``, ``open.book`` and the same for ``close``); it does nothing
unless a ``fault_hook`` is set, which crash drills use to kill the process at an exact step. When
the hook is armed for ``between_legs`` the long leg is sent first and the short one after it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

import msgspec

from perpwire.actors.pacing import now_ms
from perpwire.actors.trading.broker import Broker, OrderResult
from perpwire.actors.trading.facade import VenueFacade
from perpwire.market.book import BookView
from perpwire.market.events import Instrument, OrderStatus, Side
from perpwire.market.ledger import Intent, IntentLeg, IntentOrder, Ledger, LegState, PairPosition
from perpwire.strategies.base import Leg, Open

log = logging.getLogger(__name__)
ZERO = Decimal(0)
STEPS = ("journal", "orders", "between_legs", "filled", "book")


class ExecutionReport(msgspec.Struct, kw_only=True):
    action: str  # "open", "close" or "repair"
    ok: bool
    reason: str
    position_id: str | None = None
    long_filled: Decimal = ZERO
    short_filled: Decimal = ZERO
    unwound: Decimal = ZERO
    book_sources: tuple[str, ...] = ()
    leverage: int | None = None
    intent_id: str | None = None


class Journal(Protocol):
    async def save(self, intent: Intent, *, complete: bool = False) -> None:
        """Commit ``intent``; with ``complete`` the ledger's pending changes go in the same transaction."""


def new_intent_id() -> str:
    """Wall-clock milliseconds and a random part, in hex: unique across restarts and deployments."""
    return f"{now_ms():x}{secrets.token_hex(3)}"


class Executor:
    def __init__(self, facades: dict[str, VenueFacade], broker: Broker, ledger: Ledger, *,
                 instruments: dict[tuple[str, str], Instrument] | None = None, offset: Decimal = Decimal("0.001"),
                 max_slippage: Decimal = Decimal("0.005"), max_unwind_attempts: int = 3, clock=None,
                 journal: Journal | None = None, resolve_attempts: int = 4, resolve_backoff_s: float = 0.25):
        self.facades = facades
        self.broker = broker
        self.ledger = ledger
        self.instruments = instruments or {}
        self.offset = offset
        self.max_slippage = max_slippage
        self.max_unwind_attempts = max_unwind_attempts
        self._clock = clock
        self.journal = journal
        self.resolve_attempts = resolve_attempts
        self.resolve_backoff_s = resolve_backoff_s
        self.fault_hook: Callable[[str], None] | None = None
        self.armed: str | None = None  # the step a drill is armed for (the hook decides what happens)
        self.reports: list[ExecutionReport] = []

    def _now_ms(self) -> int:
        return self._clock() if self._clock is not None else now_ms()

    def checkpoint(self, step: str) -> None:
        """A named step of an open or close; a no-op unless a fault hook is set (crash drills)."""
        if self.fault_hook is not None:
            self.fault_hook(step)

    async def _books(self, legs: list[Leg]) -> list[tuple[BookView, str]]:
        await asyncio.gather(*(self.facades[leg.venue].resume_market_data_streams(leg.symbol) for leg in legs))
        answers = await asyncio.gather(*(self.facades[leg.venue].get_order_book_depth(leg.symbol, 50) for leg in legs))
        return [(a.view, a.source) for a in answers]

    async def _pause(self, legs: list[Leg]) -> None:
        venues = {leg.venue for leg in legs if leg.venue in self.facades}  # a venue never attached has nothing to pause
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

    # --- journal -----------------------------------------------------------------------------

    async def _save(self, intent: Intent, *, complete: bool = False) -> Intent:
        """Bump the intent's revision and commit it (with the ledger change when ``complete``)."""
        intent = msgspec.structs.replace(intent, rev=intent.rev + 1)
        if self.journal is not None:
            await self.journal.save(intent, complete=complete)
        return intent

    @staticmethod
    def _apply(intent: Intent, order: IntentOrder, res: OrderResult) -> Intent:
        return intent.with_result(order.client_id, status=res.status.value, filled=res.filled,
                                  avg_price=res.avg_price, fee=res.fee)

    async def _place(self, order: IntentOrder) -> OrderResult:
        return await self.broker.place(order.venue, order.symbol, Side(order.side), order.size, order.limit_price,
                                       reduce_only=order.reduce_only, client_id=order.client_id)

    async def _send_legs(self, intent: Intent) -> Intent:
        """Send the intent's two first orders (at once, or one after the other in a drill)."""
        first, second = intent.orders[0], intent.orders[1]
        prefix = intent.action
        if self.armed == f"{prefix}.between_legs":
            res1 = await self._place(first)
            self.checkpoint(f"{prefix}.between_legs")
            res2 = await self._place(second)
        else:
            res1, res2 = await asyncio.gather(self._place(first), self._place(second))
        self.checkpoint(f"{prefix}.filled")
        return self._apply(self._apply(intent, first, res1), second, res2)

    async def resolve(self, intent: Intent) -> Intent:
        """Ask the venue about every order of ``intent`` whose outcome is not known (never
        answered, UNKNOWN, or sent before a crash): bounded retries with backoff. An order the
        venue has no trace of is ``missing`` (nothing filled). Saves the intent if anything changed."""
        changed = False
        for order in intent.orders:
            if order.settled:
                continue
            res = await self._query(order)
            if res is None:
                continue
            changed = True
            intent = self._apply(intent, order, res) if res is not MISSING else intent.with_result(
                order.client_id, status="missing", filled=ZERO)
        return await self._save(intent) if changed else intent

    async def _query(self, order: IntentOrder) -> OrderResult | object | None:
        """The order's settled result, ``MISSING``, or None when it could not be told."""
        query = getattr(self.broker, "query_order", None)
        if query is None:
            return None
        delay = self.resolve_backoff_s
        for attempt in range(1, self.resolve_attempts + 1):
            try:
                res = await query(order.venue, order.symbol, Side(order.side), order.size, order.client_id)
            except Exception as exc:  # the venue could not be asked: try again
                log.warning("%s %s: order %s: query %d/%d failed: %s", order.venue, order.symbol, order.client_id,
                            attempt, self.resolve_attempts, exc)
            else:
                if res is None:
                    return MISSING
                if res.status is not OrderStatus.UNKNOWN:
                    return res
                log.warning("%s %s: order %s: still working at the venue (query %d/%d)", order.venue, order.symbol,
                            order.client_id, attempt, self.resolve_attempts)
            if attempt < self.resolve_attempts:
                await asyncio.sleep(delay)
                delay *= 2
        log.error("%s %s: order %s: outcome still unknown after %d queries; left for reconciliation", order.venue,
                  order.symbol, order.client_id, self.resolve_attempts)
        return None

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
        intent = Intent(id=new_intent_id(), action="open", asset=cmd.asset, size=size, created_ms=self._now_ms(),
                        long=IntentLeg(venue=cmd.long.venue, symbol=cmd.long.symbol),
                        short=IntentLeg(venue=cmd.short.venue, symbol=cmd.short.symbol),
                        entry_spread_per_hour=spread, entered_on_z=on_z)
        intent = intent.with_order(IntentOrder(client_id=intent.client_id(1), role="long", venue=cmd.long.venue,
                                               symbol=cmd.long.symbol, side="buy", size=size,
                                               limit_price=ask * (1 + self.offset)))
        intent = intent.with_order(IntentOrder(client_id=intent.client_id(2), role="short", venue=cmd.short.venue,
                                               symbol=cmd.short.symbol, side="sell", size=size,
                                               limit_price=bid * (1 - self.offset)))
        self.checkpoint("open.journal")
        intent = await self._save(intent)  # written down before anything leaves
        self.checkpoint("open.orders")
        intent = await self._save(await self._send_legs(intent))
        report = await self.complete(intent)
        report.book_sources, report.leverage = sources, leverage
        return report

    # --- completing an intent ----------------------------------------------------------------

    async def complete(self, intent: Intent) -> ExecutionReport:
        """Finish ``intent`` from what its orders did (see the module text); the caller reports."""
        intent = await self.resolve(intent)
        unsettled = [o.client_id for o in intent.orders if not o.settled]
        if unsettled:
            reason = f"outcome of {', '.join(unsettled)} unknown; intent {intent.id} left open for reconciliation"
            log.error("%s %s: %s", intent.action, intent.asset, reason)
            return ExecutionReport(action=intent.action, ok=False, reason=reason, intent_id=intent.id,
                                   position_id=intent.position_id)
        if intent.action == "open":
            return await self._complete_open(intent)
        if intent.action == "close":
            return await self._complete_close(intent)
        return await self._complete_repair(intent)

    async def _fix(self, intent: Intent, leg: IntentLeg, side: str, size: Decimal, role: str) -> Intent:
        """One reduce-only order on ``leg``, journaled before it is sent; its result applied."""
        order = IntentOrder(client_id=intent.client_id(len(intent.orders) + 1), role=role, venue=leg.venue,
                            symbol=leg.symbol, side=side, size=size, reduce_only=True)
        intent = await self._save(intent.with_order(order))
        res = await self._place(order)
        intent = self._apply(intent, order, res)
        if res.status is OrderStatus.UNKNOWN:
            intent = await self.resolve(intent)
        return intent

    async def _balance(self, intent: Intent) -> Intent:
        """Take back the excess of the larger leg with reduce-only orders (bounded attempts)."""
        for role, sign in (("long", 1), ("short", -1)):
            leg = intent.long if role == "long" else intent.short
            for attempt in range(1, self.max_unwind_attempts + 1):
                excess = sign * intent.filled(role) - self._hedged(intent)
                if excess <= 0:
                    break
                log.warning("%s %s: unwinding naked %s (attempt %d)", leg.venue, leg.symbol, excess, attempt)
                intent = await self._fix(intent, leg, "sell" if sign > 0 else "buy", excess, "unwind")
                if not intent.orders[-1].settled:
                    return intent  # unknown: reconciliation takes it from here
            excess = sign * intent.filled(role) - self._hedged(intent)
            if excess > 0:
                log.error("%s %s: %s still naked after %d unwind attempts", leg.venue, leg.symbol, excess,
                          self.max_unwind_attempts)
        return intent

    @staticmethod
    def _hedged(intent: Intent) -> Decimal:
        return max(ZERO, min(intent.filled("long"), -intent.filled("short")))

    async def _complete_open(self, intent: Intent) -> ExecutionReport:
        first_long, first_short = intent.orders[0].filled, intent.orders[1].filled
        intent = await self._balance(intent)
        if any(not o.settled for o in intent.orders):
            return await self.complete(intent)
        hedged = self._hedged(intent)
        unwound = sum((o.filled for o in intent.orders if o.role == "unwind"), ZERO)
        report = ExecutionReport(action="open", ok=hedged > 0, long_filled=first_long, short_filled=first_short,
                                 unwound=unwound, intent_id=intent.id,
                                 reason="opened" if hedged > 0 else "no leg filled both sides")
        self.checkpoint("open.book")
        if hedged > 0 and intent.position_id is None:
            pos = self.ledger.open(
                asset=intent.asset, opened_ms=self._now_ms(), entry_spread_per_hour=intent.entry_spread_per_hour,
                fees=intent.fees(), entered_on_z=intent.entered_on_z,
                long=LegState(venue=intent.long.venue, symbol=intent.long.symbol, qty=hedged,
                              entry_price=intent.avg_price("long", "buy")),
                short=LegState(venue=intent.short.venue, symbol=intent.short.symbol, qty=hedged,
                               entry_price=intent.avg_price("short", "sell")))
            intent = msgspec.structs.replace(intent, position_id=pos.id)
            if hedged < intent.size or unwound:
                report.reason = f"opened {hedged} of {intent.size} (legs filled unequally, excess unwound)"
        report.position_id = intent.position_id
        state = "done" if hedged > 0 else "aborted"
        await self._save(msgspec.structs.replace(intent, state=state, note=report.reason), complete=True)
        return report

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
        intent = Intent(id=new_intent_id(), action="close", asset=pos.asset, size=qty, created_ms=self._now_ms(),
                        long=IntentLeg(venue=pos.long.venue, symbol=pos.long.symbol),
                        short=IntentLeg(venue=pos.short.venue, symbol=pos.short.symbol), position_id=pos.id,
                        close_reason=reason)
        intent = intent.with_order(IntentOrder(client_id=intent.client_id(1), role="long", venue=pos.long.venue,
                                               symbol=pos.long.symbol, side="sell", size=qty, reduce_only=True))
        intent = intent.with_order(IntentOrder(client_id=intent.client_id(2), role="short", venue=pos.short.venue,
                                               symbol=pos.short.symbol, side="buy", size=qty, reduce_only=True))
        self.checkpoint("close.journal")
        intent = await self._save(intent)
        self.checkpoint("close.orders")
        intent = await self._save(await self._send_legs(intent))
        report = await self.complete(intent)
        report.book_sources = sources
        return report

    async def _complete_close(self, intent: Intent) -> ExecutionReport:
        for role, sign in (("long", -1), ("short", 1)):
            leg = intent.long if role == "long" else intent.short
            for _ in range(self.max_unwind_attempts):
                left = intent.size - sign * intent.filled(role)
                if left <= 0:
                    break
                intent = await self._fix(intent, leg, "sell" if role == "long" else "buy", left, role)
                if not intent.orders[-1].settled:
                    return await self.complete(intent)
        pos = self.ledger.positions.get(intent.position_id or "")
        long_closed, short_closed = -intent.filled("long"), intent.filled("short")
        for leg, closed in ((intent.long, long_closed), (intent.short, short_closed)):
            if closed < intent.size:
                reason = f"{leg.venue} {leg.symbol}: {intent.size - closed} could not be closed"
                await self._save(msgspec.structs.replace(intent, state="failed", note=reason), complete=True)
                return ExecutionReport(action="close", ok=False, position_id=intent.position_id, reason=reason,
                                       intent_id=intent.id)
        self.checkpoint("close.book")
        reason = intent.close_reason or "closed"
        if pos is not None and pos.is_open:
            self.ledger.close(pos.id, long_exit=intent.avg_price("long", "sell") or pos.long.entry_price,
                              short_exit=intent.avg_price("short", "buy") or pos.short.entry_price,
                              fees=intent.fees(), closed_ms=self._now_ms(), reason=reason)
        await self._save(msgspec.structs.replace(intent, state="done", note=reason), complete=True)
        return ExecutionReport(action="close", ok=True, reason=reason, position_id=intent.position_id,
                               long_filled=long_closed, short_filled=short_closed, intent_id=intent.id)

    # --- repair ------------------------------------------------------------------------------

    async def repair(self, venue: str, symbol: str, excess: Decimal, asset: str = "") -> ExecutionReport:
        """Take back a position found at the venue and in no ledger position: reduce-only orders
        for ``excess`` (signed: positive is long), journaled as a ``repair`` intent."""
        leg = IntentLeg(venue=venue, symbol=symbol)
        intent = Intent(id=new_intent_id(), action="repair", asset=asset or symbol, size=abs(excess),
                        created_ms=self._now_ms(), long=leg, short=leg, note=f"unwind {excess} found at the venue")
        intent = await self._save(intent)
        return await self._complete_repair(intent, sign=1 if excess > 0 else -1)

    async def _complete_repair(self, intent: Intent, sign: int | None = None) -> ExecutionReport:
        if sign is None:  # resumed after a restart: the note holds the sign of what was to go
            sign = -1 if "unwind -" in intent.note else 1
        leg = intent.long
        for _ in range(self.max_unwind_attempts):
            left = intent.size - (-sign * intent.filled("long"))
            if left <= 0:
                break
            intent = await self._fix(intent, leg, "sell" if sign > 0 else "buy", left, "repair")
            if not intent.orders[-1].settled:
                return await self.complete(intent)
        left = intent.size - (-sign * intent.filled("long"))
        ok = left <= 0
        reason = f"unwound {intent.size - max(left, ZERO)} of {intent.size} on {leg.venue} {leg.symbol}"
        await self._save(msgspec.structs.replace(intent, state="done" if ok else "failed"), complete=True)
        return ExecutionReport(action="repair", ok=ok, reason=reason, intent_id=intent.id,
                               unwound=intent.size - max(left, ZERO))


MISSING = object()  # the venue has no trace of the order: it never arrived
