"""The PostgreSQL backend, used when a database URL is configured (asyncpg, a small pool).

Stream batches go in with binary ``COPY`` (the fastest bulk path asyncpg has); history upserts
are copied into a session-local staging table and merged with one ``INSERT … ON CONFLICT``.
Window statistics use exact ``NUMERIC`` aggregates. ``schema`` puts every table in its own
PostgreSQL schema (created on open) through the connections' ``search_path``, so several
deployments — or test runs — can share one database. The URL may hold a password: it is never
logged nor put into an exception by this module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import asyncpg

from perpwire.actors.pacing import now_ms
from perpwire.actors.store.base import (
    HISTORY_COLUMNS,
    ON_CONFLICT_REPLACE,
    STREAM_COLUMNS,
    FundingStore,
    HistoryRow,
    StreamRow,
    WindowRow,
)
from perpwire.actors.store.migrations import BOOTSTRAP_POSTGRES, pending

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_COLUMNS = ", ".join(HISTORY_COLUMNS)
UPSERT_STAGED_SQL = (
    f"INSERT INTO funding_history ({_COLUMNS}) SELECT DISTINCT ON (venue, symbol, funding_ts) {_COLUMNS}"
    f" FROM funding_history_in ORDER BY venue, symbol, funding_ts {ON_CONFLICT_REPLACE}"
)


class PostgresStore(FundingStore):
    """``dsn``: ``postgresql://user@host:port/db``; ``schema``: tables' schema (default: the
    server's search_path, normally ``public``); ``pool_size`` (2: the writer and a reader).
    Other options as ``FundingStore``."""

    backend = "postgres"

    def __init__(self, dsn: str, *, schema: str | None = None, pool_size: int = 2, **options):
        super().__init__(**options)
        if schema is not None and not _IDENTIFIER.match(schema):
            raise ValueError(f"not a plain schema name: {schema!r}")
        self._dsn = dsn
        self.schema = schema
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:  # never show the URL: it may carry a password
        return f"PostgresStore(schema={self.schema!r})"

    # --- lifecycle ----------------------------------------------------------------------------

    async def _connect(self) -> None:
        if self._pool is not None:
            return
        settings = {"application_name": "perpwire-store"}
        if self.schema is not None:
            conn = await asyncpg.connect(self._dsn)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            finally:
                await conn.close()
            settings["search_path"] = self.schema
        self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=self.pool_size,
                                               server_settings=settings)

    async def _disconnect(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _acquire(self):
        if self._pool is None:
            raise RuntimeError("funding store is not open")
        return self._pool.acquire()

    # --- migrations ---------------------------------------------------------------------------

    async def schema_version(self) -> int:
        async with self._acquire() as conn:
            await conn.execute(BOOTSTRAP_POSTGRES)
            return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))

    async def _apply_migrations(self, current: int) -> list[int]:
        done = []
        async with self._acquire() as conn:
            for m in pending(current):
                async with conn.transaction():
                    # another process may be migrating the same schema: take turns
                    await conn.execute("LOCK TABLE schema_version IN EXCLUSIVE MODE")
                    if await conn.fetchval("SELECT 1 FROM schema_version WHERE version = $1", m.version):
                        continue
                    for statement in m.postgres:
                        await conn.execute(statement)
                    await conn.execute("INSERT INTO schema_version (version, name, applied_ms) VALUES ($1, $2, $3)",
                                       m.version, m.name, now_ms())
                done.append(m.version)
        return done

    # --- primitives ---------------------------------------------------------------------------

    async def _window(self, since_ms: int, until_ms: int) -> list[WindowRow]:
        # NUMERIC aggregates are exact, so a constant rate gives a variance of exactly 0 (float8
        # var_samp gives ~1e-40 there) at about 3x the cost of float8: fine for an hourly query.
        return await self._fetch(
            "SELECT venue, symbol, COUNT(*), AVG(rate_per_hour)::float8, VAR_SAMP(rate_per_hour)::float8"
            " FROM funding_history WHERE funding_ts >= $1 AND funding_ts < $2"
            " GROUP BY venue, symbol ORDER BY venue, symbol",
            (since_ms, until_ms),
        )

    async def _upsert_history(self, rows: Sequence[HistoryRow]) -> None:
        # COPY into a session-local staging table, then one upsert: several times the rate of a
        # row-by-row executemany. DISTINCT ON keeps one row per key, as ON CONFLICT DO UPDATE
        # refuses to touch a row twice in one statement.
        async with self._acquire() as conn, conn.transaction():
            await conn.execute("CREATE TEMP TABLE IF NOT EXISTS funding_history_in"
                               " (LIKE funding_history) ON COMMIT DELETE ROWS")
            await conn.copy_records_to_table("funding_history_in", records=rows, columns=HISTORY_COLUMNS)
            await conn.execute(UPSERT_STAGED_SQL)

    async def _insert_stream(self, rows: Sequence[StreamRow]) -> None:
        async with self._acquire() as conn:
            await conn.copy_records_to_table("funding_stream", records=rows, columns=STREAM_COLUMNS,
                                             schema_name=self.schema)

    async def _execute(self, sql: str, args: Sequence) -> int:
        async with self._acquire() as conn:
            status = await conn.execute(sql, *args)
        # "INSERT 0 12", "DELETE 3": the last word is the row count
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def _executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        async with self._acquire() as conn, conn.transaction():
            await conn.executemany(sql, rows)

    async def _transact(self, statements: Sequence[tuple[str, Sequence[Sequence]]]) -> None:
        async with self._acquire() as conn, conn.transaction():
            for sql, rows in statements:
                if rows:
                    await conn.executemany(sql, rows)

    async def _fetch(self, sql: str, args: Sequence) -> list[tuple]:
        async with self._acquire() as conn:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
