"""Crash consistency of live trading: the coordinator is killed for real (``os._exit`` at a named
step of an open or a close), Ray restarts it, it attaches again and reconciles with the venues;
then the ledger holds exactly what the simulator's accounts hold (per venue and symbol, signed)
and no order was sent twice (one order per client id at the simulator).

One deployment on the shared local Ray for every case: Aster and Backpack trading live
(``paper: false``) against the simulator, keys read from files (the Ray workers do not share the
test's environment), the store in SQLite. Positions accumulate from case to case, so each case
also checks that what earlier cases left stays consistent.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from decimal import Decimal

import pytest
import pytest_asyncio
import ray

from perpwire.actors.app.config import parse_config
from perpwire.actors.app.runtime import Runtime
from perpwire.simulator.server import Simulator
from perpwire.strategies.base import Close, Leg, Open

pytestmark = pytest.mark.asyncio(loop_scope="module")

VENUES = ("aster", "backpack")
SYMBOL = {"aster": "ETHUSDT", "backpack": "ETH_USDC_PERP"}
STEPS = [f"{action}.{step}" for action in ("open", "close")
         for step in ("journal", "orders", "between_legs", "filled", "book")]
OPEN = Open(asset="ETH", long=Leg(venue="aster", symbol="ETHUSDT"), short=Leg(venue="backpack", symbol="ETH_USDC_PERP"),
            notional=Decimal("1500"), leverage=5, reason="crash drill")


async def until(fn, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = await fn()
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
            value = None  # the actor is being restarted
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s")
        await asyncio.sleep(0.2)


async def _ready(runtime) -> bool:
    """Attached (by itself, or by the runtime's ``ensure_attached`` where that exists) and reconciled."""
    coord = runtime.coordinator
    if not await coord.attached.remote() and hasattr(runtime, "ensure_attached"):
        await runtime.ensure_attached()
    return await coord.attached.remote() and await coord.reconciled.remote()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def deployment(ray_local, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crash")
    sim = Simulator(seed=23, venues=VENUES, history_days=1)
    await sim.start()
    venues_cfg = {}
    for v in VENUES:
        key = sim.new_api_key(v)
        (tmp / f"{v}.key").write_text(key.key)
        (tmp / f"{v}.secret").write_text(key.secret)
        venues_cfg[v] = {"symbols": [SYMBOL[v]], "trading": True,
                         "api_key": {"file": str(tmp / f"{v}.key")}, "api_secret": {"file": str(tmp / f"{v}.secret")},
                         "codec_options": {"ws_url": sim.urls[v]["ws"], "rest_url": sim.urls[v]["rest"]}}
    cfg = parse_config({
        "paper": False,
        "ray": {"address": "local", "spread_streams": False},
        "venues": venues_cfg,
        "coordinator": {"tradable_venues": list(VENUES), "decision_interval_s": 3600, "gap_check_s": 3600},
        "store": {"url": f"sqlite:///{tmp / 'crash.sqlite'}"},
    }, "test")
    runtime = Runtime(cfg)
    await runtime.start()
    await until(lambda: _ready(runtime), what="the first reconciliation")
    yield sim, runtime
    await runtime.stop()
    await sim.stop()


def _venue_positions(sim) -> dict[tuple[str, str], Decimal]:
    out = {}
    for (venue, _), acct in sim.exchange.accounts.items():
        for symbol, pos in acct.positions.items():
            if pos.qty != 0:
                out[(venue, symbol)] = out.get((venue, symbol), Decimal(0)) + pos.qty
    return out


def _ledger_positions(positions: list[dict]) -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = {}
    for p in positions:
        if not p["open"]:
            continue
        for name, sign in (("long", 1), ("short", -1)):
            venue, symbol = p[name].split(":", 1)
            out[(venue, symbol)] = out.get((venue, symbol), Decimal(0)) + sign * Decimal(p["qty"])
    return {k: v for k, v in out.items() if v != 0}


def _orders_per_client_id(sim) -> Counter:
    return Counter((v, o.client_id) for (v, _), acct in sim.exchange.accounts.items() for o in acct.orders.values())


@pytest.mark.parametrize("step", STEPS)
async def test_killed_at_every_step_the_restarted_ledger_equals_the_venues(deployment, step):
    sim, runtime = deployment
    coord = runtime.coordinator
    await until(lambda: _ready(runtime), what="a reconciled coordinator")
    assert _ledger_positions(await coord.positions.remote()) == _venue_positions(sim)  # where earlier cases left it
    orders_before = sum(_orders_per_client_id(sim).values())
    if step.startswith("close"):
        opened = await coord.execute.remote(OPEN)
        assert opened["ok"], opened
        command = Close(position_id=opened["position_id"], reason="crash drill")
    else:
        command = OPEN
    await coord.arm_crash.remote(step)
    with pytest.raises(ray.exceptions.RayActorError):
        await asyncio.wait_for(coord.execute.remote(command), 30)
    await until(lambda: _ready(runtime), what="the restarted coordinator, reconciled")

    ledger, venue = _ledger_positions(await coord.positions.remote()), _venue_positions(sim)
    assert ledger == venue, f"after a crash at {step}: ledger {ledger} != venue {venue}"
    sent = _orders_per_client_id(sim)
    assert all(n == 1 for n in sent.values()), [k for k, n in sent.items() if n > 1]
    if step.split(".")[1] in ("between_legs", "filled", "book"):
        assert sum(sent.values()) > orders_before  # the drill did send orders before dying
    assert await coord.intents.remote(True) == []  # every intent completed by the reconciliation
    summary = await coord.summary.remote()
    assert summary["reconciliation"]["finished_ms"] is not None
    if step in ("open.between_legs", "close.between_legs"):  # the one-legged intent was completed, not ignored
        [done] = summary["reconciliation"]["intents"]
        assert done["action"] == step.split(".")[0]
