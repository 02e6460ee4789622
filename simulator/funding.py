"""Funding rates per venue and asset: mean-reverting processes with shocks, and settlements.

A rate is modelled per hour as ``common[asset] + dev[venue, asset]``. The common part is an
Ornstein–Uhlenbeck process around the usual baseline (0.01 % per 8 h = 0.0000125 per hour) that
moves every venue together; each venue's deviation is a faster OU process around a small fixed
bias, and now and then (Poisson, ``shock_rate_per_hour``) it jumps by many of its standard
deviations and decays back within an hour or two — that is what opens cross-venue spreads and
z-score excursions. Venues publish the rate per *their* interval (``rate`` = per-hour rate ×
interval hours) and settle on interval boundaries aligned to the epoch, like the real ones.
``history`` starts ``history_days`` before the start so REST history and 30-day statistics have
data from the first second. ``shock`` pins a rate for tests; it then decays like any jump.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

from perpwire.simulator.catalog import ASSETS, INTERVAL_HOURS
from perpwire.simulator.clock import HOUR_MS, next_boundary

BASELINE_PER_HOUR = 0.0000125
_CLAMP_PER_HOUR = 0.005  # 0.5 %/h: far above any venue's normal range, below their hard caps


@dataclass(frozen=True, slots=True)
class Settlement:
    venue: str
    asset: str
    ts: int
    rate: float  # fraction per the venue's interval


class FundingModel:
    def __init__(
        self,
        rng: random.Random,
        venues: tuple[str, ...],
        now_ms: int,
        *,
        history_days: int = 30,
        shock_rate_per_hour: float = 0.15,
        shock_size: float = 0.00008,
    ) -> None:
        self.rng = rng
        self.venues = venues
        self.shock_rate = shock_rate_per_hour
        self.shock_size = shock_size
        self.assets = tuple(a.name for a in ASSETS)
        self.common = dict.fromkeys(self.assets, BASELINE_PER_HOUR)
        self.bias = {(v, a): rng.gauss(0.0, 0.000004) for v in venues for a in self.assets}
        self.dev = dict(self.bias)
        keep = 24 * history_days + 16
        self._history: dict[tuple[str, str], deque[tuple[int, float]]] = {key: deque(maxlen=keep) for key in self.bias}
        self._next = {v: next_boundary(now_ms, INTERVAL_HOURS[v] * HOUR_MS) for v in venues}
        self._warm(now_ms, history_days)

    # --- reads --------------------------------------------------------------------------------

    def rate_per_hour(self, venue: str, asset: str) -> float:
        r = self.common[asset] + self.dev[(venue, asset)]
        return max(-_CLAMP_PER_HOUR, min(_CLAMP_PER_HOUR, r))

    def rate(self, venue: str, asset: str) -> float:
        """The current (predicted) rate, as a fraction per the venue's funding interval."""
        return self.rate_per_hour(venue, asset) * INTERVAL_HOURS[venue]

    def next_funding_ms(self, venue: str) -> int:
        return self._next[venue]

    def last_settlement(self, venue: str, asset: str) -> tuple[int, float] | None:
        hist = self._history[(venue, asset)]
        return hist[-1] if hist else None

    def history(
        self,
        venue: str,
        asset: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[tuple[int, float]]:
        """Settled (ts, rate per interval) rows; ``limit`` keeps the newest when no start is given."""
        rows = [r for r in self._history[(venue, asset)] if (start_ms is None or r[0] >= start_ms)]
        if end_ms is not None:
            rows = [r for r in rows if r[0] <= end_ms]
        if limit is not None:
            rows = rows[:limit] if start_ms is not None else rows[-limit:]
        return rows[::-1] if newest_first else rows

    # --- evolution ----------------------------------------------------------------------------

    def _ou(self, x: float, mu: float, theta: float, sigma: float, dt_h: float) -> float:
        decay = math.exp(-theta * dt_h)
        sd = sigma * math.sqrt((1.0 - decay * decay) / (2.0 * theta))
        return mu + (x - mu) * decay + self.rng.gauss(0.0, sd)

    def _advance(self, dt_h: float) -> None:
        for a in self.assets:
            self.common[a] = self._ou(self.common[a], BASELINE_PER_HOUR, 0.3, 0.000012, dt_h)
        p_shock = 1.0 - math.exp(-self.shock_rate * dt_h)
        for key, x in self.dev.items():
            x = self._ou(x, self.bias[key], 1.0, 0.000006, dt_h)
            if self.rng.random() < p_shock:
                x += self.rng.gauss(0.0, self.shock_size)
            self.dev[key] = x

    def step(self, dt_h: float, now_ms: int) -> list[Settlement]:
        """Advance by ``dt_h`` hours and settle every interval boundary crossed by ``now_ms``."""
        self._advance(dt_h)
        out: list[Settlement] = []
        for venue in self.venues:
            while self._next[venue] <= now_ms:
                ts = self._next[venue]
                for a in self.assets:
                    rate = self.rate(venue, a)
                    self._history[(venue, a)].append((ts, rate))
                    out.append(Settlement(venue, a, ts, rate))
                self._next[venue] = ts + INTERVAL_HOURS[venue] * HOUR_MS
        return out

    def _warm(self, now_ms: int, days: int) -> None:
        """Generate ``days`` of hourly history ending at ``now_ms`` with the same process."""
        hour = (now_ms - days * 24 * HOUR_MS) // HOUR_MS * HOUR_MS + HOUR_MS
        while hour <= now_ms:
            self._advance(1.0)
            for venue in self.venues:
                if hour % (INTERVAL_HOURS[venue] * HOUR_MS) == 0:
                    for a in self.assets:
                        self._history[(venue, a)].append((hour, self.rate(venue, a)))
            hour += HOUR_MS

    def shock(self, venue: str, asset: str, rate: float, *, per_hour: bool = False) -> None:
        """Set the venue's current rate to ``rate`` (per its interval, or per hour); it then decays."""
        if (venue, asset) not in self.bias:  # a new key here would break every later step
            raise KeyError(f"no funding for {asset!r} on {venue!r}; simulated: {', '.join(self.venues)}")
        target = rate if per_hour else rate / INTERVAL_HOURS[venue]
        if abs(target) > _CLAMP_PER_HOUR:
            raise ValueError(f"rate {rate} beyond the simulator's clamp of {_CLAMP_PER_HOUR} per hour")
        self.dev[(venue, asset)] = target - self.common[asset]
