"""``StreamManager``: many adapters as one feed, with health and a graceful shutdown.

::

    async with StreamManager() as manager:
        binance = manager.adapter("binance", urls=...)
        bybit = manager.adapter("bybit", urls=...)
        await binance.subscribe(["BTCUSDT"], ["trades", "bbo"])
        await bybit.subscribe(["BTCUSDT"], ["trades"])
        async for item in manager:   # every adapter's items, one queue; ends after a stop
            ...

Adapters made by ``manager.adapter`` share the manager's ``FeedQueue``. ``start()`` connects
them all and, by default, installs SIGINT and SIGTERM handlers on the running loop; a signal (or
``stop()``) disconnects every adapter — no socket or task of theirs is left — and closes the queue,
so a consumer reads what is still queued (for at most ``drain_timeout`` seconds; what is left then
is dropped and counted in ``abandoned``) and its ``async for`` ends. ``health()`` lists every
stream of every adapter (``FeedHealth``: connected, last message age, reconnects, decode errors,
validation failures). The previous signal handlers come back on stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterable, Mapping
from typing import Any

from perpwire.actors.feeds.adapter import adapter as make_adapter
from perpwire.actors.feeds.health import FeedHealth
from perpwire.actors.feeds.queues import FeedQueue, Overflow

__all__ = ["StreamManager"]

log = logging.getLogger(__name__)
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StreamManager:
    def __init__(self, adapters: Iterable[Any] = (), *, queue_size: int = 50_000,
                 overflow: Mapping[str, Overflow | str] | None = None, drain_timeout: float = 2.0,
                 handle_signals: bool = True) -> None:
        self.queue = FeedQueue(queue_size, overflow)
        self.adapters: list[Any] = list(adapters)
        self.drain_timeout = drain_timeout
        self.handle_signals = handle_signals
        self.abandoned = 0
        self.stopped_by: str | None = None
        self._stopped = asyncio.Event()
        self._stopping: asyncio.Task | None = None
        self._signals_installed = False
        self._previous: dict[signal.Signals, Any] = {}
        self._started = False

    def adapter(self, venue: str, **options: Any) -> Any:
        """A new adapter of ``venue`` feeding this manager's queue (options: see ``Adapter``)."""
        feed = make_adapter(venue, queue=self.queue, **options)
        self.adapters.append(feed)
        return feed

    async def start(self) -> StreamManager:
        if self.handle_signals and not self._signals_installed:
            loop = asyncio.get_running_loop()
            self._previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
            for sig in _SIGNALS:
                loop.add_signal_handler(sig, self._on_signal, sig)
            self._signals_installed = True
        await asyncio.gather(*(a.connect() for a in self.adapters))
        self._started = True
        return self

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._stopping is None:
            self.stopped_by = sig.name
            log.warning("perpwire: %s: stopping every stream, draining the queue", sig.name)
            self._stopping = asyncio.get_running_loop().create_task(self.stop(), name="stream-manager:stop")

    async def stop(self) -> None:
        """Disconnect every adapter, close the queue, give consumers ``drain_timeout`` to read it."""
        if self._stopped.is_set():
            return
        results = await asyncio.gather(*(a.disconnect() for a in self.adapters), return_exceptions=True)
        for a, r in zip(self.adapters, results, strict=True):
            if isinstance(r, Exception):
                log.warning("perpwire: %s: disconnect failed: %s", a.venue, r)
        self.queue.close()
        self._remove_signals()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_timeout
        while len(self.queue) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        left = self.queue.drain() if len(self.queue) else []
        self.abandoned += len(left)
        self._stopped.set()

    def _remove_signals(self) -> None:
        if self._signals_installed:
            loop = asyncio.get_running_loop()
            for sig in _SIGNALS:
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)
                    signal.signal(sig, self._previous[sig])  # e.g. asyncio.run's own Ctrl-C handler
            self._signals_installed = False

    async def wait_stopped(self) -> None:
        await self._stopped.wait()
        if self._stopping is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._stopping

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    async def __aenter__(self) -> StreamManager:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        await self.wait_stopped()

    def __aiter__(self) -> FeedQueue:
        return self.queue.__aiter__()

    async def health(self) -> list[FeedHealth]:
        out: list[FeedHealth] = []
        for a in self.adapters:
            if hasattr(a, "health_async"):
                out += await a.health_async()
            else:
                out += a.health()
        return out
