"""The store's Ray actor on the shared local Ray: record through the funding-sink call, read back."""

from __future__ import annotations

from decimal import Decimal

from actors.store.actor import StoreActor
from market.events import FundingRate

H = 3_600_000


async def test_store_actor_records_backfills_and_serves_window_stats(ray_local, tmp_path):
    actor = StoreActor.remote(f"sqlite:///{tmp_path}/actor.db", sample_ms=0, flush_every_s=3600)
    try:
        live = FundingRate(venue="aster", symbol="BTCUSDT", rate=Decimal("0.0001"), interval_hours=8,
                           rate_per_hour=Decimal("0.0000125"), next_funding_ts=8 * H, ts=1_000)
        await actor.on_funding.remote([live])
        assert (await actor.stats.remote())["pending"] == 1
        assert await actor.flush.remote() == 1
        settled = [FundingRate(venue="aster", symbol="BTCUSDT", rate=Decimal(r), interval_hours=8,
                               rate_per_hour=Decimal(r) / 8, ts=i * 8 * H, settled=True)
                   for i, r in enumerate(["0.0001", "0.0003"], start=1)]
        assert await actor.backfill.remote(settled) == 2
        [w] = await actor.window_stats.remote(days=1, until_ms=3 * 8 * H)
        assert (w.venue, w.symbol, w.count) == ("aster", "BTCUSDT", 2)
        assert abs(w.mean - 0.000025) < 1e-15
        history = await actor.history.remote("aster", "BTCUSDT")
        assert [h.rate for h in history] == [Decimal("0.0001"), Decimal("0.0003")]
    finally:
        await actor.stop.remote()
