"""The funding desk: ingestion, opportunities, settlements and position views."""

from __future__ import annotations

from decimal import Decimal

from perpwire.market.events import FundingRate
from perpwire.market.ledger import LegState
from perpwire.market.stats import WindowStats
from perpwire.strategies.desk import FundingDesk

D = Decimal
H = 3_600_000


def rate(venue, symbol, per_hour, ts, next_ts=None, mark="100"):
    return FundingRate(venue=venue, symbol=symbol, rate=D(per_hour), interval_hours=1, rate_per_hour=D(per_hour),
                       mark_price=D(mark), next_funding_ts=next_ts, ts=ts)


def _desk():
    desk = FundingDesk(taker_fees={"aster": D("0.0004"), "backpack": D("0.0004")}, holding_hours=24)
    desk.load([WindowStats(venue=v, symbol=s, count=720, mean=0.0000125, std=0.00001, since_ms=0, until_ms=1)
               for v, s in (("aster", "BTCUSDT"), ("backpack", "BTC_USDC_PERP"))])
    return desk


def test_desk_shock_is_immediate_and_ranked_with_z():
    desk = _desk()
    assert desk.ingest([rate("aster", "BTCUSDT", "0.0000125", 1), rate("backpack", "BTC_USDC_PERP", "0.0000125", 1)],
                       now_ms=10) is False
    urgent = desk.ingest([rate("aster", "BTCUSDT", "0.0000125", 2), rate("backpack", "BTC_USDC_PERP", "0.0001", 2)],
                         now_ms=20)
    assert urgent
    # what latency is measured on: only the shocked rate was handled at once; both were taken at 20
    assert [(e.venue, e.rate_per_hour) for e in desk.last_urgent] == [("backpack", D("0.0001"))]
    assert desk.received_ms == {("aster", "BTCUSDT"): 20, ("backpack", "BTC_USDC_PERP"): 20}
    [op] = desk.opportunities()
    assert (op.asset, op.long_venue, op.short_venue) == ("BTC", "aster", "backpack")
    assert op.spread_per_hour == D("0.0000875")
    assert op.short_z is not None and op.short_z > 8


def test_desk_stale_rate_is_ignored():
    desk = _desk()
    desk.ingest([rate("aster", "BTCUSDT", "0.0001", 5)], now_ms=10)
    desk.ingest([rate("aster", "BTCUSDT", "0.0009", 4)], now_ms=11)
    assert desk.latest[("aster", "BTCUSDT")].rate == D("0.0001")


def test_desk_settlement_books_funding_on_rollover_only():
    desk = _desk()
    pos = desk.ledger.open(asset="BTC", long=LegState(venue="aster", symbol="BTCUSDT", qty=D(1), entry_price=D(100)),
                           short=LegState(venue="backpack", symbol="BTC_USDC_PERP", qty=D(1), entry_price=D(100)),
                           opened_ms=0, entry_spread_per_hour=D(0), fees=D(0))
    desk.ingest([rate("backpack", "BTC_USDC_PERP", "0.0002", 1, next_ts=H)], now_ms=H - 10)
    desk.ingest([rate("backpack", "BTC_USDC_PERP", "0.0003", 2, next_ts=H)], now_ms=H - 5)
    assert pos.funding == 0
    desk.ingest([rate("backpack", "BTC_USDC_PERP", "0.0001", H + 1, next_ts=2 * H)], now_ms=H + 2)
    assert pos.funding == D("0.0003") * 100 and desk.settlements == 1


def test_desk_position_view_has_current_spread_and_pnl():
    desk = _desk()
    pos = desk.ledger.open(asset="BTC", long=LegState(venue="aster", symbol="BTCUSDT", qty=D(2), entry_price=D(100)),
                           short=LegState(venue="backpack", symbol="BTC_USDC_PERP", qty=D(2), entry_price=D(101)),
                           opened_ms=0, entry_spread_per_hour=D("0.0001"), fees=D(0))
    desk.ingest([rate("aster", "BTCUSDT", "0.00001", 1, mark="99"),
                 rate("backpack", "BTC_USDC_PERP", "0.00004", 1, next_ts=H, mark="101")], now_ms=2)
    [view] = desk.position_views()
    assert view.id == pos.id and view.current_spread_per_hour == D("0.00003")
    assert view.price_pnl_fraction == D(-2) / D(200) and view.next_funding_ts == H


def test_desk_settlement_uses_the_venue_clock_not_ours():
    desk = _desk()
    pos = desk.ledger.open(asset="BTC", long=LegState(venue="aster", symbol="BTCUSDT", qty=D(1), entry_price=D(100)),
                           short=LegState(venue="backpack", symbol="BTC_USDC_PERP", qty=D(1), entry_price=D(100)),
                           opened_ms=0, entry_spread_per_hour=D(0), fees=D(0))
    desk.ingest([rate("backpack", "BTC_USDC_PERP", "0.0002", H - 5, next_ts=H)], now_ms=10)
    desk.ingest([rate("backpack", "BTC_USDC_PERP", "0.0001", H + 5, next_ts=2 * H)], now_ms=20)  # our clock lags
    assert desk.settlements == 1 and pos.funding == D("0.0002") * 100
