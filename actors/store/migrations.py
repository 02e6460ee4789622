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
- ``ledger_positions``: the position ledger's current state, one row per hedged pair with both
  legs, upserted with every saved change; ``last_seq`` is the newest journal event it includes.
- ``ledger_journal``: the ledger's events, append-only, keyed by the ledger's own ``seq`` (so a
  retried save inserts nothing twice): ``kind`` (open, fees, funding, mark, close) and ``body``,
  the event as JSON with every Decimal as its exact string. Replaying a position's events in
  ``seq`` order rebuilds its row exactly (marks are coalesced, so only the newest per save is
  there). Ledger figures are ``TEXT`` in both backends: they come back as the very Decimals
  that went in (``NUMERIC`` would keep the value but not always the exponent), and nothing
  aggregates them in SQL.
- ``ledger_intents``: every open, close and repair, written before its first order is sent and
  updated as its orders return; ``state = 'open'`` rows are what a restart reconciles with the
  venues. Saved with the ledger change that completes it, in one transaction.
- ``paper_fills``: the paper broker's fills by client order id — the paper "venue"'s own record,
  so that reconciliation can read what paper orders did after a crash.

Migrations from 4 on write their DDL once (``_both``) with the type names that differ filled in.
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
    Migration(
        3,
        "position ledger: positions and the journal of their events",
        sqlite=(
            """CREATE TABLE ledger_positions (
                id TEXT PRIMARY KEY,              -- the ledger's "PN"
                asset TEXT NOT NULL,
                opened_ms INTEGER NOT NULL,
                entry_spread_per_hour TEXT NOT NULL,
                entered_on_z INTEGER NOT NULL,
                fees TEXT NOT NULL,               -- exact Decimal text, as every figure here
                funding TEXT NOT NULL,
                payments INTEGER NOT NULL,
                closed_ms INTEGER,                -- NULL while open
                close_reason TEXT,
                long_venue TEXT NOT NULL,
                long_symbol TEXT NOT NULL,
                long_qty TEXT NOT NULL,
                long_entry_price TEXT NOT NULL,
                long_mark_price TEXT,
                long_exit_price TEXT,
                short_venue TEXT NOT NULL,
                short_symbol TEXT NOT NULL,
                short_qty TEXT NOT NULL,
                short_entry_price TEXT NOT NULL,
                short_mark_price TEXT,
                short_exit_price TEXT,
                last_seq INTEGER NOT NULL,        -- newest journal event this row includes
                updated_ms INTEGER
            )""",
            """CREATE TABLE ledger_journal (
                seq INTEGER PRIMARY KEY,          -- the ledger's change number
                position_id TEXT NOT NULL,
                kind TEXT NOT NULL,               -- open, fees, funding, mark, close
                recorded_ms INTEGER,              -- when the store received it
                body TEXT NOT NULL                -- the event as JSON, Decimals as exact strings
            )""",
            "CREATE INDEX ledger_journal_position ON ledger_journal (position_id, seq)",
            "CREATE INDEX ledger_positions_open ON ledger_positions (opened_ms) WHERE closed_ms IS NULL",
        ),
        postgres=(
            """CREATE TABLE ledger_positions (
                id TEXT PRIMARY KEY,              -- the ledger's "PN"
                asset TEXT NOT NULL,
                opened_ms BIGINT NOT NULL,
                entry_spread_per_hour TEXT NOT NULL,
                entered_on_z BOOLEAN NOT NULL,
                fees TEXT NOT NULL,               -- exact Decimal text, as every figure here
                funding TEXT NOT NULL,
                payments INTEGER NOT NULL,
                closed_ms BIGINT,                 -- NULL while open
                close_reason TEXT,
                long_venue TEXT NOT NULL,
                long_symbol TEXT NOT NULL,
                long_qty TEXT NOT NULL,
                long_entry_price TEXT NOT NULL,
                long_mark_price TEXT,
                long_exit_price TEXT,
                short_venue TEXT NOT NULL,
                short_symbol TEXT NOT NULL,
                short_qty TEXT NOT NULL,
                short_entry_price TEXT NOT NULL,
                short_mark_price TEXT,
                short_exit_price TEXT,
                last_seq BIGINT NOT NULL,         -- newest journal event this row includes
                updated_ms BIGINT
            )""",
            """CREATE TABLE ledger_journal (
                seq BIGINT PRIMARY KEY,           -- the ledger's change number
                position_id TEXT NOT NULL,
                kind TEXT NOT NULL,               -- open, fees, funding, mark, close
                recorded_ms BIGINT,               -- when the store received it
                body TEXT NOT NULL                -- the event as JSON, Decimals as exact strings
            )""",
            "CREATE INDEX ledger_journal_position ON ledger_journal (position_id, seq)",
            "CREATE INDEX ledger_positions_open ON ledger_positions (opened_ms) WHERE closed_ms IS NULL",
        ),
    ),
)


def _both(*statements: str) -> dict[str, tuple[str, ...]]:
    """One DDL text for both backends: ``{INT64}`` and ``{BOOL}`` become each one's type name
    (everything else is the same SQL; figures are TEXT in both, as in the ledger)."""
    types = {"sqlite": {"INT64": "INTEGER", "BOOL": "INTEGER"}, "postgres": {"INT64": "BIGINT", "BOOL": "BOOLEAN"}}
    return {dialect: tuple(s.format(**names) for s in statements) for dialect, names in types.items()}


_INTENTS = _both(
    """CREATE TABLE ledger_intents (
        id TEXT PRIMARY KEY,                  -- the intent's id; its orders' client ids derive from it
        action TEXT NOT NULL,                 -- open, close, repair
        state TEXT NOT NULL,                  -- open until completed: done, aborted, failed
        asset TEXT NOT NULL,
        position_id TEXT,
        created_ms {INT64} NOT NULL,
        updated_ms {INT64},
        rev {INT64} NOT NULL,                 -- bumped on every save: an older copy never wins
        body TEXT NOT NULL                    -- the intent as JSON with its orders, Decimals as exact strings
    )""",
    "CREATE INDEX ledger_intents_open ON ledger_intents (created_ms) WHERE state = 'open'",
    """CREATE TABLE paper_fills (
        client_id TEXT PRIMARY KEY,           -- one paper order per client id, ever
        venue TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,                   -- buy, sell
        status TEXT NOT NULL,
        requested TEXT NOT NULL,
        filled TEXT NOT NULL,
        avg_price TEXT,
        fee TEXT NOT NULL,
        reduce_only {BOOL} NOT NULL,
        recorded_ms {INT64}
    )""",
    "CREATE INDEX paper_fills_market ON paper_fills (venue, symbol)",
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(4, "intents journaled before their orders leave; paper fills kept as the paper venue's record",
              sqlite=_INTENTS["sqlite"], postgres=_INTENTS["postgres"]),
)

LATEST = MIGRATIONS[-1].version


def pending(current: int) -> list[Migration]:
    """Migrations newer than ``current``, in order."""
    return [m for m in MIGRATIONS if m.version > current]
