"""Replay of recorded sessions: JSON lines of ``{"ts": <ms>, "frame": <text or JSON>}``.

``Replays.add(name, source, speed=...)`` registers a session; every client that connects to
``/replay/<name>`` receives its frames in order, spaced by the recorded ``ts`` differences
divided by ``speed`` (``speed=None`` sends them back to back). A ``frame`` that is a string is
sent verbatim — recordings keep the venue's exact bytes — anything else is JSON-encoded.
Whatever the client sends is counted and ignored; the connection closes cleanly after the last
frame unless ``loop`` is set.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from perpwire.simulator.hub import Conn, Heartbeat, Hub


@dataclass(slots=True)
class Session:
    name: str
    frames: list[tuple[float, bytes]]
    speed: float | None
    loop: bool


def load(source: str | Path | Iterable[str | dict[str, Any]]) -> list[tuple[float, bytes]]:
    """Parse a recording (a path, or an iterable of JSON lines / dicts) into (ts ms, frame bytes)."""
    if isinstance(source, (str, Path)):
        lines: Iterable[str | dict[str, Any]] = Path(source).read_text().splitlines()
    else:
        lines = source
    out: list[tuple[float, bytes]] = []
    for i, line in enumerate(lines):
        if isinstance(line, str):
            if not line.strip():
                continue
            row = json.loads(line)
        else:
            row = line
        try:
            ts = float(row["ts"])
            frame = row["frame"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"recording line {i + 1}: expected {{ts, frame}}") from exc
        data = frame.encode() if isinstance(frame, str) else msgspec.json.encode(frame)
        out.append((ts, data))
    return out


class Replays:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.sessions: dict[str, Session] = {}

    def add(
        self,
        name: str,
        source: str | Path | Iterable[str | dict[str, Any]],
        *,
        speed: float | None = 1.0,
        loop: bool = False,
    ) -> Session:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (or None for no delays)")
        session = Session(name, load(source), speed, loop)
        self.sessions[name] = session
        return session

    async def handle(self, request: web.Request) -> web.StreamResponse:
        session = self.sessions.get(request.match_info["name"])
        if session is None:
            raise web.HTTPNotFound(text="no such replay session")

        async def play(conn: Conn) -> None:
            task = asyncio.get_running_loop().create_task(self._play(conn, session))
            conn.state["task"] = task

        def stop(conn: Conn) -> None:
            task = conn.state.get("task")
            if task is not None:
                task.cancel()

        return await self.hub.serve(
            request,
            f"replay:{session.name}",
            on_open=play,
            on_text=lambda conn, text: None,
            on_close=stop,
            heartbeat=Heartbeat(),
        )

    async def _play(self, conn: Conn, session: Session) -> None:
        channel = f"replay:{session.name}"
        while True:
            prev: float | None = None
            for ts, data in session.frames:
                if session.speed is not None and prev is not None and ts > prev:
                    await asyncio.sleep((ts - prev) / 1000.0 / session.speed)
                prev = ts
                if not conn.push(data, channel):
                    return
            if not session.loop:
                break
        await conn.close(1000, "replay finished")
