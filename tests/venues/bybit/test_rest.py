"""Bybit REST: request builders, orderbook/tickers/funding-history/instruments decoders and errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpwire.market.errors import DecodeError, RateLimited, VenueError
from perpwire.market.events import BBO, BookSnapshot, FundingRate, Instrument
from perpwire.venues.bybit import BybitCodec
from tests.venues.bybit.helpers import envelope, load

D = Decimal
BASE = "http://127.0.0.1:8123"


def instrument_row(symbol: str, minutes: int, contract_type: str = "LinearPerpetual") -> dict:
    """An instruments-info row in the docs' shape (fields perpwire ignores left out)."""
    return {
        "symbol": symbol, "contractType": contract_type, "status": "Trading", "baseCoin": symbol[:-4],
        "quoteCoin": "USDT", "launchTime": "1585526400000", "deliveryTime": "0", "priceScale": "2",
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
        "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": "0.001", "qtyStep": "0.001",
                          "postOnlyMaxOrderQty": "1190.000", "minNotionalValue": "5"},
        "unifiedMarginTrade": True, "fundingInterval": minutes, "settleCoin": "USDT", "copyTrading": "both",
    }


def test_requests_use_rest_url_option_category_first_and_params():
    codec = BybitCodec(rest_url=BASE + "/")
    req = codec.depth_request("BTCUSDT")
    assert (req.method, req.url) == ("GET", BASE + "/v5/market/orderbook")
    assert req.params == (("category", "linear"), ("symbol", "BTCUSDT"), ("limit", "50"))
    assert codec.depth_request("BTCUSDT", 1000).params[-1] == ("limit", "1000")
    assert codec.funding_request().params == (("category", "linear"),)
    assert codec.funding_request("BTCUSDT").url == BASE + "/v5/market/tickers"
    assert codec.funding_request("BTCUSDT").params == (("category", "linear"), ("symbol", "BTCUSDT"))
    req = codec.funding_history_request("BTCUSDT", 1700000000000, 1700086400000)
    assert req.url == BASE + "/v5/market/funding/history"
    assert req.params == (("category", "linear"), ("symbol", "BTCUSDT"), ("startTime", "1700000000000"),
                          ("endTime", "1700086400000"), ("limit", "200"))
    assert codec.instruments_request().params == (("category", "linear"), ("limit", "1000"))
    assert codec.instruments_request("abc").params[-1] == ("cursor", "abc")
    with pytest.raises(ValueError):
        codec.depth_request("BTCUSDT", 1001)


def test_decode_snapshot_docs_levels_text_and_cross_seq():
    snap = BybitCodec().decode_snapshot("BTCUSDT", load("rest_orderbook.json"))
    assert snap == BookSnapshot(venue="bybit", symbol="BTCUSDT", bids=(("65485.47", "47.081829"),),
                                asks=(("65557.7", "16.606555"),), seq=1432604333, ts=1716863719031)


def test_decode_funding_tickers_docs_with_interval_hand_checked():
    codec = BybitCodec()
    [fr] = codec.decode_funding(load("rest_tickers_inverse.json"))
    # hand check: 0.0001 per 8 h (fundingIntervalHour "8") = 0.0000125 per hour
    assert fr == FundingRate(
        venue="bybit", symbol="BTCUSD", rate=D("0.0001"), interval_hours=8, rate_per_hour=D("0.0000125"),
        mark_price=D("114898.43"), index_price=D("114890.92"), next_funding_ts=1760371200000, ts=1760352369814,
    )


def test_decode_bbo_tickers_docs():
    assert BybitCodec().decode_bbo(load("rest_tickers_inverse.json")) == [
        BBO(venue="bybit", symbol="BTCUSD", bid_price=D("103401.00"), bid_size=D("1063"), ask_price=D("109152.80"),
            ask_size=D("9854"), ts=1760352369814)
    ]


def test_decode_funding_history_docs_settled_with_learned_interval():
    codec = BybitCodec()
    [fr] = codec.decode_funding_history(load("rest_funding_history.json"))
    assert fr == FundingRate(venue="bybit", symbol="ETHPERP", rate=D("0.0001"), interval_hours=8,
                             rate_per_hour=D("0.0000125"), ts=1672041600000, settled=True)
    codec.decode_instruments(envelope({"category": "linear", "list": [instrument_row("ETHPERP", 240)],
                                       "nextPageCursor": ""}))
    [fr] = codec.decode_funding_history(load("rest_funding_history.json"))
    # hand check: 0.0001 per 4 h (fundingInterval 240 minutes) = 0.000025 per hour
    assert (fr.interval_hours, fr.rate_per_hour) == (4, D("0.000025"))


def test_decode_instruments_minutes_to_hours_and_skips_futures():
    codec = BybitCodec()
    body = envelope({"category": "linear", "nextPageCursor": "page2", "list": [
        instrument_row("BTCUSDT", 480), instrument_row("1000PEPEUSDT", 60),
        instrument_row("BTC-27JUN25", 0, "LinearFutures"),
    ]})
    btc, pepe = codec.decode_instruments(body)
    assert btc == Instrument(
        venue="bybit", symbol="BTCUSDT", asset="BTC", quote="USDT", tick_size=D("0.10"), step_size=D("0.001"),
        min_size=D("0.001"), min_notional=D("5"), funding_interval_hours=8, max_leverage=D("100.00"),
        status="Trading",
    )
    assert (pepe.asset, pepe.contract_size, pepe.funding_interval_hours) == ("PEPE", D(1000), 1)
    assert codec.tickers.interval_hours("1000PEPEUSDT") == 1
    assert codec.instruments_cursor == "page2"
    codec.decode_instruments(envelope({"category": "linear", "list": [], "nextPageCursor": ""}))
    assert codec.instruments_cursor is None


def test_rest_error_ret_code_raises_venue_error():
    with pytest.raises(VenueError) as err:
        BybitCodec().decode_funding(envelope({}, 10001, "params error: symbol invalid"))
    assert (err.value.code, err.value.message) == (10001, "params error: symbol invalid")
    assert not isinstance(err.value, RateLimited)


def test_rest_too_many_visits_raises_rate_limited():
    with pytest.raises(RateLimited):
        BybitCodec().decode_snapshot("BTCUSDT", envelope({}, 10006, "Too many visits!"))


@pytest.mark.parametrize("body", [b"", b"<html>", envelope({"s": "BTCUSDT"}), envelope({"list": [{"x": 1}]})])
def test_rest_unreadable_bodies_raise_decode_error(body):
    codec = BybitCodec()
    for decode in (lambda b: codec.decode_snapshot("BTCUSDT", b), codec.decode_funding, codec.decode_instruments,
                   codec.decode_funding_history):
        with pytest.raises(DecodeError):
            decode(body)
