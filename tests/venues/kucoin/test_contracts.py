"""KuCoin ContractTable: funding-index symbols, intervals and the settlement grid."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpwire.venues.kucoin.contracts import ContractTable

HOUR = 3_600_000


def test_contract_symbol_maps_funding_index_and_passes_contracts_through():
    table = ContractTable()
    assert table.contract_symbol(".ETHUSDTMFPI8H") == "ETHUSDTM"
    assert table.contract_symbol(".1000PEPEUSDTMFPI4H") == "1000PEPEUSDTM"
    assert table.contract_symbol("XBTUSDTM") == "XBTUSDTM"
    assert table.index_hours(".1000PEPEUSDTMFPI4H") == 4
    assert table.index_hours("XBTUSDTM") is None


def test_interval_hours_default_until_learned():
    table = ContractTable(default_interval_hours=8)
    assert table.interval_hours("SOLUSDTM") == 8
    assert table.set_interval("SOLUSDTM", 4 * HOUR) == 4
    assert table.interval_hours("SOLUSDTM") == 4


def test_interval_not_whole_hours_raises_value_error():
    with pytest.raises(ValueError):
        ContractTable().set_interval("SOLUSDTM", 90 * 60_000)
    with pytest.raises(ValueError):
        ContractTable(default_interval_hours=0)


def test_next_funding_unknown_is_none_and_rolls_forward_on_the_grid():
    table = ContractTable()
    assert table.next_funding("XBTUSDTM", 1_000) is None
    table.note_settlement("XBTUSDTM", 10 * HOUR)
    assert table.next_funding("XBTUSDTM", 9 * HOUR) == 10 * HOUR
    assert table.next_funding("XBTUSDTM", 10 * HOUR) == 18 * HOUR
    assert table.next_funding("XBTUSDTM", 27 * HOUR) == 34 * HOUR


def test_funding_without_interval_uses_table_and_per_hour():
    table = ContractTable()
    table.set_interval("XBTUSDTM", 4 * HOUR)
    fr = table.funding("kucoin", "XBTUSDTM", Decimal("0.0001"), 5)
    assert (fr.interval_hours, str(fr.rate_per_hour), fr.next_funding_ts, fr.settled) == (4, "0.000025", None, False)
