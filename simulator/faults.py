"""Faults injected on request: what goes wrong on real venues, on demand and countable.

Connection faults act on open connections selected by venue and/or connection id: ``drop``
(abort, no close frame — the client sees 1006 — or a clean close with a code), ``stall`` (the
socket stays open and keeps answering pings while the chosen channels, or all of them, go
silent; ``unstall`` ends it), ``malformed`` (one truncated frame), ``age_out`` (the venue's 24 h
close, now). Stream faults are consumed by the venue publishers: ``skip_sequence`` makes the
next delta of a symbol vanish after its ids were spent, so the client sees a gap exactly as in a
lost frame. REST faults answer the next ``count`` requests to a venue (optionally one path
prefix) with 429 or 418 and ``Retry-After``. ``expire_listen_key`` lives on the Binance-style
venues (see ``simulator.venues.aster``).
"""

from __future__ import annotations

from dataclasses import dataclass

from perpwire.simulator.hub import ALL_CHANNELS, Conn, Hub


@dataclass(slots=True)
class RestFault:
    status: int
    count: int
    retry_after: int
    path: str | None


class Faults:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._skips: dict[tuple[str, str], int] = {}
        self._rest: dict[str, list[RestFault]] = {}
        self.injected: dict[str, int] = {}

    def _count(self, kind: str, n: int = 1) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + n

    def _targets(self, venue: str | None, conn_id: int | None) -> list[Conn]:
        conns = self.hub.select(venue, conn_id)
        if not conns:
            raise LookupError(f"no open connection for venue={venue!r} conn_id={conn_id!r}")
        return conns

    # --- connections --------------------------------------------------------------------------

    async def drop(self, venue: str | None = None, conn_id: int | None = None, *, code: int | None = None) -> int:
        """Abort the selected connections (no close frame), or close them with ``code``."""
        conns = self._targets(venue, conn_id)
        for c in conns:
            if code is None:
                c.abort()
            else:
                await c.close(code, "closed by fault injection")
        self._count("drop", len(conns))
        return len(conns)

    def stall(self, venue: str | None = None, conn_id: int | None = None, channel: str | None = None) -> int:
        """Stop data frames on ``channel`` (all channels when None); acks and pongs still flow."""
        conns = self._targets(venue, conn_id)
        for c in conns:
            if c.stalled is None:
                c.stalled = set()
            c.stalled.add(channel or ALL_CHANNELS)
        self._count("stall", len(conns))
        return len(conns)

    def unstall(self, venue: str | None = None, conn_id: int | None = None) -> int:
        conns = self.hub.select(venue, conn_id)
        for c in conns:
            c.stalled = None
        return len(conns)

    def malformed(self, venue: str | None = None, conn_id: int | None = None) -> int:
        """Send each selected connection one frame cut in half (invalid JSON) on its last channel."""
        conns = self._targets(venue, conn_id)
        for c in conns:
            last = c.last_frame or b'{"stream":"x","data":{"e":"depthUpdate","E":1}}'
            c.push(last[: max(1, len(last) // 2)], "malformed", control=True)
        self._count("malformed", len(conns))
        return len(conns)

    async def age_out(self, venue: str | None = None, conn_id: int | None = None) -> int:
        """Close the selected connections the way the venue's 24 h limit does."""
        conns = self._targets(venue, conn_id)
        for c in conns:
            await c.close(1001, "connection exceeded its maximum age")
        self._count("age_out", len(conns))
        return len(conns)

    # --- streams ------------------------------------------------------------------------------

    def skip_sequence(self, venue: str, symbol: str, count: int = 1) -> None:
        """Lose the next ``count`` book deltas of ``symbol`` (its ids are spent, the frames never sent)."""
        key = (venue, symbol)
        self._skips[key] = self._skips.get(key, 0) + count
        self._count("skip_sequence", count)

    def take_skip(self, venue: str, symbol: str) -> bool:
        key = (venue, symbol)
        n = self._skips.get(key)
        if not n:
            return False
        if n == 1:
            del self._skips[key]
        else:
            self._skips[key] = n - 1
        return True

    # --- REST ---------------------------------------------------------------------------------

    def rest_error(
        self, venue: str, status: int = 429, *, count: int = 1, retry_after: int = 1, path: str | None = None
    ) -> None:
        """Answer the next ``count`` REST requests to ``venue`` (paths starting ``path``) with ``status``."""
        if status not in (418, 429, 403, 503):
            raise ValueError("status must be one of 418, 429, 403, 503")
        self._rest.setdefault(venue, []).append(RestFault(status, count, retry_after, path))
        self._count(f"rest_{status}", count)

    def take_rest(self, venue: str, path: str) -> RestFault | None:
        faults = self._rest.get(venue)
        if not faults:
            return None
        for f in faults:
            if f.path is None or path.startswith(f.path):
                f.count -= 1
                if f.count <= 0:
                    faults.remove(f)
                return f
        return None
