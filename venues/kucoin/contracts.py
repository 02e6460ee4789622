"""What the KuCoin codec knows about each contract, and how contract facts normalise.

KuCoin sizes are integer contracts whose base quantity is the contract's ``multiplier`` (0.001
XBT for XBTUSDTM), funding intervals differ per contract (``fundingRateGranularity`` ms, 8 h by
default) and the funding endpoints name a contract by its funding index (``.XBTUSDTMFPI8H``).
``ContractTable`` keeps these facts as the codec learns them from REST (contract detail, active
contracts, current funding, announcements) so every later frame normalises the same way:
``interval_hours`` for rates, ``contract_size`` for turning contracts into base units, and the
next settlement time rolled forward on the funding grid. It never reads the clock.
"""

from __future__ import annotations

import re
from decimal import Decimal

from perpwire.market.events import FundingRate, Instrument
from perpwire.market.funding import asset, interval_hours_from_ms, per_hour
from perpwire.market.units import ONE_HOUR_MS
from perpwire.venues.kucoin.schemas import KucoinContract

PERPETUAL = "FFWCSX"  # contract ``type`` of perpetuals ("FFICSX" are dated futures)
DEFAULT_INTERVAL_HOURS = 8

# ".XBTUSDTMFPI8H" -> "XBTUSDTM", 8: the funding-premium index KuCoin names a contract's funding by
_FUNDING_INDEX = re.compile(r"^\.(?P<contract>[A-Z0-9]+?)FPI(?P<hours>\d+)H$")


class ContractTable:
    """Per-contract facts learned from REST bodies and announcements (one table per codec)."""

    def __init__(self, default_interval_hours: int = DEFAULT_INTERVAL_HOURS):
        if default_interval_hours <= 0:
            raise ValueError(f"default_interval_hours must be positive, got {default_interval_hours}")
        self.default_interval_hours = default_interval_hours
        self._multiplier: dict[str, Decimal] = {}
        self._interval_hours: dict[str, int] = {}
        self._by_index: dict[str, str] = {}
        self._next_funding: dict[str, int] = {}

    # --- learning ------------------------------------------------------------------------------

    def learn(self, c: KucoinContract, now_ms: int | None = None) -> None:
        """Remember a contract's multiplier, funding interval, funding index and next settlement."""
        self._multiplier[c.symbol] = abs(c.multiplier)
        if c.fundingRateGranularity is not None:
            self._interval_hours[c.symbol] = interval_hours_from_ms(c.fundingRateGranularity)
        if c.fundingRateSymbol:
            self._by_index[c.fundingRateSymbol] = c.symbol
        if now_ms is not None and c.nextFundingRateTime is not None:
            # a countdown on the wire: only a caller-supplied clock makes it an epoch time
            self._next_funding[c.symbol] = now_ms + c.nextFundingRateTime

    def set_interval(self, symbol: str, interval_ms: int) -> int:
        hours = interval_hours_from_ms(interval_ms)
        self._interval_hours[symbol] = hours
        return hours

    def note_settlement(self, symbol: str, next_funding_ts: int) -> None:
        self._next_funding[symbol] = next_funding_ts

    # --- reading -------------------------------------------------------------------------------

    def contract_symbol(self, symbol: str) -> str:
        """The contract for a contract or funding-index symbol (".XBTUSDTMFPI8H" -> "XBTUSDTM")."""
        known = self._by_index.get(symbol)
        if known is not None:
            return known
        m = _FUNDING_INDEX.match(symbol)
        return m.group("contract") if m else symbol

    def interval_hours(self, symbol: str) -> int:
        """The contract's funding interval in hours: learned from REST, else the codec's default."""
        hours = self._interval_hours.get(symbol)
        if hours is not None:
            return hours
        return self.default_interval_hours

    def contract_size(self, symbol: str) -> Decimal | None:
        """Base quantity of one contract (quote quantity on inverse contracts), None if not learned."""
        return self._multiplier.get(symbol)

    def next_funding(self, symbol: str, ts: int) -> int | None:
        """The next settlement after ``ts``: the last one learned, rolled forward by the interval."""
        nxt = self._next_funding.get(symbol)
        if nxt is None:
            return None
        if nxt <= ts:
            step = self.interval_hours(symbol) * ONE_HOUR_MS
            nxt += ((ts - nxt) // step + 1) * step
        return nxt

    # --- normalising ---------------------------------------------------------------------------

    def funding(
        self, venue: str, symbol: str, rate: Decimal, ts: int, *, interval_hours: int | None = None,
        settled: bool = False, **extras: object,
    ) -> FundingRate:
        """A FundingRate for ``symbol`` with this table's interval (or the one given)."""
        hours = interval_hours if interval_hours is not None else self.interval_hours(symbol)
        if "next_funding_ts" not in extras:
            extras["next_funding_ts"] = self.next_funding(symbol, ts)
        return FundingRate(
            venue=venue, symbol=symbol, rate=rate, interval_hours=hours, rate_per_hour=per_hour(rate, hours),
            ts=ts, settled=settled, **extras,
        )

    def index_hours(self, symbol: str) -> int | None:
        """The interval tag of a funding-index symbol (".XBTUSDTMFPI8H" -> 8), None for contracts."""
        m = _FUNDING_INDEX.match(symbol)
        return int(m.group("hours")) if m else None

    def instrument(self, venue: str, c: KucoinContract) -> Instrument:
        """The normalised Instrument; sizes (step, minimum) stay in contracts like book sizes."""
        return Instrument(
            venue=venue, symbol=c.symbol, asset=asset(c.symbol), quote=c.quoteCurrency,
            tick_size=c.tickSize, step_size=c.lotSize, min_size=c.lotSize, contract_size=abs(c.multiplier),
            funding_interval_hours=self.interval_hours(c.symbol), max_leverage=c.maxLeverage, status=c.status,
        )
