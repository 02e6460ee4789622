"""A simulator per test: fixed seed, clock stopped (tests call ``sim.tick()``), all venues."""

from __future__ import annotations

import pytest

from perpwire.simulator import Simulator


@pytest.fixture
async def sim():
    s = Simulator(seed=7, run_clock=False, history_days=3)
    await s.start()
    yield s
    await s.stop()
