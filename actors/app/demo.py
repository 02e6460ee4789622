"""``perpwire demo``: local Ray, the simulator, funding arbitrage on paper, a live view, a summary.

The simulator runs in this process on 127.0.0.1; the stream actors connect to it exactly as they
would to the venues (only the codecs' base URLs differ). Before trading, 30 days of funding
history are backfilled from the simulated REST endpoints into the store, so z-scores exist from
the first minute. The demo then scripts one funding shock (and its fading) so that a spread
opens and converges within the run; everything else — detection, ranking, resume, execution,
pause, settlement, close — is the real machinery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from decimal import Decimal
from typing import Any

from perpwire.actors.app.config import AppConfig, parse_config
from perpwire.actors.app.deployment import announce
from perpwire.actors.app.runtime import Runtime
from perpwire.actors.app.view import collect_summary, render_summary, run_live_view
from perpwire.actors.coordination.backfill import backfill_history
from perpwire.simulator.catalog import instruments
from perpwire.simulator.server import Simulator

log = logging.getLogger(__name__)

DEMO_VENUES = ("aster", "backpack", "lighter", "binance", "bybit", "hyperliquid", "kucoin")
TRADABLE = ["aster", "backpack", "lighter"]


def demo_symbols(venue: str) -> list[str]:
    out = []
    for inst in instruments(venue):
        out.append(str(inst.market_id) if venue == "lighter" else inst.symbol)
    return out


def demo_config(sim: Simulator, *, store_url: str, notional: str = "2000", namespace: str = "perpwire",
                address: str = "local") -> AppConfig:
    venues: dict[str, Any] = {}
    for venue in DEMO_VENUES:
        urls = sim.urls[venue]
        options: dict[str, Any] = {"ws_url": urls["ws"], "rest_url": urls["rest"]}
        if venue == "hyperliquid":
            options["coins"] = demo_symbols(venue)
        venues[venue] = {"symbols": demo_symbols(venue), "codec_options": options,
                         "stream_overrides": {"resume_timeout_s": 5.0}}
    return parse_config({
        "ray": {"address": address, "namespace": namespace, "spread_streams": False},
        # the simulator listens on this process's loopback: every actor on this node (on a laptop, the one node)
        "placement": {"streams": "driver", "coordinator": "driver", "store": "driver", "gateway_resource": ""},
        "venues": venues,
        "coordinator": {"tradable_venues": TRADABLE, "decision_interval_s": 0.5, "holding_hours": 8,
                        "markets": {"lighter": {str(i.market_id): i.asset for i in instruments("lighter")}}},
        "strategy": {"name": "funding_arb", "params": {
            "entry_net_per_hour": "0.0001", "entry_z": 2.0, "notional": notional, "max_positions": 2,
            "exit_spread_per_hour": "0.00003", "min_lead_to_funding_s": 0, "hold_for_funding_s": 0}},
        "store": {"url": store_url},
    }, "demo")


async def run_demo(duration_s: float = 45.0, seed: int = 7, speed: float = 180.0, *, store_url: str,
                   live: bool = True, namespace: str = "perpwire", address: str | None = None) -> dict[str, Any]:
    sim = Simulator(seed=seed, speed=speed, venues=DEMO_VENUES)
    await sim.start()
    runtime = None
    try:
        cfg = demo_config(sim, store_url=store_url, namespace=namespace, address=address or "local")
        runtime = Runtime(cfg)
        started = time.monotonic()
        strategy = cfg.strategy
        cfg.strategy = None  # submitted after the backfill, once z-scores exist
        await runtime.start()
        announce(namespace, runtime.namespace)  # where `perpwire status` finds it
        if runtime.dashboard_url:
            print(f"dashboard: {runtime.dashboard_url}", flush=True)
        elif runtime.dashboard_error:
            log.warning("%s; running without it", runtime.dashboard_error)
        log.warning("demo: %d stream actors up in %.1f s", sum(map(len, runtime.streams.values())),
                    time.monotonic() - started)
        rows = await backfill_history(runtime, cfg, days=30, budget_scale=20.0)  # the simulator has no limits
        log.warning("demo: backfilled %d settled funding rates (%.1f s)", rows, time.monotonic() - started)
        windows = await runtime.store.window_stats.remote(30.0)
        await runtime.coordinator.load_stats.remote(windows)
        runtime.strategy_id = await runtime.coordinator.submit.remote(strategy.name, strategy.params)
        script = asyncio.create_task(_script(sim, duration_s))
        if live:
            await run_live_view(runtime, duration_s, sim=sim)
        else:
            await asyncio.sleep(duration_s)
        script.cancel()
        summary = await _summary(runtime, sim, rows, started)
        render_summary(summary)
        return summary
    except asyncio.CancelledError:  # Ctrl-C: say what ran so far, then stop everything below
        if runtime is not None and runtime.coordinator is not None:
            with contextlib.suppress(Exception):
                render_summary(await asyncio.wait_for(_summary(runtime, sim, 0, time.monotonic()), 10.0))
        raise
    finally:
        if runtime is not None:
            await runtime.stop()
        await sim.stop()


async def _summary(runtime: Runtime, sim: Simulator, rows: int, started: float) -> dict[str, Any]:
    return {**await collect_summary(runtime, rows, started), "simulator": sim.stats(connections=False)}


async def _script(sim: Simulator, duration_s: float) -> None:
    """One shock on Backpack BTC a few seconds in, faded back well before the end of the run."""
    await asyncio.sleep(min(5.0, duration_s * 0.1))
    log.warning("demo: funding shock on backpack BTC (+0.05 %/h)")
    sim.shock_funding("backpack", "BTC", Decimal("0.0005"), per_hour=True)
    await asyncio.sleep(duration_s * 0.45)
    log.warning("demo: backpack BTC funding back to normal")
    sim.shock_funding("backpack", "BTC", Decimal("0.0000125"), per_hour=True)
