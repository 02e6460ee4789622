"""Funding statistics, scanner and store figures, as JSON lines.

Run: ``python bench/funding.py [--rows N] [--pg DSN | --no-pg]``. Lines:

- ``zscore_update``: ``FundingStats.update`` per incoming rate over 1,260 loaded contracts (µs;
  target < 10);
- ``scanner_rescan`` (ms; target < 5) and ``scanner_update`` (µs) over the same contracts;
- ``stats_memory``: bytes held by ``FundingStats`` for 1,260 contracts with windows and a rate
  each (tracemalloc, after dropping the events);
- ``store_stream`` / ``store_backfill`` / ``store_window``: rows/s of buffered stream writes and
  of history upserts, and the 30-day window query over 1,260 contracts of 8-hourly history, per
  backend (PostgreSQL in a throw-away schema; skipped with a line saying why if none answers).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import tempfile
import time
import tracemalloc
import uuid
from decimal import Decimal
from pathlib import Path

from harness import emit

from perpwire.actors.store import SqliteStore
from perpwire.market.events import FundingRate
from perpwire.market.stats import FundingStats, WindowStats
from perpwire.strategies.scanner import FundingScanner

CONTRACTS = 1_260
VENUES = ("aster", "backpack", "binance", "bybit", "hyperliquid", "kucoin", "lighter")
H = 3_600_000
DAY = 24 * H
PG_DSNS = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://root@127.0.0.1:5432/test")


def _keys() -> list[tuple[str, str]]:
    per_venue = CONTRACTS // len(VENUES)
    return [(v, f"A{i:03d}USDT") for v in VENUES for i in range(per_venue)]


def _rate(venue: str, symbol: str, rng: random.Random, ts: int, settled: bool = False) -> FundingRate:
    rph = Decimal(rng.randint(-400, 800)) / Decimal(10**7)
    return FundingRate(venue=venue, symbol=symbol, rate=rph * 8, interval_hours=8, rate_per_hour=rph,
                       mark_price=Decimal("101.25"), next_funding_ts=(ts // (8 * H) + 1) * 8 * H, ts=ts,
                       settled=settled)


def _windows(keys) -> list[WindowStats]:
    return [WindowStats(venue=v, symbol=s, count=90, mean=2e-5, std=1.5e-5, since_ms=0, until_ms=30 * DAY)
            for v, s in keys]


def bench_stats_and_scanner() -> None:
    rng = random.Random(7)
    keys = _keys()
    rounds = 40
    events = [[_rate(v, s, rng, 1_000 + r * 1_000) for v, s in keys] for r in range(rounds + 1)]
    best = float("inf")
    for _ in range(3):
        stats = FundingStats()
        stats.load(_windows(keys))
        for ev in events[0]:
            stats.update(ev)
        update = stats.update
        start = time.perf_counter()
        for batch in events[1:]:
            for ev in batch:
                update(ev)
        best = min(best, (time.perf_counter() - start) / (rounds * len(keys)))
    emit(bench="funding", what="zscore_update", contracts=len(keys), us_per_update=round(best * 1e6, 3),
         target_us=10, meets_target=best * 1e6 < 10)

    scanner = FundingScanner({v: Decimal("0.0005") for v in VENUES}, holding_hours=24)
    times = []
    for _ in range(30):
        start = time.perf_counter()
        ranked = scanner.rescan(stats)
        times.append(time.perf_counter() - start)
    ms = min(times) * 1e3
    emit(bench="funding", what="scanner_rescan", contracts=len(keys), assets=len(ranked), ms=round(ms, 3),
         median_ms=round(sorted(times)[len(times) // 2] * 1e3, 3), target_ms=5, meets_target=ms < 5)

    quotes = list(stats)
    start = time.perf_counter()
    for q in quotes * 10:
        scanner.update(q)
    us = (time.perf_counter() - start) / (len(quotes) * 10) * 1e6
    emit(bench="funding", what="scanner_update", us_per_update=round(us, 3))


def bench_memory() -> None:
    keys = _keys()
    rng = random.Random(11)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    stats = FundingStats()
    stats.load(_windows(keys))
    events = [_rate(v, s, rng, 1_000) for v, s in keys]
    for ev in events:
        stats.update(ev)
    del events, ev
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    emit(bench="funding", what="stats_memory", contracts=len(stats), bytes=held,
         bytes_per_contract=round(held / len(stats)))


async def _bench_store(name: str, store, rows: int) -> None:
    rng = random.Random(3)
    keys = _keys()
    stream = [_rate(*keys[i % len(keys)], rng, 1_000 + i) for i in range(rows)]
    await store.open()
    try:
        start = time.perf_counter()
        await store.record(stream)
        await store.flush()
        elapsed = time.perf_counter() - start
        emit(bench="funding", what="store_stream", backend=name, rows=rows, batch=store.batch_size,
             rows_per_s=round(rows / elapsed))

        # one symbol after another, as the venues' history endpoints page them
        history = [_rate(v, s, rng, t * 8 * H, settled=True) for v, s in keys for t in range(1, 91)]
        start = time.perf_counter()
        await store.backfill(history)
        elapsed = time.perf_counter() - start
        emit(bench="funding", what="store_backfill", backend=name, rows=len(history),
             rows_per_s=round(len(history) / elapsed))

        start = time.perf_counter()
        windows = await store.window_stats(0, 91 * 8 * H)
        emit(bench="funding", what="store_window", backend=name, history_rows=len(history), contracts=len(windows),
             ms=round((time.perf_counter() - start) * 1e3, 1))
    finally:
        await store.close()


async def _pg_dsn(explicit: str | None) -> str | None:
    import asyncpg

    for dsn in (explicit,) if explicit else PG_DSNS:
        try:
            conn = await asyncpg.connect(dsn, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            continue
        await conn.close()
        return dsn
    return None


async def bench_store(rows: int, pg: str | None, use_pg: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await _bench_store("sqlite", SqliteStore(Path(tmp) / "bench.db", batch_size=1000, sample_ms=0), rows)
    if not use_pg:
        return
    dsn = await _pg_dsn(pg)
    if dsn is None:
        emit(bench="funding", what="store_stream", backend="postgres", skipped="no PostgreSQL answered")
        return
    import asyncpg

    from perpwire.actors.store.postgres import PostgresStore

    schema = f"perpwire_bench_{uuid.uuid4().hex[:8]}"
    try:
        await _bench_store("postgres", PostgresStore(dsn, schema=schema, batch_size=1000, sample_ms=0), rows)
    finally:
        conn = await asyncpg.connect(dsn)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="stream rows written per backend")
    parser.add_argument("--pg", help="PostgreSQL URL (default: postgres or root at 127.0.0.1:5432/test)")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    bench_stats_and_scanner()
    bench_memory()
    asyncio.run(bench_store(args.rows, args.pg, not args.no_pg))


if __name__ == "__main__":
    main()
