"""LighterCodec REST side: catalogue, funding, funding history, the missing REST book, error bodies."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from perpwire.market.errors import DecodeError, SubscriptionError, VenueError
from perpwire.market.events import FundingRate, Instrument
from perpwire.market.funding import asset
from perpwire.venues.lighter.codec import LighterCodec
from tests.conftest import FIXTURES_DIR, fixture_loader

FIX = FIXTURES_DIR / "lighter"


_raw = fixture_loader("lighter")


def test_instruments_request_order_books_path():
    codec = LighterCodec(rest_url="http://127.0.0.1:9000/")
    req = codec.instruments_request()
    assert (req.method, req.url, req.weight) == ("GET", "http://127.0.0.1:9000/api/v1/orderBooks", 300)
    assert codec.instruments_request(details=True).url.endswith("/api/v1/orderBookDetails")


def test_decode_instruments_order_books_perps_only_learns_markets():
    codec = LighterCodec()
    out = codec.decode_instruments(_raw("rest_orderBooks.json"))
    assert all(i.market_id is not None and i.symbol == str(i.market_id) for i in out)
    assert codec.markets["0"] == "ETH" and codec.markets["36"] == "CRV"
    assert "2053" not in codec.markets  # SKY/USDC spot is skipped
    assert asset("36", codec.markets) == "CRV" and asset("0", codec.markets) == "ETH"
    crv = next(i for i in out if i.symbol == "36")
    assert crv == Instrument(venue="lighter", symbol="36", asset="CRV", quote="USDC", tick_size=D("0.00001"),
                             step_size=D("0.1"), min_size=D("35.0"), min_notional=D("10.000000"),
                             contract_size=D("1"), funding_interval_hours=1, market_id=36, status="active")


def test_decode_instruments_details_max_leverage():
    (eth,) = LighterCodec().decode_instruments(_raw("rest_orderBookDetails.json"))
    assert (eth.symbol, eth.asset, eth.tick_size, eth.step_size) == ("0", "ETH", D("0.01"), D("0.0001"))
    assert eth.max_leverage == D(50)  # min_initial_margin_fraction 200 = 2 %


def test_decode_funding_lighter_rows_fraction_per_hour():
    codec = LighterCodec()
    assert codec.funding_request().url.endswith("/api/v1/funding-rates")
    (fr,) = codec.decode_funding(_raw("rest_funding_rates.json"))
    # 0.000096 per 8 h = 0.0012 % per hour = 0.000012 per hour
    assert fr == FundingRate(venue="lighter", symbol="0", rate=D("0.000012"), interval_hours=1,
                             rate_per_hour=D("0.000012"))


def test_funding_history_request_seconds_window():
    req = LighterCodec().funding_history_request("1", 1778702400000, 1778706000999)
    assert req.url.endswith("/api/v1/fundings")
    assert req.params == (("market_id", "1"), ("resolution", "1h"), ("start_timestamp", "1778702400"),
                          ("end_timestamp", "1778706000"), ("count_back", "1000"))


def test_decode_funding_history_direction_sign_settled():
    codec = LighterCodec()
    codec.funding_history_request("1", 0, 1)
    long, short = codec.decode_funding_history(_raw("rest_fundings.json"))
    assert long == FundingRate(venue="lighter", symbol="1", rate=D("0.000012"), interval_hours=1,
                               rate_per_hour=D("0.000012"), ts=1778702400000, settled=True)
    assert (short.rate_per_hour, short.ts, short.settled) == (D("-0.000002"), 1778706000000, True)


def test_decode_funding_history_without_symbol_decode_error():
    with pytest.raises(DecodeError):
        LighterCodec().decode_funding_history(_raw("rest_fundings.json"))


@pytest.mark.parametrize(("name", "code"), [
    ("rest_accountActiveOrders_auth_required.json", 20001),
    ("rest_error_invalid_deadline.json", 20013),
])
def test_error_bodies_venue_error(name, code):
    codec = LighterCodec()
    for decoder in (codec.decode_funding, codec.decode_instruments):
        with pytest.raises(VenueError) as info:
            decoder(_raw(name))
        assert info.value.code == code


def test_rest_book_refused_ws_snapshot_is_the_source():
    codec = LighterCodec()
    with pytest.raises(SubscriptionError):
        codec.depth_request("0", 100)
    with pytest.raises(DecodeError, match="nonce"):
        codec.decode_snapshot("0", _raw("rest_orderBookOrders.json"))


def test_ws_decode_of_rest_body_unknown_not_error():
    codec = LighterCodec()
    assert codec.decode(_raw("rest_orderBooks.json")) == []
    assert codec.stats.unknown["frame without type"] == 1
