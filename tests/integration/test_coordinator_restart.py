"""A coordinator killed and restarted by Ray is attached again by the runtime and carries on with
the open positions the store holds (and not the closed ones)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ray

from actors.app import parse_config
from actors.coordinator import Coordinator
from actors.runtime import Runtime
from actors.store.actor import StoreActor
from market.ledger import Ledger, LegState


def _leg(venue: str, symbol: str, price: str) -> LegState:
    return LegState(venue=venue, symbol=symbol, qty=Decimal("0.5"), entry_price=Decimal(price))


async def _wait_restarted(handle, timeout_s: float = 30.0) -> None:
    """``ray.kill`` returns before the actor dies: wait until the new instance answers (calls fail
    while Ray brings it back; the old one would still say it is attached)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            if not await handle.attached.remote():
                return
        except ray.exceptions.RayActorError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the coordinator did not come back empty after ray.kill")
        await asyncio.sleep(0.1)


async def test_runtime_reattaches_a_restarted_coordinator_which_restores_open_positions(ray_local, tmp_path):
    store = StoreActor.remote(f"sqlite:///{tmp_path}/restart.db", flush_every_s=3600)
    coordinator = Coordinator.options(max_restarts=1).remote({})
    try:
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

        runtime = Runtime(parse_config({"venues": {"aster": {"symbols": ["BTCUSDT"]}}}))
        runtime.coordinator = coordinator
        runtime._attach_args = ({}, {}, {}, None, store)
        assert await runtime.ensure_attached()  # a fresh actor is not attached yet
        assert not await runtime.ensure_attached()  # and now it is: nothing to do
        [before] = await coordinator.positions.remote()
        assert (before["id"], before["open"]) == (kept.id, True)

        ray.kill(coordinator, no_restart=False)  # Ray brings it back with its constructor only
        await _wait_restarted(coordinator)
        assert await runtime.ensure_attached()
        [after] = await coordinator.positions.remote()
        assert after == before  # the open pair, figures exact; the closed one stays in the store
        assert await coordinator.attached.remote()
    finally:
        ray.kill(coordinator)
        await store.stop.remote()
