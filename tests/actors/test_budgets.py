"""Budgets shared per venue and node: many stream actors spend one venue's REST weight, new
connections and per-IP control frames from one bucket, never each their own."""

from __future__ import annotations

import asyncio
import time

import pytest
import ray

from perpwire.actors.budgets import PREFIX, SharedBucket, buckets_for, budget_for, end_budgets
from perpwire.actors.pacing import PACING_SHARE
from perpwire.venues import spec


def test_buckets_follow_the_venues_published_limits():
    for venue in ("binance", "kucoin", "lighter", "hyperliquid"):
        limits = spec(venue).limits
        b = buckets_for(venue)
        connect = b["connect"]
        # in any window the bucket grants at most its share of the published figure
        assert connect.burst + connect.rate * limits.connections_window_s <= limits.connections * PACING_SHARE + 1e-9
        assert ("control" in b) == (limits.control_scope == "ip")
        assert (b["rest"].rate, b["rest"].burst) == (spec(venue).rest.rate_per_s, spec(venue).rest.burst)


@ray.remote(num_cpus=0)
class Spender:
    """A stand-in for a stream actor: takes REST weight from the node's shared budget."""

    def __init__(self, venue: str, rest: tuple[float, float]):
        self.bucket = SharedBucket(venue, "rest", rest)

    async def spend(self, n: int, weight: float) -> list[float]:
        stamps = []
        for _ in range(n):
            await self.bucket.acquire(weight)
            stamps.append(time.time())
        return stamps


@pytest.mark.asyncio
async def test_four_actors_spend_one_shared_budget_not_four(ray_local):
    rest = (10.0, 10.0)  # 10 weight a second, 10 at once: for the whole node
    spenders = [Spender.remote("aster", rest) for _ in range(4)]
    try:
        t0 = time.time()
        stamps = sorted(s for got in await asyncio.gather(*(a.spend.remote(10, 1.0) for a in spenders))
                        for s in got)
        elapsed = stamps[-1] - t0
        # 40 weight through a 10-burst, 10/s bucket needs about 3 s; four private buckets would need none
        assert elapsed >= 2.5, elapsed
        for i, s in enumerate(stamps):  # never more than burst + rate x time granted by any moment
            assert i + 1 <= 10 + 10.0 * (s - t0) + 1.5, (i, s - t0)
        stats = await budget_for("aster", rest).stats.remote()
        assert stats["buckets"]["rest"]["taken"] >= 40
    finally:
        for a in spenders:
            ray.kill(a)
        assert end_budgets(ray.get_runtime_context().namespace) >= 1
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)]
    assert not any(n.startswith(PREFIX + "aster") for n in names)


@pytest.mark.asyncio
async def test_a_penalty_holds_off_every_actor_of_the_venue_and_a_dead_budget_falls_back(ray_local):
    rest = (100.0, 100.0)
    a, b = SharedBucket("binance", "rest", rest), SharedBucket("binance", "rest", rest)
    try:
        await a.acquire(1)
        a.penalize(1.5)  # a 429 seen by one actor ...
        await asyncio.sleep(0.2)
        t = time.monotonic()
        await b.acquire(1)  # ... holds off the other one too
        assert time.monotonic() - t >= 1.0
        dead = budget_for("binance", rest)
        ray.kill(dead, no_restart=True)
        c = SharedBucket("binance", "rest", rest, handle_factory=lambda venue, r: dead, timeout_s=5.0)
        for _ in range(3):  # the budget actor gone: the local bucket of the same size paces meanwhile
            await c.acquire(1)
        assert c.fallbacks == 3
        assert c._fallback.wait_time(100) > 0  # the fallback bucket was really spent from
    finally:
        end_budgets(ray.get_runtime_context().namespace)
