"""The store as a Ray actor: the one writer of funding rates and of the position ledger, a thin
shell over ``FundingStore``.

Async and ``num_cpus=0`` (it waits on the disk or the database). ``__init__`` does no I/O, so a
Ray restart only rebuilds the object; every call first makes sure the store is open and the
chores task runs (flush every ``flush_every_s``, consolidate and prune every
``maintain_every_s``). ``on_funding`` has the stream actors' funding-sink signature, so the
store can be fed directly or by the coordinator. Only here is the wall clock read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from decimal import Decimal

import ray

from perpwire.actors.logs import apply_log_level
from perpwire.actors.pacing import now_ms
from perpwire.actors.store import store_from_url
from perpwire.actors.store.base import DAY_MS
from perpwire.market.events import FundingRate, unpack_funding
from perpwire.market.ledger import Intent, LedgerChanges, LedgerEvent, LedgerState, PairPosition, PaperFill
from perpwire.market.stats import WindowStats

log = logging.getLogger(__name__)



@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)
class StoreActor:
    def __init__(self, url: str | None = None, *, flush_every_s: float = 5.0, maintain_every_s: float = 300.0,
                 **options):
        apply_log_level()
        self._store = store_from_url(url, **options)
        self._flush_every_s = flush_every_s
        self._maintain_every_s = maintain_every_s
        self._open = False
        self._opening: asyncio.Lock | None = None
        self._chores: asyncio.Task | None = None

    async def _ensure(self) -> None:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if not self._open:
                await self._store.open()
                self._open = True
        if self._chores is None or self._chores.done():
            self._chores = asyncio.create_task(self._run_chores())

    async def _run_chores(self) -> None:
        last_maintain = time.monotonic()
        while True:
            await asyncio.sleep(self._flush_every_s)
            try:
                if time.monotonic() - last_maintain >= self._maintain_every_s:
                    last_maintain = time.monotonic()
                    done = await self._store.maintain(now_ms())
                    log.info("funding store maintenance: %s", done)
                else:
                    await self._store.flush()
            except Exception:  # a failing database must not end the actor: the rows stay buffered
                log.exception("funding store (%s): periodic write failed", self._store.backend)

    # commands
    async def start(self) -> None:
        await self._ensure()

    async def stop(self) -> None:
        """Write everything buffered and close (call on a clean shutdown)."""
        if self._chores is not None:
            self._chores.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._chores
            self._chores = None
        if self._open:
            self._open = False
            await self._store.close()

    async def record(self, rates: list[FundingRate]) -> int:
        await self._ensure()
        return await self._store.record(rates, now_ms())

    async def on_funding(self, batch: bytes | list[FundingRate]) -> None:
        await self.record(unpack_funding(batch))

    async def backfill(self, rates: list[FundingRate]) -> int:
        await self._ensure()
        return await self._store.backfill(rates)

    async def flush(self) -> int:
        await self._ensure()
        return await self._store.flush()

    async def maintain(self) -> dict[str, int]:
        await self._ensure()
        return await self._store.maintain(now_ms())

    async def save_ledger(self, changes: LedgerChanges) -> int:
        """Journal a batch of ledger changes; committed when the call returns."""
        await self._ensure()
        return await self._store.save_ledger(changes, now_ms())

    async def save_intent(self, intent: Intent, changes: LedgerChanges | None = None) -> None:
        """Journal an intent (with the ledger change that completes it); committed on return."""
        await self._ensure()
        await self._store.save_intent(intent, changes, now_ms())

    async def record_paper_fill(self, fill: PaperFill) -> bool:
        """Keep a paper order's fill under its client id; False when that id was recorded already."""
        await self._ensure()
        return await self._store.record_paper_fill(fill, now_ms())

    # queries
    async def load_intents(self, open_only: bool = True) -> list[Intent]:
        await self._ensure()
        return await self._store.load_intents(open_only)

    async def paper_fills(self, client_ids: list[str] | None = None) -> list[PaperFill]:
        await self._ensure()
        return await self._store.paper_fills(client_ids)

    async def paper_positions(self) -> dict[tuple[str, str], Decimal]:
        await self._ensure()
        return await self._store.paper_positions()

    async def window_stats(self, days: float = 30.0, until_ms: int | None = None) -> list[WindowStats]:
        """Per venue-symbol mean/std of settled rates over the last ``days`` (to seed FundingStats)."""
        await self._ensure()
        until = now_ms() if until_ms is None else until_ms
        return await self._store.window_stats(until - int(days * DAY_MS), until)

    async def history(self, venue: str, symbol: str, since_ms: int = 0, until_ms: int | None = None
                      ) -> list[FundingRate]:
        await self._ensure()
        return await self._store.history(venue, symbol, since_ms, until_ms)

    async def stream(self, venue: str, symbol: str, since_ms: int = 0, until_ms: int | None = None
                     ) -> list[FundingRate]:
        """Received rates of one venue-symbol as stored (sampled, ``FundingStore.sample_ms``), oldest first."""
        await self._ensure()
        return await self._store.stream(venue, symbol, since_ms, until_ms)

    async def load_ledger(self, open_only: bool = False) -> LedgerState:
        """Saved positions and the counters for ``Ledger.restore``."""
        await self._ensure()
        return await self._store.load_ledger(open_only)

    async def load_positions(self, open_only: bool = False) -> list[PairPosition]:
        await self._ensure()
        return await self._store.load_positions(open_only)

    async def ledger_journal(self, position_id: str | None = None, since_seq: int = 0) -> list[LedgerEvent]:
        await self._ensure()
        return await self._store.ledger_journal(position_id, since_seq)

    async def stats(self) -> dict:
        return self._store.stats()

    async def health(self, timeout_s: float = 2.0) -> dict:
        """Can the store write right now? Opens it if needed and asks the database one question
        within ``timeout_s``. ``ok``, ``error`` (one line, never the URL) and ``pending``: the
        rows buffered and not yet written (kept while the database is down, oldest dropped past
        the bound and counted in ``dropped``). ``perpwire status`` shows it."""
        error = None
        try:
            await asyncio.wait_for(self._ensure(), timeout_s)
            await asyncio.wait_for(self._store.schema_version(), timeout_s)
        except Exception as exc:
            error = f"no answer within {timeout_s:g} s" if isinstance(exc, TimeoutError) else (
                f"{type(exc).__name__}: {exc}".splitlines()[0])
        stats = self._store.stats()
        return {"ok": error is None, "error": error, "backend": stats["backend"], "pending": stats["pending"],
                "dropped": stats["dropped"]}
