"""The simulator's two clocks: simulated market time and the wall clock.

Market time (``now_ms``) starts at ``start_ms`` (default: the wall clock at construction) and
advances a fixed ``tick_s × speed`` seconds per model tick, never by measured elapsed time, so a
seed replays the same path tick for tick whatever the machine load. Everything the market does
lives on it: prices, funding accrual and settlements, listenKey validity and the venues' 24 h
connection limits (so ``speed=3600`` turns a day into 24 s). Wire cadences (a 100 ms depth
stream, heartbeats) stay in real time, and signed requests are checked against the wall clock,
which is what a client signs with.
"""

from __future__ import annotations

import time

HOUR_MS = 3_600_000


class SimClock:
    def __init__(self, *, start_ms: int | None = None, speed: float = 1.0, tick_s: float = 0.05) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if tick_s <= 0:
            raise ValueError("tick_s must be positive")
        self.start_ms = int(time.time() * 1000) if start_ms is None else int(start_ms)
        self.speed = float(speed)
        self.tick_s = float(tick_s)
        self.tick_ms = tick_s * speed * 1000.0  # market milliseconds per tick
        self.ticks = 0
        self._offset_ms = 0.0  # market time added by jumps (tests fast-forward to a settlement)

    @property
    def now_ms(self) -> int:
        return self.start_ms + int(self.ticks * self.tick_ms + self._offset_ms)

    @property
    def now_us(self) -> int:
        return self.now_ms * 1000

    def advance(self) -> float:
        """One tick; returns the market hours it covered."""
        self.ticks += 1
        return self.tick_ms / HOUR_MS

    def jump(self, ms: float) -> None:
        """Move market time forward without ticking (the next tick settles what it crossed)."""
        if ms < 0:
            raise ValueError("market time only moves forward")
        self._offset_ms += ms

    def real_seconds(self, market_ms: float) -> float:
        """Wall seconds that ``market_ms`` of market time take at this speed."""
        return market_ms / 1000.0 / self.speed

    @staticmethod
    def wall_ms() -> int:
        return int(time.time() * 1000)

    def ticks_per(self, seconds: float) -> int:
        """Ticks in a real-time cadence of ``seconds`` (at least one)."""
        return max(1, round(seconds / self.tick_s))


def next_boundary(now_ms: int, interval_ms: int) -> int:
    """The first multiple of ``interval_ms`` strictly after ``now_ms`` (funding times are aligned)."""
    return (now_ms // interval_ms + 1) * interval_ms
