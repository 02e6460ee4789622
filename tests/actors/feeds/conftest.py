"""A running simulator (its clock on) for the streaming adapters."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from perpwire.simulator import Simulator


@pytest.fixture
async def live_sim():
    s = Simulator(seed=11, history_days=1)
    await s.start()
    yield s
    await s.stop()


def open_sockets() -> set[str]:
    """This process's open sockets, as /proc names them (``socket:[inode]``)."""
    out = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:"):
            out.add(target)
    return out
