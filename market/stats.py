"""Funding-rate statistics per venue-symbol: cached window mean/std, real-time z-scores, triggers.

``FundingStats`` keeps one ``SymbolStats`` per (venue, symbol) with the newest rate normalised to
a fraction per hour (the exact ``Decimal`` and a float copy), the window mean and standard
deviation of that figure (30 days, loaded from the store with ``load`` and refreshed the same
way) and the z-score ``(rate - mean) / std``. The statistics are floats on purpose: they are
estimates, never prices, and float arithmetic keeps ``update`` near a microsecond. ``update``
discards stale (older exchange timestamp) and duplicate (same timestamp and rate) rates and
returns ``Trigger`` flags: a rate change above ``rate_change`` of the previous rate, a crossing
of ±2 or ±3, and ``HOT`` while |z| > 2. Anything in ``IMMEDIATE`` is the caller's to handle
now; the rest is queued and handed out by ``take_batch(now_ms)`` every ``batch_ms`` (5 s).
``gaps(now_ms)`` names symbols silent for longer than their venue's cadence allows. Nothing here
reads a clock: every time is an argument.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from enum import IntFlag

import msgspec

from perpwire.market.events import FundingRate
from perpwire.market.funding import annualise

_NAN = math.nan


class Trigger(IntFlag):
    """What one incoming rate did. ``update`` returns a combination of these."""

    NONE = 0
    NEW = 1  # the first rate accepted for this venue-symbol
    RATE_CHANGE = 2  # |new - previous| > rate_change * |previous|
    CROSS_2 = 4  # z crossed +2 or -2 (either direction)
    CROSS_3 = 8  # z crossed +3 or -3 (either direction)
    HOT = 16  # |z| > 2 now
    DUPLICATE = 32  # same exchange ts and rate as the last accepted one: ignored
    STALE = 64  # older than the last accepted one (or than ``max_age_ms``): ignored


IMMEDIATE = Trigger.RATE_CHANGE | Trigger.CROSS_2 | Trigger.CROSS_3 | Trigger.HOT
REJECTED = Trigger.DUPLICATE | Trigger.STALE

# Combining IntFlag members costs ~2 µs per `|`; the hot path works on ints and looks the
# member up here instead.
_FLAGS = tuple(Trigger(i) for i in range(128))
_NEW, _CHANGE, _X2, _X3, _HOT = (int(t) for t in (Trigger.NEW, Trigger.RATE_CHANGE, Trigger.CROSS_2,
                                                  Trigger.CROSS_3, Trigger.HOT))
_IMMEDIATE = int(IMMEDIATE)
_STALE, _DUPLICATE = int(Trigger.STALE), int(Trigger.DUPLICATE)


class WindowStats(msgspec.Struct, frozen=True, kw_only=True):
    """Mean and sample standard deviation of ``rate_per_hour`` over a window, per venue-symbol.

    Produced by the store from settled per-interval rates (``count`` of them between
    ``since_ms`` and ``until_ms``); ``std`` is None when fewer than two rates exist.
    """

    venue: str
    symbol: str
    count: int
    mean: float
    std: float | None
    since_ms: int
    until_ms: int


class Gap(msgspec.Struct, frozen=True):
    """A venue-symbol that has been silent for ``silent_ms`` (more than it may be)."""

    venue: str
    symbol: str
    silent_ms: int


class SymbolStats:
    """The live state of one venue-symbol. Read its attributes; only ``FundingStats`` writes."""

    __slots__ = ("_inv_std", "count", "gap_after_ms", "interval_hours", "mean", "next_funding_ts",
                 "rate_f", "rate_per_hour", "seen_ms", "std", "symbol", "ts", "venue", "z_f")

    def __init__(self, venue: str, symbol: str, gap_after_ms: int):
        self.venue = venue
        self.symbol = symbol
        self.rate_per_hour: Decimal | None = None  # exact, as the codec normalised it
        self.rate_f = _NAN
        self.interval_hours = 0
        self.next_funding_ts: int | None = None
        self.ts = -1  # exchange ts of the last accepted rate
        self.seen_ms = 0  # newest receive (or exchange) time of any rate, for gap detection
        self.gap_after_ms = gap_after_ms
        self.mean = _NAN
        self.std = _NAN
        self.count = 0
        self._inv_std = 0.0  # 0 when the window cannot give a z-score
        self.z_f = _NAN

    @property
    def z(self) -> float | None:
        """The z-score of the current rate, or None without usable statistics."""
        return None if self.z_f != self.z_f else self.z_f

    @property
    def annualised(self) -> Decimal | None:
        """Simple yearly rate of the current rate, for display."""
        return None if self.rate_per_hour is None else annualise(self.rate_per_hour)

    def __repr__(self) -> str:
        return f"SymbolStats({self.venue}:{self.symbol} rate/h={self.rate_per_hour} z={self.z})"


class FundingStats:
    """Every venue-symbol's funding statistics; see the module docstring for the rules.

    Options: ``rate_change`` (0.10: the relative change that triggers), ``rate_change_floor``
    (an absolute change per hour below which no change triggers, 0), ``batch_ms`` (5000),
    ``cadence_ms`` (per-venue push interval of the funding feed) with ``default_cadence_ms``
    (3000) and ``gap_factor`` (3: silent for three cadences is a gap), ``min_samples`` (10
    settled rates before a window's std is trusted) and ``max_age_ms`` (None: when set, a rate
    whose exchange ts is older than its receive time by more than this is stale).
    """

    def __init__(
        self,
        *,
        rate_change: float = 0.10,
        rate_change_floor: float = 0.0,
        batch_ms: int = 5_000,
        cadence_ms: Mapping[str, int] | None = None,
        default_cadence_ms: int = 3_000,
        gap_factor: float = 3.0,
        min_samples: int = 10,
        max_age_ms: int | None = None,
    ):
        self.rate_change = rate_change
        self.rate_change_floor = rate_change_floor
        self.batch_ms = batch_ms
        self.cadence_ms = dict(cadence_ms or {})
        self.default_cadence_ms = default_cadence_ms
        self.gap_factor = gap_factor
        self.min_samples = min_samples
        self.max_age_ms = max_age_ms
        self._by_key: dict[tuple[str, str], SymbolStats] = {}
        self._windows: dict[tuple[str, str], WindowStats] = {}
        self._pending: dict[tuple[str, str], SymbolStats] = {}
        self._batch_start_ms: int | None = None

    # --- statistics ---------------------------------------------------------------------------

    def load(self, windows: Iterable[WindowStats], *, replace: bool = False) -> int:
        """Install window statistics (from the store); returns how many were installed.

        ``replace`` forgets windows not in ``windows`` (a full refresh). Current z-scores are
        recomputed at once, so the next ``update`` reports crossings against the new window,
        not the old one.
        """
        if replace:
            self._windows = {}
            for s in self._by_key.values():
                self._apply_window(s, None)
        n = 0
        for w in windows:
            key = (w.venue, w.symbol)
            self._windows[key] = w
            s = self._by_key.get(key)
            if s is not None:
                self._apply_window(s, w)
            n += 1
        return n

    def _apply_window(self, s: SymbolStats, w: WindowStats | None) -> None:
        if w is None:
            s.mean, s.std, s.count, s._inv_std = _NAN, _NAN, 0, 0.0
        else:
            std = _NAN if w.std is None else w.std
            s.mean, s.std, s.count = w.mean, std, w.count
            usable = w.count >= self.min_samples and math.isfinite(std) and std > 0.0 and math.isfinite(w.mean)
            s._inv_std = 1.0 / std if usable else 0.0
        s.z_f = (s.rate_f - s.mean) * s._inv_std if s._inv_std else _NAN

    # --- the hot path -------------------------------------------------------------------------

    def update(self, ev: FundingRate, received_ms: int | None = None) -> Trigger:
        """Take one incoming rate; ``received_ms`` is the local receive time (defaults to
        ``ev.ts``; pass it for venues that send no timestamp, or gap detection sees nothing)."""
        return _FLAGS[self.update_bits(ev, received_ms)]

    def update_bits(self, ev: FundingRate, received_ms: int | None = None) -> int:
        """``update`` as the plain int of its ``Trigger`` bits: the desk's hot path tests bits
        with int operations (an ``IntFlag`` ``&`` costs about a microsecond in Python)."""
        key = (ev.venue, ev.symbol)
        s = self._by_key.get(key)
        if s is None:
            s = self._create(key)
        bits = _NEW if s.rate_per_hour is None else 0
        ts = ev.ts
        seen = ts if received_ms is None else received_ms
        if seen > s.seen_ms:
            s.seen_ms = seen
        rate = ev.rate_per_hour
        if ts < s.ts and ts:  # ts 0: the venue sent no time, so there is no order to check
            return _STALE
        if ts == s.ts and rate == s.rate_per_hour:
            return _DUPLICATE
        if self.max_age_ms is not None and received_ms is not None and ts and received_ms - ts > self.max_age_ms:
            return _STALE

        new = float(rate)
        prev = s.rate_f
        if not bits:
            threshold = self.rate_change * abs(prev)
            if threshold < self.rate_change_floor:
                threshold = self.rate_change_floor
            if abs(new - prev) > threshold:
                bits |= _CHANGE
        pz = s.z_f
        z = (new - s.mean) * s._inv_std if s._inv_std else _NAN
        # NaN compares false, so a symbol without statistics never crosses nor turns hot, and a
        # first z-score beyond ±2 counts as a crossing (from "unknown", i.e. inside the band).
        if (pz > 2.0) != (z > 2.0) or (pz < -2.0) != (z < -2.0):
            bits |= _X2
        if (pz > 3.0) != (z > 3.0) or (pz < -3.0) != (z < -3.0):
            bits |= _X3
        if z > 2.0 or z < -2.0:
            bits |= _HOT

        s.rate_per_hour = rate
        s.rate_f = new
        s.z_f = z
        s.ts = ts
        s.interval_hours = ev.interval_hours
        s.next_funding_ts = ev.next_funding_ts
        if bits & _IMMEDIATE:
            self._pending.pop(key, None)
        else:
            self._pending[key] = s
        return bits

    def _create(self, key: tuple[str, str]) -> SymbolStats:
        cadence = self.cadence_ms.get(key[0], self.default_cadence_ms)
        s = self._by_key[key] = SymbolStats(key[0], key[1], int(cadence * self.gap_factor))
        window = self._windows.get(key)
        if window is not None:
            self._apply_window(s, window)
        return s

    # --- batching and health ------------------------------------------------------------------

    def take_batch(self, now_ms: int, *, force: bool = False) -> list[SymbolStats]:
        """The symbols updated outside ``IMMEDIATE`` since the last batch, once ``batch_ms`` has
        passed since that batch (or at once with ``force``); otherwise an empty list."""
        if self._batch_start_ms is None:
            self._batch_start_ms = now_ms
        if not force and now_ms - self._batch_start_ms < self.batch_ms:
            return []
        self._batch_start_ms = now_ms
        batch = list(self._pending.values())
        self._pending.clear()
        return batch

    def gaps(self, now_ms: int) -> list[Gap]:
        """Symbols silent for longer than ``gap_factor`` cadences of their venue, loudest first."""
        found = [
            Gap(s.venue, s.symbol, now_ms - s.seen_ms)
            for s in self._by_key.values()
            if now_ms - s.seen_ms > s.gap_after_ms
        ]
        found.sort(key=lambda g: -g.silent_ms)
        return found

    def hot(self) -> list[SymbolStats]:
        """Symbols whose |z| is above 2 now, most extreme first."""
        found = [s for s in self._by_key.values() if s.z_f > 2.0 or s.z_f < -2.0]
        found.sort(key=lambda s: -abs(s.z_f))
        return found

    # --- reads --------------------------------------------------------------------------------

    def get(self, venue: str, symbol: str) -> SymbolStats | None:
        return self._by_key.get((venue, symbol))

    def __getitem__(self, key: tuple[str, str]) -> SymbolStats:
        return self._by_key[key]

    def __iter__(self) -> Iterator[SymbolStats]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def forget(self, venue: str, symbol: str) -> None:
        """Drop a delisted symbol (its window stays loaded until the next full refresh)."""
        self._by_key.pop((venue, symbol), None)
        self._pending.pop((venue, symbol), None)
