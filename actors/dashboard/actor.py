"""The dashboard inside the deployment: a named Ray actor (``perpwire-dashboard``) running the server.

Like every perpwire actor it is given names, not handles, and starts its work from its
constructor, so a restart by Ray serves again with no call from anyone (on the same port; with
``port: 0`` on a new one, which ``url()`` tells). ``RaySource`` reads the coordinator and the
stream actors by value for the collector; the funding chart reads the store actor.

The access token is read from the actor's own environment (with ``address: local`` that is the
environment of the process that started the deployment; on a cluster, set it on the nodes).
``token_required`` is whether the starting process saw one: an actor that then finds none
refuses to serve rather than serve without it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
import ray

from perpwire.actors.app.config import DashboardConfig
from perpwire.actors.dashboard.collector import Collector
from perpwire.actors.dashboard.server import DashboardServer
from perpwire.actors.logs import apply_log_level
from perpwire.market.errors import ConfigError
from perpwire.venues.base import MARKET_DATA_CHANNELS

log = logging.getLogger(__name__)

DASHBOARD_NAME = "perpwire-dashboard"
CALL_TIMEOUT_S = 5.0


class RaySource:
    """The collector's ``Source`` over named actors: ``streams`` is ``[(venue, stream, actor name)]``."""

    def __init__(self, coordinator: str, streams: list[tuple[str, str, str]], store: str | None = None):
        self.coordinator_name = coordinator
        self.stream_names = [tuple(s) for s in streams]
        self.store_name = store
        self._handles: dict[str, Any] = {}

    def _handle(self, name: str):
        handle = self._handles.get(name)
        if handle is None:
            handle = self._handles[name] = ray.get_actor(name)
        return handle

    async def _call(self, name: str, method: str, *args):
        try:
            return await asyncio.wait_for(getattr(self._handle(name), method).remote(*args), CALL_TIMEOUT_S)
        except (ray.exceptions.RayActorError, ValueError):
            self._handles.pop(name, None)  # dead or not there yet: look it up again next time
            raise

    async def streams(self) -> list[dict[str, Any]]:
        async def one(venue: str, stream: str, name: str) -> dict[str, Any]:
            try:
                stats, health = await asyncio.gather(self._call(name, "stats"), self._call(name, "health"))
            except Exception as exc:
                return {"venue": venue, "stream": stream, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
            row = msgspec.structs.asdict(stats)
            row.update(connected=health.connected, paused=health.paused, last_frame_age_s=health.last_frame_age_s,
                       books=dict(health.books), book_age_ms=dict(health.book_age_ms), last_error=health.last_error,
                       resumed_symbols=sorted({s.symbol for s in health.subscriptions.wanted
                                               if s.symbol and s.channel in MARKET_DATA_CHANNELS}))
            return row

        return list(await asyncio.gather(*(one(*s) for s in self.stream_names)))

    async def summary(self) -> dict[str, Any]:
        return await self._call(self.coordinator_name, "summary")

    async def opportunities(self, top: int) -> list[Any]:
        return await self._call(self.coordinator_name, "opportunities", top)

    async def positions(self) -> list[dict[str, Any]]:
        return await self._call(self.coordinator_name, "positions")

    async def orders(self) -> list[dict[str, Any]]:
        return await self._call(self.coordinator_name, "orders")

    async def history(self, venue: str, symbol: str, since_ms: int, until_ms: int | None) -> dict[str, list]:
        if self.store_name is None:
            raise RuntimeError("no store")
        settled, streamed = await asyncio.gather(self._call(self.store_name, "history", venue, symbol, since_ms,
                                                            until_ms),
                                                 self._call(self.store_name, "stream", venue, symbol, since_ms,
                                                            until_ms))
        return {"settled": [[r.ts, float(r.rate_per_hour)] for r in settled],
                "streamed": [[r.ts, float(r.rate_per_hour)] for r in streamed]}


@ray.remote(num_cpus=0, max_restarts=-1)
class DashboardActor:
    """``DashboardActor.options(name=DASHBOARD_NAME).remote(config, coordinator=..., streams=...,
    store=..., token_required=...)``; ``await url.remote()`` once it listens (raises why it cannot)."""

    def __init__(self, config: dict, *, coordinator: str, streams: list[tuple[str, str, str]],
                 store: str | None = None, token_required: bool = False):
        apply_log_level()
        self.config = DashboardConfig.model_validate(config)
        self.source = RaySource(coordinator, streams, store)
        self.server: DashboardServer | None = None
        self._serving = asyncio.get_running_loop().create_task(self._serve(token_required))

    async def _serve(self, token_required: bool) -> str:
        cfg = self.config
        token = cfg.token()
        if token_required and not token:
            raise ConfigError(f"dashboard: {cfg.token_env} is set where the deployment started but not in the "
                              "dashboard actor's environment: refusing to serve without the token")
        self.server = DashboardServer(
            Collector(self.source, funding_rows=cfg.funding_rows), host=cfg.host, port=cfg.port, token=token,
            history=self.source.history if self.source.store_name else None, refresh_s=cfg.refresh_s,
            panel_hz=cfg.panel_hz, client_queue=cfg.client_queue, symbol_labels=cfg.symbol_labels)
        try:
            url = await self.server.start()
        except OSError as exc:
            raise ConfigError(f"dashboard: cannot listen on {cfg.host}:{cfg.port} ({exc.strerror or exc}); "
                              "set dashboard.port (0: any free port) or dashboard.enabled: false") from None
        log.info("dashboard: serving %s", url)
        return url

    async def url(self) -> str:
        return await self._serving

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
