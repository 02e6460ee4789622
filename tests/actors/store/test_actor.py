"""The store's Ray actor on the shared local Ray: record through the funding-sink call, read back."""

from __future__ import annotations

from decimal import Decimal

from perpwire.actors.store.actor import StoreActor
from perpwire.market.events import FundingRate

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


async def test_store_actor_saves_and_loads_the_ledger_across_ray(ray_local, tmp_path):
    from perpwire.market.ledger import Ledger, LegState

    actor = StoreActor.remote(f"sqlite:///{tmp_path}/ledger.db", flush_every_s=3600)
    try:
        ledger = Ledger(track_changes=True)
        pos = ledger.open(asset="BTC", opened_ms=1, entry_spread_per_hour=Decimal("0.00002"), fees=Decimal("0.70"),
                          long=LegState(venue="aster", symbol="BTCUSDT", qty=Decimal("0.010"),
                                        entry_price=Decimal("64000.50")),
                          short=LegState(venue="lighter", symbol="1", qty=Decimal("0.010"),
                                         entry_price=Decimal("64020")))
        ledger.settle_funding("aster", "BTCUSDT", Decimal("0.0001"), Decimal("64010"))
        assert await actor.save_ledger.remote(ledger.take_changes()) == 2
        state = await actor.load_ledger.remote(True)
        assert (state.last_seq, state.last_id) == (2, 1)
        [saved] = state.positions
        assert saved == pos and str(saved.funding) == str(pos.funding)
        assert [e.seq for e in await actor.ledger_journal.remote("P1")] == [1, 2]
    finally:
        await actor.stop.remote()
