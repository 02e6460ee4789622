"""The open socket of a stream connection, as its collaborators see it.

The session loop sets ``ws`` when a socket opens and clears it when it closes; everyone else
(commands, the watchdog, resyncs, pongs) only sends and closes through the ``Link``. Frames sent
while no socket is open are dropped on purpose: the next socket subscribes the wanted set anew.
A ``pacer`` (a ``TokenBucket``, one token a frame) keeps the frames within the venue's control
message limit; without one frames go at once.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


class Link:
    def __init__(self, counters: Counter[str]) -> None:
        self.ws: Any = None
        self._counters = counters
        self.pacer: Any = None  # a TokenBucket, or None

    @property
    def open(self) -> bool:
        return self.ws is not None

    async def send(self, frames: list[str]) -> None:
        """Send ``frames`` in order on the open socket (each counted as ``control_sent``)."""
        ws = self.ws
        if ws is None:
            return
        for frame in frames:
            if self.pacer is not None:
                waited = await self.pacer.acquire()
                if waited:
                    self._counters["control_paced_ms"] += int(waited * 1000)
                if self.ws is not ws:  # the socket closed while waiting: the next one subscribes anew
                    return
            await ws.send(frame)
            self._counters["control_sent"] += 1

    async def close(self, reason: str) -> None:
        """Close the open socket normally; the session loop reconnects (a no-op without a socket)."""
        ws = self.ws
        if ws is not None:
            await ws.close(code=1000, reason=reason)
