"""The dashboard's HTTP server (aiohttp): the page, its WebSocket, ``/metrics`` and the funding history.

- ``/`` the page (``static/index.html``; its script and style under ``/static/``, no build step);
- ``/ws`` a WebSocket: the snapshot of every panel on connect, then the hub's conflated updates;
- ``/metrics`` the same figures in Prometheus' text format (``actors.dashboard.metrics``);
- ``/api/funding_history?venue=V&symbol=S`` one venue-symbol's funding over the last day from
  the store (settled rates and received rates), for the chart.

With an access token configured, ``/``, ``/ws``, ``/metrics`` and ``/api/`` need it, as
``Authorization: Bearer <token>`` or ``?token=<token>`` (the page passes on the one it was opened
with); the static files are the package's own and need none. The server collects every
``refresh_s`` whether or not anyone watches, so the event log misses nothing and a scrape reads
figures at most that old. A browser whose socket does not take a message within
``send_timeout_s``, or whose queue fills, is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from perpwire.actors.dashboard import metrics
from perpwire.actors.dashboard.collector import Collector
from perpwire.actors.dashboard.hub import Hub

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
HISTORY_WINDOW_MS = 86_400_000  # the chart's day
HISTORY_POINTS = 720  # received rates thinned to at most this many points (one per two minutes over a day)

# (venue, symbol, since_ms, until_ms or None) -> {"settled": [[ts, rate_per_hour], ...], "streamed": [...]}
History = Callable[[str, str, int, int | None], Awaitable[dict[str, list[Any]]]]


class DashboardServer:
    def __init__(self, collector: Collector, *, host: str = "127.0.0.1", port: int = 8650, token: str | None = None,
                 history: History | None = None, refresh_s: float = 0.5, panel_hz: float = 4.0,
                 client_queue: int = 64, send_timeout_s: float = 5.0, symbol_labels: bool = False):
        self.collector = collector
        self.host = host
        self.port = port
        self.token = token
        self.history = history
        self.refresh_s = refresh_s
        self.send_timeout_s = send_timeout_s
        self.symbol_labels = symbol_labels
        self.hub = Hub(rate=panel_hz, rates={"funding": min(1.0, panel_hz)}, queue=client_queue)
        self.panels: dict[str, Any] = {}
        self.collect_errors = 0
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task] = []
        self._published = asyncio.Event()
        self._sockets: set[web.WebSocketResponse] = set()

    # --- life ------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/api/funding_history", self._funding_history)
        app.router.add_static("/static/", STATIC, follow_symlinks=False)
        return app

    async def start(self) -> str:
        """Listen and start collecting; returns the page's URL. An address in use raises ``OSError``."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        self.port = site._server.sockets[0].getsockname()[1]
        self._tasks = [asyncio.create_task(self._collect_loop()), asyncio.create_task(self._flush_loop())]
        return self.url

    @property
    def addresses(self) -> list:
        """Where it listens: (host, port, ...) per socket."""
        return list(self._runner.addresses) if self._runner is not None else []

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 1.0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def collect_once(self) -> dict[str, Any]:
        self.panels = await self.collector.collect()
        self.hub.publish(self.panels)
        self._published.set()
        return self.panels

    async def _collect_loop(self) -> None:
        failing = None
        while True:
            started = time.monotonic()
            try:
                await self.collect_once()
                if failing:
                    log.warning("dashboard: collecting works again")
                failing = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a restarting actor: keep the last figures, say it once per cause
                self.collect_errors += 1
                cause = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                if cause != failing:
                    log.warning("dashboard: collecting failed (%s); retrying every %.1f s", cause, self.refresh_s)
                failing = cause
            await asyncio.sleep(max(0.0, self.refresh_s - (time.monotonic() - started)))

    async def _flush_loop(self) -> None:
        while True:
            wait = self.hub.flush()
            self._published.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._published.wait(), wait if wait is not None else None)

    # --- access ------------------------------------------------------------------------------------

    def authorised(self, request: web.Request) -> bool:
        if not self.token:
            return True
        given = request.query.get("token")
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header[len("Bearer "):].strip()
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def _auth(self, request: web.Request, handler):
        if not request.path.startswith("/static/") and not self.authorised(request):
            return web.Response(status=401, text="perpwire dashboard: access token required (Authorization: Bearer "
                                "<token> or ?token=<token>)\n", headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    # --- handlers ------------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def _metrics(self, request: web.Request) -> web.Response:
        text = metrics.render(self.panels, clients=len(self.hub.clients), dropped=self.hub.dropped,
                              symbol_labels=self.symbol_labels)
        return web.Response(body=text.encode(), headers={"Content-Type": metrics.CONTENT_TYPE})

    async def _funding_history(self, request: web.Request) -> web.Response:
        venue, symbol = request.query.get("venue", ""), request.query.get("symbol", "")
        if not venue or not symbol:
            return web.json_response({"error": "funding_history: give venue and symbol"}, status=400)
        if self.history is None:
            return web.json_response({"error": "funding_history: this deployment has no store"}, status=404)
        now = int(time.time() * 1000)
        try:
            series = await self.history(venue, symbol, now - HISTORY_WINDOW_MS, None)
        except Exception as exc:
            log.warning("dashboard: funding history of %s %s failed: %s", venue, symbol, exc)
            return web.json_response({"error": f"funding_history {venue} {symbol}: {type(exc).__name__}: {exc}"},
                                     status=503)
        # the day ends now, or at the newest point when the venue's clock runs ahead (a fast simulator)
        until = max([now, *(p[0] for k in ("settled", "streamed") for p in series.get(k, [])[-1:])])
        since = until - HISTORY_WINDOW_MS
        settled = [p for p in series.get("settled", []) if p[0] >= since]
        streamed = [p for p in series.get("streamed", []) if p[0] >= since]
        return web.json_response({"venue": venue, "symbol": symbol, "since_ms": since, "until_ms": until,
                                  "settled": settled, "streamed": thin(streamed, HISTORY_POINTS)})

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
        await ws.prepare(request)
        client = self.hub.connect()
        self._sockets.add(ws)
        writer = asyncio.create_task(self._write(ws, client, request))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break  # what a browser sends is never needed: the page only listens
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self.hub.disconnect(client)
            self._sockets.discard(ws)
        return ws

    async def _write(self, ws: web.WebSocketResponse, client, request: web.Request) -> None:
        while True:
            message = await client.next()
            if message is None:  # the hub dropped it: its queue filled
                break
            try:
                await asyncio.wait_for(ws.send_str(message), self.send_timeout_s)
            except (TimeoutError, ConnectionError, RuntimeError):
                if not client.dropped:
                    client.drop()
                    self.hub.disconnect(client)
                    self.hub.dropped += 1
                break
        log.info("dashboard: dropped a client that does not read (%d messages sent)", client.sent)
        if request.transport is not None:
            request.transport.abort()  # its socket is full: a close frame would wait behind the rest


def thin(points: list[Any], most: int) -> list[Any]:
    """At most ``most`` points, evenly spaced, the last one always kept."""
    if len(points) <= most:
        return points
    step = len(points) / most
    picked = [points[int(i * step)] for i in range(most - 1)]
    return [*picked, points[-1]]
