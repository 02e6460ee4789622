"""FundingStats: z-scores from loaded windows, triggers, dedupe and ordering, batching, gaps."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpwire.market.events import FundingRate
from perpwire.market.stats import IMMEDIATE, REJECTED, FundingStats, SymbolStats, Trigger, WindowStats

D = Decimal
MEAN, STD = 1e-5, 1e-5  # z = (rate - 1e-5) / 1e-5, so rate_per_hour = (z + 1) * 1e-5


def _rate(rph: str, ts: int = 1_000, venue: str = "binance", symbol: str = "BTCUSDT", nft: int | None = None):
    return FundingRate(venue=venue, symbol=symbol, rate=D(rph) * 8, interval_hours=8, rate_per_hour=D(rph),
                       next_funding_ts=nft, ts=ts)


def _window(venue="binance", symbol="BTCUSDT", mean=MEAN, std=STD, count=90):
    return WindowStats(venue=venue, symbol=symbol, count=count, mean=mean, std=std, since_ms=0, until_ms=1)


def _stats(**options) -> FundingStats:
    stats = FundingStats(**options)
    stats.load([_window()])
    return stats


def test_update_first_rate_without_window_is_new_and_has_no_z():
    stats = FundingStats()
    assert stats.update(_rate("0.0000125")) == Trigger.NEW
    s = stats.get("binance", "BTCUSDT")
    assert s.z is None and s.rate_per_hour == D("0.0000125")


def test_update_with_window_computes_z_and_keeps_exact_rate():
    stats = _stats()
    flags = stats.update(_rate("0.000035"))
    s = stats.get("binance", "BTCUSDT")
    assert s.z == pytest.approx(2.5)
    assert s.rate_per_hour == D("0.000035") and s.mean == MEAN and s.std == STD
    assert flags == Trigger.NEW | Trigger.CROSS_2 | Trigger.HOT


def test_update_from_two_and_half_to_three_and_half_crosses_three_only():
    stats = _stats()
    stats.update(_rate("0.000035", ts=1))
    flags = stats.update(_rate("0.000045", ts=2))
    assert Trigger.CROSS_3 in flags and Trigger.HOT in flags
    assert Trigger.CROSS_2 not in flags


def test_update_back_inside_band_fires_cross_2_and_is_not_hot():
    stats = _stats(rate_change=10.0)
    stats.update(_rate("0.000035", ts=1))
    flags = stats.update(_rate("0.000025", ts=2))  # z 1.5
    assert flags == Trigger.CROSS_2


def test_update_sign_flip_across_band_crosses_both_lines_and_stays_hot():
    stats = _stats(rate_change=100.0)
    stats.update(_rate("0.000035", ts=1))  # z +2.5
    flags = stats.update(_rate("-0.000015", ts=2))  # z -2.5
    assert flags == Trigger.CROSS_2 | Trigger.HOT
    assert stats.get("binance", "BTCUSDT").z == pytest.approx(-2.5)


def test_update_rate_change_above_ten_percent_triggers_at_ten_does_not():
    stats = _stats()
    stats.update(_rate("0.0000100", ts=1))
    assert stats.update(_rate("0.0000110", ts=2)) == Trigger.NONE  # exactly 10 %
    assert stats.update(_rate("0.0000122", ts=3)) == Trigger.RATE_CHANGE  # 10.9 %


def test_update_rate_change_from_zero_triggers_on_any_change():
    stats = FundingStats()
    stats.update(_rate("0", ts=1))
    assert stats.update(_rate("0.0000001", ts=2)) == Trigger.RATE_CHANGE


def test_update_rate_change_below_floor_does_not_trigger():
    stats = FundingStats(rate_change_floor=1e-6)
    stats.update(_rate("0.0000001", ts=1))
    assert stats.update(_rate("0.0000005", ts=2)) == Trigger.NONE  # +400 % but only 4e-7 per hour
    assert stats.update(_rate("0.0000020", ts=3)) == Trigger.RATE_CHANGE


def test_update_same_ts_and_rate_is_duplicate_and_changes_nothing():
    stats = _stats()
    stats.update(_rate("0.000035", ts=5))
    assert stats.update(_rate("0.000035", ts=5)) == Trigger.DUPLICATE
    assert Trigger.DUPLICATE in REJECTED
    assert stats.take_batch(0, force=True) == []


def test_update_same_ts_new_rate_is_accepted_as_correction():
    stats = FundingStats()
    stats.update(_rate("0.00001", ts=5))
    assert stats.update(_rate("0.00002", ts=5)) == Trigger.RATE_CHANGE
    assert stats.get("binance", "BTCUSDT").rate_per_hour == D("0.00002")


def test_update_older_exchange_ts_is_stale_and_discarded():
    stats = FundingStats()
    stats.update(_rate("0.00001", ts=10, nft=100))
    assert stats.update(_rate("0.00009", ts=9, nft=50)) == Trigger.STALE
    s = stats.get("binance", "BTCUSDT")
    assert (s.rate_per_hour, s.ts, s.next_funding_ts) == (D("0.00001"), 10, 100)


def test_update_without_exchange_time_is_never_stale():
    stats = FundingStats()
    stats.update(_rate("0.00001", ts=10))
    assert stats.update(_rate("0.00002", ts=0), received_ms=20) == Trigger.RATE_CHANGE
    assert stats.update(_rate("0.00002", ts=0), received_ms=30) == Trigger.DUPLICATE


def test_update_older_than_max_age_is_stale():
    stats = FundingStats(max_age_ms=1_000)
    assert stats.update(_rate("0.00001", ts=10_000), received_ms=11_500) == Trigger.STALE
    assert stats.update(_rate("0.00001", ts=10_000), received_ms=10_900) == Trigger.NEW


def test_take_batch_returns_quiet_updates_after_batch_interval_only():
    stats = _stats()
    stats.update(_rate("0.00001", ts=1, symbol="BTCUSDT"))
    stats.update(_rate("0.00001", ts=1, symbol="ETHUSDT"))
    assert stats.take_batch(1_000) == []  # first call starts the clock
    assert stats.take_batch(5_999) == []
    batch = stats.take_batch(6_000)
    assert sorted(s.symbol for s in batch) == ["BTCUSDT", "ETHUSDT"]
    assert stats.take_batch(20_000) == []


def test_take_batch_leaves_out_symbols_handled_immediately():
    stats = _stats()
    stats.update(_rate("0.00001", ts=1))
    flags = stats.update(_rate("0.00004", ts=2))  # z 3: immediate
    assert flags & IMMEDIATE
    assert stats.take_batch(0, force=True) == []


def test_load_few_samples_or_zero_std_gives_no_z():
    stats = FundingStats(min_samples=10)
    stats.load([_window(symbol="A", count=9), _window(symbol="B", std=0.0), _window(symbol="C", std=None)])
    for symbol in "ABC":
        stats.update(_rate("0.00005", symbol=symbol))
        assert stats.get("binance", symbol).z is None


def test_load_refresh_recomputes_current_z():
    stats = _stats()
    stats.update(_rate("0.00003"))
    assert stats.get("binance", "BTCUSDT").z == pytest.approx(2.0)
    assert stats.load([_window(mean=2e-5, std=5e-6)]) == 1
    assert stats.get("binance", "BTCUSDT").z == pytest.approx(2.0)
    stats.load([_window(mean=0.0, std=1e-5)])
    assert stats.get("binance", "BTCUSDT").z == pytest.approx(3.0)


def test_load_replace_forgets_windows_not_given():
    stats = _stats()
    stats.update(_rate("0.00003"))
    stats.load([_window(symbol="ETHUSDT")], replace=True)
    assert stats.get("binance", "BTCUSDT").z is None
    stats.update(_rate("0.00003", symbol="ETHUSDT"))
    assert stats.get("binance", "ETHUSDT").z == pytest.approx(2.0)


def test_gaps_uses_venue_cadence_and_receive_time():
    stats = FundingStats(cadence_ms={"lighter": 1_000}, default_cadence_ms=3_000, gap_factor=3)
    stats.update(_rate("0.00001", ts=0, venue="lighter", symbol="1"), received_ms=10_000)
    stats.update(_rate("0.00001", ts=10_000, venue="binance"))
    assert stats.gaps(13_000) == []
    gaps = stats.gaps(13_001)
    assert [(g.venue, g.symbol, g.silent_ms) for g in gaps] == [("lighter", "1", 3_001)]
    assert [g.venue for g in stats.gaps(19_001)] == ["lighter", "binance"]


def test_gaps_duplicate_still_proves_the_feed_alive():
    stats = FundingStats(default_cadence_ms=1_000, gap_factor=1)
    stats.update(_rate("0.00001", ts=0), received_ms=1_000)
    assert stats.update(_rate("0.00001", ts=0), received_ms=5_000) == Trigger.DUPLICATE
    assert stats.gaps(5_500) == []


def test_hot_lists_extreme_symbols_first():
    stats = FundingStats()
    stats.load([_window(symbol=s) for s in ("A", "B", "C")])
    stats.update(_rate("0.000035", symbol="A"))  # z 2.5
    stats.update(_rate("0.00001", symbol="B"))  # z 0
    stats.update(_rate("-0.00003", symbol="C"))  # z -4
    assert [s.symbol for s in stats.hot()] == ["C", "A"]


def test_symbol_stats_annualised_and_slots():
    stats = FundingStats()
    stats.update(_rate("0.0000125"))
    s = stats.get("binance", "BTCUSDT")
    assert s.annualised == D("0.1095")
    assert isinstance(s, SymbolStats) and not hasattr(s, "__dict__")
    assert len(stats) == 1 and list(stats) == [s] and stats["binance", "BTCUSDT"] is s


def test_forget_drops_symbol_and_its_pending_update():
    stats = FundingStats()
    stats.update(_rate("0.00001"))
    stats.forget("binance", "BTCUSDT")
    assert stats.get("binance", "BTCUSDT") is None and stats.take_batch(0, force=True) == []
