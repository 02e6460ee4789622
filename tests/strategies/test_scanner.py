"""FundingScanner: cross-venue matching by asset, fee-aware pair choice, rescan vs incremental."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perpwire.market.events import FundingRate
from perpwire.market.stats import FundingStats, WindowStats
from perpwire.strategies.scanner import FundingScanner, Opportunity, Quote

D = Decimal
NO_FEES = {"aster": D(0), "backpack": D(0), "lighter": D(0), "binance": D(0), "hyperliquid": D(0)}


def _q(venue: str, symbol: str, rph: str, **kw) -> Quote:
    return Quote(venue=venue, symbol=symbol, rate_per_hour=D(rph), **kw)


def test_rescan_two_venues_shorts_higher_longs_lower_net_of_fees():
    scanner = FundingScanner({"aster": D("0.0004"), "backpack": D("0.0006")}, holding_hours=40)
    [opp] = scanner.rescan([_q("aster", "BTCUSDT", "0.00010"), _q("backpack", "BTC_USDC_PERP", "0.00002")])
    assert (opp.asset, opp.short_venue, opp.short_symbol) == ("BTC", "aster", "BTCUSDT")
    assert (opp.long_venue, opp.long_symbol) == ("backpack", "BTC_USDC_PERP")
    assert opp.spread_per_hour == D("0.00008")
    # four taker fills: 2 × (0.0004 + 0.0006) over 40 h
    assert opp.fees_per_hour == D("0.00005")
    assert opp.net_per_hour == D("0.00003")
    assert opp.annualised == D("0.00003") * 8760


def test_rescan_three_venues_picks_extremes():
    scanner = FundingScanner(NO_FEES)
    [opp] = scanner.rescan([_q("aster", "ETHUSDT", "0.00001"), _q("binance", "ETHUSDT", "-0.00002"),
                            _q("hyperliquid", "ETH", "0.00003")])
    assert (opp.short_venue, opp.long_venue, opp.spread_per_hour) == ("hyperliquid", "binance", D("0.00005"))


def test_rescan_expensive_venue_loses_to_cheaper_one_with_lower_rate():
    fees = {"aster": D("0.01"), "backpack": D("0"), "lighter": D("0")}
    scanner = FundingScanner(fees, holding_hours=100)  # aster costs 0.0002 per hour
    [opp] = scanner.rescan([_q("aster", "SOLUSDT", "0.00030"), _q("backpack", "SOL_USDC_PERP", "0.00015"),
                            _q("lighter", "SOL", "0.00000")])
    assert opp.short_venue == "backpack" and opp.net_per_hour == D("0.00015")


def test_rescan_best_short_and_long_on_one_venue_takes_runner_up():
    scanner = FundingScanner(NO_FEES)
    [opp] = scanner.rescan([_q("binance", "BTCUSDT", "0.00010"), _q("binance", "BTCUSDC", "-0.00010"),
                            _q("aster", "BTCUSDT", "0.00002")])
    assert opp.short_venue != opp.long_venue
    # (aster short, binance USDC long) nets 0.00012 beats (binance USDT short, aster long) 0.00008
    assert (opp.short_venue, opp.long_symbol, opp.net_per_hour) == ("aster", "BTCUSDC", D("0.00012"))


def test_rescan_single_venue_asset_has_no_opportunity():
    scanner = FundingScanner(NO_FEES)
    assert scanner.rescan([_q("binance", "BTCUSDT", "0.0001"), _q("binance", "BTCUSDC", "-0.0001")]) == []


def test_rescan_lighter_index_matched_through_market_table():
    scanner = FundingScanner(NO_FEES, markets={"lighter": {"1": "BTC", "0": "ETH"}})
    [opp] = scanner.rescan([_q("lighter", "1", "0.00005"), _q("hyperliquid", "BTC", "0.00001")])
    assert (opp.asset, opp.short_venue, opp.short_symbol) == ("BTC", "lighter", "1")


def test_rescan_lighter_index_without_table_is_unmapped_and_skipped():
    scanner = FundingScanner(NO_FEES)
    assert scanner.rescan([_q("lighter", "1", "0.00005"), _q("hyperliquid", "BTC", "0.00001")]) == []
    assert scanner.unmapped == {("lighter", "1")}


def test_rescan_multiplied_contracts_match_underlying():
    scanner = FundingScanner(NO_FEES)
    [opp] = scanner.rescan([_q("binance", "1000PEPEUSDT", "0.00004"), _q("hyperliquid", "kPEPE", "0.00001")])
    assert opp.asset == "PEPE" and opp.short_symbol == "1000PEPEUSDT"


def test_rescan_venue_without_fee_is_unpriced_unless_default_given():
    quotes = [_q("kucoin", "XBTUSDTM", "0.00009"), _q("binance", "BTCUSDT", "0.00001")]
    scanner = FundingScanner({"binance": D("0.0005")})
    assert scanner.rescan(quotes) == [] and scanner.unpriced == {"kucoin"}
    scanner = FundingScanner({"binance": D("0.0005")}, default_taker_fee=D("0.0005"), holding_hours=10)
    [opp] = scanner.rescan(quotes)
    assert opp.short_venue == "kucoin" and opp.fees_per_hour == D("0.0002")


def test_ranked_orders_by_net_and_filters():
    scanner = FundingScanner(NO_FEES)
    scanner.rescan([_q("aster", "BTCUSDT", "0.00003"), _q("binance", "BTCUSDT", "0.00001"),
                    _q("aster", "ETHUSDT", "0.00009"), _q("binance", "ETHUSDT", "0.00001"),
                    _q("aster", "SOLUSDT", "0.00001"), _q("binance", "SOLUSDT", "0.00001")])
    assert [o.asset for o in scanner.ranked()] == ["ETH", "BTC", "SOL"]
    assert [o.asset for o in scanner.ranked(min_net_per_hour=D("0.00001"))] == ["ETH", "BTC"]
    assert [o.asset for o in scanner.ranked(top=1)] == ["ETH"]


def test_update_recomputes_one_asset_and_removal_clears_it():
    scanner = FundingScanner(NO_FEES)
    scanner.rescan([_q("aster", "BTCUSDT", "0.00003"), _q("binance", "BTCUSDT", "0.00001")])
    opp = scanner.update(_q("binance", "BTCUSDT", "0.00007"))
    assert (opp.short_venue, opp.spread_per_hour) == ("binance", D("0.00004"))
    assert scanner.best("BTC") == opp
    assert scanner.remove("aster", "BTCUSDT") is None
    assert scanner.ranked() == [] and len(scanner) == 0


def test_update_carries_z_scores_and_funding_times_from_stats():
    stats = FundingStats()
    stats.load([WindowStats(venue=v, symbol=s, count=100, mean=1e-5, std=1e-5, since_ms=0, until_ms=1)
                for v, s in (("aster", "BTCUSDT"), ("hyperliquid", "BTC"))])
    scanner = FundingScanner(NO_FEES)
    legs = (("aster", "BTCUSDT", "0.00004", 28_800_000), ("hyperliquid", "BTC", "0", 3_600_000))
    for venue, symbol, rph, nft in legs:
        stats.update(FundingRate(venue=venue, symbol=symbol, rate=D(rph), interval_hours=1, rate_per_hour=D(rph),
                                 next_funding_ts=nft, ts=1))
        opp = scanner.update(stats.get(venue, symbol))
    assert isinstance(opp, Opportunity)
    assert opp.short_z == pytest.approx(3.0) and opp.long_z == pytest.approx(-1.0)
    assert (opp.short_next_funding_ts, opp.long_next_funding_ts) == (28_800_000, 3_600_000)
    assert scanner.rescan(stats) == [opp]


def test_scanner_non_positive_holding_period_raises():
    with pytest.raises(ValueError):
        FundingScanner(NO_FEES, holding_hours=0)


_VENUES = ("aster", "backpack", "binance", "hyperliquid")
_FEES = {"aster": D("0.0004"), "backpack": D("0.0002"), "binance": D("0.0005"), "hyperliquid": D("0.00035")}


def _brute_force_net(quotes: list[Quote]) -> Decimal | None:
    scanner = FundingScanner(_FEES, holding_hours=8)
    best = None
    for s, lg in itertools.permutations(quotes, 2):
        if s.venue != lg.venue:
            net = s.rate_per_hour - lg.rate_per_hour - scanner.cost_per_hour(s.venue) - scanner.cost_per_hour(lg.venue)
            best = net if best is None else max(best, net)
    return best


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_VENUES), st.sampled_from(("BTCUSDT", "BTCUSDC")),
                          st.integers(-500, 500)), min_size=1, max_size=8))
def test_rescan_and_update_match_brute_force_pair_search(rows):
    quotes = {(v, s): _q(v, s, str(D(r) / D(10**6))) for v, s, r in rows}
    scanner = FundingScanner(_FEES, holding_hours=8)
    ranked = scanner.rescan(quotes.values())
    expected = _brute_force_net(list(quotes.values()))
    assert (ranked[0].net_per_hour if ranked else None) == expected
    incremental = FundingScanner(_FEES, holding_hours=8)
    last = None
    for q in quotes.values():
        last = incremental.update(q)
    assert (last.net_per_hour if last else None) == expected
