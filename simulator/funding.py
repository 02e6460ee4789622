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

The assets are the catalogue's first ``symbols``. With ``advance_every`` > 1 the processes step
once every that many ticks over the time accumulated (an OU step is exact for any length), so
hundreds of symbols cost little; settlements are still checked every tick. History is kept as one
row of timestamps per venue and one array of rates per (venue, asset).
"""

from __future__ import annotations

import math
import random
from array import array
from collections import deque
from dataclasses import dataclass

from perpwire.simulator.catalog import ASSETS, INTERVAL_HOURS, assets
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
        symbols: int = len(ASSETS),
        advance_every: int = 1,
    ) -> None:
        self.rng = rng
        self.venues = venues
        self.shock_rate = shock_rate_per_hour
        self.shock_size = shock_size
        self.assets = tuple(a.name for a in assets(symbols))
        self.common = dict.fromkeys(self.assets, BASELINE_PER_HOUR)
        self.bias = {(v, a): rng.gauss(0.0, 0.000004) for v in venues for a in self.assets}
        self.dev = dict(self.bias)
        self._keys = tuple(self.bias)
        self._by_venue = {v: tuple((v, a) for a in self.assets) for v in venues}
        self.advance_every = max(1, advance_every)
        self._ticks = 0
        self._pending_h = 0.0
        self._keep = 24 * history_days + 16
        self._hist_ts: dict[str, deque[int]] = {v: deque() for v in venues}
        self._hist: dict[tuple[str, str], array[float]] = {key: array("d") for key in self.bias}
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
        rates = self._hist[(venue, asset)]
        return (self._hist_ts[venue][-1], rates[-1]) if rates else None

    def _record(self, venue: str, ts: int) -> None:
        """Settle every asset of ``venue`` at ``ts`` into the history (oldest rows dropped)."""
        stamps = self._hist_ts[venue]
        stamps.append(ts)
        drop = len(stamps) > self._keep
        if drop:
            stamps.popleft()
        hours, common, dev, hist = INTERVAL_HOURS[venue], self.common, self.dev, self._hist
        for a in self.assets:
            rates = hist[(venue, a)]
            rates.append(max(-_CLAMP_PER_HOUR, min(_CLAMP_PER_HOUR, common[a] + dev[(venue, a)])) * hours)
            if drop:
                del rates[0]

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
        rows = [r for r in zip(self._hist_ts[venue], self._hist[(venue, asset)], strict=True)
                if start_ms is None or r[0] >= start_ms]
        if end_ms is not None:
            rows = [r for r in rows if r[0] <= end_ms]
        if limit is not None:
            rows = rows[:limit] if start_ms is not None else rows[-limit:]
        return rows[::-1] if newest_first else rows

    # --- evolution ----------------------------------------------------------------------------

    @staticmethod
    def _ou_terms(theta: float, sigma: float, dt_h: float) -> tuple[float, float]:
        decay = math.exp(-theta * dt_h)
        return decay, sigma * math.sqrt((1.0 - decay * decay) / (2.0 * theta))

    def _advance(self, dt_h: float, venues: tuple[str, ...] | None = None) -> None:
        """Step the common processes and the deviations of ``venues`` (default all) by ``dt_h``;
        ``venues=()`` steps only the common part."""
        gauss = self.rng.gauss
        decay, sd = self._ou_terms(0.3, 0.000012, dt_h)
        common = self.common
        for a in self.assets:
            common[a] = BASELINE_PER_HOUR + (common[a] - BASELINE_PER_HOUR) * decay + gauss(0.0, sd)
        self._advance_dev(dt_h, self.venues if venues is None else venues)

    def _advance_dev(self, dt_h: float, venues: tuple[str, ...]) -> None:
        gauss, uniform = self.rng.gauss, self.rng.random
        decay, sd = self._ou_terms(1.0, 0.000006, dt_h)
        p_shock = 1.0 - math.exp(-self.shock_rate * dt_h)
        bias, dev, size = self.bias, self.dev, self.shock_size
        keys = self._keys if len(venues) == len(self.venues) else [k for v in venues for k in self._by_venue[v]]
        for key in keys:
            x = dev[key]
            mu = bias[key]
            x = mu + (x - mu) * decay + gauss(0.0, sd)
            if uniform() < p_shock:
                x += gauss(0.0, size)
            dev[key] = x

    def step(self, dt_h: float, now_ms: int) -> list[Settlement]:
        """Advance by ``dt_h`` hours and settle every interval boundary crossed by ``now_ms``."""
        self._ticks += 1
        self._pending_h += dt_h
        due = [v for v in self.venues if self._next[v] <= now_ms]
        if due or self._ticks % self.advance_every == 0:
            self._advance(self._pending_h)
            self._pending_h = 0.0
        out: list[Settlement] = []
        for venue in due:
            while self._next[venue] <= now_ms:
                ts = self._next[venue]
                self._record(venue, ts)
                out.extend(Settlement(venue, a, ts, self._hist[(venue, a)][-1]) for a in self.assets)
                self._next[venue] = ts + INTERVAL_HOURS[venue] * HOUR_MS
        return out

    def _warm(self, now_ms: int, days: int) -> None:
        """Generate ``days`` of hourly history ending at ``now_ms`` with the same process: the
        common part hour by hour, each venue's deviations once per its interval (an OU step over
        the whole interval is exact), so 8-hourly venues cost an eighth."""
        hour = (now_ms - days * 24 * HOUR_MS) // HOUR_MS * HOUR_MS + HOUR_MS
        since = dict.fromkeys(self.venues, 0.0)
        while hour <= now_ms:
            self._advance(1.0, ())
            for venue in self.venues:
                since[venue] += 1.0
                if hour % (INTERVAL_HOURS[venue] * HOUR_MS) == 0:
                    self._advance_dev(since[venue], (venue,))
                    since[venue] = 0.0
                    self._record(venue, hour)
            hour += HOUR_MS
        for venue, hours in since.items():
            if hours:
                self._advance_dev(hours, (venue,))

    def shock(self, venue: str, asset: str, rate: float, *, per_hour: bool = False) -> None:
        """Set the venue's current rate to ``rate`` (per its interval, or per hour); it then decays."""
        if (venue, asset) not in self.bias:  # a new key here would break every later step
            raise KeyError(f"no funding for {asset!r} on {venue!r}; simulated: {', '.join(self.venues)}")
        target = rate if per_hour else rate / INTERVAL_HOURS[venue]
        if abs(target) > _CLAMP_PER_HOUR:
            raise ValueError(f"rate {rate} beyond the simulator's clamp of {_CLAMP_PER_HOUR} per hour")
        self.dev[(venue, asset)] = target - self.common[asset]
