"""Reconciliation of the ledger with the venues: after a restart, and for unknown order outcomes.

``Reconciler.run`` first completes every intent the journal holds open (``Executor.complete``:
each order looked up at the venue by its client id, then booked, unwound, aborted or closed),
then compares each venue's own positions with the ledger's open positions per (venue, symbol).
A position found at the venue beyond what the ledger holds is adopted when an opposite excess of
the same asset sits on another venue (the hedged part is booked as a position), and whatever is
left is unwound with reduce-only orders (journaled as a ``repair`` intent) — never ignored. A
venue holding less than the ledger is reported. Every finding is one log line and one entry of
``ReconcileReport.findings``, which the coordinator's summary shows.

``StoreJournal`` is the executor's journal on the store actor: an intent is committed before its
orders leave; completing one commits the ledger's pending changes in the same transaction, and a
completion that could not be saved is kept and saved with the next ledger save.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import msgspec

from perpwire.actors.trading.execution import ExecutionReport, Executor, new_intent_id
from perpwire.actors.trading.facade import call
from perpwire.market.funding import asset as asset_of
from perpwire.market.ledger import Intent, IntentLeg, Ledger, LegState

log = logging.getLogger(__name__)
ZERO = Decimal(0)


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    symbol: str
    ledger: str  # signed size the ledger holds
    found: str  # signed size the venue holds
    action: str  # adopted | unwound | reported | intent
    detail: str = ""


class ReconcileReport(msgspec.Struct, kw_only=True):
    started_ms: int
    finished_ms: int | None = None
    intents: list[dict] = msgspec.field(default_factory=list)  # what became of each open intent
    findings: list[Finding] = msgspec.field(default_factory=list)
    error: str | None = None


class StoreJournal:
    """Intents into the store actor, serialised with the coordinator's ledger saves by ``lock``."""

    def __init__(self, store: Any, ledger: Ledger, lock: asyncio.Lock):
        self.store = store
        self.ledger = ledger
        self.lock = lock
        self.backlog: dict[str, Intent] = {}  # completions whose save failed: saved with the next one

    async def save(self, intent: Intent, *, complete: bool = False) -> None:
        async with self.lock:
            changes = self.ledger.take_changes() if complete and self.ledger.track_changes else None
            try:
                await call(self.store, "save_intent", intent, changes)
            except Exception:
                if changes is not None:
                    self.ledger.requeue(changes)
                if complete:
                    self.backlog[intent.id] = intent
                raise
            self.backlog.pop(intent.id, None)

    async def flush_backlog(self) -> None:
        """Save completions that failed before (called under the caller's lock with the ledger save)."""
        for intent in list(self.backlog.values()):
            changes = self.ledger.take_changes() if self.ledger.track_changes else None
            try:
                await call(self.store, "save_intent", intent, changes)
            except Exception as exc:
                if changes is not None:
                    self.ledger.requeue(changes)
                log.error("intent %s: saving its completion failed again: %s", intent.id, exc)
                return
            self.backlog.pop(intent.id, None)

    async def load_open(self) -> list[Intent]:
        return await call(self.store, "load_intents", True)


class Reconciler:
    """One pass over open intents and venue positions; ``venues`` are those whose positions the
    broker can read (live venues, and the paper venue's records)."""

    def __init__(self, executor: Executor, ledger: Ledger, journal: StoreJournal | None, venues: list[str], *,
                 markets: dict[str, dict[str, str]] | None = None, attempts: int = 3, backoff_s: float = 0.5,
                 clock=None):
        self.executor = executor
        self.ledger = ledger
        self.journal = journal
        self.venues = venues
        self.markets = markets or {}
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._clock = clock

    def _now(self) -> int:
        return self.executor._now_ms() if self._clock is None else self._clock()

    async def run(self) -> ReconcileReport:
        report = ReconcileReport(started_ms=self._now())
        if self.journal is not None:
            for intent in await self.journal.load_open():
                log.warning("reconcile: intent %s (%s %s) was left open; completing it from the venues", intent.id,
                            intent.action, intent.asset)
                done = await self.executor.complete(intent)
                report.intents.append({"id": intent.id, "action": intent.action, "asset": intent.asset,
                                       "ok": done.ok, "reason": done.reason, "position_id": done.position_id})
        report.findings = await self.compare_positions()
        report.finished_ms = self._now()
        return report

    async def _positions(self, venue: str) -> dict[str, Any]:
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            try:
                return await self.executor.broker.venue_positions(venue)
            except Exception as exc:
                log.warning("reconcile: %s positions unavailable (%d/%d): %s", venue, attempt, self.attempts, exc)
                if attempt == self.attempts:
                    raise
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def expected(self) -> dict[tuple[str, str], Decimal]:
        """The ledger's signed size per (venue, symbol) over open positions."""
        out: dict[tuple[str, str], Decimal] = {}
        for pos in self.ledger.open_positions():
            for leg, sign in ((pos.long, 1), (pos.short, -1)):
                key = (leg.venue, leg.symbol)
                out[key] = out.get(key, ZERO) + sign * leg.qty
        return out

    def _asset(self, venue: str, symbol: str) -> str | None:
        try:
            return asset_of(symbol, self.markets.get(venue))
        except KeyError:
            return None

    async def compare_positions(self) -> list[Finding]:
        expected = self.expected()
        found: dict[tuple[str, str], Any] = {}
        for venue in self.venues:
            for symbol, pos in (await self._positions(venue)).items():
                found[(venue, symbol)] = pos
        findings: list[Finding] = []
        excess: dict[tuple[str, str], Decimal] = {}
        for key in sorted(set(expected) | set(found)):
            if key[0] not in self.venues:
                continue
            want = expected.get(key, ZERO)
            have = found[key].size if key in found else ZERO
            diff = have - want
            if diff == 0:
                continue
            if want == 0 or (diff > 0) == (want > 0):
                excess[key] = diff  # the venue holds more than any ledger position: adopt or unwind
            else:
                findings.append(self._note(key, want, have, "reported", "the venue holds less than the ledger"))
        findings += await self._adopt_pairs(excess, found, expected)
        for (venue, symbol), diff in sorted(excess.items()):
            if diff == 0:
                continue
            want = expected.get((venue, symbol), ZERO)
            done = await self.executor.repair(venue, symbol, diff, self._asset(venue, symbol) or "")
            findings.append(self._note((venue, symbol), want, want + diff, "unwound" if done.ok else "reported",
                                       done.reason))
        return findings

    async def _adopt_pairs(self, excess: dict[tuple[str, str], Decimal], found: dict,
                           expected: dict[tuple[str, str], Decimal]) -> list[Finding]:
        """Pair a long excess with a short one of the same asset elsewhere: book the hedged part."""
        out = []
        for long_key, long_diff in sorted(excess.items()):
            for short_key, short_diff in sorted(excess.items()):
                if long_diff <= 0 or short_diff >= 0 or long_key[0] == short_key[0]:
                    continue
                a = self._asset(*long_key)
                if a is None or a != self._asset(*short_key):
                    continue
                qty = min(long_diff, -short_diff)
                pos = self.ledger.open(
                    asset=a, opened_ms=self._now(), entry_spread_per_hour=ZERO, fees=ZERO,
                    long=LegState(venue=long_key[0], symbol=long_key[1], qty=qty, entry_price=_price(found, long_key)),
                    short=LegState(venue=short_key[0], symbol=short_key[1], qty=qty,
                                   entry_price=_price(found, short_key)))
                if self.journal is not None:
                    await self._save_adoption(pos.id, a, long_key, short_key, qty)
                excess[long_key] = long_diff = long_diff - qty
                excess[short_key] = short_diff + qty
                detail = f"adopted as {pos.id}: {qty} long {long_key[0]}:{long_key[1]} / short {short_key[0]}"
                for key in (long_key, short_key):
                    out.append(Finding(venue=key[0], symbol=key[1], ledger=str(expected.get(key, ZERO)),
                                       found=str(found[key].size), action="adopted", detail=detail))
                log.error("reconcile: %s %s", a, detail)
        return out

    async def _save_adoption(self, position_id: str, a: str, long_key, short_key, qty: Decimal) -> None:
        intent = Intent(id=new_intent_id(), action="adopt", asset=a, size=qty, created_ms=self._now(),
                        long=IntentLeg(venue=long_key[0], symbol=long_key[1]),
                        short=IntentLeg(venue=short_key[0], symbol=short_key[1]), position_id=position_id,
                        state="done", note="found at the venues, in no ledger position", rev=1)
        await self.journal.save(intent, complete=True)

    @staticmethod
    def _note(key, want: Decimal, have: Decimal, action: str, detail: str) -> Finding:
        log.error("reconcile: %s %s: ledger %s, venue %s: %s (%s)", key[0], key[1], want, have, action, detail)
        return Finding(venue=key[0], symbol=key[1], ledger=str(want), found=str(have), action=action, detail=detail)


def _price(found: dict, key) -> Decimal:
    pos = found.get(key)
    price = None if pos is None else (pos.entry_price or pos.mark_price)
    return price if price else ZERO


def report_dict(report: ReconcileReport | None) -> dict | None:
    """The report as plain data for ``summary()``."""
    return None if report is None else msgspec.to_builtins(report)


__all__ = ["ExecutionReport", "Finding", "ReconcileReport", "Reconciler", "StoreJournal", "report_dict"]
