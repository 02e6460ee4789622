"""Whatever Ray restarts resumes its work by itself: each kind of stream actor, killed for real
(``ray.kill(..., no_restart=False)``), is connected to its venue again with exactly the
subscriptions it had (a paused book connection comes back paused), and the coordinator comes
back attached, with no call made to any of them. What the actors do is read off the simulator's
own connection table, so nothing here wakes an actor up.

One deployment of all seven venues on the simulator and the suite's local Ray; live trading on
Aster and Backpack so their user-data connections (listenKey, signed account stream) exist too.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_asyncio
import ray

from perpwire.actors.app.config import parse_config
from perpwire.actors.app.runtime import Runtime
from perpwire.simulator.catalog import instruments
from perpwire.simulator.server import Simulator
from perpwire.venues.base import Channel, Subscription

VENUES = ("aster", "backpack", "lighter", "binance", "bybit", "hyperliquid", "kucoin")
RESTART_BOUND_S = 20.0
pytestmark = pytest.mark.asyncio(loop_scope="module")  # one simulator and deployment for the module


def _symbols(venue: str) -> list[str]:
    return [str(i.market_id) if venue == "lighter" else i.symbol for i in instruments(venue)][:2]


async def until(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def deployment(ray_local, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("restarts")
    sim = Simulator(seed=11, speed=1.0, venues=VENUES, history_days=1)
    await sim.start()
    venues_cfg = {}
    for v in VENUES:
        options = {"ws_url": sim.urls[v]["ws"], "rest_url": sim.urls[v]["rest"]}
        if v == "hyperliquid":
            options["coins"] = _symbols(v)
        venues_cfg[v] = {"symbols": _symbols(v), "codec_options": options}
    for v in ("aster", "backpack"):  # file secrets: the stream actors read them in their own processes
        key = sim.new_api_key(v)
        (tmp / f"{v}.key").write_text(key.key)
        (tmp / f"{v}.secret").write_text(key.secret)
        venues_cfg[v] |= {"trading": True, "api_key": {"file": str(tmp / f"{v}.key")},
                          "api_secret": {"file": str(tmp / f"{v}.secret")}}
    cfg = parse_config({
        "ray": {"address": "local", "spread_streams": False},
        "paper": False,
        "venues": venues_cfg,
        "coordinator": {"tradable_venues": ["aster", "backpack", "lighter"],
                        "markets": {"lighter": {str(i.market_id): i.asset for i in instruments("lighter")}}},
        "store": {"url": f"sqlite:///{tmp / 'f.sqlite'}"},
    }, "test")
    runtime = Runtime(cfg)
    await runtime.start()
    try:
        yield sim, runtime
    finally:
        await runtime.stop()
        await sim.stop()


def _table(sim: Simulator, venue: str) -> tuple[int, list[frozenset[str]]]:
    """Live connections of ``venue``: the highest connection id, and each connection's subscriptions."""
    conns = sim.hub.select(venue)
    return max((c.conn_id for c in conns), default=0), sorted((frozenset(c.subs) for c in conns), key=sorted)


ACTORS = [(v, n) for v, names in {
    "aster": ("user", "bookticker", "depth", "funding"), "backpack": ("account", "depth", "funding"),
    "lighter": ("unified",), "binance": ("funding",), "bybit": ("funding",), "hyperliquid": ("funding",),
    "kucoin": ("funding",),
}.items() for n in names]


@pytest.mark.parametrize(("venue", "name"), ACTORS)
async def test_a_killed_stream_actor_reconnects_and_resubscribes_by_itself(deployment, venue, name):
    sim, runtime = deployment
    handle = runtime.streams[venue][name]
    await until(lambda: len(sim.hub.select(venue)) == len(runtime.streams[venue]), 30, f"{venue} all connected")
    await asyncio.sleep(0.5)  # acks and snapshots settle
    newest, before = _table(sim, venue)
    if name in ("bookticker", "depth", "unified"):
        assert not any(s for subs in before for s in subs if "depth" in s or "order_book" in s or "bookTicker" in s)
    ray.kill(handle, no_restart=False)
    started = time.monotonic()

    def back() -> bool:
        latest, now = _table(sim, venue)
        return latest > newest and now == before

    await until(back, RESTART_BOUND_S, f"{venue}/{name} reconnected with the same subscriptions")
    print(f"{venue}/{name}: back in {time.monotonic() - started:.1f} s")


async def test_a_killed_coordinator_attaches_itself_and_keeps_trading_state(deployment):
    _sim, runtime = deployment
    coordinator = runtime.coordinator
    first = await coordinator.summary.remote()
    killed_at = int(time.time() * 1000)
    ray.kill(coordinator, no_restart=False)
    deadline = time.monotonic() + RESTART_BOUND_S
    summary = None
    while time.monotonic() < deadline:
        try:
            summary = await coordinator.summary.remote()
            if summary["started_at_ms"] > killed_at and summary["attached"] and summary["rates_ingested"] > 0:
                break
        except ray.exceptions.RayActorError:
            pass
        await asyncio.sleep(0.1)
    assert summary is not None and summary["started_at_ms"] > killed_at, "coordinator did not restart"
    assert summary["attached"] and summary["attached_at_ms"] >= summary["started_at_ms"]
    assert summary["rates_ingested"] > 0  # the funding feeds push to the new instance
    assert first["attached"]


async def test_a_restarted_book_actor_keeps_what_it_was_told_resumed_and_paused(deployment):
    sim, runtime = deployment
    depth = runtime.streams["aster"]["depth"]
    symbol = _symbols("aster")[0]
    await depth.resume.remote(symbol)  # a trade wants this book now
    newest, before = _table(sim, "aster")
    assert any(s.endswith("@depth@100ms") for subs in before for s in subs)
    ray.kill(depth, no_restart=False)
    await until(lambda: _table(sim, "aster")[0] > newest and _table(sim, "aster")[1] == before, RESTART_BOUND_S,
                "aster/depth back with the resumed symbol")
    health = await depth.health.remote()
    other = _symbols("aster")[1]
    assert health.subscriptions.wanted == (Subscription(Channel.DEPTH, symbol),)  # resumed, and only it
    assert health.subscriptions.paused == (Subscription(Channel.DEPTH, other),)
    await depth.pause.remote()
    newest, paused = _table(sim, "aster")
    ray.kill(depth, no_restart=False)
    await until(lambda: _table(sim, "aster")[0] > newest and _table(sim, "aster")[1] == paused, RESTART_BOUND_S,
                "aster/depth back paused")
    health = await depth.health.remote()
    assert health.paused is True and health.subscriptions.wanted == ()
    assert Subscription(Channel.DEPTH, symbol) in health.subscriptions.paused
