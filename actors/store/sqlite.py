"""The embedded default backend: one SQLite file in WAL mode, driven from async code.

``sqlite3`` blocks, so every call runs on one dedicated worker thread (a single-thread executor):
the event loop never waits on the disk, and the connection is only ever touched by that thread,
which also serialises the writes. WAL lets readers (``sqlite3`` in a shell, a dashboard) look at
the file while perpwire writes; ``synchronous=NORMAL`` keeps every committed batch across a crash
of the process (only a power loss may take the last ones back). Exact figures travel as text.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from perpwire.actors.pacing import now_ms
from perpwire.actors.store.base import (
    INSERT_JOURNAL_SQL,
    INSERT_STREAM_SQL,
    UPSERT_HISTORY_SQL,
    UPSERT_POSITION_SQL,
    FundingStore,
    HistoryRow,
    StreamRow,
)
from perpwire.actors.store.migrations import BOOTSTRAP_SQLITE, pending

_PLACEHOLDER = re.compile(r"\$(\d+)")


def _sqlite_sql(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


_INSERT_STREAM = _sqlite_sql(INSERT_STREAM_SQL)
_UPSERT_HISTORY = _sqlite_sql(UPSERT_HISTORY_SQL)
_INSERT_JOURNAL = _sqlite_sql(INSERT_JOURNAL_SQL)
_UPSERT_POSITION = _sqlite_sql(UPSERT_POSITION_SQL)


def _as_text(rows: Sequence[StreamRow | HistoryRow]) -> list[tuple]:
    """Stream and history rows carry their exact figures (rate, rate per hour, mark) at 3, 4
    and 6; SQLite keeps them as text. Positional on purpose: 5x a per-value type test."""
    return [(r[0], r[1], r[2], str(r[3]), str(r[4]), r[5], None if r[6] is None else str(r[6]), r[7]) for r in rows]


class SqliteStore(FundingStore):
    """``path``: the database file (created with its folder), or ``":memory:"`` for tests.
    Other options as ``FundingStore``."""

    backend = "sqlite"

    def __init__(self, path: str | Path = "perpwire.db", **options):
        super().__init__(**options)
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def _run(self, fn: Callable, *args):
        if self._executor is None:
            raise RuntimeError("funding store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # --- lifecycle ----------------------------------------------------------------------------

    async def _connect(self) -> None:
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="funding-store")
        self._conn = await self._run(self._open_sync)

    def _open_sync(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # autocommit mode: transactions are explicit BEGIN/COMMIT around each batch
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA analysis_limit=1000")  # ANALYZE samples: milliseconds, not a table scan
        return conn

    async def _disconnect(self) -> None:
        if self._executor is None:
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._run(conn.close)
        self._executor.shutdown(wait=True)
        self._executor = None

    # --- migrations ---------------------------------------------------------------------------

    async def schema_version(self) -> int:
        return await self._run(self._version_sync)

    def _version_sync(self) -> int:
        self._conn.execute(BOOTSTRAP_SQLITE)
        (version,) = self._conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        return int(version)

    async def _apply_migrations(self, current: int) -> list[int]:
        return await self._run(self._apply_sync, current)

    def _apply_sync(self, current: int) -> list[int]:
        done = []
        for m in pending(current):
            with self._transaction() as conn:
                # another process may have applied it since we looked: BEGIN IMMEDIATE holds the lock now
                if conn.execute("SELECT 1 FROM schema_version WHERE version = ?", (m.version,)).fetchone():
                    continue
                for statement in m.sqlite:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version, name, applied_ms) VALUES (?, ?, ?)",
                             (m.version, m.name, now_ms()))
            done.append(m.version)
        return done

    # --- primitives ---------------------------------------------------------------------------

    def _transaction(self):
        return _Transaction(self._conn)

    async def _execute(self, sql: str, args: Sequence) -> int:
        return await self._run(self._execute_sync, _sqlite_sql(sql), tuple(args))

    def _execute_sync(self, sql: str, args: tuple) -> int:
        with self._transaction() as conn:
            return conn.execute(sql, args).rowcount

    async def _executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        await self._run(self._executemany_sync, _sqlite_sql(sql), rows)

    def _executemany_sync(self, sql: str, rows: Sequence[Sequence]) -> None:
        with self._transaction() as conn:
            conn.executemany(sql, rows)

    async def _transact(self, statements: Sequence[tuple[str, Sequence[Sequence]]]) -> None:
        await self._run(self._transact_sync, [(_sqlite_sql(sql), rows) for sql, rows in statements], False)

    async def _write_ledger(self, journal: Sequence[tuple], positions: Sequence[tuple], durable: bool) -> None:
        await self._run(self._transact_sync, [(_INSERT_JOURNAL, journal), (_UPSERT_POSITION, positions)], durable)

    async def _write_durably(self, statements: Sequence[tuple[str, Sequence[Sequence]]], durable: bool) -> None:
        await self._run(self._transact_sync, [(_sqlite_sql(sql), rows) for sql, rows in statements], durable)

    def _transact_sync(self, statements: list[tuple[str, Sequence[Sequence]]], durable: bool) -> None:
        # an opened or closed position must survive a power loss too, not only a crash of the
        # process: FULL syncs the WAL at this commit (the synchronous level cannot change inside
        # a transaction, so it is set around it)
        if durable:
            self._conn.execute("PRAGMA synchronous=FULL")
        try:
            with self._transaction() as conn:
                for sql, rows in statements:
                    if rows:
                        conn.executemany(sql, rows)
        finally:
            if durable:
                self._conn.execute("PRAGMA synchronous=NORMAL")

    async def _insert_stream(self, rows: Sequence[StreamRow]) -> None:
        await self._run(self._executemany_sync, _INSERT_STREAM, _as_text(rows))

    async def _upsert_history(self, rows: Sequence[HistoryRow]) -> None:
        await self._run(self._executemany_sync, _UPSERT_HISTORY, _as_text(rows))

    async def _fetch(self, sql: str, args: Sequence) -> list[tuple]:
        return await self._run(self._fetch_sync, _sqlite_sql(sql), tuple(args))

    def _fetch_sync(self, sql: str, args: tuple) -> list[tuple]:
        return self._conn.execute(sql, args).fetchall()


class _Transaction:
    """BEGIN … COMMIT, or ROLLBACK when the body raises (the connection runs in autocommit)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")
