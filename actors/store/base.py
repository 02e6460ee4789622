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
"""

from __future__ import annotations

import asyncio
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from decimal import Decimal

from market.events import FundingRate
from market.stats import WindowStats

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
        self.counters = {"recorded": 0, "written": 0, "sampled_out": 0, "untimed": 0, "dropped": 0,
                         "backfilled": 0, "consolidated": 0, "pruned": 0}

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
