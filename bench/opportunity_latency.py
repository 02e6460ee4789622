"""Update-to-opportunity latency through the actors, against the simulator in real time.

Run: ``python bench/opportunity_latency.py [--shocks N] [--push-interval S ...]``. Starts the
simulator (speed 1, so venue timestamps are wall-clock times) and the whole deployment on local
Ray as ``perpwire demo`` does (seven venues' stream actors, the coordinator, the store), then
shocks one venue's funding rate at a time, alternating far above and back to normal, over a
rotation of venues. For each shock the coordinator's own stamp of when it ranked the new rate
gives (JSON lines, never asserted):

- ``event_to_ranked``: venue event time of the frame carrying the new rate -> ranked in the
  coordinator (decode, conflation, the Ray call, statistics and ranking). The simulator's market
  clock moves in 50 ms ticks at the end of each, so venue times run up to one tick behind the
  wall, never ahead: the figure may include up to 50 ms that belong to the simulator.
- ``shock_to_ranked``: the change inside the simulated venue -> ranked; adds the venue's own
  publishing cadence (1-3 s funding streams), which no client can shorten.
- ``coordinator``: the coordinator's running figure over every rate it handled at once.

Each run repeats for every ``--push-interval`` (the feed actors' conflation window) to show its
share. The driver polls the coordinator every 10 ms, but the times come from the coordinator's
stamp, so polling adds nothing to them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
import time
from decimal import Decimal

from harness import emit

from perpwire.actors.app.demo import demo_config
from perpwire.actors.app.runtime import Runtime
from perpwire.actors.pacing import now_ms
from perpwire.simulator.catalog import instruments
from perpwire.simulator.server import Simulator

# venue -> asset shocked there (one symbol each, on every kind of funding feed)
TARGETS = {"aster": "BTC", "backpack": "BTC", "lighter": "ETH", "binance": "BTC", "bybit": "SOL",
           "hyperliquid": "BTC", "kucoin": "ETH"}
HIGH, NORMAL, THRESHOLD = Decimal("0.002"), Decimal("0.00001"), Decimal("0.001")  # per hour


def _symbol(venue: str, asset: str) -> str:
    for inst in instruments(venue):
        if inst.asset == asset:
            return str(inst.market_id) if venue == "lighter" else inst.symbol
    raise ValueError(f"{venue} lists no {asset}")


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 1)


async def _wait_for(coordinator, venue: str, symbol: str, high: bool, timeout_s: float = 10.0) -> dict | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen = await coordinator.rate_seen.remote(venue, symbol)
        if seen is not None and (Decimal(seen["rate_per_hour"]) > THRESHOLD) == high:
            return seen
        await asyncio.sleep(0.01)
    return None


async def run_once(push_interval_s: float, shocks: int, seed: int) -> None:
    rng = random.Random(seed)
    sim = Simulator(seed=seed, speed=1.0, history_days=1)
    await sim.start()
    runtime = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            cfg = demo_config(sim, store_url=f"sqlite:///{tmp}/latency.db")
            cfg.strategy = None  # ranking only: no trades
            for vc in cfg.venues.values():
                vc.stream_overrides["push_interval_s"] = push_interval_s
            runtime = Runtime(cfg)
            await runtime.start()
            targets = [(v, a, _symbol(v, a)) for v, a in TARGETS.items()]
            for venue, _, symbol in targets:  # every feed delivering before the clock starts
                await _wait_for(runtime.coordinator, venue, symbol, high=False, timeout_s=30.0)
            event_to_ranked: list[float] = []
            shock_to_ranked: dict[str, list[float]] = {v: [] for v in TARGETS}
            missed: list[str] = []
            state = {t: False for t in targets}
            for i in range(shocks):
                target = targets[i % len(targets)]
                venue, asset, symbol = target
                state[target] = high = not state[target]
                await asyncio.sleep(rng.uniform(0.05, 0.35))  # land anywhere in the venues' cadences
                t0 = now_ms()
                sim.shock_funding(venue, asset, HIGH if high else NORMAL, per_hour=True)
                seen = await _wait_for(runtime.coordinator, venue, symbol, high)
                if seen is None:
                    missed.append(venue)
                    continue
                shock_to_ranked[venue].append(seen["received_ms"] - t0)
                if seen["ts"]:
                    event_to_ranked.append(seen["received_ms"] - seen["ts"])
            summary = await runtime.coordinator.summary.remote()
            common = {"bench": "opportunity_latency", "push_interval_ms": round(push_interval_s * 1000),
                      "venues": len(targets), "shocks": shocks, "missed": missed}
            emit(**common, metric="event_to_ranked", p50_ms=_pct(event_to_ranked, 0.5),
                 p99_ms=_pct(event_to_ranked, 0.99), max_ms=_pct(event_to_ranked, 1.0), n=len(event_to_ranked))
            every = [x for xs in shock_to_ranked.values() for x in xs]
            emit(**common, metric="shock_to_ranked", p50_ms=_pct(every, 0.5), p99_ms=_pct(every, 0.99),
                 max_ms=_pct(every, 1.0), n=len(every),
                 per_venue_p50_ms={v: _pct(xs, 0.5) for v, xs in shock_to_ranked.items()})
            emit(**common, metric="coordinator", p50_ms=summary.get("update_to_rank_p50_ms"),
                 p99_ms=summary.get("update_to_rank_p99_ms"), immediate=summary.get("immediate"),
                 simulator_skipped_s=round(sim.skipped_s, 2))
        finally:
            if runtime is not None:
                await runtime.stop()
            await sim.stop()


async def main(args: argparse.Namespace) -> None:
    for interval in args.push_interval:
        await run_once(interval, args.shocks, args.seed)
        import ray

        ray.shutdown()  # a fresh deployment per setting


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shocks", type=int, default=42)
    p.add_argument("--push-interval", type=float, nargs="+", default=[0.25, 0.05])
    p.add_argument("--seed", type=int, default=11)
    asyncio.run(main(p.parse_args()))
