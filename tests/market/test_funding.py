"""Funding normalisation (protocols/README.md's table) and canonical asset mapping."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpwire.market.funding import RateUnit, annualise, asset, interval_hours_from_ms, multiplier, per_hour

D = Decimal


def test_per_hour_backpack_hourly_interval_is_the_rate():
    assert per_hour(D("0.0000125"), interval_hours_from_ms(3_600_000)) == D("0.0000125")


def test_per_hour_binance_eight_hours_divides_by_eight():
    assert per_hour(D("0.00010000"), 8) == D("0.0000125")


def test_per_hour_lighter_percent_divides_by_hundred():
    assert per_hour(D("0.0012"), 1, RateUnit.PERCENT_PER_INTERVAL) == D("0.000012")


def test_per_hour_zero_interval_raises():
    with pytest.raises(ValueError):
        per_hour(D("0.0001"), 0)


def test_interval_hours_from_ms_refuses_partial_hours():
    assert interval_hours_from_ms(28_800_000) == 8
    with pytest.raises(ValueError):
        interval_hours_from_ms(5_400_000)


def test_annualise_hourly_rate_is_times_8760():
    assert annualise(D("0.0000125")) == D("0.1095")


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [("BTCUSDT", "BTC"), ("BTC_USDC_PERP", "BTC"), ("XBTUSDTM", "BTC"), ("ETHUSDTM", "ETH"), ("BTC", "BTC"),
     ("1000PEPEUSDT", "PEPE"), ("kPEPE", "PEPE"), ("KAS", "KAS"), ("SOL-PERP", "SOL"), ("KASUSDT", "KAS")],
)
def test_asset_maps_venue_symbols_to_canonical_base(symbol, expected):
    assert asset(symbol) == expected


def test_asset_lighter_market_index_uses_market_table():
    assert asset("1", {"1": "BTC", "0": "ETH"}) == "BTC"
    with pytest.raises(KeyError):
        asset("1")


@pytest.mark.parametrize(("symbol", "mult"), [("1000PEPEUSDT", 1000), ("kPEPE", 1000), ("BTCUSDT", 1), ("KAS", 1)])
def test_multiplier_reads_prefix(symbol, mult):
    assert multiplier(symbol) == mult
