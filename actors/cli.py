"""The ``perpwire`` command line: demo, run, status, submit, stop, sim.

``demo`` and ``run`` start a deployment in this process's Ray (embedded by default); ``status``,
``submit`` and ``stop`` join the running Ray and talk to the named coordinator. Configuration
errors are printed as the one message pydantic built (file and field) with exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import tempfile
from pathlib import Path

from market.errors import ConfigError


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _cmd_demo(args) -> int:
    from actors.demo import run_demo

    with tempfile.TemporaryDirectory(prefix="perpwire-demo-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'funding.sqlite'}"
        summary = asyncio.run(run_demo(args.duration, args.seed, args.speed, store_url=url, live=not args.no_live))
    ledger = summary["status"]["coordinator"]["ledger"]
    return 0 if int(ledger["opened"]) >= 1 else 1


def _cmd_run(args) -> int:
    from actors.app import load_config
    from actors.runtime import Runtime
    from actors.view import run_live_view

    cfg = load_config(args.config)

    async def main():
        runtime = Runtime(cfg)
        await runtime.start()
        try:
            await run_live_view(runtime, args.duration or float("inf"))
        finally:
            await runtime.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


def _coordinator(address: str):
    import ray

    from actors.coordinator import COORDINATOR_NAME

    ray.init(address=address, namespace="perpwire", log_to_driver=False, configure_logging=False)
    try:
        return ray.get_actor(COORDINATOR_NAME)
    except ValueError:
        raise SystemExit("perpwire: no running coordinator found (start one with `perpwire run`)") from None


def _cmd_status(args) -> int:
    import ray

    coord = _coordinator(args.address)
    summary = ray.get(coord.summary.remote())
    opps = ray.get(coord.opportunities.remote(10))
    print(json.dumps({"coordinator": summary, "opportunities": [
        {"asset": o.asset, "long": f"{o.long_venue}:{o.long_symbol}", "short": f"{o.short_venue}:{o.short_symbol}",
         "net_per_hour": str(o.net_per_hour), "long_z": o.long_z, "short_z": o.short_z} for o in opps]},
        indent=2, default=str))
    return 0


def _cmd_submit(args) -> int:
    import ray

    coord = _coordinator(args.address)
    params = json.loads(args.params) if args.params else {}
    print(ray.get(coord.submit.remote(args.strategy, params)))
    return 0


def _cmd_stop(args) -> int:
    import ray

    coord = _coordinator(args.address)
    if args.id:
        ok = ray.get(coord.stop_strategy.remote(args.id))
        print("stopped" if ok else f"no running strategy {args.id}")
        return 0 if ok else 1
    ray.get(coord.stop.remote())
    print("coordinator stopped")
    return 0


def _cmd_sim(args) -> int:
    from simulator.standalone import run_standalone

    run_standalone(args.rest)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="perpwire", description="Perpetual-futures market data and funding arbitrage.")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="local Ray + simulator + funding arbitrage on paper")
    d.add_argument("--duration", type=float, default=45.0, help="seconds of trading after set-up (default 45)")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--speed", type=float, default=180.0, help="simulated seconds per real second (default 180)")
    d.add_argument("--no-live", action="store_true", help="no live view, only the summary")
    d.set_defaults(func=_cmd_demo)
    r = sub.add_parser("run", help="run the configured deployment")
    r.add_argument("--config", required=True, help="YAML or TOML file")
    r.add_argument("--duration", type=float, default=None, help="seconds (default: until interrupted)")
    r.set_defaults(func=_cmd_run)
    for name, func, help_ in (("status", _cmd_status, "show the running deployment"),
                              ("submit", _cmd_submit, "start a strategy on the running coordinator"),
                              ("stop", _cmd_stop, "stop a strategy, or the coordinator")):
        c = sub.add_parser(name, help=help_)
        c.add_argument("--address", default="auto", help="Ray address (default: auto)")
        if name == "submit":
            c.add_argument("strategy")
            c.add_argument("--params", default=None, help="JSON object of strategy parameters")
        if name == "stop":
            c.add_argument("id", nargs="?", default=None)
        c.set_defaults(func=func)
    s = sub.add_parser("sim", help="run the exchange simulator alone and print its URLs")
    s.add_argument("rest", nargs=argparse.REMAINDER, help="simulator options (--seed, --speed, --port, ...)")
    s.set_defaults(func=_cmd_sim)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _logging(args.verbose)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"perpwire: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
