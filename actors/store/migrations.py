"""Versioned schema of the funding store, one dialect per backend.

Each ``Migration`` is applied once, in version order, inside its own transaction, and recorded
in ``schema_version``; a database is upgraded by opening it with newer code. Never edit a
released migration: append a new one. Exact figures are ``TEXT`` in SQLite (its ``NUMERIC``
affinity would turn them into floats) and ``NUMERIC`` in PostgreSQL; the window queries cast to
floating point because they compute statistics, not amounts.

Tables:

- ``funding_stream``: every rate as received (current estimates), sampled by the writer;
  pruned once consolidated.
- ``funding_history``: one settled rate per venue, symbol and funding time (the primary key), from the venue's
  history (``source = 'venue'``, authoritative) or consolidated from the stream (``'stream'``:
  the last estimate before the funding time).
"""

from __future__ import annotations

from typing import NamedTuple


class Migration(NamedTuple):
    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


BOOTSTRAP_SQLITE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)"
)
BOOTSTRAP_POSTGRES = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)"
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "funding stream and history tables",
        sqlite=(
            """CREATE TABLE funding_stream (
                venue TEXT NOT NULL,
                symbol TEXT NOT NULL,
                ts INTEGER NOT NULL,              -- exchange ms (receive ms when the venue sends none)
                rate TEXT NOT NULL,               -- fraction per interval, exact text
                rate_per_hour TEXT NOT NULL,      -- fraction per hour, exact text
                interval_hours INTEGER NOT NULL,
                mark TEXT,
                next_funding_ts INTEGER
            )""",
            """CREATE TABLE funding_history (
                venue TEXT NOT NULL,
                symbol TEXT NOT NULL,
                funding_ts INTEGER NOT NULL,      -- settlement time, ms
                rate TEXT NOT NULL,
                rate_per_hour TEXT NOT NULL,
                interval_hours INTEGER NOT NULL,
                mark TEXT,
                source TEXT NOT NULL,             -- 'venue' (history API) or 'stream' (consolidated)
                PRIMARY KEY (venue, symbol, funding_ts)
            ) WITHOUT ROWID""",  # clustered by key: the window query reads each symbol's rows together
        ),
        postgres=(
            """CREATE TABLE funding_stream (
                venue TEXT NOT NULL,
                symbol TEXT NOT NULL,
                ts BIGINT NOT NULL,
                rate NUMERIC NOT NULL,
                rate_per_hour NUMERIC NOT NULL,
                interval_hours INTEGER NOT NULL,
                mark NUMERIC,
                next_funding_ts BIGINT
            )""",
            """CREATE TABLE funding_history (
                venue TEXT NOT NULL,
                symbol TEXT NOT NULL,
                funding_ts BIGINT NOT NULL,
                rate NUMERIC NOT NULL,
                rate_per_hour NUMERIC NOT NULL,
                interval_hours INTEGER NOT NULL,
                mark NUMERIC,
                source TEXT NOT NULL,
                PRIMARY KEY (venue, symbol, funding_ts)
            )""",
        ),
    ),
    Migration(
        2,
        "indexes for window queries, consolidation and pruning",
        # The stream is the write-heavy table: one index only, by time, for consolidate and prune
        # (a per-symbol index cost a third of SQLite's insert rate). History is read per symbol
        # through its primary key and per window through funding_ts.
        sqlite=(
            "CREATE INDEX funding_stream_ts ON funding_stream (ts)",
            "CREATE INDEX funding_history_ts ON funding_history (funding_ts)",
        ),
        postgres=(
            "CREATE INDEX funding_stream_ts ON funding_stream (ts)",
            "CREATE INDEX funding_history_ts ON funding_history (funding_ts)",
        ),
    ),
)

LATEST = MIGRATIONS[-1].version


def pending(current: int) -> list[Migration]:
    """Migrations newer than ``current``, in order."""
    return [m for m in MIGRATIONS if m.version > current]
