"""Failover the coordinator knows about: a stream actor of a tradable venue dies for real
(``ray.kill``, Ray restarts it); the coordinator notices by itself (its health poll), holds new
opens on that venue until the restarted actor's books are SYNCED again, keeps the open paper
position it had, and reports the restart with its time to SYNCED in ``summary`` (what
``perpwire status`` prints). The restart itself needs nobody: no call is made to the actor.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import ray

from perpwire.actors.app.config import parse_config
from perpwire.actors.app.runtime import Runtime
from perpwire.simulator.catalog import instruments
from perpwire.simulator.server import Simulator
from perpwire.strategies.base import Leg, Open

VENUES = ("aster", "lighter")


async def until(fn, timeout=40.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = await fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s")
        await asyncio.sleep(0.2)


def _symbols(venue):
    return [str(i.market_id) if venue == "lighter" else i.symbol for i in instruments(venue)][:2]


def _open(asset: str, aster: str, lighter: str) -> Open:
    return Open(asset=asset, long=Leg(venue="aster", symbol=aster), short=Leg(venue="lighter", symbol=lighter),
                notional=Decimal("500"), leverage=2, reason="failover test")


async def test_a_killed_book_actor_holds_opens_on_its_venue_until_synced_and_keeps_the_position(ray_local, tmp_path):
    sim = Simulator(seed=8, speed=1.0, venues=VENUES, history_days=1)
    await sim.start()
    venues_cfg = {v: {"symbols": _symbols(v),
                      "codec_options": {"ws_url": sim.urls[v]["ws"], "rest_url": sim.urls[v]["rest"]}}
                  for v in VENUES}
    cfg = parse_config({
        "ray": {"address": "local", "spread_streams": False},
        "venues": venues_cfg,
        "coordinator": {"tradable_venues": list(VENUES), "health_poll_s": 0.25, "reconcile_s": 3600,
                        "markets": {"lighter": {str(i.market_id): i.asset for i in instruments("lighter")}}},
        "store": {"url": f"sqlite:///{tmp_path / 'f.sqlite'}"},
    }, "test")
    runtime = Runtime(cfg)
    await runtime.start()
    coord = runtime.coordinator
    try:
        aster_syms, lighter_syms = _symbols("aster"), _symbols("lighter")
        assets = [instruments("aster")[i].asset for i in range(2)]
        opened = await coord.execute.remote(_open(assets[0], aster_syms[0], lighter_syms[0]))
        assert opened is not None and opened["ok"], opened
        [pos] = [p for p in await coord.positions.remote() if p["open"]]

        depth = runtime.streams["aster"]["depth"]
        await depth.resume.remote(aster_syms[1])  # a book wanted when it dies: it must be SYNCED again
        # the venue answers the restarted actor's first snapshots with 429 and Retry-After 4 s, so its
        # books stay unsynced for a while whatever the machine's speed
        sim.faults.rest_error("aster", 429, count=2, retry_after=4, path="/fapi/v1/depth")
        killed_ms = int(time.time() * 1000)
        ray.kill(depth, no_restart=False)

        async def recovering():
            s = await coord.summary.remote()
            return s if "aster" in s["recovering"] else None

        summary = await until(recovering, 15, "the coordinator noticing the restart")
        assert "lighter" not in summary["recovering"]
        # while aster recovers, a new open touching it is held (no order, no position), and said why
        held = await coord.execute.remote(_open(assets[1], aster_syms[1], lighter_syms[1]))
        summary = await coord.summary.remote()
        assert "aster" in summary["recovering"], "recovered before the 429s were spent"
        assert held is None
        assert "aster recovering" in summary["held_opens"][assets[1]]
        assert len([p for p in await coord.positions.remote() if p["open"]]) == 1

        async def synced():
            s = await coord.summary.remote()
            done = [f for f in s["failovers"] if f["venue"] == "aster" and f["seconds_to_synced"] is not None]
            return (s, done[-1]) if done and not s["recovering"] else None

        summary, record = await until(synced, 40, "aster SYNCED again after the restart")
        assert record["stream"] == "depth" and record["since_ms"] >= killed_ms - 1000
        health = await depth.health.remote()
        assert health.books.get(aster_syms[1]) == "SYNCED", (health, summary["failovers"])
        # the position opened before the crash is still open, with both legs
        still = [p for p in await coord.positions.remote() if p["open"]]
        assert [p["id"] for p in still] == [pos["id"]]
        again = await coord.execute.remote(_open(assets[1], aster_syms[1], lighter_syms[1]))
        assert again is not None and again["ok"], again  # opening on aster allowed again
        print(f"aster/depth restart: SYNCED again {record['seconds_to_synced']} s after it was noticed")
    finally:
        await runtime.stop()
        await sim.stop()
