"""OHLCV bars from trades: time bars on UTC boundaries closed by a clock, tick bars, volume bars.

Every aggregator takes ``market.events.Trade`` and answers with frozen ``OHLCVBar`` events; none
reads a clock, so a live feed calls ``on_clock(now_ms)`` on a timer and a replay calls it with the
recorded times. The policies, in full in docs/streaming-bars.md:

- ``TimeBars(interval)`` bars are ``[start, end)`` at multiples of ``interval`` (which divides one
  day, so boundaries are UTC wall-clock ones) in exchange time; a bar closes when the clock passes
  ``end + grace_ms``, never on a trade, so it comes out on time in a quiet market.
- Intervals without a trade come out as bars flagged ``empty`` carrying the previous close.
- Open and close follow exchange order (``ts``, then trade id), never arrival order.
- A trade id seen before (within ``dedupe_count`` ids and ``dedupe_ms``) is a duplicate: counted,
  not applied. A trade for an interval already closed is late: counted, not applied, and handed
  back as a ``LateTrade``.
- ``TickBars(n)`` and ``VolumeBars(volume)`` close on the trade that fills them (a trade is never
  split); their ``start``/``end`` are the exchange times of their first and last trade.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from datetime import timedelta
from decimal import Decimal, InvalidOperation

import msgspec

from perpwire.market.errors import UsageError
from perpwire.market.events import Event, Trade

DAY_MS = 86_400_000
DEDUPE_MS = 60_000
DEDUPE_COUNT = 1024


class OHLCVBar(Event, frozen=True, kw_only=True, tag=True):
    """One bar. Time bars: ``end`` is the exclusive boundary ``start + interval``. Tick and
    volume bars: ``start`` and ``end`` are the exchange times of the bar's first and last trade.
    An ``empty`` bar had no trade: its prices are the previous bar's close."""

    symbol: str
    start: int
    end: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    vwap: Decimal
    trades: int
    empty: bool = False


class LateTrade(msgspec.Struct, frozen=True, kw_only=True):
    """A trade for an interval already closed: not in any bar. ``closed_until`` is the boundary
    below which every interval was closed when the trade arrived."""

    trade: Trade
    bar_start: int
    closed_until: int


Emitted = OHLCVBar | LateTrade


def interval_ms(interval: int | timedelta, name: str = "interval") -> int:
    """Milliseconds of a bar interval; it must divide one day so bars sit on UTC boundaries."""
    ms = int(interval.total_seconds() * 1000) if isinstance(interval, timedelta) else interval
    if isinstance(ms, bool) or not isinstance(ms, int) or ms <= 0 or DAY_MS % ms:
        raise UsageError(f"bars: {name} must be a positive number of ms that divides one day, got {interval!r}")
    return ms


def _non_negative(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"bars: {name} must be a non-negative integer, got {value!r}")
    return value


def order_key(trade: Trade) -> tuple:
    """Exchange order of trades: ``ts``, then the trade id (as a number when it is digits)."""
    tid = trade.trade_id
    return (trade.ts, 0, int(tid), "") if tid.isdigit() else (trade.ts, 1, 0, tid)


class _Acc:
    """The running figures of one bar."""

    __slots__ = ("close", "first", "high", "last", "low", "notional", "open", "trades", "volume")

    def __init__(self, trade: Trade, key: tuple):
        self.first = self.last = key
        self.open = self.close = self.high = self.low = trade.price
        self.volume = trade.size
        self.notional = trade.price * trade.size
        self.trades = 1

    def add(self, trade: Trade, key: tuple) -> None:
        p = trade.price
        if key < self.first:
            self.first, self.open = key, p
        if key >= self.last:
            self.last, self.close = key, p
        if p > self.high:
            self.high = p
        if p < self.low:
            self.low = p
        self.volume += trade.size
        self.notional += p * trade.size
        self.trades += 1

    def bar(self, venue: str, symbol: str, start: int, end: int) -> OHLCVBar:
        vwap = self.notional / self.volume if self.volume else self.close
        return OHLCVBar(venue=venue, symbol=symbol, start=start, end=end, open=self.open, high=self.high,
                        low=self.low, close=self.close, volume=self.volume, vwap=vwap, trades=self.trades)


class _Dedupe:
    """Trade ids seen recently (see the module docstring for how long "recently" is)."""

    __slots__ = ("count", "ids", "newest", "order", "window")

    def __init__(self, window_ms: int, count: int):
        self.window = _non_negative(window_ms, "dedupe_ms")
        self.count = _non_negative(count, "dedupe_count")
        self.ids: set[str] = set()
        self.order: deque[tuple[int, str]] = deque()
        self.newest = 0

    def seen(self, trade: Trade) -> bool:
        """True for a duplicate; otherwise remembers the id and returns False."""
        tid = trade.trade_id
        if not tid:
            return False
        ids = self.ids
        if tid in ids:
            return True
        ids.add(tid)
        ts, order = trade.ts, self.order
        order.append((ts, tid))
        if ts > self.newest:
            self.newest = ts
        if len(order) > self.count:
            horizon = self.newest - self.window
            while len(order) > self.count and order[0][0] < horizon:
                ids.discard(order.popleft()[1])
        return False


class _Aggregator:
    """What every aggregator shares: one (venue, symbol), duplicate filtering and counters."""

    def __init__(self, venue: str | None, symbol: str | None, dedupe_ms: int, dedupe_count: int):
        self.venue = venue
        self.symbol = symbol
        self._dedupe = _Dedupe(dedupe_ms, dedupe_count)
        self.applied = 0  # trades that went into a bar
        self.duplicates = 0
        self.late = 0
        self.bars = 0  # bars emitted, empty ones included
        self.empty = 0

    def _admit(self, trade: Trade) -> bool:
        """Whether ``trade`` is new: binds the aggregator to the first trade's venue and symbol."""
        if self.venue is None:
            self.venue = trade.venue
        if self.symbol is None:
            self.symbol = trade.symbol
        if trade.symbol != self.symbol or trade.venue != self.venue:
            raise UsageError(f"bars: {trade.venue} {trade.symbol}: trade fed to the bars of "
                             f"{self.venue} {self.symbol}")
        if self._dedupe.seen(trade):
            self.duplicates += 1
            return False
        return True

    def _out(self, bar: OHLCVBar) -> OHLCVBar:
        self.bars += 1
        self.empty += bar.empty
        return bar

    def counts(self) -> dict[str, int]:
        return {"trades": self.applied, "duplicates": self.duplicates, "late": self.late, "bars": self.bars,
                "empty": self.empty}

    def on_trade(self, trade: Trade) -> tuple[Emitted, ...]:
        raise NotImplementedError

    def on_clock(self, now_ms: int) -> list[OHLCVBar]:
        return []

    def flush(self) -> list[OHLCVBar]:
        raise NotImplementedError


class TimeBars(_Aggregator):
    """Time bars of one symbol on UTC boundaries, closed by ``on_clock``.

    ``on_trade`` returns ``()`` or ``(LateTrade,)``; bars come only from ``on_clock`` (and from
    ``flush`` at the end of a stream, which closes every open bar whatever the clock says).
    ``grace_ms`` keeps a bar open that long after its end for trades that arrive late.
    """

    def __init__(self, interval: int | timedelta, *, grace_ms: int = 0, venue: str | None = None,
                 symbol: str | None = None, dedupe_ms: int = DEDUPE_MS, dedupe_count: int = DEDUPE_COUNT):
        super().__init__(venue, symbol, dedupe_ms, dedupe_count)
        self.interval = interval_ms(interval)
        self.grace = _non_negative(grace_ms, "grace_ms")
        self._open: dict[int, _Acc] = {}
        self._prev_end: int | None = None  # end of the last bar emitted
        self._prev_close: Decimal | None = None
        self.closed_until: int | None = None  # every interval ending at or before this is closed

    def on_trade(self, trade: Trade) -> tuple[Emitted, ...]:
        if trade.ts <= 0:
            raise UsageError(f"bars: {trade.venue} {trade.symbol}: trade {trade.trade_id or '(no id)'} has no "
                             f"exchange time (ts {trade.ts}); time bars need one")
        if not self._admit(trade):
            return ()
        start = trade.ts - trade.ts % self.interval
        if self.closed_until is not None and start < self.closed_until:
            self.late += 1
            return (LateTrade(trade=trade, bar_start=start, closed_until=self.closed_until),)
        self.applied += 1
        acc = self._open.get(start)
        if acc is None:
            self._open[start] = _Acc(trade, order_key(trade))
        else:
            acc.add(trade, order_key(trade))
        return ()

    def on_clock(self, now_ms: int) -> list[OHLCVBar]:
        """Close every interval that ended at or before ``now_ms - grace_ms``; returns the bars
        (empty ones included) in time order."""
        edge = now_ms - self.grace
        edge -= edge % self.interval
        if self.closed_until is not None and edge <= self.closed_until:
            return []
        self.closed_until = edge
        return self._close(edge)

    def flush(self) -> list[OHLCVBar]:
        """Close every open bar now (end of a replay, shutdown); later trades for them are late."""
        if not self._open:
            return []
        edge = max(self._open) + self.interval
        self.closed_until = edge if self.closed_until is None else max(edge, self.closed_until)
        return self._close(edge)

    def _close(self, edge: int) -> list[OHLCVBar]:
        out: list[OHLCVBar] = []
        for start in sorted(s for s in self._open if s + self.interval <= edge):
            self._gap(out, start)
            bar = self._open.pop(start).bar(self.venue, self.symbol, start, start + self.interval)
            out.append(self._out(bar))
            self._prev_end, self._prev_close = bar.end, bar.close
        self._gap(out, edge)
        return out

    def _gap(self, out: list[OHLCVBar], until: int) -> None:
        """Empty bars from the last bar emitted up to ``until``."""
        if self._prev_end is None or self._prev_close is None:
            return
        c, step, zero = self._prev_close, self.interval, Decimal(0)
        for start in range(self._prev_end, until, step):
            out.append(self._out(OHLCVBar(venue=self.venue, symbol=self.symbol, start=start, end=start + step,
                                          open=c, high=c, low=c, close=c, volume=zero, vwap=c, trades=0,
                                          empty=True)))
        self._prev_end = max(self._prev_end, until)

    def partial(self) -> list[OHLCVBar]:
        """The bars still open, as they stand (not counted as emitted)."""
        return [self._open[s].bar(self.venue, self.symbol, s, s + self.interval) for s in sorted(self._open)]


class _CountedBars(_Aggregator):
    """Bars that close on a trade: ``full(acc)`` says when."""

    def __init__(self, venue: str | None, symbol: str | None, dedupe_ms: int, dedupe_count: int):
        super().__init__(venue, symbol, dedupe_ms, dedupe_count)
        self._acc: _Acc | None = None
        self._start = 0
        self._end = 0

    def _full(self, acc: _Acc) -> bool:
        raise NotImplementedError

    def on_trade(self, trade: Trade) -> tuple[Emitted, ...]:
        if not self._admit(trade):
            return ()
        self.applied += 1
        if self._acc is None:
            self._acc = _Acc(trade, order_key(trade))
            self._start = self._end = trade.ts
        else:
            self._acc.add(trade, order_key(trade))
            self._start, self._end = min(self._start, trade.ts), max(self._end, trade.ts)
        return (self._emit(),) if self._full(self._acc) else ()

    def _emit(self) -> OHLCVBar:
        assert self._acc is not None
        bar = self._acc.bar(self.venue, self.symbol, self._start, self._end)
        self._acc = None
        return self._out(bar)

    def flush(self) -> list[OHLCVBar]:
        """The bar in progress, short of its size (end of a stream), or nothing."""
        return [self._emit()] if self._acc is not None else []


class TickBars(_CountedBars):
    """A bar every ``n`` trades (duplicates not counted)."""

    def __init__(self, n: int, *, venue: str | None = None, symbol: str | None = None,
                 dedupe_ms: int = DEDUPE_MS, dedupe_count: int = DEDUPE_COUNT):
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise UsageError(f"bars: n (trades per tick bar) must be a positive integer, got {n!r}")
        super().__init__(venue, symbol, dedupe_ms, dedupe_count)
        self.n = n

    def _full(self, acc: _Acc) -> bool:
        return acc.trades >= self.n


class VolumeBars(_CountedBars):
    """A bar closed by the trade that brings its volume to ``volume`` or more."""

    def __init__(self, volume: Decimal | int | str, *, venue: str | None = None, symbol: str | None = None,
                 dedupe_ms: int = DEDUPE_MS, dedupe_count: int = DEDUPE_COUNT):
        try:
            v = volume if isinstance(volume, Decimal) else Decimal(volume)
        except (InvalidOperation, TypeError, ValueError):
            v = Decimal("NaN")
        if isinstance(volume, bool | float) or not v.is_finite() or v <= 0:
            raise UsageError(f"bars: volume (size per volume bar) must be a positive decimal, got {volume!r}")
        super().__init__(venue, symbol, dedupe_ms, dedupe_count)
        self.volume = v

    def _full(self, acc: _Acc) -> bool:
        return acc.volume >= self.volume


class BarSet:
    """One aggregator per (venue, symbol), made by ``factory()`` on the symbol's first trade."""

    def __init__(self, factory: Callable[[], _Aggregator]):
        self._factory = factory
        self.streams: dict[tuple[str, str], _Aggregator] = {}

    def get(self, venue: str, symbol: str) -> _Aggregator:
        agg = self.streams.get((venue, symbol))
        if agg is None:
            agg = self.streams[(venue, symbol)] = self._new()
        return agg

    def _new(self) -> _Aggregator:
        return self._factory()

    def on_trade(self, trade: Trade) -> tuple[Emitted, ...]:
        return self.get(trade.venue, trade.symbol).on_trade(trade)

    def on_trades(self, trades: Iterable[Trade]) -> list[Emitted]:
        return [item for t in trades for item in self.on_trade(t)]

    def on_clock(self, now_ms: int) -> list[OHLCVBar]:
        """Bars closed by the clock, all symbols, ordered by (start, venue, symbol)."""
        return self._sorted(bar for agg in self.streams.values() for bar in agg.on_clock(now_ms))

    def flush(self) -> list[OHLCVBar]:
        return self._sorted(bar for agg in self.streams.values() for bar in agg.flush())

    @staticmethod
    def _sorted(bars: Iterable[OHLCVBar]) -> list[OHLCVBar]:
        return sorted(bars, key=lambda b: (b.start, b.venue, b.symbol))

    def counts(self) -> dict[tuple[str, str], dict[str, int]]:
        return {key: agg.counts() for key, agg in self.streams.items()}


class TimeBarSet(BarSet):
    """``TimeBars`` for many symbols on one clock: a symbol first seen after the clock moved
    starts with the intervals that clock already closed (its older trades are late)."""

    def __init__(self, interval: int | timedelta, *, grace_ms: int = 0, dedupe_ms: int = DEDUPE_MS,
                 dedupe_count: int = DEDUPE_COUNT):
        self.interval = interval_ms(interval)
        self.grace = _non_negative(grace_ms, "grace_ms")
        _non_negative(dedupe_ms, "dedupe_ms")
        _non_negative(dedupe_count, "dedupe_count")
        super().__init__(lambda: TimeBars(self.interval, grace_ms=self.grace, dedupe_ms=dedupe_ms,
                                          dedupe_count=dedupe_count))
        self._now: int | None = None

    def _new(self) -> _Aggregator:
        agg = self._factory()
        if self._now is not None:
            agg.on_clock(self._now)
        return agg

    def on_clock(self, now_ms: int) -> list[OHLCVBar]:
        self._now = now_ms if self._now is None else max(self._now, now_ms)
        return super().on_clock(now_ms)
