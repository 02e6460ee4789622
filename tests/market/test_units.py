"""Timestamp and decimal conversions at the edge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpwire.market.errors import DecodeError, RateLimited
from perpwire.market.units import dec, ms_from_iso, ms_from_ns, ms_from_s, ms_from_us, ms_guess


@pytest.mark.parametrize("value", [1_700_000_000, 1_700_000_000_000, 1_700_000_000_000_000, "1700000000000000000"])
def test_ms_guess_reads_any_epoch_unit(value):
    assert ms_guess(value) == 1_700_000_000_000


def test_ms_conversions_are_exact_integers():
    assert ms_from_us(1_700_000_000_123_456) == 1_700_000_000_123
    assert ms_from_ns("1700000000123456789") == 1_700_000_000_123
    assert ms_from_s("1700000000.5") == 1_700_000_000_500


def test_ms_from_iso_naive_text_is_utc():
    assert ms_from_iso("2024-01-01T00:00:00") == 1_704_067_200_000
    assert ms_from_iso("2024-01-01T00:00:00Z") == 1_704_067_200_000


def test_dec_keeps_text_exact_and_refuses_junk():
    assert dec("1.10") == Decimal("1.10") and str(dec(0.1)) == "0.1"
    for bad in ("abc", "NaN", "Infinity"):
        with pytest.raises(ValueError):
            dec(bad)


def test_decode_error_names_venue_and_keeps_first_bytes():
    err = DecodeError("aster", "bad json", b"x" * 500)
    assert err.venue == "aster" and len(err.head) == 80 and "aster" in str(err)


def test_rate_limited_carries_retry_after():
    err = RateLimited("binance", 429, 2.5)
    assert err.retry_after_s == 2.5 and err.status == 429 and "429" in str(err)
