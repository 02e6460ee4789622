"""Funding-rate normalisation and cross-venue asset matching.

Every venue publishes funding differently (see ../shared/protocols/README.md): Backpack, Aster,
Binance, Bybit and KuCoin a fraction per funding interval with a per-instrument interval;
Lighter a percent per hour; Hyperliquid a fraction per hour. ``normalise`` turns any of them
into the one figure perpwire compares: a fraction per hour (positive: longs pay shorts).

``asset`` maps a venue's instrument name to the canonical base used to match instruments across
venues ("BTCUSDT", "BTC_USDC_PERP", "XBTUSDTM", "BTC-PERP", Lighter market 1 → "BTC").
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import Enum

from perpwire.market.units import ONE_HOUR_MS

HOURS_PER_YEAR = Decimal(24 * 365)
_HUNDRED = Decimal(100)


class RateUnit(Enum):
    FRACTION_PER_INTERVAL = "fraction_per_interval"
    PERCENT_PER_INTERVAL = "percent_per_interval"


def per_hour(rate: Decimal, interval_hours: int | Decimal, unit: RateUnit = RateUnit.FRACTION_PER_INTERVAL) -> Decimal:
    """Fraction per hour from a published rate, its unit and the funding interval in hours."""
    if interval_hours <= 0:
        raise ValueError(f"funding interval must be positive, got {interval_hours}")
    if unit is RateUnit.PERCENT_PER_INTERVAL:
        rate = rate / _HUNDRED
    return rate / Decimal(interval_hours)


def interval_hours_from_ms(interval_ms: int) -> int:
    """Whole hours from a funding interval in ms (Backpack ``fundingInterval``, KuCoin
    ``granularity``); refuses intervals that are not whole hours rather than rounding."""
    hours, rest = divmod(int(interval_ms), ONE_HOUR_MS)
    if rest or hours <= 0:
        raise ValueError(f"funding interval {interval_ms} ms is not a whole number of hours")
    return hours


def annualise(rate_per_hour: Decimal) -> Decimal:
    """Simple (not compounded) yearly rate from a fraction per hour."""
    return rate_per_hour * HOURS_PER_YEAR


# --- assets ----------------------------------------------------------------------------------

# Quote and contract suffixes, longest first so "USDTM" wins over "USDT".
_SUFFIXES = (
    "_USDC_PERP", "_USDT_PERP", "-USDT-SWAP", "USDTM", "USDCM", "-PERP", "PERP", "USDT", "USDC", "BUSD", "USDM", "USD",
)
_ALIASES = {"XBT": "BTC"}
_MULTIPLIER = re.compile(r"^(1000000|100000|10000|1000|100|k|1M)(?=[A-Z])")


def asset(symbol: str, markets: dict[str, str] | None = None) -> str:
    """Canonical base asset of a venue symbol.

    ``markets`` maps Lighter market indices (as strings) to their names; a Lighter index missing
    from it raises KeyError, because guessing would match the wrong instruments.
    Multiplied contracts ("1000PEPEUSDT", Hyperliquid "kPEPE") map to the underlying ("PEPE");
    ``multiplier`` tells how many units one contract quotes.
    """
    if symbol.isdigit():
        if markets is None:
            raise KeyError(f"market index {symbol} needs the venue's market table")
        symbol = markets[symbol]
    base = symbol.upper() if not symbol.startswith("k") else symbol
    for suffix in _SUFFIXES:
        if base.upper().endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
            break
    base = _MULTIPLIER.sub("", base)
    base = base.rstrip("-_").upper()
    return _ALIASES.get(base, base)


def multiplier(symbol: str) -> int:
    """Units of the base per quoted unit: 1000 for "1000PEPEUSDT" and "kPEPE", else 1."""
    m = _MULTIPLIER.match(symbol)
    if not m:
        return 1
    tag = m.group(1)
    return {"k": 1000, "1M": 1_000_000}.get(tag) or int(tag)
