"""Backends for the store tests: SQLite in tmp_path, PostgreSQL at 127.0.0.1:5432 in a fresh schema.

Every test that takes ``make_store`` runs once per backend. The PostgreSQL run creates its own
schema (dropped afterwards) so test runs do not collide; it is skipped when no server answers.
"""

from __future__ import annotations

import uuid

import pytest

from perpwire.actors.store.sqlite import SqliteStore

PG_DSNS = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://root@127.0.0.1:5432/test")
_probe: dict[str, str | None] = {}


async def _pg_dsn() -> str | None:
    if "dsn" not in _probe:
        import asyncpg

        _probe["dsn"] = None
        for dsn in PG_DSNS:
            try:
                conn = await asyncpg.connect(dsn, timeout=3)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                continue
            await conn.close()
            _probe["dsn"] = dsn
            break
    return _probe["dsn"]


@pytest.fixture(params=["sqlite", "postgres"])
async def make_store(request, tmp_path):
    """``make_store(**options)`` → an unopened store of this run's backend; every store made in
    one test shares the same database (file or schema), like a restart would."""
    made = []
    dsn = schema = None
    if request.param == "postgres":
        dsn = await _pg_dsn()
        if dsn is None:
            pytest.skip("no PostgreSQL at 127.0.0.1:5432")
        schema = f"perpwire_test_{uuid.uuid4().hex[:12]}"

    def make(**options):
        if request.param == "sqlite":
            store = SqliteStore(tmp_path / "funding.db", **options)
        else:
            from perpwire.actors.store.postgres import PostgresStore

            store = PostgresStore(dsn, schema=schema, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        await store._disconnect()
    if schema is not None:
        import asyncpg

        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@pytest.fixture
async def store(make_store):
    """An open store that keeps every rate (no sampling) and writes batches of 3."""
    s = make_store(batch_size=3, sample_ms=0)
    await s.open()
    return s
