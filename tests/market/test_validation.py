"""Validation: every rule flags and counts, the circuit breaker trips, flags and resets, the
recorded Lighter stream is judged, and bars from the aggregator always pass."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perpwire import venues
from perpwire.market.bars import OHLCVBar, TimeBars
from perpwire.market.errors import ConfigError
from perpwire.market.events import BBO, BookDelta, Liquidation, MarkPrice, MidPrice, Side, Trade
from perpwire.market.validation import Rule, ValidationConfig, Validator, ValidatorSet, Violation
from tests.conftest import FIXTURES_DIR

T0 = 1_700_000_000_000
NO_BREAKER = {"max_jump": None}


def _t(price: str, size: str = "1", ts: int = T0, tid: str = "1", symbol: str = "BTCUSDT") -> Trade:
    return Trade(venue="binance", symbol=symbol, side=Side.SELL, price=D(price), size=D(size), trade_id=tid, ts=ts)


def _bar(o: str, h: str, lo: str, c: str, vwap: str | None = None, volume: str = "1", start: int = T0) -> OHLCVBar:
    return OHLCVBar(venue="aster", symbol="ETHUSDT", start=start, end=start + 60_000, open=D(o), high=D(h),
                    low=D(lo), close=D(c), volume=D(volume), vwap=D(vwap or c), trades=1)


def _rules(found: tuple[Violation, ...]) -> list[Rule]:
    return [v.rule for v in found]


def test_clean_trade_no_violation_counted_as_checked():
    v = Validator("trades")
    assert v.check(_t("100")) == ()
    assert (v.checked, v.flagged, v.counts()["price_not_positive"]) == (1, 0, 0)


@pytest.mark.parametrize("price", ["0", "-1"])
def test_trade_price_not_positive_flagged_with_one_line_naming_venue_symbol_stream(price):
    v = Validator("trades")
    (found,) = v.check(_t(price, tid="77"))
    assert found.rule is Rule.PRICE_NOT_POSITIVE
    assert found.message == f"binance BTCUSDT trades: price {price} is not positive (trade 77 at {T0})"
    assert found.item == _t(price, tid="77")  # the item is kept, not dropped
    assert (v.flagged, v.violations[Rule.PRICE_NOT_POSITIVE]) == (1, 1)


def test_negative_size_flagged_zero_size_accepted():
    v = Validator("trades", NO_BREAKER)
    assert _rules(v.check(_t("1", size="-0.5"))) == [Rule.SIZE_NEGATIVE]
    assert v.check(_t("1", size="0")) == ()


def test_liquidation_checked_like_a_trade():
    liq = Liquidation(venue="bybit", symbol="BTCUSDT", side=Side.SELL, price=D("-3"), size=D("-1"), ts=T0)
    assert _rules(Validator().check(liq)) == [Rule.PRICE_NOT_POSITIVE, Rule.SIZE_NEGATIVE]


@pytest.mark.parametrize(("bar", "rules"), [
    (_bar("10", "12", "9", "11"), []),
    (_bar("10", "10.5", "9", "11", vwap="10"), [Rule.HIGH_BELOW_OPEN_CLOSE]),
    (_bar("10", "12", "10.5", "11"), [Rule.LOW_ABOVE_OPEN_CLOSE]),
    (_bar("10", "9", "13", "11"), [Rule.HIGH_BELOW_OPEN_CLOSE, Rule.LOW_ABOVE_OPEN_CLOSE, Rule.LOW_ABOVE_HIGH]),
    (_bar("10", "12", "9", "11", vwap="12.5"), [Rule.VWAP_OUTSIDE_RANGE]),
    (_bar("10", "12", "0", "11"), [Rule.PRICE_NOT_POSITIVE]),
    (_bar("10", "12", "9", "11", volume="-1"), [Rule.SIZE_NEGATIVE]),
])
def test_bar_invariants(bar, rules):
    assert _rules(Validator("bars", NO_BREAKER).check(bar)) == rules


def test_bar_message_names_the_stream_and_values():
    (found,) = Validator("bars").check(_bar("10", "10.5", "9", "11", vwap="10"))
    assert found.message == f"aster ETHUSDT bars: high 10.5 is below max(open 10, close 11) (at {T0})"


def test_bbo_crossed_and_bad_prices():
    def bbo(bid: str, ask: str, bid_size: str = "1") -> BBO:
        return BBO(venue="kucoin", symbol="XBTUSDTM", bid_price=D(bid), bid_size=D(bid_size), ask_price=D(ask),
                   ask_size=D(1), ts=T0)

    v = Validator("bbo", NO_BREAKER)
    assert v.check(bbo("10", "10")) == ()
    assert _rules(v.check(bbo("10.5", "10"))) == [Rule.CROSSED]
    assert _rules(v.check(bbo("0", "10", bid_size="-1"))) == [Rule.PRICE_NOT_POSITIVE, Rule.SIZE_NEGATIVE]


def test_mark_and_mid_prices_must_be_positive():
    v = Validator(config=NO_BREAKER)
    mark = MarkPrice(venue="backpack", symbol="BTC_USDC_PERP", mark_price=D(1), index_price=D(0), ts=T0)
    mid = MidPrice(venue="hyperliquid", symbol="BTC", price=D(-1), ts=T0)
    assert [v.message for v in v.check(mark) + v.check(mid)] == [
        f"backpack BTC_USDC_PERP mark_price: index price 0 is not positive (at {T0})",
        f"hyperliquid BTC mid: mid price -1 is not positive (at {T0})"]


def test_timestamps_monotone_within_tolerance():
    v = Validator("trades", {"ts_tolerance_ms": 500, "max_jump": None})
    assert v.check(_t("1", ts=T0 + 1_000)) == ()
    assert v.check(_t("1", ts=T0 + 500)) == ()  # exactly the tolerance
    (found,) = v.check(_t("1", ts=T0 + 499, tid="9"))
    assert found.message == (f"binance BTCUSDT trades: timestamp {T0 + 499} is 501 ms before the newest {T0 + 1000} "
                             f"(tolerance 500 ms) (trade 9 at {T0 + 499})")
    assert v.check(_t("1", ts=0)) == ()  # no venue time: not judged
    assert v.newest_ts == T0 + 1_000


def test_other_events_only_judged_by_time():
    v = Validator("book", {"ts_tolerance_ms": 0})
    delta = BookDelta(venue="binance", symbol="BTCUSDT", bids=(("1", "-5"),), asks=(), first_seq=1, seq=2, ts=T0)
    assert v.check(delta) == ()
    assert _rules(v.check(BookDelta(venue="binance", symbol="BTCUSDT", bids=(), asks=(), first_seq=3, seq=3,
                                    ts=T0 - 1))) == [Rule.TS_BACKWARDS]


def test_breaker_trips_flags_during_cooldown_then_resets():
    v = Validator("trades", {"max_jump": "0.05", "cooldown_ms": 10_000})
    assert v.check(_t("100", ts=T0)) == ()
    assert v.check(_t("104.9", ts=T0 + 1)) == ()  # 4.9 % from 100
    (jump,) = v.check(_t("120", ts=T0 + 2, tid="3"))  # 14.39 % from 104.9
    assert jump.rule is Rule.PRICE_JUMP
    assert jump.message == ("binance BTCUSDT trades: price 120 jumped 14.39% from 104.9 (limit 5.00%); "
                            f"circuit breaker tripped (trade 3 at {T0 + 2})")
    assert v.tripped
    assert _rules(v.check(_t("105", ts=T0 + 5_000))) == [Rule.BREAKER_OPEN]  # even a sane price, until cool-down
    assert _rules(v.check(_t("121", ts=T0 + 10_001))) == [Rule.BREAKER_OPEN]
    assert v.check(_t("121", ts=T0 + 10_002)) == ()  # cool-down over: reset, 121 is the new reference
    assert not v.tripped
    assert v.check(_t("125", ts=T0 + 10_003)) == ()  # 3.3 % from 121
    assert (v.trips, v.violations[Rule.PRICE_JUMP], v.violations[Rule.BREAKER_OPEN], v.flagged) == (1, 1, 2, 3)


def test_breaker_cooldown_by_callers_clock():
    v = Validator("trades", {"max_jump": "0.1", "cooldown_ms": 1_000})
    v.check(_t("100", ts=0))
    assert _rules(v.check(_t("50", ts=0), now_ms=5_000)) == [Rule.PRICE_JUMP]
    assert _rules(v.check(_t("50", ts=0), now_ms=5_999)) == [Rule.BREAKER_OPEN]
    assert v.check(_t("50", ts=0), now_ms=6_000) == ()


def test_breaker_ignores_bad_prices_and_watches_bar_close_and_bbo_mid():
    v = Validator("trades", {"max_jump": "0.1"})
    v.check(_t("100"))
    assert _rules(v.check(_t("-100"))) == [Rule.PRICE_NOT_POSITIVE]  # not also a jump
    assert v.reference == D(100)
    bars = Validator("bars", {"max_jump": "0.1"})
    bars.check(_bar("1", "100", "1", "100"))
    assert _rules(bars.check(_bar("100", "120", "100", "111", start=T0 + 60_000))) == [Rule.PRICE_JUMP]
    bbo = Validator("bbo", {"max_jump": "0.1"})
    bbo.check(BBO(venue="x", symbol="y", bid_price=D(99), bid_size=D(1), ask_price=D(101), ask_size=D(1), ts=T0))
    (j,) = bbo.check(BBO(venue="x", symbol="y", bid_price=D(111), bid_size=D(1), ask_price=D(111), ask_size=D(1),
                         ts=T0))
    assert j.message.startswith("x y bbo: price 111 jumped 11.00% from 100")


def test_breaker_off_when_max_jump_none():
    v = Validator("trades", NO_BREAKER)
    v.check(_t("1"))
    assert v.check(_t("1000")) == ()


def test_manual_reset_breaker():
    v = Validator("trades", {"max_jump": "0.1", "cooldown_ms": 10**9})
    v.check(_t("1"))
    v.check(_t("2"))
    v.reset_breaker()
    assert v.check(_t("2")) == ()


@pytest.mark.parametrize(("config", "message"), [
    ({"max_jump": "0"}, "validation: max_jump: Input should be greater than 0"),
    ({"ts_tolerance_ms": -1}, "validation: ts_tolerance_ms: Input should be greater than or equal to 0"),
    ({"cooldown_ms": "soon"}, "validation: cooldown_ms: Input should be a valid integer"),
    ({"max_jmp": "0.1"}, "validation: max_jmp: Extra inputs are not permitted"),
])
def test_bad_config_one_line_naming_the_field(config, message):
    with pytest.raises(ConfigError) as info:
        Validator("trades", config)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_config_model_accepted_as_is():
    cfg = ValidationConfig(max_jump=D("0.2"))
    assert Validator(config=cfg).config is cfg


def test_validator_set_counts_per_stream():
    vs = ValidatorSet({"max_jump": None})
    vs.check(_t("1"))
    vs.check(_t("-1"))
    vs.check(_t("-1", symbol="ETHUSDT"))
    vs.check(_bar("10", "9", "9", "9"))
    vs.check(_t("1"), stream="trades_raw")
    counts = vs.counts()
    assert set(counts) == {("binance", "BTCUSDT", "trades"), ("binance", "ETHUSDT", "trades"),
                           ("aster", "ETHUSDT", "bars"), ("binance", "BTCUSDT", "trades_raw")}
    assert counts[("binance", "BTCUSDT", "trades")]["checked"] == 2
    assert counts[("binance", "BTCUSDT", "trades")]["price_not_positive"] == 1
    assert counts[("aster", "ETHUSDT", "bars")]["high_below_open_close"] == 1


def test_recorded_lighter_stream_replay_flagged_out_of_order():
    codec = venues.codec("lighter")
    vs = ValidatorSet()
    found = []
    for name in ("trade_subscribed_trimmed.json", "trade_update.json"):
        for e in codec.decode((FIXTURES_DIR / "lighter" / name).read_bytes()):
            if type(e) in (Trade, Liquidation):
                found += vs.check(e)
    # the replay comes newest first: its second print is 29,987 ms older, the liquidation 46 hours;
    # the liquidation print (and its Liquidation) is 1.7 % from the last price, under the 10 % limit
    assert [(v.stream, v.rule, v.ts) for v in found] == [
        ("trades", Rule.TS_BACKWARDS, 1785358775942), ("trades", Rule.TS_BACKWARDS, 1785193205747)]
    assert vs.counts()[("lighter", "36", "trades")]["checked"] == 4
    assert vs.counts()[("lighter", "36", "liquidations")]["flagged"] == 0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 600_000), st.integers(1, 10**6), st.integers(0, 10**4)), min_size=1,
                max_size=30))
def test_bars_from_the_aggregator_always_pass(rows):
    bars = TimeBars(60_000)
    for i, (ts, p, s) in enumerate(rows):
        bars.on_trade(_t(str(D(p) / 100), str(s), ts=T0 + ts, tid=str(i)))
    v = Validator("bars", NO_BREAKER)
    for bar in bars.flush():
        assert v.check(bar) == ()


class _LongWay(Validator):
    def _clean_trade(self, t: Trade) -> bool:
        return False


_PRICES = st.sampled_from([-1, 0, 9, 10, 11, 15, 20, 30])  # 10 -> 11 and 10 -> 9 are 10 %, 10 -> 15 is 50 %
_STEPS = st.sampled_from([-3_000, -501, -500, -499, -1, 0, 1, 499, 500, 501, 2_000])  # around the tolerance


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_PRICES, st.integers(-1, 3), _STEPS), max_size=40), st.sampled_from([None, "0.1", "0.5"]))
def test_fast_path_for_clean_trades_judges_like_the_long_way(rows, max_jump):
    cfg = {"max_jump": max_jump, "cooldown_ms": 2_000, "ts_tolerance_ms": 500}
    fast, slow = Validator("trades", cfg), _LongWay("trades", cfg)
    ts = T0
    for i, (p, s, dt) in enumerate(rows):
        ts += dt
        t = _t(str(p), str(s), ts=ts, tid=str(i))
        assert fast.check(t) == slow.check(t)
    assert fast.counts() == slow.counts()
    assert (fast.reference, fast.newest_ts, fast.tripped_at) == (slow.reference, slow.newest_ts, slow.tripped_at)
