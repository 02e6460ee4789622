"""Each venue's published limits, enforced: ``Simulator(enforce_limits=True)``.

The figures come from the venue's own ``VenueSpec.limits`` (``perpwire.venues``), so the client
and the simulator read one table. A ``VenueGuard`` per venue counts, in real (wall) time:

- client messages per connection (or per IP, for venues that count them so) per window;
- new connections per window, and open connections, per IP (every client here is 127.0.0.1);
- REST request weight per window per IP, the weight of each request as the venue publishes it
  (``VenueServer.rest_weight``).

Streams per connection are checked where each venue parses a subscribe, against
``streams_per_connection``. Each venue server answers a breach the way the venue does (an error
frame, a close, an HTTP 429/418/403: ``VenueServer.on_*_breach``); every breach is counted by kind
(``streams``, ``control_messages``, ``connections``, ``rest_weight``, ``banned``) and shows in
``Simulator.stats()["limits"]`` and ``GET /_control/stats``. Windows slide: a request is refused
while the requests of the last window already add up to the limit.

A venue that publishes nothing (Backpack) declares assumed figures; only what it documents is
enforced there (HTTP 429 on REST).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

from perpwire.venues.base import VenueLimits

#: venues that count client messages per IP across sockets, not per connection
PER_IP_MESSAGES = frozenset({"hyperliquid", "lighter"})
#: how long an IP that kept sending after a 429 is banned (Binance/Aster 418: "2 minutes to 3 days")
BAN_S = 120.0


class Window:
    """A sliding window: at most ``limit`` units within any ``window_s`` seconds."""

    __slots__ = ("limit", "log", "used", "window_s")

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self.log: deque[tuple[float, int]] = deque()
        self.used = 0

    def _expire(self, now: float) -> None:
        log, edge = self.log, now - self.window_s
        while log and log[0][0] <= edge:
            self.used -= log.popleft()[1]

    def take(self, now: float, n: int = 1) -> bool:
        """Count ``n`` units at ``now`` if they fit; False (nothing counted) when they do not."""
        self._expire(now)
        if self.used + n > self.limit:
            return False
        self.log.append((now, n))
        self.used += n
        return True

    def retry_after(self, now: float) -> float:
        """Seconds until the oldest units in the window leave it."""
        self._expire(now)
        return max(0.0, self.log[0][0] + self.window_s - now) if self.log else 0.0


class VenueGuard:
    """One venue's limits and the breaches counted against them."""

    def __init__(self, venue: str, limits: VenueLimits, clock: Any = time.monotonic) -> None:
        self.venue = venue
        self.limits = limits
        self.clock = clock
        self.per_ip_messages = venue in PER_IP_MESSAGES
        self._ip_messages = Window(limits.control_messages, limits.control_window_s)
        self._connections = Window(limits.connections, limits.connections_window_s)
        self._rest = Window(limits.rest_weight, limits.rest_window_s)
        self.open = 0
        self.breaches: Counter[str] = Counter()
        self.refused_until = 0.0  # a 429 was answered: asking again before this is an offence
        self.banned_until = 0.0

    def breach(self, kind: str) -> None:
        self.breaches[kind] += 1

    # --- WebSocket --------------------------------------------------------------------------

    def message(self, state: dict[str, Any]) -> bool:
        """One client message on the connection whose ``state`` this is; False when it is over."""
        now = self.clock()
        if self.per_ip_messages:
            window = self._ip_messages
        else:
            window = state.get("limit_messages")
            if window is None:
                window = state["limit_messages"] = Window(self.limits.control_messages, self.limits.control_window_s)
        if window.take(now):
            return True
        self.breach("control_messages")
        return False

    def connect(self) -> bool:
        """A new connection; False (counted as a breach) when it is one too many."""
        cap = self.limits.max_connections_per_ip
        if (cap is not None and self.open >= cap) or not self._connections.take(self.clock()):
            self.breach("connections")
            return False
        self.open += 1
        return True

    def closed(self) -> None:
        self.open = max(0, self.open - 1)

    def streams(self, held: int, adding: int = 1) -> bool:
        """Whether a connection holding ``held`` streams may add ``adding`` more."""
        if held + adding > self.limits.streams_per_connection:
            self.breach("streams")
            return False
        return True

    # --- REST --------------------------------------------------------------------------------

    def rest(self, weight: int, *, escalate: bool = False) -> tuple[int, float]:
        """Admit a request of ``weight``: (0, 0) when it fits, else (status, retry-after seconds):
        429 when the window is full; with ``escalate`` (Binance, Aster) a request that comes back
        before the Retry-After of a 429 bans the IP (418) for ``BAN_S``."""
        now = self.clock()
        if escalate and now < self.banned_until:
            self.breach("banned")
            return 418, self.banned_until - now
        if self._rest.take(now, weight):
            return 0, 0.0
        if escalate and now < self.refused_until:
            self.banned_until = now + BAN_S
            self.breach("banned")
            return 418, BAN_S
        retry = max(1.0, self._rest.retry_after(now))
        self.refused_until = now + retry
        self.breach("rest_weight")
        return 429, retry

    def as_dict(self) -> dict[str, Any]:
        return {"enforced": True, "open_connections": self.open, "breaches": dict(self.breaches),
                "limits": {f: getattr(self.limits, f) for f in self.limits.__struct_fields__ if f != "source"}}
