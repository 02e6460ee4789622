"""Run the simulator on its own: ``python -m simulator`` or ``run_standalone()`` (the CLI's entry).

Starts a ``Simulator`` with the given options, mints one throwaway credential per venue that
takes signed requests, prints one JSON document (the base URL, each venue's ``ws``/``rest`` base
URLs, the control API and the credentials' public halves — secrets are served by
``GET /_control/accounts`` on loopback only, never printed) and runs until interrupted.
``--symbols N`` lists N symbols per venue; ``--procs K`` splits the venues over K processes
(``simulator.procs``); ``--enforce-limits`` holds clients to each venue's published limits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from perpwire.simulator.procs import serve_split
from perpwire.simulator.server import Simulator

_SIGNED_VENUES = ("aster", "binance", "backpack", "lighter")


def describe(sim: Simulator) -> dict[str, Any]:
    """What a started ``sim`` prints: its URLs and fresh credentials' public halves."""
    keys = {v: sim.new_api_key(v) for v in _SIGNED_VENUES if v in sim.venues}
    return {
        "base_url": sim.base_url,
        "venues": sim.urls,
        "control": f"{sim.base_url}/_control",
        "replay": f"ws://{sim.host}:{sim.port}/replay/<name>",
        "api_keys": {v: {"key": k.key, "account": k.account} for v, k in keys.items()},
    }


async def serve(sim: Simulator, out: TextIO = sys.stdout, stop: asyncio.Event | None = None) -> None:
    """Start ``sim``, print its URLs, wait for ``stop`` (or SIGINT/SIGTERM), then stop it."""
    await sim.start()
    try:
        info = describe(sim)
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # before printing: a signal right after stops cleanly
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        out.write(json.dumps(info, indent=2) + "\n")
        out.flush()
        await stop.wait()
    finally:
        await sim.stop()


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The simulator's options, on its own parser or on the ``perpwire sim`` subcommand."""
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=None, help="random seed of the market model")
    p.add_argument("--speed", type=float, default=1.0, help="market seconds per real second")
    p.add_argument("--tick", type=float, default=0.05, help="real seconds per model tick")
    p.add_argument("--venues", default=None, help="comma-separated subset (default: all)")
    p.add_argument("--symbols", type=_positive, default=3,
                   help="symbols per venue: BTC, ETH, SOL, then made-up assets (default 3, at most 2000)")
    p.add_argument("--procs", type=_positive, default=1,
                   help="processes to split the venues over (default 1; 7 gives one per venue)")
    p.add_argument("--enforce-limits", action="store_true",
                   help="hold clients to each venue's published limits and answer breaches as the venue does")
    return p


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m simulator", description="Run the perpwire exchange simulator.")
    return add_arguments(p).parse_args(argv)


def simulator_options(args: argparse.Namespace) -> dict[str, Any]:
    """``Simulator`` keyword arguments from options parsed by ``add_arguments``, plus ``procs``
    (how many processes ``run_standalone`` splits the venues over)."""
    kwargs: dict[str, Any] = {"host": args.host, "port": args.port, "seed": args.seed, "speed": args.speed,
                              "tick_s": args.tick, "symbols": args.symbols, "enforce_limits": args.enforce_limits,
                              "procs": args.procs}  # fmt: skip
    if args.venues:
        kwargs["venues"] = [v.strip() for v in args.venues.split(",") if v.strip()]
    return kwargs


def run_standalone(argv: Sequence[str] | None = None, **options: Any) -> None:
    """Blocking entry point: ``options`` override the parsed command line (keyword names as in
    ``Simulator``)."""
    kwargs = simulator_options(parse_args(argv))
    kwargs.update(options)
    procs = kwargs.pop("procs", 1)
    if procs > 1:
        if kwargs.get("port"):
            raise SystemExit("perpwire sim: --port needs --procs 1 (each process listens on a port of its own)")
        serve_split(kwargs, procs)
        return
    asyncio.run(serve(Simulator(**kwargs)))
