"""Live WebSocket connections: the send path, heartbeats and the per-connection read loop.

``Conn.push`` frames a finished text message itself (a server frame is a 2–10 byte header plus
the unmasked payload) and appends it to the connection's outgoing batch; the hub writes every
batch to its transport once per event-loop turn (``call_soon``), so a tick that fans one frame
out to every subscriber costs one ``write`` per connection, not one per frame, and needs no task
or queue per connection. Order is kept: replies and data share the batch. A client that lets
more than ``max_buffer`` bytes pile up is cut off, as real venues cut slow consumers. Stalled
channels (a fault) are swallowed and counted apart.

``serve`` runs one connection: it answers protocol pings itself (auto-ping is off so pongs can
be observed), hands text frames to the venue's protocol handler, and runs the heartbeat
watchdog that a venue's ``Heartbeat`` describes (server pings, pong and silence timeouts,
Hyperliquid's idle close). ``Hub`` indexes open connections for faults and accounting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from perpwire.simulator.accounting import Accounting, ConnStats

log = logging.getLogger(__name__)

ALL_CHANNELS = "*"
CONTROL = "control"


def frame_header(n: int) -> bytes:
    """FIN + text opcode, unmasked, payload length ``n`` (RFC 6455 §5.2)."""
    if n < 126:
        return bytes((0x81, n))
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n)
    return struct.pack("!BBQ", 0x81, 127, n)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A venue's keep-alive rules, in real seconds; None disables a rule."""

    ping_s: float | None = None  # the server pings this often
    app_ping: bytes | None = None  # a JSON ping text instead of a protocol ping frame
    pong_timeout_s: float | None = None  # close when a ping got no answer within this
    silence_s: float | None = None  # close when the client sent nothing for this long
    idle_s: float | None = None  # close when the server itself sent nothing for this long

    def scaled(self, **overrides: float | None) -> Heartbeat:
        fields = {k: getattr(self, k) for k in self.__slots__}
        fields.update({k: v for k, v in overrides.items() if k in fields})
        return Heartbeat(**fields)


class Conn:
    __slots__ = (
        "close_code",
        "closed",
        "conn_id",
        "hub",
        "last_frame",
        "last_in",
        "max_buffer",
        "opened_ms",
        "out",
        "path",
        "ponged",
        "query",
        "sent",
        "stalled",
        "state",
        "stats",
        "subs",
        "transport",
        "venue",
        "ws",
    )

    def __init__(
        self, hub: Hub, venue: str, ws: web.WebSocketResponse, request: web.Request, stats: ConnStats, now_ms: int
    ):
        self.hub = hub
        self.out: list[bytes] | None = None  # frames waiting for this loop turn's flush
        self.venue = venue
        self.ws = ws
        self.transport = request.transport
        self.path = request.path
        self.query = request.query
        self.stats = stats
        self.conn_id = stats.conn_id
        self.opened_ms = now_ms
        self.subs: set[str] = set()
        self.stalled: set[str] | None = None
        self.closed = False
        self.close_code: tuple[int, str] | None = None  # what the server closed with, once it did
        self.state: dict[str, Any] = {}
        self.last_frame = b""
        self.last_in = 0.0
        self.ponged = True
        self.sent = False
        self.max_buffer = 64 * 1024 * 1024

    def push(self, data: bytes, channel: str, *, control: bool = False) -> bool:
        """Queue one text frame for this loop turn's flush; False when the connection is gone or
        the channel is stalled."""
        if self.closed:
            return False
        if self.stalled is not None and not control and (ALL_CHANNELS in self.stalled or channel in self.stalled):
            self.stats.stalled += 1
            return False
        n = len(data)
        frame = (bytes((0x81, n)) if n < 126 else frame_header(n)) + data
        if self.out is None:
            self.out = [frame]
            self.hub.dirty(self)
        else:
            self.out.append(frame)
        self.stats.out(channel, n)
        self.last_frame = data
        self.sent = True
        return True

    def flush(self) -> None:
        out, self.out = self.out, None
        t = self.transport
        if not out or t is None or t.is_closing():
            return
        t.write(b"".join(out) if len(out) > 1 else out[0])
        if t.get_write_buffer_size() > self.max_buffer:
            log.warning("conn %s (%s): slow consumer, dropping the connection", self.conn_id, self.venue)
            self.abort()

    def reply(self, data: bytes) -> bool:
        return self.push(data, CONTROL, control=True)

    def abort(self) -> None:
        """Drop without a close frame (the client sees 1006)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.flush()  # what was sent before the close goes out before the close frame
        self.closed = True
        self.close_code = self.close_code or (code, reason)
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=reason.encode())

    def close_soon(self, code: int = 1000, reason: str = "") -> None:
        self.flush()
        self.closed = True
        self.close_code = self.close_code or (code, reason)
        task = asyncio.get_running_loop().create_task(self.ws.close(code=code, message=reason.encode()))
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)


_BACKGROUND: set[asyncio.Task[Any]] = set()


class Hub:
    def __init__(self, accounting: Accounting, now_ms: Callable[[], int]) -> None:
        self.accounting = accounting
        self.now_ms = now_ms
        self.conns: dict[int, Conn] = {}
        self._dirty: list[Conn] = []

    def dirty(self, conn: Conn) -> None:
        """``conn`` has frames to write: flush every such connection once this loop turn ends."""
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self.flush)
        self._dirty.append(conn)

    def flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()

    def select(self, venue: str | None = None, conn_id: int | None = None) -> list[Conn]:
        return [
            c
            for c in self.conns.values()
            if not c.closed and (venue is None or c.venue == venue) and (conn_id is None or c.conn_id == conn_id)
        ]

    async def serve(
        self,
        request: web.Request,
        venue: str,
        *,
        on_open: Callable[[Conn], Any] | None,
        on_text: Callable[[Conn, str], Awaitable[None] | None],
        on_close: Callable[[Conn], None] | None,
        heartbeat: Heartbeat,
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        stats = self.accounting.open(venue, request.path_qs, self.now_ms())
        conn = Conn(self, venue, ws, request, stats, self.now_ms())
        loop = asyncio.get_running_loop()
        conn.last_in = loop.time()
        self.conns[conn.conn_id] = conn
        watchdog = loop.create_task(self._watch(conn, heartbeat))
        try:
            if on_open is not None:
                result = on_open(conn)
                if result is not None:
                    await result
            async for msg in ws:
                conn.last_in = loop.time()
                if msg.type == WSMsgType.TEXT:
                    stats.inbound(len(msg.data))
                    result = on_text(conn, msg.data)
                    if result is not None:
                        await result
                elif msg.type == WSMsgType.BINARY:
                    stats.inbound(len(msg.data))
                    result = on_text(conn, msg.data.decode("utf-8", "replace"))
                    if result is not None:
                        await result
                elif msg.type == WSMsgType.PING:
                    if not conn.closed:
                        await ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG:
                    conn.ponged = True
                else:  # ERROR
                    break
                if conn.closed:
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            conn.closed = True
            watchdog.cancel()
            stats.closed_ms = self.now_ms()
            self.conns.pop(conn.conn_id, None)
            if on_close is not None:
                on_close(conn)
            if not ws.closed:
                code, reason = conn.close_code or (1000, "")
                with contextlib.suppress(Exception):
                    await ws.close(code=code, message=reason.encode())
        return ws

    async def _watch(self, conn: Conn, hb: Heartbeat) -> None:
        periods = [p for p in (hb.ping_s, hb.pong_timeout_s, hb.silence_s, hb.idle_s) if p]
        if not periods:
            return
        loop = asyncio.get_running_loop()
        step = max(0.01, min(1.0, min(periods) / 5))
        next_ping = loop.time() + hb.ping_s if hb.ping_s else None
        ping_sent_at: float | None = None
        idle_since = loop.time()
        try:
            while not conn.closed:
                await asyncio.sleep(step)
                now = loop.time()
                if conn.sent:
                    conn.sent = False
                    idle_since = now
                if hb.idle_s and now - idle_since > hb.idle_s:
                    conn.abort()  # Hyperliquid: no close frame after a silent minute
                    return
                if hb.silence_s and now - conn.last_in > hb.silence_s:
                    await conn.close(1000, "no message from the client")
                    return
                if ping_sent_at is not None and hb.pong_timeout_s:
                    answered = conn.ponged if hb.app_ping is None else conn.last_in > ping_sent_at
                    if answered:
                        ping_sent_at = None
                    elif now - ping_sent_at > hb.pong_timeout_s:
                        await conn.close(1000, "pong timeout")
                        return
                if next_ping is not None and now >= next_ping:
                    next_ping = now + hb.ping_s  # type: ignore[operator]
                    if hb.app_ping is not None:
                        conn.reply(hb.app_ping)
                    else:
                        conn.ponged = False
                        with contextlib.suppress(Exception):
                            await conn.ws.ping(b"")
                    if ping_sent_at is None:
                        ping_sent_at = now
        except asyncio.CancelledError:
            pass
