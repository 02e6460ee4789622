"""The ``perpwire`` command line: demo, run, status, submit, stop, dashboard, sim, stream.

``demo`` and ``run`` start a deployment in this process's Ray (embedded by default), record where
it is (``actors.deployment``: its Ray address and namespace, under its name) and print that;
``status``, ``submit``, ``stop`` and ``dashboard`` find the deployment by ``--name`` (or ``--address``), join
its Ray and talk to its named coordinator, refusing a cluster that holds no perpwire deployment
of that name. Every failure is one line on stderr: a configuration error or an unusable store
exits 2, as does an unknown strategy or a Ray token the cluster refuses (the line says what to set);
a deployment that cannot be found or reached exits 1. ``--address`` and ``--namespace`` say where
a deployment's Ray is and which namespace holds it; ``demo`` and ``run`` join a running Ray (never
a second one inside ``ray job submit``) and their actors are detached, so they outlive the driver.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ray.exceptions import RayTaskError

from perpwire.actors.app import deployment
from perpwire.actors.app.deployment import DEFAULT_NAME, DeploymentError
from perpwire.actors.logs import LOG_LEVEL_ENV
from perpwire.actors.store.check import StoreUnavailable
from perpwire.market.errors import ConfigError

CALL_TIMEOUT_S = 15.0  # how long a command waits for the coordinator's answer


class _Refused(Exception):
    """The command's input was refused (exit 2): the message is the one line to print."""


def _logging(verbose: bool) -> None:
    """``-v``: INFO here, and in every actor of a deployment this process starts (their lines come
    to this terminal instead of staying in Ray's log files)."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose:
        os.environ[LOG_LEVEL_ENV] = "INFO"


def _cmd_demo(args) -> int:
    from perpwire.actors.app.demo import run_demo

    name = args.namespace or DEFAULT_NAME  # the demo's deployment is named by its namespace
    deployment.claim(name)
    try:
        with tempfile.TemporaryDirectory(prefix="perpwire-demo-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'funding.sqlite'}"
            summary = asyncio.run(run_demo(args.duration, args.seed, args.speed, store_url=url,
                                           live=not args.no_live, namespace=name, address=args.address))
    except KeyboardInterrupt:  # run_demo stopped every actor and the simulator on its way out
        print("perpwire: demo interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    finally:
        deployment.forget(name)
    ledger = summary["status"]["coordinator"]["ledger"]
    return 0 if int(ledger["opened"]) >= 1 else 1


def _cmd_run(args) -> int:
    from perpwire.actors.app.config import load_config
    from perpwire.actors.app.runtime import Runtime
    from perpwire.actors.app.view import collect_summary, render_summary, run_live_view

    cfg = load_config(args.config)
    cfg.ray.namespace = args.namespace or args.name or cfg.ray.namespace
    if args.address:
        cfg.ray.address = args.address
    name = args.name or cfg.ray.namespace  # a deployment is named by its Ray namespace unless --name says
    deployment.claim(name)

    async def main():
        runtime = Runtime(cfg)
        try:
            print(f"perpwire: starting {name!r}: Ray, the store, the stream actors, the coordinator ...",
                  file=sys.stderr, flush=True)
            started = time.monotonic()
            await runtime.start()
            deployment.announce(name, runtime.namespace)
            _print_dashboard(runtime)
            streams = (await runtime.status())["streams"]
            print(f"perpwire: {sum(1 for s in streams if s.get('connected'))} of {len(streams)} streams connected "
                  f"({time.monotonic() - started:.1f} s)", file=sys.stderr, flush=True)
            rows = await _backfill(runtime, cfg)
            view = asyncio.create_task(run_live_view(runtime, args.duration or float("inf")))
            stop = asyncio.create_task(_until_stop_requested(runtime))
            done, pending = await asyncio.wait({view, stop}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if view in done:
                view.result()  # the view's own failure, if any, ends the run with its message
            if stop in done and stop.result():
                print(f"perpwire: stopping deployment {name!r} ({stop.result()})", file=sys.stderr)
            summary = await collect_summary(runtime, rows, started)
        finally:
            await runtime.stop()
        render_summary(summary)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # Ctrl-C: main() stopped every actor on its way out
        print(f"perpwire: deployment {name!r} stopped (interrupted)", file=sys.stderr)
        return 130
    finally:
        deployment.forget(name)
    return 0


async def _backfill(runtime, cfg) -> int:
    """Settled funding history into the store, then the coordinator's statistics reloaded from it,
    so ``entry_z`` can trigger from the first minute; bounded by ``backfill_timeout_s``."""
    from perpwire.actors.coordination.backfill import backfill_history

    if cfg.backfill_days <= 0:
        return 0
    print(f"perpwire: loading {cfg.backfill_days:g} days of funding history for "
          f"{sum(len(v.symbols) for v in cfg.venues.values())} symbols ...", file=sys.stderr, flush=True)
    try:
        rows = await asyncio.wait_for(backfill_history(runtime, cfg, days=cfg.backfill_days), cfg.backfill_timeout_s)
    except TimeoutError:
        print(f"perpwire: funding history not complete after {cfg.backfill_timeout_s:g} s; statistics fill in from "
              "the live streams", file=sys.stderr, flush=True)
        rows = 0
    windows = await runtime.store.window_stats.remote(cfg.coordinator.stats_window_days)
    await runtime.coordinator.load_stats.remote(windows)
    print(f"perpwire: {rows} settled funding rates loaded; statistics for {len(windows)} symbols", file=sys.stderr,
          flush=True)
    return rows


async def _until_stop_requested(runtime, every_s: float = 0.5) -> str | None:
    """Return when ``perpwire stop`` asked the coordinator to end the deployment."""
    while True:
        await asyncio.sleep(every_s)
        try:
            reason = await runtime.coordinator.shutdown_requested.remote()
        except Exception:  # the coordinator is restarting: ask again
            continue
        if reason:
            return reason


def _join(args):
    """The deployment the command names, joined; returns it with its coordinator."""
    dep = deployment.locate(args.name, args.address, args.namespace)
    deployment.connect(dep)
    return dep, deployment.coordinator(dep)


def _get(ref, what: str, timeout_s: float = CALL_TIMEOUT_S):
    import ray

    try:
        return ray.get(ref, timeout=timeout_s)
    except ray.exceptions.GetTimeoutError:
        raise DeploymentError(f"{what}: no answer within {timeout_s:g} s") from None
    except ray.exceptions.RayTaskError:
        raise  # the actor answered with an error: the command says what it means
    except ray.exceptions.RayError as exc:  # the actor is dead or unreachable
        raise DeploymentError(f"{what}: {_one_line(exc)}") from None


def _store_health(dep) -> dict:
    store = deployment.store_actor(dep)
    if store is None:
        return {"ok": False, "error": f"no store actor {deployment.STORE} in namespace {dep.namespace!r}",
                "writes_waiting": None}
    try:
        h = _get(store.health.remote(), "the store", timeout_s=5.0)
    except Exception as exc:
        return {"ok": False, "error": _one_line(exc), "writes_waiting": None}
    return {"ok": h["ok"], "error": h["error"], "backend": h["backend"], "writes_waiting": h["pending"],
            "dropped": h["dropped"]}


def _cmd_status(args) -> int:
    dep, coord = _join(args)
    summary = _get(coord.summary.remote(), "the coordinator")
    opps = _get(coord.opportunities.remote(10), "the coordinator")
    try:
        positions = _get(coord.positions.remote(), "the coordinator")
    except Exception:  # an older or stand-in coordinator without the query: the rest still shows
        positions = []
    doc = {
        "deployment": {"name": dep.name, "address": dep.address, "namespace": dep.namespace},
        "store": _store_health(dep),
        "streams": _streams(dep),
        "coordinator": summary,
        "positions": positions,
        "opportunities": [
            {"asset": o.asset, "long": f"{o.long_venue}:{o.long_symbol}", "short": f"{o.short_venue}:{o.short_symbol}",
             "net_per_hour": str(o.net_per_hour), "annualised": str(o.annualised), "long_z": o.long_z,
             "short_z": o.short_z} for o in opps],
    }
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        from perpwire.actors.app.view import status_text

        print(status_text(doc, shutil.get_terminal_size((80, 24)).columns))
    store = doc["store"]
    if not store["ok"]:
        waiting = store.get("writes_waiting")
        print(f"perpwire: store is DOWN ({store['error']}); {waiting if waiting is not None else '?'} writes waiting",
              file=sys.stderr)
    return 0


def _streams(dep) -> list[dict]:
    """Every stream actor of the deployment, by name, with its counters and health (by value)."""
    import msgspec
    import ray
    from ray.util import list_named_actors

    from perpwire.actors.budgets import PREFIX as BUDGET_PREFIX
    from perpwire.actors.coordination.coordinator import COORDINATOR_NAME
    from perpwire.actors.dashboard.actor import DASHBOARD_NAME

    names = sorted(a["name"] for a in list_named_actors(all_namespaces=True)
                   if a["namespace"] == dep.namespace and a["name"].startswith("perpwire-")
                   and a["name"] not in (COORDINATOR_NAME, deployment.STORE, DASHBOARD_NAME)
                   and not a["name"].startswith(BUDGET_PREFIX))  # budgets are not streams
    rows = []
    for name in names:
        try:
            handle = ray.get_actor(name, namespace=dep.namespace)
            stats, health = ray.get([handle.stats.remote(), handle.health.remote()], timeout=5.0)
        except Exception as exc:
            rows.append({"actor": name, "error": _one_line(exc)})
            continue
        row = msgspec.structs.asdict(stats)
        row.update(connected=health.connected, paused=health.paused, last_frame_age_s=health.last_frame_age_s,
                   books=dict(health.books), last_error=health.last_error)
        rows.append(row)
    return rows


def _known_strategy(name: str) -> None:
    from perpwire.strategies import STRATEGIES

    if name not in STRATEGIES:
        raise _Refused(f"unknown strategy {name!r}; known: {', '.join(sorted(STRATEGIES))}")


def _cmd_submit(args) -> int:
    import ray

    _known_strategy(args.strategy)
    try:
        params = json.loads(args.params) if args.params else {}
    except json.JSONDecodeError as exc:
        raise _Refused(f"--params is not JSON: {exc}") from None
    if not isinstance(params, dict):
        raise _Refused("--params must be a JSON object")
    _, coord = _join(args)
    try:
        sid = _get(coord.submit.remote(args.strategy, params), "the coordinator")
    except ray.exceptions.RayTaskError as exc:
        raise _Refused(f"the coordinator refused {args.strategy!r}: {_one_line(exc)}") from None
    print(sid)
    return 0


def _cmd_stop(args) -> int:
    _, coord = _join(args)
    if args.id:
        ok = _get(coord.stop_strategy.remote(args.id), "the coordinator")
        print("stopped" if ok else f"no running strategy {args.id}")
        return 0 if ok else 1
    dep = deployment.locate(args.name, args.address, args.namespace)
    _get(coord.request_shutdown.remote("perpwire stop"), "the coordinator")
    record = deployment.read_record(dep.name)
    if record is not None and deployment.is_live(record) and _wait_gone(dep.name, args.timeout):
        print(f"deployment {dep.name!r} stopped")
        return 0
    # no process of ours runs it (a finished job, a lost driver: its actors are detached), or it did
    # not answer: end its actors from here
    _get(coord.stop.remote(), "the coordinator")
    killed = deployment.kill_actors(dep)
    if record is not None:
        deployment.remove_record(dep.name)
    print(f"deployment {dep.name!r} stopped here ({killed} actors ended; no running process of it answered)")
    return 0


def _wait_gone(name: str, timeout_s: float) -> bool:
    """True once the running process removed its deployment record (it stopped everything)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if deployment.read_record(name) is None:
            return True
        time.sleep(0.2)
    return False


def _cmd_dashboard(args) -> int:
    """Print the running deployment's dashboard URL and open it in a browser when there is a display."""
    import webbrowser

    from perpwire.actors.app.config import DashboardConfig
    from perpwire.actors.dashboard.actor import DASHBOARD_NAME

    dep, _ = _join(args)
    try:
        import ray

        actor = ray.get_actor(DASHBOARD_NAME, namespace=dep.namespace)
    except ValueError:
        raise DeploymentError(f"deployment {dep.name!r} runs no dashboard (dashboard.enabled is false, or it could "
                              "not listen: see the output of the process that started it)") from None
    url = _get(actor.url.remote(), "the dashboard")
    token_env = DashboardConfig.model_fields["token_env"].default
    print(f"dashboard: {url}")
    if _has_display() and not args.no_open:
        token = os.environ.get(token_env)
        webbrowser.open(url + (f"?token={token}" if token else ""))  # the token goes to the browser, not the terminal
    return 0


def _has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _print_dashboard(runtime) -> None:
    if runtime.dashboard_url:
        print(f"dashboard: {runtime.dashboard_url}", flush=True)
    elif runtime.dashboard_error:
        print(f"perpwire: {runtime.dashboard_error}; running without it", file=sys.stderr, flush=True)


def _cmd_sim(args) -> int:
    from perpwire.simulator.standalone import run_standalone, simulator_options

    run_standalone([], **simulator_options(args))
    return 0


def _one_line(exc: BaseException) -> str:
    """An exception as one line; a remote error is shown by its cause, not Ray's traceback."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    text = str(exc).strip()
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__).splitlines()[0]


NAMESPACE_HELP = ("Ray namespace holding the deployment's actors (default: %(default_text)s). Ray keeps named actors "
                  "per namespace: one cluster can hold several deployments, each in its own namespace, and a "
                  "command sees only the one it names")


def _ray_arguments(p: argparse.ArgumentParser, *, joins: bool) -> None:
    """--address and --namespace: where the deployment's Ray is and which namespace holds it."""
    if joins:
        p.add_argument("--address", default=None, help="join this Ray instead of starting one: host:port (GCS), "
                       "ray://host:10001 (Ray Client) or auto (default: ray.address of the configuration; inside "
                       "`ray job submit`, RAY_ADDRESS, never a second Ray)")
        default_text = "perpwire, or ray.namespace of the configuration"
    else:
        p.add_argument("--address", default=None, help="Ray of the deployment: host:port (GCS, e.g. 127.0.0.1:6379 "
                       "on the head), ray://host:10001 (Ray Client, from a laptop) or auto (default: the address "
                       "recorded under --name on this machine, else RAY_ADDRESS)")
        default_text = "the recorded one, else the deployment name, perpwire"
    p.add_argument("--namespace", default=None, help=NAMESPACE_HELP % {"default_text": default_text})


def build_parser() -> argparse.ArgumentParser:
    from perpwire.simulator.standalone import add_arguments

    p = argparse.ArgumentParser(prog="perpwire", description="Perpetual-futures market data and funding arbitrage.")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="local Ray + simulator + funding arbitrage on paper")
    d.add_argument("--duration", type=float, default=45.0, help="seconds of trading after set-up (default 45)")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--speed", type=float, default=180.0, help="simulated seconds per real second (default 180)")
    d.add_argument("--no-live", action="store_true", help="no live view, only the summary")
    _ray_arguments(d, joins=True)
    d.set_defaults(func=_cmd_demo)
    r = sub.add_parser("run", help="run the configured deployment")
    r.add_argument("--config", required=True, help="YAML or TOML file")
    r.add_argument("--duration", type=float, default=None, help="seconds (default: until interrupted)")
    r.add_argument("--name", default=None, help="deployment name, also its Ray namespace unless --namespace says "
                   "(default: the namespace)")
    _ray_arguments(r, joins=True)
    r.set_defaults(func=_cmd_run)
    for name, func, help_ in (("status", _cmd_status, "show the running deployment"),
                              ("submit", _cmd_submit, "start a strategy on the running coordinator"),
                              ("stop", _cmd_stop, "stop the whole deployment, or one strategy"),
                              ("dashboard", _cmd_dashboard, "print (and open) the running deployment's dashboard")):
        c = sub.add_parser(name, help=help_)
        c.add_argument("--name", default=DEFAULT_NAME, help=f"deployment name (default: {DEFAULT_NAME})")
        _ray_arguments(c, joins=False)
        if name == "status":
            c.add_argument("--json", action="store_true", help="one JSON document, for scripts")
        if name == "dashboard":
            c.add_argument("--no-open", action="store_true", help="only print the URL, even with a display")
        if name == "submit":
            c.add_argument("strategy")
            c.add_argument("--params", default=None, help="JSON object of strategy parameters")
        if name == "stop":
            c.add_argument("id", nargs="?", default=None, help="a strategy id: stop only it")
            c.add_argument("--timeout", type=float, default=60.0,
                           help="seconds to wait for the deployment's own process to end it (default 60)")
        c.set_defaults(func=func)
    s = sub.add_parser("sim", help="run the exchange simulator alone and print its URLs")
    add_arguments(s)
    s.set_defaults(func=_cmd_sim)
    from perpwire.actors.feeds import cli as feeds_cli

    t = feeds_cli.add_arguments(sub.add_parser("stream", help="print a venue's items as JSON lines"))
    t.set_defaults(func=_cmd_stream)
    return p


def _cmd_stream(args) -> int:
    from perpwire.actors.feeds import cli as feeds_cli
    from perpwire.simulator.server import Simulator

    return feeds_cli.run(args, simulator=lambda: Simulator(history_days=1))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _logging(args.verbose)
    try:
        return args.func(args)
    except (ConfigError, StoreUnavailable, _Refused, deployment.AuthError) as exc:
        print(f"perpwire: {exc}", file=sys.stderr)
        return 2
    except DeploymentError as exc:
        print(f"perpwire: {exc}", file=sys.stderr)
        return 1
    except RayTaskError as exc:
        print(f"perpwire: {args.command}: {_one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
