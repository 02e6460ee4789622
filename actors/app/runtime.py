"""Composition root: from an ``AppConfig`` to running actors on a local or remote Ray.

Order of start-up: Ray (started, or joined: never a second one inside a job), the store, one
stream actor per connection of every venue's topology (placed by ``actors.placement``: on nodes
with the gateway resource, spread; book connections start paused, so market data stays off until
a trade needs it), then the coordinator (a named actor, so ``perpwire status``, ``submit`` and
``stop`` find it from another process; with the store, on the head by default), which is given the
names of those actors and attaches itself, restores its positions and starts the configured
strategy, and last the dashboard actor (``actors.dashboard``: the web page and ``/metrics``,
unless ``dashboard.enabled`` is false). Every actor is detached in the deployment's namespace and
does its own start-up work, so whatever Ray restarts carries on without this process, and losing
this process loses nothing: after ``start`` returns, the runtime only answers ``status`` and ``stop``.
Nothing here knows about the simulator: the CLI's demo wiring points
the codecs' base URLs at it through ``codec_options``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
import ray

from perpwire import venues
from perpwire.actors.app.config import AppConfig
from perpwire.actors.app.deployment import start_ray
from perpwire.actors.budgets import end_budgets
from perpwire.actors.coordination.coordinator import COORDINATOR_NAME, Coordinator, DeploymentWiring
from perpwire.actors.placement import Placement
from perpwire.actors.store.actor import StoreActor
from perpwire.actors.store.check import check_store
from perpwire.actors.streams.actor import StreamActor
from perpwire.actors.topology import streams_for

log = logging.getLogger(__name__)

STORE_NAME = "perpwire-store"


class Runtime:
    def __init__(self, config: AppConfig):
        self.config = config
        self.coordinator = None
        self.store = None
        self.streams: dict[str, dict[str, Any]] = {}  # venue -> connection name -> handle
        self.pausable: list[Any] = []
        self.strategy_id: str | None = None
        self.namespace: str | None = None  # the Ray namespace holding the deployment's actors
        self.placement: Placement | None = None
        self.dashboard = None
        self.dashboard_url: str | None = None  # where the dashboard listens, once started
        self.dashboard_error: str | None = None  # why it did not start (the deployment runs without it)

    async def start(self, *, connect_timeout_s: float = 15.0, attach_timeout_s: float = 60.0) -> None:
        cfg = self.config
        await check_store(cfg.store.url)  # a wrong URL fails here in seconds, before any actor starts
        start_ray(cfg.ray)  # local: an embedded Ray on 127.0.0.1; joins RAY_ADDRESS or a Ray already joined
        # the actors find each other by name in the namespace of the process that creates them, so
        # the deployment lives in this process's namespace (the configured one when it joined Ray here)
        self.namespace = ray.get_runtime_context().namespace
        self.placement = Placement(cfg.placement, namespace=self.namespace, spread=cfg.ray.spread_streams)
        log.info("%s", self.placement.describe())
        self.store = self._start_store()
        book_symbols: dict[str, dict[str, str]] = {}
        names: dict[str, dict[str, str]] = {}
        for venue, vc in cfg.venues.items():
            overrides = dict(vc.stream_overrides)
            if vc.api_key is not None:
                overrides.setdefault("api_key", vc.api_key.model_dump(mode="json"))
            if vc.api_secret is not None:
                overrides.setdefault("api_secret", vc.api_secret.model_dump(mode="json"))
            if vc.auth_token is not None:
                overrides.setdefault("auth_token", vc.auth_token.model_dump(mode="json"))
            handles = {}
            for sc in streams_for(venue, vc.symbols, trading=cfg.streams_user_data(venue),
                                  codec_options=vc.codec_options, overrides=overrides):
                sc.start_paused = sc.pausable
                actor_name = f"perpwire-{venue}-{sc.name}"
                names.setdefault(venue, {})[sc.name] = actor_name
                handles[sc.name] = StreamActor.options(
                    name=actor_name, get_if_exists=True, **self.placement.stream(),
                ).remote(sc.model_dump(mode="json"), funding_sink=COORDINATOR_NAME, user_sink=COORDINATOR_NAME)
                if sc.pausable:
                    self.pausable.append(handles[sc.name])
                if sc.name.split("-")[0] == venues.spec(venue).book_connection:
                    for sub in sc.subscriptions:
                        if sub.symbol:
                            book_symbols.setdefault(venue, {})[sub.symbol] = sc.name
            self.streams[venue] = handles
        wiring = DeploymentWiring(
            streams={v: ns for v, ns in names.items() if v in cfg.coordinator.tradable_venues},
            codec_options={v: vc.codec_options for v, vc in cfg.venues.items()}, book_symbols=book_symbols,
            store=STORE_NAME, strategy=cfg.strategy.model_dump(mode="json") if cfg.strategy else None,
            symbols={v: list(vc.symbols) for v, vc in cfg.venues.items()})
        coordinator_cfg = cfg.coordinator.model_copy(update={"deployment": wiring})
        self.coordinator = Coordinator.options(name=COORDINATOR_NAME, get_if_exists=True,
                                               **self.placement.coordinator()).remote(
            coordinator_cfg.model_dump(mode="json"))
        everything = [h for hs in self.streams.values() for h in hs.values()]
        results = await asyncio.gather(*(h.wait_connected.remote(connect_timeout_s) for h in everything),
                                       return_exceptions=True)
        await self._report_unconnected(results)
        await self._wait_attached(attach_timeout_s)
        strategies = await self.coordinator.strategies.remote()
        self.strategy_id = strategies[0]["id"] if strategies else None
        if cfg.dashboard.enabled:
            await self._start_dashboard([(v, n, a) for v, ns in names.items() for n, a in ns.items()])

    async def _start_dashboard(self, streams: list[tuple[str, str, str]], timeout_s: float = 30.0) -> None:
        """The dashboard actor, serving once this returns; one warning and none when it cannot listen
        (the deployment runs on without it)."""
        from perpwire.actors.dashboard.actor import DASHBOARD_NAME, DashboardActor

        dash = self.config.dashboard
        self.dashboard = DashboardActor.options(name=DASHBOARD_NAME, get_if_exists=True).remote(
            dash.model_dump(mode="json"), coordinator=COORDINATOR_NAME, streams=streams, store=STORE_NAME,
            token_required=dash.token() is not None)
        try:
            self.dashboard_url = await asyncio.wait_for(self.dashboard.url.remote(), timeout_s)
        except Exception as exc:
            cause = exc.cause if isinstance(exc, ray.exceptions.RayTaskError) and exc.cause else exc
            self.dashboard_error = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
            log.warning("%s", self.dashboard_error)
            ray.kill(self.dashboard)
            self.dashboard = None

    async def _report_unconnected(self, results: list) -> None:
        """One line per venue whose streams did not connect, with the cause the stream saw (which
        would otherwise be only in the actor's own log); they keep retrying with backoff."""
        failed: dict[str, list[tuple[str, Any]]] = {}
        for (venue, name), r in zip(((v, n) for v, hs in self.streams.items() for n in hs), results, strict=True):
            if isinstance(r, BaseException):
                failed.setdefault(venue, []).append((name, self.streams[venue][name]))
        for venue, items in failed.items():
            try:
                health = await asyncio.wait_for(items[0][1].health.remote(), 5.0)
                cause = health.last_error or "no answer yet"
            except Exception as exc:
                cause = f"{type(exc).__name__}: {exc}"
            log.warning("%s: %d of %d streams not connected (%s: %s); retrying in the background", venue, len(items),
                        len(self.streams[venue]), ", ".join(n for n, _ in items), cause)

    async def _wait_attached(self, timeout_s: float) -> None:
        """The coordinator attaches itself; wait for it (a store that cannot answer keeps it trying)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not await self.coordinator.attached.remote():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the coordinator did not attach within {timeout_s:.0f} s (see its log)")
            await asyncio.sleep(0.05)

    def _start_store(self):
        return StoreActor.options(name=STORE_NAME, get_if_exists=True, **self.placement.store()).remote(
            self.config.store.url)

    async def status(self) -> dict[str, Any]:
        names = [(v, n, h) for v, hs in self.streams.items() for n, h in hs.items()]
        stats = await asyncio.gather(*(h.stats.remote() for _, _, h in names), return_exceptions=True)
        health = await asyncio.gather(*(h.health.remote() for _, _, h in names), return_exceptions=True)
        streams = []
        for (venue, name, _), st, he in zip(names, stats, health, strict=True):
            if isinstance(st, BaseException) or isinstance(he, BaseException):
                streams.append({"venue": venue, "stream": name, "error": str(st if isinstance(st, BaseException)
                                                                             else he)})
                continue
            # StreamStats and StreamHealth flattened into one row per stream, for the view and JSON
            streams.append({**msgspec.structs.asdict(st), "connected": he.connected, "paused": he.paused,
                            "books": he.books})
        summary = await self.coordinator.summary.remote()
        return {"streams": streams, "coordinator": summary}

    async def stop(self) -> None:
        if self.dashboard is not None:
            try:
                await asyncio.wait_for(self.dashboard.stop.remote(), 10.0)
            except Exception as exc:
                log.warning("dashboard stop failed: %s", exc)
        if self.coordinator is not None:
            try:
                await self.coordinator.stop.remote()
            except Exception as exc:
                log.warning("coordinator stop failed: %s", exc)
        everything = [h for hs in self.streams.values() for h in hs.values()]
        await asyncio.gather(*(h.stop.remote() for h in everything), return_exceptions=True)
        if self.store is not None:
            try:
                await self.store.stop.remote()
            except Exception as exc:
                log.warning("store close failed: %s", exc)
        for h in [*everything, self.coordinator, self.store, self.dashboard]:
            if h is not None:
                ray.kill(h)
        end_budgets(ray.get_runtime_context().namespace)  # detached: they end with the deployment
