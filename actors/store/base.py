"""The funding store's interface and the write path every backend shares.

``FundingStore`` is the single writer of funding rates. ``record`` buffers received rates
(sampled: at most one row per venue-symbol per ``sample_ms`` unless the funding time moved) and
writes a full batch with one insert-many, so a crash loses at most one batch and ``flush`` /
``close`` on a clean stop lose nothing. ``backfill`` stores settled rates from the venues'
history endpoints (authoritative: they replace consolidated estimates), ``consolidate`` turns the
stream's last estimate before each funding time into a settled row, ``prune`` trims the stream,
and ``window_stats`` computes per venue-symbol mean and standard deviation of ``rate_per_hour``
in SQL to seed ``market.stats.FundingStats``. Backends implement the underscored primitives;
no method reads the clock, so times are arguments.

The store also keeps the position ledger (``market.ledger``): ``save_ledger`` appends a batch of
ledger events to ``ledger_journal`` and upserts the positions they touched into
``ledger_positions`` in one transaction that has committed when it returns (not buffered like
rates); ``load_ledger`` / ``load_positions`` read the positions back with the counters a restored
``Ledger`` must stay ahead of, and ``ledger_journal`` returns the events to replay.

Intents (``market.ledger.Intent``) are saved with ``save_intent`` before their orders leave and
after each answer, the last time together with the ledger change that completes them;
``load_intents`` gives back the open ones after a restart. ``record_paper_fill`` keeps each paper
order under its client id (the paper venue's record, read back by reconciliation through
``paper_fills`` and ``paper_positions``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from decimal import Decimal

import msgspec

from perpwire.market.events import FundingRate
from perpwire.market.ledger import (
    Intent,
    LedgerChanges,
    LedgerEvent,
    LedgerState,
    LegState,
    PairPosition,
    PaperFill,
    event_kind,
    position_number,
)
from perpwire.market.stats import WindowStats

log = logging.getLogger(__name__)

DAY_MS = 86_400_000

# (venue, symbol, ts, rate, rate_per_hour, interval_hours, mark, next_funding_ts)
StreamRow = tuple[str, str, int, Decimal, Decimal, int, Decimal | None, int | None]
# (venue, symbol, funding_ts, rate, rate_per_hour, interval_hours, mark, source)
HistoryRow = tuple[str, str, int, Decimal, Decimal, int, Decimal | None, str]
# (venue, symbol, count, mean, variance) as the backends' window query returns it
WindowRow = tuple[str, str, int, float, float | None]

STREAM_COLUMNS = ("venue", "symbol", "ts", "rate", "rate_per_hour", "interval_hours", "mark", "next_funding_ts")
HISTORY_COLUMNS = ("venue", "symbol", "funding_ts", "rate", "rate_per_hour", "interval_hours", "mark", "source")
LEG_COLUMNS = ("venue", "symbol", "qty", "entry_price", "mark_price", "exit_price")
POSITION_COLUMNS = (
    "id", "asset", "opened_ms", "entry_spread_per_hour", "entered_on_z", "fees", "funding", "payments", "closed_ms",
    "close_reason", *(f"long_{c}" for c in LEG_COLUMNS), *(f"short_{c}" for c in LEG_COLUMNS), "last_seq", "updated_ms",
)
JOURNAL_COLUMNS = ("seq", "position_id", "kind", "recorded_ms", "body")
INTENT_COLUMNS = ("id", "action", "state", "asset", "position_id", "created_ms", "updated_ms", "rev", "body")
PAPER_FILL_COLUMNS = ("client_id", "venue", "symbol", "side", "status", "requested", "filled", "avg_price", "fee",
                      "reduce_only", "recorded_ms")


class FundingStore(ABC):
    """Options: ``batch_size`` (rows per insert-many, 1000); ``sample_ms`` (60 s; 0 keeps every
    rate: 1,260 contracts pushed every second would be 109 M stream rows a day, sampled 1.8 M,
    and the last estimate before each funding time is at most a minute old); ``max_pending``
    (rows kept while the database is failing, 100 batches: the oldest go first, counted in
    ``dropped``); ``stream_retention_ms`` and ``consolidate_lookback_ms`` (2 days each) for
    ``maintain``."""

    backend = "abstract"

    def __init__(
        self,
        *,
        batch_size: int = 1000,
        sample_ms: int = 60_000,
        max_pending: int | None = None,
        stream_retention_ms: int = 2 * DAY_MS,
        consolidate_lookback_ms: int = 2 * DAY_MS,
    ):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.batch_size = batch_size
        self.sample_ms = sample_ms
        self.max_pending = max_pending if max_pending is not None else 100 * batch_size
        self.stream_retention_ms = stream_retention_ms
        self.consolidate_lookback_ms = consolidate_lookback_ms
        self._buffer: list[StreamRow] = []
        self._last: dict[tuple[str, str], tuple[int, int | None]] = {}
        self._flush_lock = asyncio.Lock()
        self._history_changed = True  # planner statistics unknown until the first analyze
        self._ledger_lock = asyncio.Lock()  # one ledger batch at a time, in the order given
        self.counters = {"recorded": 0, "written": 0, "sampled_out": 0, "untimed": 0, "dropped": 0,
                         "backfilled": 0, "consolidated": 0, "pruned": 0, "ledger_events": 0}

    # --- lifecycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and bring the schema up to date."""
        await self._connect()
        await self._migrate()

    async def close(self) -> None:
        """Write what is buffered, then disconnect."""
        try:
            await self.flush()
        finally:
            await self._disconnect()

    async def __aenter__(self) -> FundingStore:
        await self.open()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # --- writes -------------------------------------------------------------------------------

    async def record(self, rates: Iterable[FundingRate], now_ms: int | None = None) -> int:
        """Buffer received rates; writes whenever a batch is full. Returns the rows kept.

        A rate without an exchange timestamp is stored at ``now_ms`` (the receive time); with
        neither it cannot be placed in time and is counted in ``untimed``.
        """
        kept = 0
        last = self._last
        sample = self.sample_ms
        for ev in rates:
            ts = ev.ts or now_ms
            if not ts:
                self.counters["untimed"] += 1
                continue
            key = (ev.venue, ev.symbol)
            prev = last.get(key)
            if sample and prev is not None and ts - prev[0] < sample and ev.next_funding_ts == prev[1]:
                self.counters["sampled_out"] += 1
                continue
            last[key] = (ts, ev.next_funding_ts)
            self._buffer.append((ev.venue, ev.symbol, ts, ev.rate, ev.rate_per_hour, ev.interval_hours,
                                 ev.mark_price, ev.next_funding_ts))
            kept += 1
        self.counters["recorded"] += kept
        while len(self._buffer) >= self.batch_size:
            await self._write_batch(self.batch_size)
        return kept

    async def flush(self) -> int:
        """Write everything buffered; returns the rows written."""
        written = 0
        while self._buffer:
            written += await self._write_batch(self.batch_size)
        return written

    async def _write_batch(self, limit: int) -> int:
        async with self._flush_lock:
            batch = self._buffer[:limit]
            if not batch:
                return 0
            del self._buffer[: len(batch)]
            try:
                await self._insert_stream(batch)
            except BaseException:
                # keep the rows for the next attempt, bounded so a dead database cannot eat memory
                self._buffer[:0] = batch
                excess = len(self._buffer) - self.max_pending
                if excess > 0:
                    del self._buffer[:excess]
                    self.counters["dropped"] += excess
                raise
            self.counters["written"] += len(batch)
            return len(batch)

    async def backfill(self, rates: Iterable[FundingRate]) -> int:
        """Store settled rates (``decode_funding_history``); returns the rows given.

        ``ts`` must be the funding (settlement) time. A venue's own settled rate replaces a
        consolidated estimate for the same funding time.
        """
        rows: list[HistoryRow] = []
        for ev in rates:
            if not ev.settled:
                raise ValueError(f"backfill takes settled rates only ({ev.venue} {ev.symbol} ts={ev.ts})")
            if not ev.ts:
                raise ValueError(f"settled rate without a funding time ({ev.venue} {ev.symbol})")
            rows.append((ev.venue, ev.symbol, ev.ts, ev.rate, ev.rate_per_hour, ev.interval_hours,
                         ev.mark_price, "venue"))
        for start in range(0, len(rows), self.batch_size):
            await self._upsert_history(rows[start : start + self.batch_size])
        self.counters["backfilled"] += len(rows)
        self._history_changed = self._history_changed or bool(rows)
        return len(rows)

    async def consolidate(self, now_ms: int, since_ms: int | None = None) -> int:
        """Settle every funding interval closed by ``now_ms`` from the stream rows received since
        ``since_ms`` (default ``now_ms - consolidate_lookback_ms``): the last estimate before the
        funding time (``next_funding_ts``, or the end of the interval the row falls in) becomes the
        history row unless one exists. Idempotent. Returns the rows added."""
        await self.flush()
        if since_ms is None:
            since_ms = now_ms - self.consolidate_lookback_ms
        added = await self._consolidate(since_ms, now_ms)
        self.counters["consolidated"] += added
        self._history_changed = self._history_changed or added > 0
        return added

    async def prune(self, before_ms: int) -> int:
        """Delete stream rows older than ``before_ms``; returns how many."""
        removed = await self._prune(before_ms)
        self.counters["pruned"] += removed
        return removed

    async def maintain(self, now_ms: int) -> dict[str, int]:
        """The periodic chores: flush, consolidate, prune beyond the retention."""
        written = await self.flush()
        consolidated = await self.consolidate(now_ms)
        pruned = await self.prune(now_ms - self.stream_retention_ms)
        return {"written": written, "consolidated": consolidated, "pruned": pruned}

    # --- the position ledger ------------------------------------------------------------------

    async def save_ledger(self, changes: LedgerChanges, now_ms: int | None = None) -> int:
        """Append ``changes.events`` to the journal and upsert ``changes.positions``, in one
        transaction, committed (and, on SQLite, synced) when this returns. Idempotent: an event
        already journaled (same ``seq``) is skipped and a position row is never replaced by an
        older one. Returns the events given."""
        if not changes.events and not changes.positions:
            return 0
        journal, positions = self._ledger_rows(changes, now_ms)
        async with self._ledger_lock:
            await self._write_ledger(journal, positions, changes.durable)
        self.counters["ledger_events"] += len(journal)
        return len(journal)

    async def load_positions(self, open_only: bool = False) -> list[PairPosition]:
        """Saved positions, oldest first."""
        return (await self.load_ledger(open_only=open_only)).positions

    async def load_ledger(self, open_only: bool = False) -> LedgerState:
        """Saved positions (only the open ones with ``open_only``) and the highest change number
        and id number ever saved, for ``Ledger.restore``."""
        rows = await self._fetch(f"SELECT {', '.join(POSITION_COLUMNS)} FROM ledger_positions", ())
        positions = sorted((_position(r) for r in rows), key=lambda p: (p.opened_ms, position_number(p.id), p.id))
        [(journal_seq,)] = await self._fetch("SELECT COALESCE(MAX(seq), 0) FROM ledger_journal", ())
        last_seq = max([int(journal_seq), *(int(r[-2]) for r in rows)])
        last_id = max((position_number(p.id) for p in positions), default=0)
        if open_only:
            positions = [p for p in positions if p.is_open]
        return LedgerState(positions=positions, last_seq=last_seq, last_id=last_id)

    async def ledger_journal(self, position_id: str | None = None, since_seq: int = 0) -> list[LedgerEvent]:
        """Journaled ledger events after ``since_seq`` (of one position, or all), in ``seq`` order."""
        sql = "SELECT body FROM ledger_journal WHERE seq > $1"
        args: tuple = (since_seq,)
        if position_id is not None:
            sql += " AND position_id = $2"
            args = (since_seq, position_id)
        return [_EVENT_DECODER.decode(body) for (body,) in await self._fetch(sql + " ORDER BY seq", args)]

    # --- intents and paper fills ---------------------------------------------------------------

    async def save_intent(self, intent: Intent, changes: LedgerChanges | None = None,
                          now_ms: int | None = None) -> None:
        """Upsert ``intent`` and, when given, save ``changes`` (as ``save_ledger``) in the same
        transaction, committed and synced when this returns. A copy with a lower ``rev`` than the
        saved one changes nothing."""
        statements: list[tuple[str, list]] = [(UPSERT_INTENT_SQL, [_intent_row(intent, now_ms)])]
        if changes is not None and (changes.events or changes.positions):
            journal, positions = self._ledger_rows(changes, now_ms)
            statements += [(INSERT_JOURNAL_SQL, journal), (UPSERT_POSITION_SQL, positions)]
            self.counters["ledger_events"] += len(journal)
        async with self._ledger_lock:
            await self._write_durably(statements, True)

    async def load_intents(self, open_only: bool = True) -> list[Intent]:
        """Journaled intents (only those still open with ``open_only``), oldest first."""
        sql = "SELECT body FROM ledger_intents" + (" WHERE state = 'open'" if open_only else "")
        rows = await self._fetch(sql + " ORDER BY created_ms, id", ())
        return [_INTENT_DECODER.decode(body) for (body,) in rows]

    async def record_paper_fill(self, fill: PaperFill, now_ms: int | None = None) -> bool:
        """Keep what a paper order did; committed when this returns. Returns False (and keeps the
        first) when the client id was recorded already."""
        row = (fill.client_id, fill.venue, fill.symbol, fill.side, fill.status, str(fill.requested), str(fill.filled),
               _text(fill.avg_price), str(fill.fee), bool(fill.reduce_only), now_ms)
        async with self._ledger_lock:
            known = await self._fetch("SELECT 1 FROM paper_fills WHERE client_id = $1", (fill.client_id,))
            if known:
                return False
            await self._write_durably([(INSERT_PAPER_FILL_SQL, [row])], True)
        return True

    async def paper_fills(self, client_ids: Sequence[str] | None = None) -> list[PaperFill]:
        """Recorded paper fills (of these client ids, or all), in the order they were recorded."""
        rows = await self._fetch(f"SELECT {', '.join(PAPER_FILL_COLUMNS[:-1])} FROM paper_fills"
                                 " ORDER BY recorded_ms, client_id", ())
        wanted = None if client_ids is None else set(client_ids)
        return [_paper_fill(r) for r in rows if wanted is None or r[0] in wanted]

    async def paper_positions(self) -> dict[tuple[str, str], Decimal]:
        """The paper venue's net position per (venue, symbol): every recorded fill, signed."""
        out: dict[tuple[str, str], Decimal] = {}
        for f in await self.paper_fills():
            key = (f.venue, f.symbol)
            out[key] = out.get(key, Decimal(0)) + (f.filled if f.side == "buy" else -f.filled)
        return out

    def _ledger_rows(self, changes: LedgerChanges, now_ms: int | None) -> tuple[list, list]:
        last: dict[str, int] = {}
        journal = []
        for ev in changes.events:
            last[ev.position_id] = max(last.get(ev.position_id, 0), ev.seq)
            journal.append((ev.seq, ev.position_id, event_kind(ev), now_ms, _ENCODER.encode(ev).decode()))
        positions = [_position_row(p, last.get(p.id, changes.last_seq), now_ms) for p in changes.positions]
        return journal, positions

    async def _write_durably(self, statements: Sequence[tuple[str, Sequence[Sequence]]], durable: bool) -> None:
        """Run ``statements`` in one transaction; a backend may sync harder when ``durable``."""
        await self._transact(statements)

    # --- reads --------------------------------------------------------------------------------

    async def window_stats(self, since_ms: int, until_ms: int) -> list[WindowStats]:
        """Mean and sample std of settled ``rate_per_hour`` per venue-symbol in [since, until)."""
        if self._history_changed:
            # fresh planner statistics let SQLite skip-scan the primary key (5x the ts index)
            await self._analyze()
            self._history_changed = False
        rows = await self._window(since_ms, until_ms)
        return [
            WindowStats(venue=v, symbol=s, count=n, mean=float(mean), std=_std(float(mean), var),
                        since_ms=since_ms, until_ms=until_ms)
            for v, s, n, mean, var in rows
        ]

    async def history(self, venue: str, symbol: str, since_ms: int = 0, until_ms: int | None = None
                      ) -> list[FundingRate]:
        """Settled rates of one venue-symbol, oldest first (``ts`` is the funding time)."""
        rows = await self._select_history(venue, symbol, since_ms, _until(until_ms))
        return [FundingRate(venue=venue, symbol=symbol, ts=ts, rate=_dec(rate), rate_per_hour=_dec(rph),
                            interval_hours=ih, mark_price=_opt_dec(mark), settled=True)
                for ts, rate, rph, ih, mark in rows]

    async def stream(self, venue: str, symbol: str, since_ms: int = 0, until_ms: int | None = None
                     ) -> list[FundingRate]:
        """Stored received rates of one venue-symbol, oldest first (flushes first)."""
        await self.flush()
        rows = await self._select_stream(venue, symbol, since_ms, _until(until_ms))
        return [FundingRate(venue=venue, symbol=symbol, ts=ts, rate=_dec(rate), rate_per_hour=_dec(rph),
                            interval_hours=ih, mark_price=_opt_dec(mark), next_funding_ts=nft)
                for ts, rate, rph, ih, mark, nft in rows]

    @property
    def pending(self) -> int:
        """Rows buffered and not yet written."""
        return len(self._buffer)

    def stats(self) -> dict[str, int | str]:
        return {"backend": self.backend, "pending": len(self._buffer), **self.counters}

    # --- the migration runner -----------------------------------------------------------------

    async def _migrate(self) -> None:
        current = await self.schema_version()
        applied = await self._apply_migrations(current)
        if applied:
            log.info("funding store (%s): schema %d -> %d", self.backend, current, applied[-1])

    # --- backend primitives -------------------------------------------------------------------
    # SQL is written once with PostgreSQL's $n placeholders; SQLite reads them as ?n.

    async def _consolidate(self, since_ms: int, now_ms: int) -> int:
        return await self._execute(CONSOLIDATE_SQL, (since_ms, now_ms))

    async def _prune(self, before_ms: int) -> int:
        return await self._execute("DELETE FROM funding_stream WHERE ts < $1", (before_ms,))

    async def _window(self, since_ms: int, until_ms: int) -> list[WindowRow]:
        return await self._fetch(WINDOW_SQL, (since_ms, until_ms))

    async def _select_history(self, venue: str, symbol: str, since_ms: int, until_ms: int) -> list[tuple]:
        return await self._fetch(
            "SELECT funding_ts, rate, rate_per_hour, interval_hours, mark FROM funding_history"
            " WHERE venue = $1 AND symbol = $2 AND funding_ts >= $3 AND funding_ts < $4 ORDER BY funding_ts",
            (venue, symbol, since_ms, until_ms),
        )

    async def _select_stream(self, venue: str, symbol: str, since_ms: int, until_ms: int) -> list[tuple]:
        return await self._fetch(
            "SELECT ts, rate, rate_per_hour, interval_hours, mark, next_funding_ts FROM funding_stream"
            " WHERE venue = $1 AND symbol = $2 AND ts >= $3 AND ts < $4 ORDER BY ts",
            (venue, symbol, since_ms, until_ms),
        )

    async def _upsert_history(self, rows: Sequence[HistoryRow]) -> None:
        await self._executemany(UPSERT_HISTORY_SQL, rows)

    async def _insert_stream(self, rows: Sequence[StreamRow]) -> None:
        await self._executemany(INSERT_STREAM_SQL, rows)

    async def _analyze(self) -> None:
        """Refresh the planner's statistics of funding_history."""
        await self._execute("ANALYZE funding_history", ())

    async def _write_ledger(self, journal: Sequence[tuple], positions: Sequence[tuple], durable: bool) -> None:
        """Insert journal rows (skipping known seqs) and upsert position rows, in one transaction.
        ``durable``: the batch holds more than marks; a backend may sync harder for it."""
        await self._transact([(INSERT_JOURNAL_SQL, journal), (UPSERT_POSITION_SQL, positions)])

    @abstractmethod
    async def _transact(self, statements: Sequence[tuple[str, Sequence[Sequence]]]) -> None:
        """Run each statement once per row of its rows, all in one transaction."""

    @abstractmethod
    async def _connect(self) -> None: ...

    @abstractmethod
    async def _disconnect(self) -> None: ...

    @abstractmethod
    async def schema_version(self) -> int:
        """The newest applied migration (0 for an empty database)."""

    @abstractmethod
    async def _apply_migrations(self, current: int) -> list[int]:
        """Apply the migrations newer than ``current``, each in a transaction; returns their versions."""

    @abstractmethod
    async def _execute(self, sql: str, args: Sequence) -> int:
        """Run one statement; returns the rows it changed."""

    @abstractmethod
    async def _executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        """Run one statement per row, in one transaction."""

    @abstractmethod
    async def _fetch(self, sql: str, args: Sequence) -> list[tuple]: ...


INSERT_STREAM_SQL = (
    f"INSERT INTO funding_stream ({', '.join(STREAM_COLUMNS)}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)

_JOURNAL_PARAMS = ", ".join(f"${i}" for i in range(1, len(JOURNAL_COLUMNS) + 1))
INSERT_JOURNAL_SQL = (
    f"INSERT INTO ledger_journal ({', '.join(JOURNAL_COLUMNS)}) VALUES ({_JOURNAL_PARAMS}) ON CONFLICT (seq) DO NOTHING"
)
_POSITION_PARAMS = ", ".join(f"${i}" for i in range(1, len(POSITION_COLUMNS) + 1))
# A retried or late batch never takes a position back to an older state.
UPSERT_POSITION_SQL = (
    f"INSERT INTO ledger_positions ({', '.join(POSITION_COLUMNS)}) VALUES ({_POSITION_PARAMS})"
    f" ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in POSITION_COLUMNS[1:])}"
    " WHERE excluded.last_seq >= ledger_positions.last_seq"
)

_INTENT_PARAMS = ", ".join(f"${i}" for i in range(1, len(INTENT_COLUMNS) + 1))
UPSERT_INTENT_SQL = (
    f"INSERT INTO ledger_intents ({', '.join(INTENT_COLUMNS)}) VALUES ({_INTENT_PARAMS})"
    f" ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in INTENT_COLUMNS[1:])}"
    " WHERE excluded.rev >= ledger_intents.rev"
)
_PAPER_PARAMS = ", ".join(f"${i}" for i in range(1, len(PAPER_FILL_COLUMNS) + 1))
INSERT_PAPER_FILL_SQL = (
    f"INSERT INTO paper_fills ({', '.join(PAPER_FILL_COLUMNS)}) VALUES ({_PAPER_PARAMS})"
    " ON CONFLICT (client_id) DO NOTHING"
)

# A venue's settled rate is authoritative: it replaces a consolidated estimate.
ON_CONFLICT_REPLACE = (
    "ON CONFLICT (venue, symbol, funding_ts) DO UPDATE SET rate = excluded.rate,"
    " rate_per_hour = excluded.rate_per_hour, interval_hours = excluded.interval_hours,"
    " mark = COALESCE(excluded.mark, funding_history.mark), source = excluded.source"
)
UPSERT_HISTORY_SQL = (
    f"INSERT INTO funding_history ({', '.join(HISTORY_COLUMNS)}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    f" {ON_CONFLICT_REPLACE}"
)

# The funding time of a stream row is its next_funding_ts, or else the end of the interval it
# falls in (intervals are aligned to the epoch: 00:00, 08:00, 16:00 UTC for 8 h). The last
# estimate before that time is what settled; an existing row (the venue's own) wins.
CONSOLIDATE_SQL = f"""
INSERT INTO funding_history ({', '.join(HISTORY_COLUMNS)})
SELECT venue, symbol, fts, rate, rate_per_hour, interval_hours, mark, 'stream'
FROM (
    SELECT venue, symbol, rate, rate_per_hour, interval_hours, mark, fts,
           ROW_NUMBER() OVER (PARTITION BY venue, symbol, fts ORDER BY ts DESC) AS rn
    FROM (
        SELECT venue, symbol, ts, rate, rate_per_hour, interval_hours, mark,
               COALESCE(next_funding_ts, (ts / (interval_hours * 3600000) + 1) * (interval_hours * 3600000)) AS fts
        FROM funding_stream
        WHERE ts >= $1 AND ts < $2
    ) AS timed
) AS ranked
WHERE rn = 1 AND fts <= $2
ON CONFLICT (venue, symbol, funding_ts) DO NOTHING
"""

# Two passes (mean, then squared deviations) rather than sum-of-squares: rates of ~1e-5 that
# barely move would cancel catastrophically, and a constant rate must give exactly 0. The second
# pass is a correlated subquery because it walks each symbol's rows by primary key, which in
# SQLite measured 4x faster than a join or a window function. The caller takes the square root.
WINDOW_SQL = """
WITH m AS (
    SELECT venue, symbol, COUNT(*) AS n, AVG(CAST(rate_per_hour AS DOUBLE PRECISION)) AS mean
    FROM funding_history WHERE funding_ts >= $1 AND funding_ts < $2
    GROUP BY venue, symbol
)
SELECT venue, symbol, n, mean,
       CASE WHEN n > 1 THEN (
           SELECT SUM((CAST(h.rate_per_hour AS DOUBLE PRECISION) - m.mean)
                      * (CAST(h.rate_per_hour AS DOUBLE PRECISION) - m.mean))
           FROM funding_history AS h
           WHERE h.venue = m.venue AND h.symbol = m.symbol AND h.funding_ts >= $1 AND h.funding_ts < $2
       ) / (n - 1) END AS var
FROM m
ORDER BY venue, symbol
"""


def _std(mean: float, var: float | None) -> float | None:
    """Square root of the SQL variance, with float rounding noise snapped to 0: a rate that never
    moved must give std 0 (no z-score), not 1e-20 (a z-score of millions on the next tick)."""
    if var is None:
        return None
    var = float(var)
    return 0.0 if var <= (abs(mean) * _NOISE) ** 2 else math.sqrt(var)


_NOISE = 1e-9  # relative to the mean: far above float rounding, far below any real spread of rates
_MAX_TS = 2**62  # "no upper bound" that both backends' 64-bit integers hold


def _until(until_ms: int | None) -> int:
    return _MAX_TS if until_ms is None else until_ms


def _dec(value: str | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def _opt_dec(value: str | Decimal | None) -> Decimal | None:
    return None if value is None else _dec(value)


_ENCODER = msgspec.json.Encoder()  # Decimals as their exact strings (msgspec's default)
_EVENT_DECODER = msgspec.json.Decoder(LedgerEvent)


_INTENT_DECODER = msgspec.json.Decoder(Intent)


def _intent_row(intent: Intent, now_ms: int | None) -> tuple:
    return (intent.id, intent.action, intent.state, intent.asset, intent.position_id, intent.created_ms, now_ms,
            intent.rev, _ENCODER.encode(intent).decode())


def _paper_fill(row: Sequence) -> PaperFill:
    cid, venue, symbol, side, status, requested, filled, avg, fee, reduce_only = row
    return PaperFill(client_id=cid, venue=venue, symbol=symbol, side=side, status=status, requested=_dec(requested),
                     filled=_dec(filled), avg_price=_opt_dec(avg), fee=_dec(fee), reduce_only=bool(reduce_only))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _position_row(p: PairPosition, last_seq: int, now_ms: int | None) -> tuple:
    legs = []
    for leg in (p.long, p.short):
        legs += [leg.venue, leg.symbol, str(leg.qty), str(leg.entry_price), _text(leg.mark_price),
                 _text(leg.exit_price)]
    return (p.id, p.asset, p.opened_ms, str(p.entry_spread_per_hour), bool(p.entered_on_z), str(p.fees),
            str(p.funding), p.payments, p.closed_ms, p.close_reason, *legs, last_seq, now_ms)


def _leg_state(row: Sequence) -> LegState:
    venue, symbol, qty, entry, mark, exit_ = row
    return LegState(venue=venue, symbol=symbol, qty=_dec(qty), entry_price=_dec(entry), mark_price=_opt_dec(mark),
                    exit_price=_opt_dec(exit_))


def _position(row: Sequence) -> PairPosition:
    (pid, asset, opened_ms, spread, on_z, fees, funding, payments, closed_ms, reason) = row[:10]
    n = len(LEG_COLUMNS)
    return PairPosition(id=pid, asset=asset, opened_ms=int(opened_ms), entry_spread_per_hour=_dec(spread),
                        entered_on_z=bool(on_z), fees=_dec(fees), funding=_dec(funding), payments=int(payments),
                        closed_ms=None if closed_ms is None else int(closed_ms), close_reason=reason,
                        long=_leg_state(row[10 : 10 + n]), short=_leg_state(row[10 + n : 10 + 2 * n]))
