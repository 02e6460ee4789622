"""The coordinator actor on the suite's Ray: what it ranks, and what it says while it holds."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from perpwire.actors.app.config import DeploymentWiring
from perpwire.actors.coordination.coordinator import Coordinator
from perpwire.market.events import FundingRate


def _rate(venue: str, symbol: str, rate: str) -> FundingRate:
    return FundingRate(venue=venue, symbol=symbol, rate=Decimal(rate), interval_hours=8,
                       rate_per_hour=Decimal(rate) / 8, mark_price=None, index_price=None, next_funding_ts=None,
                       ts=int(time.time() * 1000))


async def test_only_configured_symbols_are_ranked_from_whole_venue_feeds(ray_local):
    wiring = DeploymentWiring(symbols={"binance": ["BTCUSDT"], "bybit": ["BTCUSDT"]})
    coordinator = Coordinator.remote({"deployment": wiring.model_dump(mode="json")})
    try:
        deadline = time.monotonic() + 20
        while not await coordinator.attached.remote():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        # !markPrice@arr carries every symbol of the venue; SOL was never configured
        await coordinator.on_funding.remote([_rate("binance", "BTCUSDT", "0.0001"),
                                             _rate("binance", "SOLUSDT", "0.0009")])
        await coordinator.on_funding.remote([_rate("bybit", "BTCUSDT", "0.0003")])
        assert await coordinator.rate_seen.remote("binance", "BTCUSDT") is not None
        assert await coordinator.rate_seen.remote("binance", "SOLUSDT") is None
        assert (await coordinator.summary.remote())["rates_ingested"] == 2
    finally:
        import ray

        ray.kill(coordinator)
