"""``Simulator``: one aiohttp app on 127.0.0.1 serving every venue under ``/<venue>/...``.

It owns the model (``MarketModel``, ``FundingModel``, ``Exchange``), the connection hub,
accounting, faults and replays, builds one ``VenueServer`` per venue and runs the tick loop:
every ``tick_s`` real seconds the market advances ``tick_s × speed`` market seconds, funding
settles on crossed boundaries, resting orders fill, each venue publishes, and once a second
connections past their venue's 24 h (market time) limit are closed. With ``run_clock=False``
nothing moves until ``tick()`` is called — deterministic tests drive it by hand.

``urls[venue]`` holds ``{"ws", "rest"}`` base URLs in the shape of each venue's real base URL
(host replaced by ``127.0.0.1:<port>/<venue>``), so a codec only needs its base URL options
overridden. Python helpers (``shock_funding``, ``stats``, fault shortcuts, ``add_api_key``,
``replay``) mirror the HTTP control API under ``/_control`` (``simulator.control``).

``symbols`` sets the catalogue's size (BTC, ETH, SOL, then made-up assets; ``catalog.assets``);
beyond three, books nobody watches move only every two seconds (``MarketModel.quiet_books``).
``enforce_limits`` makes every venue hold clients to its published limits (``VenueSpec.limits``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from perpwire.simulator import credentials as creds
from perpwire.simulator.accounting import Accounting
from perpwire.simulator.catalog import VENUES
from perpwire.simulator.clock import HOUR_MS, SimClock
from perpwire.simulator.control import control_routes
from perpwire.simulator.credentials import ApiKey
from perpwire.simulator.faults import Faults
from perpwire.simulator.funding import FundingModel
from perpwire.simulator.hub import Hub
from perpwire.simulator.model import Book, MarketModel
from perpwire.simulator.orders import Exchange
from perpwire.simulator.replay import Replays
from perpwire.simulator.servers import SERVERS
from perpwire.simulator.servers.base import VenueServer

log = logging.getLogger(__name__)


class Simulator:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        speed: float = 1.0,
        tick_s: float = 0.05,
        start_ms: int | None = None,
        venues: Iterable[str] | None = None,
        run_clock: bool = True,
        history_days: int = 30,
        levels: int = 300,
        api_keys: Iterable[ApiKey] = (),
        balance: Decimal | int | str = 100_000,
        venue_options: dict[str, dict[str, Any]] | None = None,
        symbols: int = 3,
        quiet_books: bool | None = None,
        enforce_limits: bool = False,
    ) -> None:
        names = tuple(venues) if venues is not None else VENUES
        unknown = set(names) - set(SERVERS)
        if unknown:
            raise ValueError(f"unknown venues {sorted(unknown)}; known: {', '.join(SERVERS)}")
        self.host, self.port = host, port
        self.run_clock = run_clock
        self.balance = Decimal(balance)
        root = random.Random(seed)
        self.clock = SimClock(start_ms=start_ms, speed=speed, tick_s=tick_s)
        self._born = time.monotonic()  # when market time started (the clock's start_ms)
        self.tick_errors = 0  # ticks that raised (the loop carries on)
        self.skipped_s = 0.0  # wall seconds of ticks skipped under overload (market time jumped over them)
        self.symbols = symbols
        self.enforce_limits = enforce_limits
        self.model = MarketModel(random.Random(root.random()), names, levels=levels, symbols=symbols,
                                 quiet_books=quiet_books, quiet_every=self.clock.ticks_per(5.0),
                                 basis_every=self.clock.ticks_per(1.0))
        self.funding = FundingModel(random.Random(root.random()), names, self.clock.now_ms, history_days=history_days,
                                    symbols=symbols,
                                    advance_every=self.clock.ticks_per(1.0) if self.model.quiet_books else 1)
        self.accounting = Accounting()
        self.hub = Hub(self.accounting, lambda: self.clock.now_ms)
        self.faults = Faults(self.hub)
        self.exchange = Exchange(self.model, lambda: self.clock.now_ms)
        self.replays = Replays(self.hub)
        self.credentials: dict[str, dict[str, ApiKey]] = {}
        for key in api_keys:
            self.add_api_key(key)
        options = venue_options or {}
        self.venues: dict[str, VenueServer] = {n: SERVERS[n](self, **options.get(n, {})) for n in names}
        self.app = self._build_app()
        self.urls: dict[str, dict[str, str]] = {}
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        for venue in self.venues.values():
            for method, path, handler in venue.routes():
                full = venue.prefix + path
                if method == "WS":
                    app.router.add_get(full, handler)
                else:
                    app.router.add_route(method, full, handler)
        app.router.add_get("/replay/{name}", self.replays.handle)
        for method, path, handler in control_routes(self):
            app.router.add_route(method, path, handler)
        return app

    async def start(self) -> Simulator:
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        self.base_url = f"http://{self.host}:{self.port}"
        ws_base = f"ws://{self.host}:{self.port}"
        self.urls = {name: v.urls(self.base_url, ws_base) for name, v in self.venues.items()}
        if self.run_clock:
            self._task = asyncio.get_running_loop().create_task(self._run())
        log.info("simulator listening on %s", self.base_url)
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for conn in list(self.hub.conns.values()):
            conn.abort()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        # market time started at construction; setting up (history, sockets) took wall time that
        # no tick covered: step over it, so venue timestamps match the clients' clocks from the
        # first frame (at speed 1 they are wall-clock times)
        self.clock.jump(max(0.0, time.monotonic() - self._born) * self.clock.speed * 1000.0)
        next_t = loop.time()
        while True:
            next_t += self.clock.tick_s
            delay = next_t - loop.time()
            if delay < -1.0:  # overloaded: skip the backlog instead of bursting ticks...
                behind_s = -delay
                next_t = loop.time()
                delay = 0.0
                # ...but keep market time on the wall's pace, so venue timestamps stay comparable
                # with the clients' clocks (a stall skips market time; it never slows it down)
                self.clock.jump(behind_s * self.clock.speed * 1000.0)
                self.skipped_s += behind_s
            await asyncio.sleep(max(0.0, delay))
            try:
                self.tick()  # at the end of its interval: market time never runs ahead of the wall
            except Exception:  # one bad tick must not stop the clock (and every feed) for good
                self.tick_errors += 1
                if self.tick_errors in (1, 10, 100) or self.tick_errors % 1000 == 0:
                    log.exception("tick %d failed (%d failures so far)", self.clock.ticks, self.tick_errors)

    # --- the tick -----------------------------------------------------------------------------

    def tick(self, n: int = 1) -> None:
        """Advance the market ``n`` ticks and publish each (synchronous)."""
        for _ in range(n):
            dt_h = self.clock.advance()
            now = self.clock.now_ms
            self.model.step(dt_h, now)
            settlements = self.funding.step(dt_h, now)
            self.exchange.on_tick()
            for venue in self.venues.values():
                try:
                    venue.on_tick()
                except Exception:
                    log.exception("%s: publishing failed on tick %d", venue.name, self.clock.ticks)
            for s in settlements:
                venue = self.venues[s.venue]
                book = self.model.books[(s.venue, s.asset)]
                venue.on_settlement(s)
                self.exchange.settle_funding(s.venue, s.asset, s.rate, Decimal(f"{book.mid:.8f}"), s.ts)
            self.model.end_tick()
            if self.clock.ticks % self.clock.ticks_per(1.0) == 0:
                self._close_aged(now)

    def _close_aged(self, now: int) -> None:
        for conn in list(self.hub.conns.values()):
            venue = self.venues.get(conn.venue)
            if venue is not None and venue.max_age_h and now - conn.opened_ms >= venue.max_age_h * HOUR_MS:
                conn.close_soon(1001, "connection exceeded its maximum age")

    def jump(self, ms: float) -> None:
        """Move market time forward ``ms`` (the next tick settles any funding boundary crossed)."""
        self.clock.jump(ms)

    # --- helpers ------------------------------------------------------------------------------

    def share_fair(self, buffer: memoryview, *, writer: bool) -> None:
        """Quote the fair prices of ``buffer`` (one double per catalogue asset, in catalogue
        order), shared with other simulator processes: the writer's random walk fills it every
        tick, the others read it instead of walking their own, so every venue quotes one market."""
        names = list(self.model.assets)
        if len(buffer) < len(names):
            raise ValueError(f"the shared fair-price buffer holds {len(buffer)} prices, the catalogue {len(names)}")

        def sink(fair: dict[str, float]) -> None:
            for i, name in enumerate(names):
                buffer[i] = fair[name]

        def source(fair: dict[str, float]) -> None:
            if buffer[0] > 0:  # written at least once
                for i, name in enumerate(names):
                    fair[name] = buffer[i]

        if writer:
            sink(self.model.fair)
            self.model.fair_sink = sink
        else:
            self.model.fair_source = source

    def venue(self, name: str) -> VenueServer:
        return self.venues[name]

    def book(self, venue: str, asset: str) -> Book:
        return self.model.books[(venue, asset)]

    def shock_funding(
        self, venue: str, asset: str, rate: float | str | Decimal, *, per_hour: bool = False
    ) -> dict[str, Any]:
        """Set ``venue``'s current funding for ``asset`` to ``rate`` (per its interval, or per hour).

        Returns when it took effect: ``wall_ms`` (this process's clock, float) and ``market_ms``
        (market time of the last tick). The next tick publishes it, so every frame whose venue
        time is after ``market_ms`` carries the new rate — compare venue times with
        ``market_ms``, not with the wall: a tick runs a little after the market time it stamps.
        """
        self.funding.shock(venue, asset, float(rate), per_hour=per_hour)
        return {"wall_ms": time.time() * 1000.0, "market_ms": self.clock.now_ms, "ticks": self.clock.ticks,
                "rate_per_hour": self.funding.rate_per_hour(venue, asset)}

    def add_api_key(self, key: ApiKey) -> ApiKey:
        self.credentials.setdefault(key.venue, {})[key.key] = key
        return key

    def new_api_key(self, venue: str, account: str | None = None) -> ApiKey:
        """Mint and register a throwaway credential for ``venue``."""
        return self.add_api_key(creds.generate(venue, account))

    def stats(self, venue: str | None = None, *, connections: bool = True) -> dict[str, Any]:
        return self.accounting.snapshot(venue, connections=connections)

    def connection_stats(self, conn_id: int) -> dict[str, Any]:
        return self.accounting.connection(conn_id).as_dict()

    def reset_stats(self) -> None:
        self.accounting.reset()

    def expire_listen_key(self, venue: str, key: str | None = None) -> int:
        server = self.venues[venue]
        if not hasattr(server, "expire_listen_key"):
            raise ValueError(f"{venue} has no listenKeys")
        return server.expire_listen_key(key)  # type: ignore[attr-defined]

    def replay(
        self, name: str, source: str | Path | Iterable[Any], *, speed: float | None = 1.0, loop: bool = False
    ) -> str:
        """Serve a recorded session; returns the WebSocket URL clients connect to."""
        self.replays.add(name, source, speed=speed, loop=loop)
        return f"ws://{self.host}:{self.port}/replay/{name}"
