"""The funding store on both backends: migrations, batched writes, backfill, consolidation, windows."""

from __future__ import annotations

import statistics
from decimal import Decimal
from pathlib import Path

import pytest

from perpwire import venues
from perpwire.actors.store import SqliteStore, store_from_url
from perpwire.actors.store.migrations import LATEST
from perpwire.market.events import FundingRate
from perpwire.market.stats import FundingStats

D = Decimal
H = 3_600_000
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _live(ts: int, rate: str = "0.00010000", symbol: str = "BTCUSDT", nft: int | None = 8 * H, venue="binance",
          mark: str | None = "64000.10"):
    r = D(rate)
    return FundingRate(venue=venue, symbol=symbol, rate=r, interval_hours=8, rate_per_hour=r / 8,
                       mark_price=None if mark is None else D(mark), next_funding_ts=nft, ts=ts)


def _settled(ts: int, rph: str, symbol: str = "BTC", venue: str = "hyperliquid"):
    return FundingRate(venue=venue, symbol=symbol, rate=D(rph), interval_hours=1, rate_per_hour=D(rph), ts=ts,
                       settled=True)


async def test_open_fresh_database_applies_every_migration_once(make_store):
    first = make_store()
    await first.open()
    assert await first.schema_version() == LATEST
    await first.close()
    again = make_store()
    await again.open()  # a second open finds the tables and applies nothing
    assert await again.schema_version() == LATEST
    await again.close()


async def test_record_writes_full_batches_and_keeps_exact_text(store):
    kept = await store.record([_live(1_000 + i, rate=f"0.0001000{i}") for i in range(5)])
    assert kept == 5
    assert store.counters["written"] == 3 and store.pending == 2
    rows = await store.stream("binance", "BTCUSDT")
    assert [r.ts for r in rows] == [1_000, 1_001, 1_002, 1_003, 1_004]
    assert str(rows[4].rate) == "0.00010004" and rows[4].rate_per_hour == D("0.00010004") / 8
    assert rows[0].mark_price == D("64000.10") and rows[0].next_funding_ts == 8 * H
    assert rows[0].interval_hours == 8 and not rows[0].settled


async def test_close_flushes_so_nothing_is_lost(make_store):
    writer = make_store(batch_size=100, sample_ms=0)
    await writer.open()
    await writer.record([_live(1_000), _live(2_000, mark=None, nft=None)])
    await writer.close()
    reader = make_store()
    await reader.open()
    rows = await reader.stream("binance", "BTCUSDT")
    assert [(r.ts, r.mark_price, r.next_funding_ts) for r in rows] == [
        (1_000, D("64000.10"), 8 * H), (2_000, None, None)]


async def test_crash_loses_at_most_the_unwritten_batch(make_store):
    writer = make_store(batch_size=10, sample_ms=0)
    await writer.open()
    await writer.record([_live(1_000 + i) for i in range(25)])
    await writer._disconnect()  # the process dies: no flush
    reader = make_store()
    await reader.open()
    assert len(await reader.stream("binance", "BTCUSDT")) == 20


async def test_record_samples_one_row_per_window_unless_funding_time_moves(make_store):
    s = make_store(sample_ms=60_000)
    await s.open()
    await s.record([_live(0 + 1), _live(30_000), _live(60_001), _live(70_000, nft=16 * H), _live(80_000, nft=16 * H)])
    rows = await s.stream("binance", "BTCUSDT")
    assert [r.ts for r in rows] == [1, 60_001, 70_000]
    assert s.counters["sampled_out"] == 2


async def test_record_without_exchange_time_uses_receive_time_or_is_counted(store):
    assert await store.record([_live(0)], now_ms=5_000) == 1
    assert await store.record([_live(0)]) == 0
    assert store.counters["untimed"] == 1
    assert [r.ts for r in await store.stream("binance", "BTCUSDT")] == [5_000]


async def test_backfill_rejects_current_estimates(store):
    with pytest.raises(ValueError):
        await store.backfill([_live(1_000)])


async def test_backfill_venue_history_fixture_seeds_window_stats(store):
    codec = venues.codec("hyperliquid")
    rates = codec.decode_funding_history((FIXTURES / "hyperliquid" / "rest_fundingHistory.json").read_bytes())
    assert await store.backfill(rates) == 3
    assert await store.backfill(rates) == 3  # idempotent: unique on venue, symbol, funding ts
    [w] = await store.window_stats(0, 2**62)
    per_hour = [float(r.rate_per_hour) for r in rates]
    assert (w.venue, w.symbol, w.count) == ("hyperliquid", "BTC", 3)
    assert w.mean == pytest.approx(statistics.mean(per_hour), rel=1e-12)
    assert w.std == pytest.approx(statistics.stdev(per_hour), rel=1e-9)
    history = await store.history("hyperliquid", "BTC")
    assert [h.rate_per_hour for h in history] == [r.rate_per_hour for r in rates]
    assert [h.ts for h in history] == [r.ts for r in rates] and all(h.settled for h in history)


async def test_window_stats_respects_window_and_single_rate_has_no_std(store):
    await store.backfill([_settled(1 * H, "0.00001"), _settled(2 * H, "0.00003"), _settled(3 * H, "0.00099"),
                          _settled(2 * H, "0.00005", symbol="ETH")])
    stats = {w.symbol: w for w in await store.window_stats(1 * H, 3 * H)}
    assert stats["BTC"].count == 2 and stats["BTC"].mean == pytest.approx(2e-5)
    assert stats["BTC"].std == pytest.approx(statistics.stdev([1e-5, 3e-5]))
    assert stats["ETH"].count == 1 and stats["ETH"].std is None
    assert stats["BTC"].since_ms == 1 * H and stats["BTC"].until_ms == 3 * H


async def test_window_stats_constant_rate_has_exactly_zero_std(store):
    await store.backfill([_settled(i * H, "0.0000033") for i in range(1, 721)])
    [w] = await store.window_stats(0, 1_000 * H)
    assert (w.count, w.std) == (720, 0.0) and w.mean == pytest.approx(3.3e-6, rel=1e-12)


async def test_backfill_repeated_key_in_one_list_keeps_one_row(store):
    assert await store.backfill([_settled(1 * H, "0.00001"), _settled(1 * H, "0.00001")]) == 2
    assert [h.ts for h in await store.history("hyperliquid", "BTC")] == [1 * H]


async def test_window_stats_seed_funding_stats_z_scores(store):
    await store.backfill([_settled(i * H, rph) for i, rph in enumerate(["0.00001", "0.00003"] * 6, start=1)])
    stats = FundingStats(min_samples=10)
    assert stats.load(await store.window_stats(0, 100 * H)) == 1
    stats.update(FundingRate(venue="hyperliquid", symbol="BTC", rate=D("0.00005"), interval_hours=1,
                             rate_per_hour=D("0.00005"), ts=1))
    std = statistics.stdev([1e-5, 3e-5] * 6)
    assert stats.get("hyperliquid", "BTC").z == pytest.approx((5e-5 - 2e-5) / std)


async def test_consolidate_settles_last_estimate_before_funding_time(store):
    await store.record([_live(1 * H, "0.00010"), _live(7 * H, "0.00020"), _live(8 * H - 1, "0.00030"),
                        _live(8 * H + 5, "0.00040", nft=16 * H)])
    assert await store.consolidate(now_ms=9 * H) == 1  # the 16 h interval is still open
    [h] = await store.history("binance", "BTCUSDT")
    assert (h.ts, h.rate, h.rate_per_hour, h.interval_hours) == (8 * H, D("0.00030"), D("0.0000375"), 8)
    assert await store.consolidate(now_ms=9 * H) == 0  # idempotent
    assert await store.consolidate(now_ms=16 * H) == 1
    assert [h.ts for h in await store.history("binance", "BTCUSDT")] == [8 * H, 16 * H]


async def test_consolidate_without_next_funding_time_uses_interval_end(store):
    await store.record([_live(9 * H, "0.0001", nft=None), _live(15 * H, "0.0002", nft=None)])
    assert await store.consolidate(now_ms=17 * H) == 1
    [h] = await store.history("binance", "BTCUSDT")
    assert (h.ts, h.rate) == (16 * H, D("0.0002"))


async def test_venue_history_replaces_consolidated_estimate_and_is_never_replaced(store):
    await store.record([_live(7 * H, "0.00030")])
    await store.consolidate(now_ms=9 * H)
    await store.backfill([FundingRate(venue="binance", symbol="BTCUSDT", rate=D("0.00025"), interval_hours=8,
                                      rate_per_hour=D("0.00003125"), ts=8 * H, settled=True)])
    await store.record([_live(7 * H + 1, "0.00099")])
    await store.consolidate(now_ms=9 * H)
    [h] = await store.history("binance", "BTCUSDT")
    assert h.rate == D("0.00025")


async def test_prune_and_maintain_trim_the_stream_after_consolidating(make_store):
    s = make_store(sample_ms=0, stream_retention_ms=24 * H, consolidate_lookback_ms=48 * H)
    await s.open()
    await s.record([_live(1 * H, "0.0001"), _live(30 * H, "0.0002", nft=32 * H)])
    done = await s.maintain(now_ms=33 * H)
    assert done == {"written": 2, "consolidated": 2, "pruned": 1}
    assert [r.ts for r in await s.stream("binance", "BTCUSDT")] == [30 * H]
    assert [h.ts for h in await s.history("binance", "BTCUSDT")] == [8 * H, 32 * H]
    assert await s.prune(31 * H) == 1


async def test_sqlite_failed_write_keeps_rows_for_the_next_flush(tmp_path):
    class FlakySqlite(SqliteStore):
        fail = True

        async def _insert_stream(self, rows):
            if self.fail:
                raise OSError("disk went away")
            await super()._insert_stream(rows)

    s = FlakySqlite(tmp_path / "f.db", batch_size=2, sample_ms=0, max_pending=3)
    await s.open()
    with pytest.raises(OSError):
        await s.record([_live(1), _live(2)])
    assert s.pending == 2
    with pytest.raises(OSError):
        await s.record([_live(3), _live(4)])
    assert s.pending == 3 and s.counters["dropped"] == 1
    s.fail = False
    assert await s.flush() == 3
    assert [r.ts for r in await s.stream("binance", "BTCUSDT")] == [2, 3, 4]
    await s.close()


def test_store_from_url_picks_backend_and_hides_url_in_errors(tmp_path):
    assert isinstance(store_from_url(None, path=tmp_path / "a.db"), SqliteStore)
    s = store_from_url(f"sqlite:///{tmp_path}/b.db")
    assert isinstance(s, SqliteStore) and s.path == f"{tmp_path}/b.db"
    pg = store_from_url("postgresql://user:secret@127.0.0.1/db", schema="x")
    assert pg.backend == "postgres" and "secret" not in repr(pg)
    with pytest.raises(ValueError) as err:
        store_from_url("mysql://user:secret@host/db")
    assert "secret" not in str(err.value)
