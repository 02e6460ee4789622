"""Bybit tickers: snapshot decoding, delta merge keeping unchanged fields, funding per hour, BBO,
trades and liquidations."""

from __future__ import annotations

import json
from decimal import Decimal

from perpwire.market.events import BBO, FundingRate, Liquidation, Side, Trade
from perpwire.venues.bybit import BybitCodec
from tests.venues.bybit.helpers import load

D = Decimal


def test_tickers_snapshot_live_gives_funding_and_bbo():
    funding, bbo = BybitCodec().decode(load("tickers_snapshot.json"))
    # hand check: 0.0001 per 8 h (no fundingIntervalHour in 2023: the default 8) = 0.0000125 per hour
    assert funding == FundingRate(
        venue="bybit", symbol="BTCUSDT", rate=D("0.0001"), interval_hours=8, rate_per_hour=D("0.0000125"),
        mark_price=D("27342.30"), index_price=D("27349.74"), next_funding_ts=1682179200000, ts=1682169027329,
    )
    assert bbo == BBO(venue="bybit", symbol="BTCUSDT", bid_price=D("27300.00"), bid_size=D("1.305"),
                      ask_price=D("27339.50"), ask_size=D("22.439"), ts=1682169027329, seq=8065194775)


def test_tickers_delta_merge_keeps_unchanged_fields():
    codec = BybitCodec()
    codec.decode(load("tickers_snapshot.json"))
    funding, bbo = codec.decode(load("tickers_delta.json"))
    # the delta carries fundingRate and the bid only: mark, index, next time and the ask are kept
    assert funding == FundingRate(
        venue="bybit", symbol="BTCUSDT", rate=D("0.0001"), interval_hours=8, rate_per_hour=D("0.0000125"),
        mark_price=D("27342.30"), index_price=D("27349.74"), next_funding_ts=1682179200000, ts=1682169027429,
    )
    assert bbo == BBO(venue="bybit", symbol="BTCUSDT", bid_price=D("27339.40"), bid_size=D("0.512"),
                      ask_price=D("27339.50"), ask_size=D("22.439"), ts=1682169027429, seq=8065194801)


def test_tickers_delta_touching_only_mark_emits_funding_not_bbo():
    codec = BybitCodec()
    codec.decode(load("tickers_snapshot.json"))
    delta = {"topic": "tickers.BTCUSDT", "type": "delta", "data": {"symbol": "BTCUSDT", "markPrice": "27350.10"},
             "cs": 8065194900, "ts": 1682169027529}
    [funding] = codec.decode(json.dumps(delta))
    assert isinstance(funding, FundingRate)
    assert (funding.mark_price, funding.index_price, funding.rate) == (D("27350.10"), D("27349.74"), D("0.0001"))
    delta["data"] = {"symbol": "BTCUSDT", "ask1Size": "1.5"}
    [bbo] = codec.decode(json.dumps(delta))
    assert (bbo.bid_price, bbo.ask_price, bbo.ask_size) == (D("27300.00"), D("27339.50"), D("1.5"))


def test_tickers_delta_before_snapshot_is_refused_and_counted():
    codec = BybitCodec()
    assert codec.decode(load("tickers_delta.json")) == []
    assert codec.stats.unknown == {"tickers delta before snapshot": 1}


def test_tickers_snapshot_docs_interval_field_and_negative_rate_per_hour():
    codec = BybitCodec(funding_interval_hours=4)
    funding, bbo = codec.decode(load("tickers_snapshot_docs.json"))
    # hand check: -0.005 per 8 h (fundingIntervalHour "8" beats the 4 h option) = -0.000625 per hour
    assert (funding.rate, funding.interval_hours, funding.rate_per_hour) == (D("-0.005"), 8, D("-0.000625"))
    assert (funding.mark_price, funding.index_price) == (D("66666.60"), D("115418.19"))
    assert (funding.next_funding_ts, funding.ts) == (1760342400000, 1760325052630)
    assert (bbo.bid_price, bbo.bid_size, bbo.ask_price, bbo.ask_size) == (
        D("66666.60"), D("23789.165"), D("66666.70"), D("23775.469"))
    assert codec.tickers.interval_hours("BTCUSDT") == 8  # learned for funding history


def test_tickers_interval_change_in_delta_recomputes_rate_per_hour():
    codec = BybitCodec()
    codec.decode(load("tickers_snapshot_docs.json"))
    delta = {"topic": "tickers.BTCUSDT", "type": "delta", "cs": 1, "ts": 1760325052730,
             "data": {"symbol": "BTCUSDT", "fundingIntervalHour": "4"}}
    [funding] = codec.decode(json.dumps(delta))
    # hand check: -0.005 per 4 h = -0.00125 per hour
    assert (funding.interval_hours, funding.rate_per_hour) == (4, D("-0.00125"))


def test_tickers_snapshot_docs_2023_hand_checked_rate_per_hour():
    [funding, bbo] = BybitCodec(funding_intervals={"BTCUSDT": 4}).decode(load("tickers_snapshot_docs_2023.json"))
    # hand check: -0.000212 per 4 h (interval given by option, the 2023 payload has none) = -0.000053 per hour
    assert (funding.rate, funding.interval_hours, funding.rate_per_hour) == (D("-0.000212"), 4, D("-0.000053"))
    assert (funding.mark_price, funding.next_funding_ts) == (D("17217.33"), 1673280000000)
    assert (bbo.bid_price, bbo.ask_price, bbo.seq) == (D("17215.50"), D("17216.00"), 24987956059)


def test_tickers_dated_future_empty_rate_gives_bbo_only():
    frame = {"topic": "tickers.BTC-27JUN25", "type": "snapshot", "cs": 5, "ts": 1700000000000,
             "data": {"symbol": "BTC-27JUN25", "fundingRate": "", "nextFundingTime": "", "markPrice": "1",
                      "bid1Price": "1", "bid1Size": "2", "ask1Price": "3", "ask1Size": "4"}}
    [bbo] = BybitCodec().decode(json.dumps(frame))
    assert isinstance(bbo, BBO) and bbo.symbol == "BTC-27JUN25"


def test_all_liquidation_docs_sell_position_is_a_buy_order():
    [liq] = BybitCodec().decode(load("allLiquidation.json"))
    # "S": "Sell" = a short was liquidated, closed by a forced buy
    assert liq == Liquidation(venue="bybit", symbol="ROSEUSDT", side=Side.BUY, price=D("0.04499"), size=D("20000"),
                              ts=1739502302929)


def test_public_trade_taker_side_and_id():
    frame = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1672304486868, "data": [
        {"T": 1672304486865, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "16578.50", "L": "PlusTick",
         "i": "20f43950-d8dd-5b31-9112-a178eb6023af", "BT": False},
        {"T": 1672304486866, "s": "BTCUSDT", "S": "Sell", "v": "0.010", "p": "16578.00", "L": "MinusTick",
         "i": "20f43950-d8dd-5b31-9112-a178eb6023b0", "BT": False},
    ]}
    buy, sell = BybitCodec().decode(json.dumps(frame).encode())
    assert buy == Trade(venue="bybit", symbol="BTCUSDT", side=Side.BUY, price=D("16578.50"), size=D("0.001"),
                        trade_id="20f43950-d8dd-5b31-9112-a178eb6023af", ts=1672304486865)
    assert (sell.side, sell.size, sell.ts) == (Side.SELL, D("0.010"), 1672304486866)

