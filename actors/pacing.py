"""Reconnect backoff and request budgets.

``Backoff`` gives capped exponential delays with full jitter, so a fleet of actors that lose
their venue at once do not come back in lock-step. ``TokenBucket`` paces REST calls (snapshots
above all) per venue: a mass reconnect queues behind the bucket instead of storming the venue,
and a 429/418 with Retry-After empties it until the venue says so.
"""

from __future__ import annotations

import asyncio
import random
import time


def now_ms() -> int:
    """Wall-clock time in integer milliseconds, the unit of every timestamp in perpwire."""
    return int(time.time() * 1000)


class Backoff:
    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None):
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * (2**self.attempt))
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class TokenBucket:
    """"``rate`` tokens per second up to ``burst``; ``acquire(weight)`` waits for enough tokens."""

    def __init__(self, rate: float, burst: float, clock=time.monotonic):
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._clock = clock
        self._stamp = clock()
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self, weight: float = 1.0) -> float:
        """Seconds until ``weight`` tokens are available (0 when they are).

        A request heavier than the whole bucket waits for a full bucket and leaves it in debt,
        so later requests wait for the rest: heavy requests are slow, never impossible.
        """
        self._refill()
        blocked = max(0.0, self._blocked_until - self._clock())
        missing = max(0.0, min(weight, self.burst) - self._tokens)
        return max(blocked, missing / self.rate if self.rate > 0 else float("inf"))

    async def acquire(self, weight: float = 1.0) -> float:
        """Take ``weight`` tokens, sleeping as needed; returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            while (delay := self.wait_time(weight)) > 0:
                await asyncio.sleep(delay)
                waited += delay
            self._tokens -= weight
        return waited

    def penalize(self, retry_after_s: float | None, default_s: float = 60.0) -> None:
        """The venue said 429/418: no requests until Retry-After (or ``default_s``) has passed."""
        delay = retry_after_s if retry_after_s is not None else default_s
        self._blocked_until = max(self._blocked_until, self._clock() + delay)
        self._tokens = 0.0


#: the share of a venue's published limit one deployment paces itself to: the rest is headroom for
#: the venue's own counting (windows, clock skew) and for anything else on the same IP
PACING_SHARE = 0.5


def rate_bucket(amount: float, window_s: float, share: float = PACING_SHARE) -> TokenBucket:
    """A bucket that never spends more than ``share`` of ``amount`` per ``window_s`` in any window:
    a burst of ``share × amount / 2`` and a refill of the other half over the window."""
    allowed = max(1.0, amount * share)
    burst = max(1.0, allowed / 2)
    return TokenBucket((allowed - burst) / window_s if allowed > burst else allowed / window_s, burst)


def pacer_for(limits, share: float = PACING_SHARE) -> TokenBucket:
    """The control-frame pacer of one connection (or of one IP when the venue counts per IP):
    ``limits`` is the venue's ``VenueLimits``."""
    return rate_bucket(limits.control_messages, limits.control_window_s, share)
