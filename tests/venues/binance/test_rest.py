"""Binance REST: request builders, body decoders, venue error bodies and HTTP rate limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpwire.market.errors import DecodeError, UsageError, VenueError
from perpwire.market.events import BBO, FundingRate
from perpwire.venues.base import HttpRequest
from perpwire.venues.binance.codec import BinanceCodec
from perpwire.venues.binance.rest import BinanceRestError
from tests.conftest import FIXTURES_DIR, fixture_loader

FIX = FIXTURES_DIR / "binance"


load = fixture_loader("binance")


def test_depth_request_has_symbol_limit_and_weight():
    req = BinanceCodec(rest_url="http://127.0.0.1:8001/").depth_request("sushiusdt", 1000)
    assert req == HttpRequest(
        method="GET", url="http://127.0.0.1:8001/fapi/v1/depth", params=(("symbol", "SUSHIUSDT"), ("limit", "1000")),
        weight=20,
    )
    assert BinanceCodec().depth_request("BTCUSDT", 100).weight == 5


def test_depth_request_unsupported_limit_refused():
    with pytest.raises(UsageError, match="1000"):
        BinanceCodec().depth_request("BTCUSDT", 200)


def test_funding_requests_weigh_more_without_symbol():
    codec = BinanceCodec()
    assert codec.funding_request().url == "https://fapi.binance.com/fapi/v1/premiumIndex"
    assert codec.funding_request().weight == 10
    assert codec.funding_request("BTCUSDT").params == (("symbol", "BTCUSDT"),)
    assert codec.funding_request("BTCUSDT").weight == 1


def test_funding_history_request_keeps_venue_param_order():
    req = BinanceCodec().funding_history_request("BTCUSDT", 1570608000000, 1570636800000, limit=2)
    assert req.url.endswith("/fapi/v1/fundingRate")
    assert req.params == (("symbol", "BTCUSDT"), ("startTime", "1570608000000"), ("endTime", "1570636800000"),
                          ("limit", "2"))


def test_decode_snapshot_live_sushi_sets_seq_from_last_update_id():
    snap = BinanceCodec().decode_snapshot("SUSHIUSDT", load("rest_depth.json"))
    assert snap.seq == 600859605926 and snap.symbol == "SUSHIUSDT"
    assert len(snap.bids) == len(snap.asks) == 1000
    assert float(snap.bids[0][0]) > float(snap.bids[1][0]) and float(snap.asks[0][0]) < float(snap.asks[1][0])
    assert float(snap.bids[0][0]) < float(snap.asks[0][0])


def test_decode_snapshot_docs_keeps_level_text():
    snap = BinanceCodec().decode_snapshot("BTCUSDT", load("rest_depth_docs.json"))
    assert (snap.seq, snap.ts) == (1027024, 1589436922972)
    assert snap.bids == (("4.00000000", "431.00000000"),) and snap.asks == (("4.00000200", "12.00000000"),)


@pytest.mark.parametrize("name", ["rest_premiumIndex.json", "rest_premiumIndex_all.json"])
def test_decode_funding_premium_index_object_or_array(name):
    assert BinanceCodec().decode_funding(load(name)) == [FundingRate(
        venue="binance", symbol="BTCUSDT", rate=Decimal("0.00038246"), interval_hours=8,
        rate_per_hour=Decimal("0.0000478075"), mark_price=Decimal("11793.63104562"),
        index_price=Decimal("11781.80495970"), next_funding_ts=1597392000000, ts=1597370495002,
    )]


def test_decode_funding_history_is_settled_with_mark():
    first, second = BinanceCodec().decode_funding_history(load("rest_fundingRate.json"))
    assert (first.rate, first.rate_per_hour, first.ts, first.settled) == (
        Decimal("-0.03750000"), Decimal("-0.0046875"), 1570608000000, True)
    assert second.mark_price == Decimal("34287.54619963") and second.rate == Decimal("0.0001")


def test_decode_funding_info_updates_interval_state():
    codec = BinanceCodec()
    assert codec.decode_funding_info(load("rest_fundingInfo.json")) == {"BLZUSDT": 8}
    assert codec.funding_interval("BLZUSDT") == 8
    codec.set_funding_intervals({"BTCUSDT": 4})
    (f,) = codec.decode_funding(load("rest_premiumIndex.json"))
    assert (f.interval_hours, f.rate_per_hour) == (4, Decimal("0.000095615"))


def test_decode_funding_info_zero_interval_raises_decode_error():
    with pytest.raises(DecodeError):
        BinanceCodec().decode_funding_info(b'[{"symbol":"BTCUSDT","fundingIntervalHours":0}]')


def test_decode_instruments_live_exchange_info_gives_perpetuals_with_filters():
    instruments = {i.symbol: i for i in BinanceCodec().decode_instruments(load("rest_exchangeInfo.json"))}
    assert len(instruments) == 119  # 122 contracts minus two quarterlies and one not yet typed
    btc = instruments["BTCUSDT"]
    assert (btc.asset, btc.quote, btc.tick_size, btc.step_size, btc.min_size, btc.min_notional) == (
        "BTC", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("5"))
    assert btc.funding_interval_hours == 8 and btc.status == "TRADING"
    assert "BTCUSDT_210924" not in instruments


def test_decode_bbo_rest_object_or_array():
    expected = [BBO(venue="binance", symbol="BTCUSDT", bid_price=Decimal("4.00000000"), bid_size=Decimal("431"),
                    ask_price=Decimal("4.00000200"), ask_size=Decimal("9"), ts=1589437530011)]
    codec = BinanceCodec()
    assert codec.decode_bbo(load("rest_bookTicker.json")) == expected
    assert codec.decode_bbo(load("rest_bookTicker_all.json")) == expected
    assert codec.bbo_request().weight == 5 and codec.bbo_request("BTCUSDT").weight == 2


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("rest_listenKey_post.json", "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"),
        ("rest_listenKey_post_live.json", "JRNjbBr3bWns94f71afrzHXwsfZgVczUWTD02hBmO03OFHQh08YsuwmkpewsrdNY"),
        ("rest_listenKey_put.json", "3HBntNTepshgEdjIwSUIBgB9keLyOCg5qv3n6bYAtktG8ejcaW5HXz9Vx1JgIieg"),
        ("rest_listenKey_delete.json", None),
        ("wsapi_userDataStream_start_response.json",
         "UgOoXIu4JctC0MF8ujB7aerfRl564LHHP7rhwLrdeH1VrUeY03mKkslHWVbIN7h4"),
        ("wsapi_userDataStream_start_response_docs.json",
         "xs0mRXdAKlIPDRFrlPcw0qI41Eh3ixNntmymGyhrhgqo7L6FuLaWArTD7RLP"),
    ],
)
def test_decode_listen_key_rest_and_ws_api_answers(name, key):
    assert BinanceCodec().decode_listen_key(load(name)) == key


def test_decode_listen_key_missing_key_error_raises_venue_error():
    with pytest.raises(VenueError) as err:
        BinanceCodec().decode_listen_key(b'{"code":-1125,"msg":"This listenKey does not exist."}')
    assert err.value.code == -1125


def test_listen_key_requests_carry_api_key_header():
    codec = BinanceCodec()
    for method in ("POST", "PUT", "DELETE"):
        req = codec.listen_key_request(method, "my-api-key")
        assert (req.method, req.url, req.headers) == (
            method, "https://fapi.binance.com/fapi/v1/listenKey", (("X-MBX-APIKEY", "my-api-key"),))
    with pytest.raises(UsageError):
        codec.listen_key_request("GET", "my-api-key")


def test_decode_ws_api_logon_response_keeps_rate_limits():
    r = BinanceCodec().decode_ws_api(load("wsapi_session_logon_response.json"))
    assert (r.status, r.id) == (200, "gYQeAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert [(x.rateLimitType, x.limit, x.count) for x in r.rateLimits] == [("REQUEST_WEIGHT", 6000, 9)]


@pytest.mark.parametrize(("name", "code"), [("wsapi_session_logon_error.json", -1022),
                                            ("wsapi_error_invalid_json.json", -1000)])
def test_decode_ws_api_error_raises_venue_error_with_code(name, code):
    with pytest.raises(VenueError) as err:
        BinanceCodec().decode_ws_api(load(name))
    assert (err.value.code, err.value.status) == (code, 400)


@pytest.mark.parametrize(
    "decoder", ["decode_snapshot", "decode_funding", "decode_funding_history", "decode_instruments"]
)
def test_rest_error_body_raises_venue_error_not_decode_error(decoder):
    codec = BinanceCodec()
    body = b'{"code":-1121,"msg":"Invalid symbol."}'
    with pytest.raises(VenueError) as err:
        codec.decoders()[decoder](body)
    assert isinstance(err.value, BinanceRestError) and not isinstance(err.value, DecodeError)
    assert codec.stats.errors == 0  # the venue's refusal is not an unreadable body
    assert (err.value.code, err.value.message, err.value.venue) == (-1121, "Invalid symbol.", "binance")


def test_rest_unreadable_body_raises_decode_error_only():
    with pytest.raises(DecodeError) as err:
        BinanceCodec().decode_snapshot("BTCUSDT", b"<html>502 Bad Gateway</html>")
    assert not isinstance(err.value, VenueError)


def test_decoders_cover_every_rest_entry_point():
    assert set(BinanceCodec().decoders()) == {
        "decode", "decode_snapshot", "decode_funding", "decode_funding_history", "decode_funding_info",
        "decode_instruments", "decode_bbo", "decode_listen_key", "decode_ws_api", "materialize",
    }


def test_exchange_info_and_funding_info_requests_target_rest_url():
    codec = BinanceCodec()
    req = codec.instruments_request()
    assert (req.method, req.url, req.weight) == ("GET", "https://fapi.binance.com/fapi/v1/exchangeInfo", 1)
    req = codec.funding_info_request()
    assert (req.url, req.weight) == ("https://fapi.binance.com/fapi/v1/fundingInfo", 0)
