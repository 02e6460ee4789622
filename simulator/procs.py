"""The simulator split over several processes: ``perpwire sim --procs K``.

One Python process saturates a core long before 500 symbols on seven venues, so the venues are
split into ``K`` groups (round-robin in catalogue order: ``K`` = 7 gives one process per venue),
each served by its own ``Simulator`` process on its own port. All of them share a seed and a
start time, and one market: the first process walks the fair prices and writes them to shared
memory every tick, the others quote from it (``Simulator.share_fair``), so a basis between venues
stays a basis. Funding, books and the control API stay per process: ``controls[venue]`` names the
control API of the process serving ``venue`` (``control`` is the first process's).

The parent prints one JSON document merging its children's (``venues``, ``controls``,
``api_keys``, and ``processes`` with each child's pid, venues and base URL), then waits; SIGINT or
SIGTERM stops every child it started, by pid, and waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import random
import signal
import sys
import time
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from typing import Any, TextIO

from perpwire.simulator import catalog

#: seconds a child may take to build its market and start listening
START_TIMEOUT_S = 120.0


def groups(venues: list[str], procs: int) -> list[list[str]]:
    """``venues`` dealt round-robin into at most ``procs`` non-empty groups."""
    if procs < 1:
        raise ValueError(f"procs must be at least 1, got {procs}")
    out: list[list[str]] = [[] for _ in range(min(procs, len(venues)))]
    for i, venue in enumerate(venues):
        out[i % len(out)].append(venue)
    return out


def _child(kwargs: dict[str, Any], shm_name: str, writer: bool, conn: Connection) -> None:
    """One simulator process: serve ``kwargs['venues']`` until told to stop (or signalled)."""
    asyncio.run(_child_main(kwargs, shm_name, writer, conn))


async def _child_main(kwargs: dict[str, Any], shm_name: str, writer: bool, conn: Connection) -> None:
    from perpwire.simulator.server import Simulator
    from perpwire.simulator.standalone import describe

    shm = SharedMemory(name=shm_name)
    prices = shm.buf.cast("d")
    sim = Simulator(**kwargs)
    try:
        sim.share_fair(prices, writer=writer)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await sim.start()
        conn.send(describe(sim))
        loop.add_reader(conn.fileno(), stop.set)  # the parent's word, or its end
        await stop.wait()
        loop.remove_reader(conn.fileno())
        await sim.stop()
    finally:
        sim.model.fair_sink = sim.model.fair_source = None
        del prices
        shm.close()


def merge(infos: list[dict[str, Any]], pids: list[int]) -> dict[str, Any]:
    """One JSON document for the whole split simulator."""
    venues: dict[str, Any] = {}
    controls: dict[str, str] = {}
    keys: dict[str, Any] = {}
    for info in infos:
        venues.update(info["venues"])
        controls.update(dict.fromkeys(info["venues"], info["control"]))
        keys.update(info["api_keys"])
    return {
        "base_url": infos[0]["base_url"],
        "venues": venues,
        "control": infos[0]["control"],
        "controls": controls,
        "replay": infos[0]["replay"],
        "api_keys": keys,
        "processes": [{"pid": pid, "venues": list(info["venues"]), "base_url": info["base_url"]}
                      for pid, info in zip(pids, infos, strict=True)],
    }


def serve_split(kwargs: dict[str, Any], procs: int, out: TextIO = sys.stdout) -> None:
    """Run the simulator of ``kwargs`` as ``procs`` processes until SIGINT/SIGTERM (blocking)."""
    kwargs = dict(kwargs)
    venues = list(kwargs.pop("venues", None) or catalog.VENUES)
    kwargs.setdefault("seed", None)
    if kwargs["seed"] is None:
        kwargs["seed"] = random.randrange(2**31)
    if kwargs.get("start_ms") is None:
        kwargs["start_ms"] = int(time.time() * 1000)
    n = len(catalog.assets(kwargs.get("symbols", len(catalog.ASSETS))))
    ctx = mp.get_context("spawn")
    shm = SharedMemory(create=True, size=8 * n)
    children: list[tuple[Any, Connection]] = []
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for i, group in enumerate(groups(venues, procs)):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=_child, args=({**kwargs, "venues": group}, shm.name, i == 0, child_end),
                               name=f"perpwire-sim-{'-'.join(group)}", daemon=True)
            proc.start()
            child_end.close()
            children.append((proc, parent_end))
        infos = []
        deadline = time.monotonic() + START_TIMEOUT_S
        for proc, conn in children:
            while not conn.poll(0.2):
                if stopping or not proc.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"simulator process {proc.name} did not start (exit code {proc.exitcode})")
            infos.append(conn.recv())
        out.write(json.dumps(merge(infos, [p.pid for p, _ in children]), indent=2) + "\n")
        out.flush()
        while not stopping and all(p.is_alive() for p, _ in children):
            time.sleep(0.2)
    finally:
        for _proc, conn in children:
            with contextlib.suppress(OSError):
                conn.send("stop")
            conn.close()
        for proc, _ in children:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()  # this process started it: by its own handle, never by name
                proc.join(timeout=5)
        for sig, handler in old.items():
            signal.signal(sig, handler)
        shm.close()
        shm.unlink()
