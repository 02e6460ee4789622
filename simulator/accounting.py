"""Byte and message counters per connection, per channel and per venue.

Every frame a connection hands to its socket is counted under the channel it belongs to (the
venue's stream or topic name; acks, pongs and errors count as ``"control"``), with payload
bytes and wire bytes (payload plus the WebSocket frame header). Frames a stall fault swallowed
are counted apart as ``stalled`` so they never look like traffic. Closed connections keep their
counters, so the saving of a pause — bytes not sent after an unsubscribe — is a difference of
two readings. REST responses are counted per venue. ``snapshot()`` is what the control API
serves.
"""

from __future__ import annotations

from typing import Any


def frame_overhead(n: int) -> int:
    """Bytes of an unmasked server WebSocket frame header for an ``n``-byte payload."""
    return 2 if n < 126 else 4 if n < 65536 else 10


class ConnStats:
    __slots__ = (
        "bytes_in",
        "bytes_out",
        "channels",
        "closed_ms",
        "conn_id",
        "msgs_in",
        "msgs_out",
        "opened_ms",
        "path",
        "stalled",
        "venue",
        "wire_bytes_out",
    )

    def __init__(self, conn_id: int, venue: str, path: str, opened_ms: int) -> None:
        self.conn_id = conn_id
        self.venue = venue
        self.path = path
        self.opened_ms = opened_ms
        self.closed_ms: int | None = None
        self.msgs_out = 0
        self.bytes_out = 0
        self.wire_bytes_out = 0
        self.msgs_in = 0
        self.bytes_in = 0
        self.stalled = 0
        self.channels: dict[str, list[int]] = {}  # channel -> [messages, payload bytes]

    def out(self, channel: str, n: int) -> None:
        self.msgs_out += 1
        self.bytes_out += n
        self.wire_bytes_out += n + (2 if n < 126 else 4 if n < 65536 else 10)
        c = self.channels.get(channel)
        if c is None:
            self.channels[channel] = [1, n]
        else:
            c[0] += 1
            c[1] += n

    def inbound(self, n: int) -> None:
        self.msgs_in += 1
        self.bytes_in += n

    def as_dict(self) -> dict[str, Any]:
        return {
            "conn_id": self.conn_id,
            "venue": self.venue,
            "path": self.path,
            "opened_ms": self.opened_ms,
            "closed_ms": self.closed_ms,
            "msgs_out": self.msgs_out,
            "bytes_out": self.bytes_out,
            "wire_bytes_out": self.wire_bytes_out,
            "msgs_in": self.msgs_in,
            "bytes_in": self.bytes_in,
            "stalled": self.stalled,
            "channels": {k: {"msgs": v[0], "bytes": v[1]} for k, v in sorted(self.channels.items())},
        }


class Accounting:
    def __init__(self, *, keep_closed: int = 10_000) -> None:
        self.conns: dict[int, ConnStats] = {}
        self.rest: dict[str, list[int]] = {}  # venue -> [responses, bytes]
        self._keep_closed = keep_closed
        self._next_id = 1

    def open(self, venue: str, path: str, now_ms: int) -> ConnStats:
        stats = ConnStats(self._next_id, venue, path, now_ms)
        self._next_id += 1
        self.conns[stats.conn_id] = stats
        if len(self.conns) > self._keep_closed:
            for cid in [c.conn_id for c in self.conns.values() if c.closed_ms is not None][:1000]:
                del self.conns[cid]
        return stats

    def rest_response(self, venue: str, n: int) -> None:
        c = self.rest.setdefault(venue, [0, 0])
        c[0] += 1
        c[1] += n

    def connection(self, conn_id: int) -> ConnStats:
        return self.conns[conn_id]

    def venue_totals(self, venue: str) -> dict[str, Any]:
        msgs = size = wire = stalled = 0
        channels: dict[str, list[int]] = {}
        open_conns = 0
        for s in self.conns.values():
            if s.venue != venue:
                continue
            open_conns += s.closed_ms is None
            msgs += s.msgs_out
            size += s.bytes_out
            wire += s.wire_bytes_out
            stalled += s.stalled
            for ch, (m, b) in s.channels.items():
                c = channels.setdefault(ch, [0, 0])
                c[0] += m
                c[1] += b
        rest = self.rest.get(venue, [0, 0])
        return {
            "open_connections": open_conns,
            "msgs_out": msgs,
            "bytes_out": size,
            "wire_bytes_out": wire,
            "stalled": stalled,
            "channels": {k: {"msgs": v[0], "bytes": v[1]} for k, v in sorted(channels.items())},
            "rest_responses": rest[0],
            "rest_bytes": rest[1],
        }

    def snapshot(self, venue: str | None = None, *, connections: bool = True) -> dict[str, Any]:
        venues = sorted({s.venue for s in self.conns.values()} | set(self.rest))
        if venue is not None:
            venues = [venue]
        out: dict[str, Any] = {"venues": {v: self.venue_totals(v) for v in venues}}
        if connections:
            out["connections"] = [s.as_dict() for s in self.conns.values() if venue is None or s.venue == venue]
        return out

    def reset(self) -> None:
        """Zero every counter (open connections keep running, with fresh counts)."""
        for cid in [c.conn_id for c in self.conns.values() if c.closed_ms is not None]:
            del self.conns[cid]
        for s in self.conns.values():
            s.msgs_out = s.bytes_out = s.wire_bytes_out = s.msgs_in = s.bytes_in = s.stalled = 0
            s.channels.clear()
        self.rest.clear()
