"""Composition root: from an ``AppConfig`` to running actors on a local or remote Ray.

Order of start-up: Ray, the store, the coordinator (a named actor, so ``perpwire status``,
``submit`` and ``stop`` find it from another process), one stream actor per connection of every
venue's topology (placed with the SPREAD strategy so a cluster shares them out), the venues'
facades inside the coordinator, the market-data streams paused until a trade needs them, and
the configured strategy. Nothing here knows about the simulator: the CLI's demo wiring points
the codecs' base URLs at it through ``codec_options``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray

from actors.app import AppConfig
from actors.coordinator import COORDINATOR_NAME, Coordinator
from actors.store.actor import StoreActor
from actors.stream import StreamActor
from actors.topology import LAYOUTS, streams_for

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, config: AppConfig):
        self.config = config
        self.coordinator = None
        self.store = None
        self.streams: dict[str, dict[str, Any]] = {}  # venue -> connection name -> handle
        self.pausable: list[Any] = []
        self.strategy_id: str | None = None
        self._attach_args: tuple | None = None  # what start() attached the coordinator with
        self._supervisor: asyncio.Task | None = None

    async def start(self, *, connect_timeout_s: float = 15.0) -> None:
        cfg = self.config
        if not ray.is_initialized():
            ray.init(address=cfg.ray.address, namespace=cfg.ray.namespace, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        self.store = self._start_store()
        self.coordinator = Coordinator.options(name=COORDINATOR_NAME, get_if_exists=True).remote(
            cfg.coordinator.model_dump(mode="json"))
        scheduling = "SPREAD" if cfg.ray.spread_streams else "DEFAULT"
        book_symbols: dict[str, dict[str, str]] = {}
        for venue, vc in cfg.venues.items():
            overrides = dict(vc.stream_overrides)
            if vc.api_key is not None:
                overrides.setdefault("api_key", vc.api_key.model_dump(mode="json"))
            if vc.api_secret is not None:
                overrides.setdefault("api_secret", vc.api_secret.model_dump(mode="json"))
            handles = {}
            for sc in streams_for(venue, vc.symbols, trading=vc.trading and not cfg.paper,
                                  codec_options=vc.codec_options, overrides=overrides):
                handles[sc.name] = StreamActor.options(
                    name=f"perpwire-{venue}-{sc.name}", get_if_exists=True, scheduling_strategy=scheduling,
                ).remote(sc.model_dump(mode="json"), funding_sink=COORDINATOR_NAME, user_sink=COORDINATOR_NAME)
                if sc.pausable:
                    self.pausable.append(handles[sc.name])
                if sc.name.split("-")[0] == LAYOUTS[venue].book_stream:
                    for sub in sc.subscriptions:
                        if sub.symbol:
                            book_symbols.setdefault(venue, {})[sub.symbol] = sc.name
            self.streams[venue] = handles
        everything = [h for hs in self.streams.values() for h in hs.values()]
        results = await asyncio.gather(*(h.wait_connected.remote(connect_timeout_s) for h in everything),
                                       return_exceptions=True)
        for (venue, name), r in zip(((v, n) for v, hs in self.streams.items() for n in hs), results, strict=True):
            if isinstance(r, BaseException):
                log.warning("%s/%s: not connected yet (%s); it keeps retrying", venue, name, r)
        tradable = {v: hs for v, hs in self.streams.items() if v in cfg.coordinator.tradable_venues}
        self._attach_args = (tradable, {v: vc.codec_options for v, vc in cfg.venues.items()}, book_symbols, None,
                             self.store)
        await self.coordinator.attach.remote(*self._attach_args)
        # market data stays off until a trade needs it
        await asyncio.gather(*(h.pause.remote() for h in self.pausable), return_exceptions=True)
        if cfg.strategy is not None:
            self.strategy_id = await self.coordinator.submit.remote(cfg.strategy.name, cfg.strategy.params)
        self._supervisor = asyncio.create_task(self._supervise())

    async def _supervise(self, every_s: float = 5.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.ensure_attached()
            except Exception as exc:  # the coordinator may be restarting right now: next round
                log.warning("coordinator check failed (%s); trying again in %.0f s", exc, every_s)

    async def ensure_attached(self) -> bool:
        """Ray restarts a dead coordinator (``max_restarts=-1``) with its constructor arguments
        only: attach it to the streams again (it restores its open positions from the store) and
        resubmit the configured strategy. Returns whether it had to."""
        if self._attach_args is None or await self.coordinator.attached.remote():
            return False
        log.warning("coordinator came back empty (restarted): attaching the streams again")
        await self.coordinator.attach.remote(*self._attach_args)
        if self.config.strategy is not None:
            self.strategy_id = await self.coordinator.submit.remote(self.config.strategy.name,
                                                                    self.config.strategy.params)
        return True

    def _start_store(self):
        return StoreActor.options(name="perpwire-store", get_if_exists=True).remote(self.config.store.url)

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
            streams.append({**st, "connected": he["connected"], "paused": he["paused"], "books": he["books"]})
        summary = await self.coordinator.summary.remote()
        return {"streams": streams, "coordinator": summary}

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
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
        for h in [*everything, self.coordinator, self.store]:
            if h is not None:
                ray.kill(h)
