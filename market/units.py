"""Unit conversions at the edge: timestamps to integer milliseconds, exact decimals.

Venues publish times in s, ms, µs or ns, as numbers or strings, or as ISO-8601 text; perpwire
keeps integer milliseconds since the epoch everywhere past the codec.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

ONE_HOUR_MS = 3_600_000


def ms_from_s(value: int | float | str) -> int:
    return int(Decimal(str(value)) * 1000)


def ms_from_us(value: int | str) -> int:
    return int(value) // 1000


def ms_from_ns(value: int | str) -> int:
    return int(value) // 1_000_000


def ms_guess(value: int | str) -> int:
    """Milliseconds from an epoch timestamp whose unit is only known by its magnitude.

    Backpack sends µs in some places and ms in others, as numbers or strings; any timestamp after
    2001 in s has 10 digits, in ms 13, in µs 16 and in ns 19, so the magnitude decides.
    """
    v = int(value)
    if v >= 10**17:
        return v // 1_000_000
    if v >= 10**14:
        return v // 1000
    if v >= 10**11:
        return v
    return v * 1000


def ms_from_iso(text: str) -> int:
    """Milliseconds from ISO-8601 text; naive text is UTC (Backpack's habit)."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def dec(value: str | int | float | Decimal) -> Decimal:
    """An exact Decimal from wire text; floats go through ``repr`` so 0.1 stays 0.1.

    Raises ``ValueError`` on text that is not a number (callers turn it into ``DecodeError``).
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        value = repr(value)
    try:
        d = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {value!r}") from exc
    if not d.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    return d
