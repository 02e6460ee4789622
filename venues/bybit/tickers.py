"""Bybit ``tickers.{symbol}``: the merged ticker per symbol, funding intervals, and their events.

Linear tickers come as one ``snapshot`` and then ``delta``s that carry only the fields that
changed ("if a response param is not found in the message, then its value has not changed").
``TickerState`` keeps the last full ticker per symbol (as ``MergedTicker``, the values already
converted) and merges each delta into it field by field, converting only what the delta
carries, so a delta without ``markPrice`` keeps the mark price it had: a missing field is never
read as zero or None. From the merged ticker it emits a ``FundingRate`` when the frame touched
a funding field (rate, next time, interval, mark, index) and a ``BBO`` when it touched the best
bid or ask and all four of them are known. A delta for a symbol without a snapshot is refused
(its missing fields would be unknown, not unchanged).

Bybit's ``fundingRate`` is a fraction per funding interval. The interval comes, best first,
from the ticker's own ``fundingIntervalHour`` (sent since 2024), from instruments-info
(``fundingInterval`` in minutes, learned by ``decode_instruments``), or from the codec option
``funding_interval_hours`` (8, Bybit's default for most perpetuals). Dated futures send
``"fundingRate": ""`` and produce no funding event.
"""

from __future__ import annotations

from decimal import Decimal

from perpwire.market.events import BBO, Event, FundingRate
from perpwire.venues.bybit.schemas import BybitData, BybitTicker

VENUE = "bybit"
DEFAULT_INTERVAL_HOURS = 8
_SYMBOL_LIMIT = 8192  # merged tickers kept; far above any venue's symbol count
#: Decimal of each funding interval in hours, made once
_HOURS: dict[int, Decimal] = {}


def _dec(text: str) -> Decimal | None:
    """Decimal of a ticker string; None for ``""`` (Bybit's "not applicable")."""
    if not text:
        return None
    d = Decimal(text)
    if not d.is_finite():
        raise ValueError(f"not a finite decimal: {text!r}")
    return d


class MergedTicker:
    """One symbol's ticker as last known: every field converted, None where Bybit said ``""``
    (or, for a REST row, did not say)."""

    __slots__ = ("ask", "ask_size", "bid", "bid_size", "index", "interval", "mark", "next_ts", "per_hour", "rate",
                 "symbol")

    def __init__(self, symbol: str):
        self.symbol = symbol
        self.rate: Decimal | None = None
        self.per_hour: Decimal | None = None  # rate / interval, cached until either changes
        self.interval: int | None = None  # fundingIntervalHour, when the venue sent it
        self.next_ts: int | None = None
        self.mark: Decimal | None = None
        self.index: Decimal | None = None
        self.bid: Decimal | None = None
        self.bid_size: Decimal | None = None
        self.ask: Decimal | None = None
        self.ask_size: Decimal | None = None

    def merge(self, t: BybitData | BybitTicker) -> tuple[bool, bool]:
        """Take every field ``t`` carries; returns (a funding field changed, a BBO field changed)."""
        funding = bbo = False
        if t.fundingRate is not None:
            self.rate, self.per_hour, funding = _dec(t.fundingRate), None, True
        if t.fundingIntervalHour is not None:
            hours = int(t.fundingIntervalHour) if t.fundingIntervalHour else None
            if hours is not None and hours <= 0:
                raise ValueError(f"{self.symbol}: funding interval {hours} h")
            self.interval, self.per_hour, funding = hours, None, True
        if t.nextFundingTime is not None:
            self.next_ts, funding = (int(t.nextFundingTime) if t.nextFundingTime else None), True
        if t.markPrice is not None:
            self.mark, funding = _dec(t.markPrice), True
        if t.indexPrice is not None:
            self.index, funding = _dec(t.indexPrice), True
        if t.bid1Price is not None:
            self.bid, bbo = _dec(t.bid1Price), True
        if t.bid1Size is not None:
            self.bid_size, bbo = _dec(t.bid1Size), True
        if t.ask1Price is not None:
            self.ask, bbo = _dec(t.ask1Price), True
        if t.ask1Size is not None:
            self.ask_size, bbo = _dec(t.ask1Size), True
        return funding, bbo


class TickerState:
    """Merged tickers per symbol plus the funding interval of each symbol (hours)."""

    __slots__ = ("_tickers", "default_interval_hours", "intervals")

    def __init__(self, default_interval_hours: int = DEFAULT_INTERVAL_HOURS, intervals: dict[str, int] | None = None):
        if default_interval_hours <= 0:
            raise ValueError(f"funding_interval_hours must be positive, got {default_interval_hours}")
        self.default_interval_hours = default_interval_hours
        self.intervals: dict[str, int] = dict(intervals or {})
        self._tickers: dict[str, MergedTicker] = {}

    def reset(self) -> None:
        """Forget merged tickers (a new connection starts with fresh snapshots); keep intervals."""
        self._tickers.clear()

    def ticker(self, symbol: str) -> MergedTicker | None:
        """The merged ticker of ``symbol`` as last seen (not a copy: do not modify it)."""
        return self._tickers.get(symbol)

    def interval_hours(self, symbol: str) -> int:
        return self.intervals.get(symbol, self.default_interval_hours)

    def learn_interval(self, symbol: str, hours: int) -> None:
        if hours <= 0:
            raise ValueError(f"{symbol}: funding interval {hours} h")
        self.intervals[symbol] = hours

    # --- WebSocket ---------------------------------------------------------------------------

    def apply(self, kind: str, t: BybitData, ts: int, cs: int | None) -> list[Event] | None:
        """Merge one ``tickers`` push (``kind`` "snapshot" or "delta") and return its events;
        None for a delta of a symbol without a snapshot (the caller counts it)."""
        symbol = t.symbol
        if not symbol:
            raise ValueError("tickers push without symbol")
        if kind == "snapshot":
            merged = MergedTicker(symbol)
            merged.merge(t)
            if len(self._tickers) >= _SYMBOL_LIMIT and symbol not in self._tickers:
                self._tickers.clear()
            self._tickers[symbol] = merged
            funding = bbo = True
        elif kind == "delta":
            found = self._tickers.get(symbol)
            if found is None:
                # nothing to merge into: its absent fields mean "unchanged" from a snapshot we never
                # saw, so it cannot be read alone (Bybit always sends the snapshot first)
                return None
            merged = found
            funding, bbo = merged.merge(t)
        else:
            raise ValueError(f"tickers push of type {kind!r}")
        out: list[Event] = []
        if funding:
            fr = self._funding(merged, ts)
            if fr is not None:
                out.append(fr)
        if bbo:
            b = self._bbo(merged, ts, cs)
            if b is not None:
                out.append(b)
        return out

    # --- events --------------------------------------------------------------------------------

    def funding(self, t: BybitTicker, ts: int) -> FundingRate | None:
        """The funding estimate of one full ticker (a REST row); None when it has no rate."""
        m = MergedTicker(t.symbol)
        m.merge(t)
        return self._funding(m, ts)

    def bbo(self, t: BybitTicker, ts: int, cs: int | None = None) -> BBO | None:
        """Best bid and ask of one full ticker (a REST row); None unless all four are there."""
        m = MergedTicker(t.symbol)
        m.merge(t)
        return self._bbo(m, ts, cs)

    def _funding(self, m: MergedTicker, ts: int) -> FundingRate | None:
        rate = m.rate
        if rate is None:
            return None  # dated futures: "fundingRate": ""
        if m.interval is not None:
            hours = m.interval
            if self.intervals.get(m.symbol) != hours:
                self.learn_interval(m.symbol, hours)
        else:
            hours = self.interval_hours(m.symbol)
        if m.per_hour is None or m.interval is None:
            div = _HOURS.get(hours)
            if div is None:  # per_hour's division, the interval's Decimal made once
                if hours <= 0:
                    raise ValueError(f"funding interval must be positive, got {hours}")
                div = _HOURS[hours] = Decimal(hours)
            m.per_hour = rate / div
        return FundingRate(
            venue=VENUE, symbol=m.symbol, rate=rate, interval_hours=hours, rate_per_hour=m.per_hour,
            mark_price=m.mark, index_price=m.index, next_funding_ts=m.next_ts, ts=ts,
        )

    @staticmethod
    def _bbo(m: MergedTicker, ts: int, cs: int | None) -> BBO | None:
        bp, bq, ap, aq = m.bid, m.bid_size, m.ask, m.ask_size
        if bp is None or bq is None or ap is None or aq is None:
            return None
        return BBO(venue=VENUE, symbol=m.symbol, bid_price=bp, bid_size=bq, ask_price=ap, ask_size=aq, ts=ts, seq=cs)
