"""A coordinator killed and restarted by Ray attaches itself again, with no call from anyone: it
finds its store by name, carries on with the open positions the store holds (and not the closed
ones), reloads its 30-day statistics and restarts the strategies that were running."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import ray

from perpwire.actors.coordination.coordinator import Coordinator, DeploymentWiring
from perpwire.actors.store.actor import StoreActor
from perpwire.market.events import FundingRate
from perpwire.market.ledger import Ledger, LegState


def _leg(venue: str, symbol: str, price: str) -> LegState:
    return LegState(venue=venue, symbol=symbol, qty=Decimal("0.5"), entry_price=Decimal(price))


async def _until_attached_again(handle, since_ms: int, timeout_s: float = 30.0) -> dict:
    """Wait until a coordinator instance started after ``since_ms`` reports that it attached.
    Only a query is made (``summary``), never a command: it wired itself."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            summary = await handle.summary.remote()
            if summary["started_at_ms"] > since_ms and summary["attached"]:
                return summary
        except ray.exceptions.RayActorError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the coordinator did not come back after ray.kill")
        await asyncio.sleep(0.05)


def _rate(ts: int, rate: str) -> FundingRate:
    return FundingRate(venue="aster", symbol="BTCUSDT", rate=Decimal(rate), interval_hours=8,
                       rate_per_hour=Decimal(rate) / 8, mark_price=None, index_price=None, next_funding_ts=None, ts=ts,
                       settled=True)


async def test_a_killed_coordinator_attaches_itself_and_restores_positions_stats_and_strategies(ray_local, tmp_path):
    store = StoreActor.options(name="restart-test-store").remote(f"sqlite:///{tmp_path}/restart.db",
                                                                 flush_every_s=3600)
    # what an earlier life of the coordinator left in the store: one open and one closed pair
    ledger = Ledger(track_changes=True)
    kept = ledger.open(asset="BTC", long=_leg("aster", "BTCUSDT", "100000"),
                       short=_leg("backpack", "BTC_USDC_PERP", "100050"), opened_ms=1,
                       entry_spread_per_hour=Decimal("0.00002"), fees=Decimal("0.70"))
    gone = ledger.open(asset="ETH", long=_leg("aster", "ETHUSDT", "3000"),
                       short=_leg("backpack", "ETH_USDC_PERP", "3001"), opened_ms=2,
                       entry_spread_per_hour=Decimal("0.00001"), fees=Decimal("0.10"))
    ledger.close(gone.id, long_exit=Decimal("3002"), short_exit=Decimal("3001"), fees=Decimal("0.10"),
                 closed_ms=3, reason="converged")
    await store.save_ledger.remote(ledger.take_changes())
    now = int(time.time() * 1000)
    await store.backfill.remote([_rate(now - i * 8 * 3_600_000, f"0.000{i % 9 + 1}") for i in range(1, 40)])

    wiring = DeploymentWiring(store="restart-test-store",
                              strategy={"name": "funding_arb", "params": {"entry_z": 3.0}})
    coordinator = Coordinator.options(max_restarts=2).remote({"deployment": wiring.model_dump(mode="json")})
    try:
        first = await _until_attached_again(coordinator, 0)
        assert first["attached"] and first["stats_loaded"]
        [before] = await coordinator.positions.remote()
        assert (before["id"], before["open"]) == (kept.id, True)
        sid = await coordinator.submit.remote("funding_arb", {"entry_z": 2.5})  # a second one, by hand
        assert [s["id"] for s in await coordinator.strategies.remote()] == ["funding_arb-1", sid]
        await coordinator.stop_strategy.remote("funding_arb-1")  # stopped strategies stay stopped

        killed_at = int(time.time() * 1000)
        ray.kill(coordinator, no_restart=False)  # Ray brings it back with its constructor arguments only
        after_restart = await _until_attached_again(coordinator, killed_at)
        assert after_restart["attached"] and after_restart["stats_loaded"]
        assert after_restart["stats_windows"] == first["stats_windows"] == 1  # the 30-day statistics are back
        [after] = await coordinator.positions.remote()
        assert after == before  # the open pair, figures exact; the closed one stays in the store
        strategies = await coordinator.strategies.remote()
        assert [(s["id"], s["running"]) for s in strategies] == [(sid, True)]
        await asyncio.sleep(2.5)  # a few decision rounds: the restored pair is on venues this coordinator lacks
        [after_rounds] = await coordinator.strategies.remote()
        assert after_rounds["running"] and after_rounds["decisions"] >= 1 and after_rounds["errors"] == 0
        assert await coordinator.submit.remote("funding_arb", {}) == "funding_arb-3"  # ids never reused
    finally:
        ray.kill(coordinator)
        await store.stop.remote()
        ray.kill(store)
