"""OHLCV bars: a recorded Lighter trade stream and simulated trades against hand computations,
empty intervals, late and duplicate trades, tick and volume bars, many symbols on one clock."""

from __future__ import annotations

import pickle
from datetime import timedelta
from decimal import Decimal as D
from itertools import pairwise

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perpwire import venues
from perpwire.market.bars import (
    BarSet,
    LateTrade,
    OHLCVBar,
    TickBars,
    TimeBars,
    TimeBarSet,
    VolumeBars,
    interval_ms,
)
from perpwire.market.errors import UsageError
from perpwire.market.events import Side, Trade
from tests.conftest import FIXTURES_DIR, ROOT

MIN = 60_000
DAY = 86_400_000
B = 28_333_333 * MIN  # a UTC minute boundary (2023-11-14 22:13:00)


def _lighter_stream() -> list[Trade]:
    """The recorded CRV (market 36) session: the subscribe replay, then a live update after it."""
    codec = venues.codec("lighter")
    out = []
    for name in ("trade_subscribed_trimmed.json", "trade_update.json"):
        out += [e for e in codec.decode((FIXTURES_DIR / "lighter" / name).read_bytes()) if type(e) is Trade]
    return out


def _t(tid: str, ts: int, price: str, size: str, symbol: str = "BTCUSDT", venue: str = "sim") -> Trade:
    return Trade(venue=venue, symbol=symbol, side=Side.BUY, price=D(price), size=D(size), trade_id=tid, ts=ts)


# --- the recorded stream -----------------------------------------------------------------------


def test_recorded_lighter_stream_two_hour_bar_orders_by_exchange_time():
    trades = _lighter_stream()
    # arrival order: the replay is newest first, then its 46-hour-old liquidation print, then the update
    assert [(t.trade_id, t.ts) for t in trades] == [
        ("26412385647", 1785358805929), ("26412344671", 1785358775942), ("26218621834", 1785193205747),
        ("26412422124", 1785358835916)]
    bars = TimeBars(timedelta(hours=2))
    bars.on_clock(1785358806000)  # the replay frame arrived after its newest trade
    late = [item for t in trades for item in bars.on_trade(t)]
    assert late == [LateTrade(trade=trades[2], bar_start=1785189600000, closed_until=1785355200000)]
    (bar,) = bars.on_clock(1785362400000)
    # by hand: open is the oldest print (arrived second), close the newest; the notional is the
    # sum of the frames' own usd_amount fields 0.142751 + 0.142674 + 0.142674
    assert bar == OHLCVBar(venue="lighter", symbol="36", start=1785355200000, end=1785362400000,
                           open=D("0.20393"), high=D("0.20393"), low=D("0.20382"), close=D("0.20382"),
                           volume=D("2.1"), vwap=D("0.428099") / D("2.1"), trades=3)
    assert bars.counts() == {"trades": 3, "duplicates": 0, "late": 1, "bars": 1, "empty": 0}


def test_recorded_lighter_stream_ten_second_bars_late_replay_and_empty_gaps():
    trades = _lighter_stream()
    bars = TimeBars(10_000)
    bars.on_clock(1785358806000)  # closes everything before 1785358800000
    returned = [item for t in trades for item in bars.on_trade(t)]
    assert [r.trade.trade_id for r in returned] == ["26412344671", "26218621834"]  # 30 s and 46 h old
    assert bars.on_trade(trades[3]) == ()  # the live update sent again (a reconnect replay)
    out = bars.on_clock(1785358840000)
    c1 = D("0.20382")  # both live prints of this window have the same price
    assert [(b.start, b.empty, b.trades, b.close, b.volume) for b in out] == [
        (1785358800000, False, 1, c1, D("0.7")),
        (1785358810000, True, 0, c1, D(0)),
        (1785358820000, True, 0, c1, D(0)),
        (1785358830000, False, 1, c1, D("0.7")),
    ]
    assert out[1] == OHLCVBar(venue="lighter", symbol="36", start=1785358810000, end=1785358820000, open=c1,
                              high=c1, low=c1, close=c1, volume=D(0), vwap=c1, trades=0, empty=True)
    assert bars.counts() == {"trades": 2, "duplicates": 1, "late": 2, "bars": 4, "empty": 2}


def test_recorded_single_trades_of_four_venues_one_bar_each_on_one_clock():
    frames = {"binance": "aggTrade.json", "aster": "aggTrade.json", "hyperliquid": "trades.json",
              "backpack": "trade.json"}
    trades = [e for v, name in frames.items()
              for e in venues.codec(v).decode((FIXTURES_DIR / v / name).read_bytes()) if type(e) is Trade]
    assert len(trades) == 4
    bars = TimeBarSet(timedelta(days=1))  # the captures are months apart: daily bars, UTC midnight
    assert bars.on_trades(trades) == []
    end = max(t.ts for t in trades) + DAY
    end -= end % DAY
    out = bars.on_clock(end)
    real = [b for b in out if not b.empty]
    assert [b.start for b in real] == sorted(t.ts - t.ts % DAY for t in trades)
    for t in trades:
        (b,) = [b for b in real if (b.venue, b.symbol) == (t.venue, t.symbol)]
        assert (b.open, b.high, b.low, b.close, b.vwap, b.volume, b.trades) == (
            t.price, t.price, t.price, t.price, t.price, t.size, 1)
        after = [e for e in out if (e.venue, e.symbol) == (t.venue, t.symbol) and e.empty]
        assert len(after) == (end - b.end) // DAY  # every quiet day up to the clock, flagged
        assert all(e.close == t.price for e in after)


# --- simulated trades ------------------------------------------------------------------------------


def test_time_bars_simulated_out_of_order_duplicate_gap_and_late_by_hand():
    bars = TimeBars(MIN)
    bars.on_clock(B)
    feed = [_t("1", B + 1_000, "100", "1"), _t("2", B + 30_000, "102", "2"), _t("3", B + 20_000, "99", "1"),
            _t("2", B + 30_000, "102", "2")]
    assert [bars.on_trade(t) for t in feed] == [(), (), (), ()]
    assert bars.on_clock(B + 59_999) == []  # not yet: the minute has not ended
    first, gap = bars.on_clock(B + 125_000)  # no trade arrived after the first minute: closed by the clock
    # by hand: open 100 (ts +1 s), high 102, low 99, close 102 (ts +30 s, the last by exchange time),
    # volume 1 + 2 + 1 = 4, vwap (100*1 + 102*2 + 99*1) / 4 = 403 / 4
    assert first == OHLCVBar(venue="sim", symbol="BTCUSDT", start=B, end=B + MIN, open=D(100), high=D(102),
                             low=D(99), close=D(102), volume=D(4), vwap=D("100.75"), trades=3)
    assert gap == OHLCVBar(venue="sim", symbol="BTCUSDT", start=B + MIN, end=B + 2 * MIN, open=D(102),
                           high=D(102), low=D(102), close=D(102), volume=D(0), vwap=D(102), trades=0, empty=True)
    assert bars.on_trade(_t("4", B + 130_000, "101", "3")) == ()
    late = _t("5", B + 59_000, "98", "1")
    assert bars.on_trade(late) == (LateTrade(trade=late, bar_start=B, closed_until=B + 2 * MIN),)
    (third,) = bars.on_clock(B + 3 * MIN)
    assert (third.start, third.open, third.close, third.volume, third.vwap, third.trades) == (
        B + 2 * MIN, D(101), D(101), D(3), D(101), 1)
    assert (bars.late, bars.duplicates, bars.applied, bars.bars, bars.empty) == (1, 1, 4, 3, 1)


def test_time_bars_same_timestamp_ordered_by_numeric_trade_id():
    bars = TimeBars(MIN)
    for t in (_t("10", B + 5, "2", "1"), _t("9", B + 5, "1", "1"), _t("11", B + 5, "3", "1")):
        bars.on_trade(t)
    (bar,) = bars.flush()
    assert (bar.open, bar.close) == (D(1), D(3))  # id 9 < 10 < 11 as numbers, not as text


def test_time_bars_grace_keeps_a_bar_open_for_late_trades():
    bars = TimeBars(MIN, grace_ms=5_000)
    bars.on_trade(_t("1", B + 10, "10", "1"))
    assert bars.on_clock(B + MIN + 4_999) == []
    assert bars.on_trade(_t("2", B + 59_000, "11", "1")) == ()
    (bar,) = bars.on_clock(B + MIN + 5_000)
    assert (bar.trades, bar.close, bar.end) == (2, D(11), B + MIN)


def test_time_bars_no_bar_before_first_trade_and_gap_up_to_the_clock():
    bars = TimeBars(MIN)
    assert bars.on_clock(B + 10 * MIN) == []
    bars.on_trade(_t("1", B + 10 * MIN + 1, "5", "1"))
    out = bars.on_clock(B + 14 * MIN)
    assert [(b.start, b.empty) for b in out] == [(B + 10 * MIN, False), (B + 11 * MIN, True),
                                                 (B + 12 * MIN, True), (B + 13 * MIN, True)]
    assert bars.on_clock(B + 14 * MIN) == []  # the same clock twice closes nothing twice


def test_time_bars_flush_closes_open_bars_then_their_trades_are_late():
    bars = TimeBars(MIN)
    bars.on_trade(_t("1", B, "5", "1"))
    bars.on_trade(_t("2", B + 2 * MIN, "6", "1"))
    assert [(b.start, b.empty) for b in bars.flush()] == [(B, False), (B + MIN, True), (B + 2 * MIN, False)]
    (late,) = bars.on_trade(_t("3", B + 2 * MIN + 1, "7", "1"))
    assert isinstance(late, LateTrade)
    assert bars.flush() == []


def test_time_bars_partial_shows_the_open_bar_without_emitting_it():
    bars = TimeBars(MIN)
    bars.on_trade(_t("1", B, "5", "2"))
    (p,) = bars.partial()
    assert (p.start, p.close, p.volume) == (B, D(5), D(2))
    assert bars.bars == 0
    assert bars.flush()[0] == p


def test_trade_without_id_is_never_a_duplicate():
    bars = TimeBars(MIN)
    for _ in range(2):
        bars.on_trade(_t("", B, "5", "1"))
    assert (bars.duplicates, bars.flush()[0].trades) == (0, 2)


def test_dedupe_forgets_ids_beyond_count_and_window():
    bars = TickBars(1000, dedupe_ms=1_000, dedupe_count=2)
    for i in range(5):
        bars.on_trade(_t(str(i), B + i * 10_000, "1", "1"))
    bars.on_trade(_t("0", B, "1", "1"))  # forgotten: older than 1 s and not among the last 2 ids
    bars.on_trade(_t("4", B + 40_000, "1", "1"))  # remembered
    assert (bars.applied, bars.duplicates) == (6, 1)


def test_dedupe_keeps_ids_inside_the_window_even_beyond_count():
    bars = TickBars(1000, dedupe_ms=60_000, dedupe_count=1)
    for i in range(5):
        bars.on_trade(_t(str(i), B + i, "1", "1"))
    bars.on_trade(_t("0", B, "1", "1"))
    assert bars.duplicates == 1


def test_tick_bars_every_n_trades_and_flush_partial():
    bars = TickBars(2)
    feed = [_t("1", B + 3, "10", "1"), _t("2", B + 1, "12", "1"), _t("2", B + 1, "12", "1"),
            _t("3", B + 5, "11", "2"), _t("4", B + 6, "9", "1"), _t("5", B + 9, "8", "4")]
    out = [item for t in feed for item in bars.on_trade(t)]
    assert [(b.start, b.end, b.open, b.high, b.low, b.close, b.volume, b.trades) for b in out] == [
        (B + 1, B + 3, D(12), D(12), D(10), D(10), D(2), 2),  # id 2 is earlier by exchange time: the open
        (B + 5, B + 6, D(11), D(11), D(9), D(9), D(3), 2),
    ]
    assert out[1].vwap == D(31) / D(3)
    (rest,) = bars.flush()
    assert (rest.trades, rest.volume, rest.close) == (1, D(4), D(8))
    assert bars.on_clock(B + 10**9) == []
    assert bars.counts() == {"trades": 5, "duplicates": 1, "late": 0, "bars": 3, "empty": 0}


def test_volume_bars_close_on_the_trade_that_reaches_the_size():
    bars = VolumeBars("3")
    feed = [_t("1", B, "10", "1"), _t("2", B + 1, "11", "1"), _t("3", B + 2, "12", "2"),
            _t("4", B + 3, "13", "3"), _t("5", B + 4, "14", "0.5")]
    out = [item for t in feed for item in bars.on_trade(t)]
    assert [(b.volume, b.trades, b.open, b.close) for b in out] == [(D(4), 3, D(10), D(12)), (D(3), 1, D(13), D(13))]
    assert out[0].vwap == D(45) / D(4)  # (10 + 11 + 24) / 4, a trade is never split
    assert bars.flush()[0].volume == D("0.5")


def test_bar_set_routes_by_venue_and_symbol():
    bars = BarSet(lambda: TickBars(1))
    a = bars.on_trade(_t("1", B, "1", "1", symbol="A"))
    b = bars.on_trade(_t("1", B, "2", "1", symbol="B"))  # the same id on another symbol is no duplicate
    c = bars.on_trade(_t("1", B, "3", "1", symbol="A", venue="other"))
    assert [x[0].close for x in (a, b, c)] == [D(1), D(2), D(3)]
    assert set(bars.counts()) == {("sim", "A"), ("sim", "B"), ("other", "A")}


def test_time_bar_set_new_symbol_inherits_the_clock():
    bars = TimeBarSet(MIN)
    bars.on_trade(_t("1", B, "1", "1", symbol="A"))
    assert [b.symbol for b in bars.on_clock(B + MIN)] == ["A"]
    (late,) = bars.on_trade(_t("1", B + 10, "1", "1", symbol="NEW"))  # its minute closed before it appeared
    assert isinstance(late, LateTrade)
    bars.on_trade(_t("2", B + MIN + 1, "2", "1", symbol="NEW"))
    out = bars.on_clock(B + 2 * MIN)
    assert [(b.symbol, b.empty) for b in out] == [("A", True), ("NEW", False)]


def test_aggregator_refuses_another_symbol_naming_both():
    bars = TimeBars(MIN, venue="binance", symbol="BTCUSDT")
    with pytest.raises(UsageError, match="binance ETHUSDT: trade fed to the bars of binance BTCUSDT"):
        bars.on_trade(_t("1", B, "1", "1", symbol="ETHUSDT", venue="binance"))


def test_time_bars_refuse_a_trade_without_exchange_time():
    with pytest.raises(UsageError, match=r"bars: sim BTCUSDT: trade 7 has no exchange time \(ts 0\)"):
        TimeBars(MIN).on_trade(_t("7", 0, "1", "1"))


@pytest.mark.parametrize("bad", [0, -60_000, 7 * MIN, 1.5, True, timedelta(minutes=7)])
def test_interval_must_divide_a_day(bad):
    with pytest.raises(UsageError, match="bars: interval must be a positive number of ms that divides one day"):
        TimeBars(bad)


def test_interval_accepts_timedelta_and_day():
    assert (interval_ms(timedelta(minutes=5)), interval_ms(86_400_000)) == (300_000, 86_400_000)


@pytest.mark.parametrize(("make", "field"), [
    (lambda: TickBars(0), "n"), (lambda: VolumeBars("0"), "volume"), (lambda: VolumeBars("x"), "volume"),
    (lambda: VolumeBars(1.5), "volume"), (lambda: TimeBars(MIN, grace_ms=-1), "grace_ms"),
    (lambda: TickBars(5, dedupe_ms=-1), "dedupe_ms"), (lambda: TimeBarSet(MIN, dedupe_count=-3), "dedupe_count"),
])
def test_bad_parameters_name_the_field(make, field):
    with pytest.raises(UsageError, match=f"bars: {field} "):
        make()


# --- properties ------------------------------------------------------------------------------------

_trades = st.lists(
    st.tuples(st.integers(0, 5 * MIN), st.integers(1, 10_000), st.integers(1, 50)),
    min_size=1, max_size=40, unique_by=lambda x: x[0],
).map(lambda rows: [_t(str(i), B + ts, f"{p / 100}", str(s)) for i, (ts, p, s) in enumerate(rows)])


@settings(max_examples=60, deadline=None)
@given(trades=_trades, data=st.data())
def test_time_bars_do_not_depend_on_arrival_order(trades, data):
    shuffled = data.draw(st.permutations(trades))
    results = []
    for feed in (trades, shuffled):
        bars = TimeBars(MIN)
        for t in feed:
            assert bars.on_trade(t) == ()
        results.append(bars.on_clock(B + 7 * MIN))
    assert results[0] == results[1]
    out = results[0]
    assert all(a.end == b.start for a, b in pairwise(out))  # contiguous, gaps explicit
    assert sum(b.volume for b in out) == sum(t.size for t in trades)
    assert sum(b.trades for b in out) == len(trades)
    for b in out:
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high
        assert b.low <= b.vwap <= b.high
        assert b.empty == (b.trades == 0)


@settings(max_examples=40, deadline=None)
@given(trades=_trades, n=st.integers(1, 7))
def test_tick_bars_conserve_trades_and_volume(trades, n):
    bars = TickBars(n)
    out = [item for t in trades for item in bars.on_trade(t)] + bars.flush()
    assert [b.trades for b in out[:-1]] == [n] * (len(out) - 1)
    assert sum(b.volume for b in out) == sum(t.size for t in trades)


def test_docs_example_runs_and_prints_the_bar(capsys):
    text = (ROOT / "docs" / "streaming-bars.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/streaming-bars.md", "exec"), {})
    assert capsys.readouterr().out == "1768644480000 95208.60 95208.60 0.020 False\n"


_events = st.lists(st.one_of(
    st.tuples(st.just("trade"), st.integers(0, 40), st.integers(0, 4 * MIN), st.integers(1, 9)),
    st.tuples(st.just("clock"), st.integers(0, 5 * MIN)),
), max_size=60)


@settings(max_examples=80, deadline=None)
@given(events=_events, grace=st.sampled_from([0, 10_000]))
def test_time_bars_every_trade_applied_once_late_or_duplicate(events, grace):
    """With clocks interleaved, duplicates resent and trades late: each first-seen id is in exactly
    one bar or came back late, bars of the symbol are contiguous, and the clock only moves forward."""
    bars = TimeBars(MIN, grace_ms=grace)
    out: list[OHLCVBar] = []
    late: list[LateTrade] = []
    sizes: dict[str, D] = {}
    for ev in events:
        if ev[0] == "clock":
            out += bars.on_clock(B + ev[1])
            continue
        _, tid, ts, size = ev
        t = _t(str(tid), B + ts, "10", str(size))
        returned = bars.on_trade(t)
        if str(tid) in sizes:
            assert returned == ()  # a duplicate: counted, not late, not applied
        else:
            sizes[str(tid)] = D(size)
            late += returned
    out += bars.flush()
    assert all(a.end == b.start for a, b in pairwise(out))
    late_ids = {x.trade.trade_id for x in late}
    assert sum(b.volume for b in out) == sum(s for tid, s in sizes.items() if tid not in late_ids)
    assert (bars.applied, bars.late, bars.duplicates) == (
        len(sizes) - len(late_ids), len(late_ids), sum(1 for e in events if e[0] == "trade") - len(sizes))


def test_bar_and_late_trade_cross_processes_by_pickle_and_msgspec():
    bars = TimeBars(MIN)
    bars.on_trade(_t("1", B, "1.5", "2"))
    (bar,) = bars.flush()
    (late,) = bars.on_trade(_t("2", B + 1, "1.6", "1"))
    for item in (bar, late):
        assert pickle.loads(pickle.dumps(item)) == item
        assert msgspec.json.decode(msgspec.json.encode(item), type=type(item)) == item
