"""The fan-out from collected panels to browsers: per-panel conflation and bounded per-client queues.

``Hub.publish(panels)`` takes a whole collection; a panel whose content did not change sends
nothing, and a changed panel is sent at most ``rate`` times a second (a newer value replaces one
not yet sent, so a burst of collections is one update). The ``events`` panel is a log: only the
events a browser has not seen are sent, as an ``append``. Every message is encoded once and the
same text queued to every client. A client's queue holds at most ``queue`` messages: a browser
that does not read (the server's writer is stuck on its socket) fills it and is dropped — its
queue is emptied and it is told to go — so a slow client costs a bounded amount of memory.

Messages (JSON text): ``{"type": "snapshot", "panels": {...}}`` first, then
``{"type": "update", "panel": name, "data": ...}`` and ``{"type": "append", "panel": "events",
"items": [...]}``. A plain class, testable without a loop or a socket.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

APPEND_PANELS = frozenset({"events"})


def encode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


class Client:
    """One browser's queue of messages still to write."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self.queue: deque[str] = deque()
        self.dropped = False
        self.sent = 0
        self._ready = asyncio.Event()

    def offer(self, message: str) -> bool:
        """Queue ``message``; False (and the client dropped) when its queue is full."""
        if self.dropped:
            return False
        if len(self.queue) >= self.maxsize:
            self.drop()
            return False
        self.queue.append(message)
        self._ready.set()
        return True

    def drop(self) -> None:
        self.dropped = True
        self.queue.clear()
        self._ready.set()

    async def next(self) -> str | None:
        """The next message to write, or None once the client is dropped."""
        while not self.queue and not self.dropped:
            self._ready.clear()
            await self._ready.wait()
        if self.dropped:
            return None
        self.sent += 1
        return self.queue.popleft()


class Hub:
    def __init__(self, *, rate: float = 4.0, rates: dict[str, float] | None = None, queue: int = 64,
                 clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.rates = {k: min(v, rate) for k, v in (rates or {}).items()}  # a panel may go slower, never faster
        self.queue = queue
        self.clock = clock
        self.clients: set[Client] = set()
        self.dropped = 0  # clients dropped for not reading
        self.updates = 0  # messages queued to clients
        self._data: dict[str, str] = {}  # panel -> encoded current content
        self._events: list[dict[str, Any]] = []  # the event log as last published
        self._pending: dict[str, Any] = {}  # panel -> content not sent yet (events: new items)
        self._sent_at: dict[str, float] = {}

    # --- clients ---------------------------------------------------------------------------------

    def connect(self) -> Client:
        """A new client, its snapshot already queued."""
        client = Client(self.queue)
        client.offer(self.snapshot())
        self.clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        self.clients.discard(client)

    def snapshot(self) -> str:
        panels = dict(self._data)
        if "events" in panels or self._events:
            panels["events"] = encode(self._events)
        body = ",".join(f"{encode(k)}:{v}" for k, v in panels.items())
        return '{"type":"snapshot","panels":{' + body + "}}"

    def content(self, panel: str) -> Any:
        """A panel's current content, decoded (for ``/metrics`` and tests)."""
        if panel in APPEND_PANELS:
            return list(self._events)
        text = self._data.get(panel)
        return None if text is None else json.loads(text)

    # --- publishing ------------------------------------------------------------------------------

    def publish(self, panels: dict[str, Any]) -> None:
        for name, data in panels.items():
            if name in APPEND_PANELS:
                self._append(name, data)
                continue
            text = encode(data)
            if text == self._data.get(name):
                continue
            self._data[name] = text
            self._pending[name] = text
        self.flush()

    def _append(self, name: str, events: list[dict[str, Any]]) -> None:
        last = self._events[-1]["seq"] if self._events else 0
        new = [e for e in events if e["seq"] > last]
        self._events = list(events)
        if new:
            self._pending[name] = [*self._pending.get(name, []), *new]

    def flush(self) -> float | None:
        """Send every pending panel whose interval has passed; returns the seconds until the next
        pending one is due (None: nothing pending)."""
        now = self.clock()
        wait = None
        for name in list(self._pending):
            interval = 1.0 / self.rates.get(name, self.rate)
            due = self._sent_at.get(name, float("-inf")) + interval
            if now < due:
                wait = due - now if wait is None else min(wait, due - now)
                continue
            value = self._pending.pop(name)
            if name in APPEND_PANELS:
                message = '{"type":"append","panel":' + encode(name) + ',"items":' + encode(value) + "}"
            else:
                message = '{"type":"update","panel":' + encode(name) + ',"data":' + value + "}"
            self._sent_at[name] = now
            self._send(message)
        return wait

    def _send(self, message: str) -> None:
        for client in list(self.clients):
            if client.offer(message):
                self.updates += 1
            else:
                self.clients.discard(client)
                self.dropped += 1
