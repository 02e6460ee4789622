"""REST repair of funding against the simulator: backfill of silent symbols, reconciliation."""

from __future__ import annotations

from decimal import Decimal

from perpwire.actors.coordination.repair import FundingRepair
from perpwire.market.events import FundingRate
from perpwire.simulator.server import Simulator
from perpwire.strategies.desk import FundingDesk

VENUES = ("aster", "backpack")


def _desk():
    return FundingDesk(taker_fees={"aster": Decimal("0.0004"), "backpack": Decimal("0.0004")})


async def test_backfill_refreshes_silent_symbols_and_reconcile_counts_disagreements():
    async with Simulator(seed=4, venues=VENUES, history_days=1) as sim:
        opts = {v: {"ws_url": sim.urls[v]["ws"], "rest_url": sim.urls[v]["rest"]} for v in VENUES}
        desk = _desk()
        repair = FundingRepair(desk, opts)
        try:
            assert await repair.backfill([("aster", "BTCUSDT"), ("backpack", "ETH_USDC_PERP")]) == 2
            fresh = desk.latest[("aster", "BTCUSDT")]
            assert fresh.rate_per_hour == fresh.rate / fresh.interval_hours
            assert ("aster", "ETHUSDT") not in desk.latest  # only what was asked for
            assert await repair.reconcile() == 0  # the streamed (here: backfilled) rates agree
            wrong = FundingRate(venue="aster", symbol="BTCUSDT", rate=Decimal("0.01"), interval_hours=8,
                                rate_per_hour=Decimal("0.00125"), ts=fresh.ts + 1)
            desk.ingest([wrong], fresh.ts + 2)
            assert await repair.reconcile() == 1
            assert ("aster", "BTCUSDT") in repair.disagreements
            assert repair.counters["disagreements"] == 1 and repair.counters["gap_backfills"] == 2
        finally:
            await repair.close()
