"""Backpack REST: request builders, body decoders, error bodies and signed order requests."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from nacl.signing import VerifyKey

from perpwire import venues
from perpwire.market.errors import DecodeError, UsageError, VenueError
from perpwire.market.events import Side
from perpwire.venues.backpack import auth
from tests.venues.backpack.helpers import SECRET, fx

D = Decimal
TS = 1700000000000


@pytest.fixture
def codec():
    return venues.codec("backpack", rest_url="http://127.0.0.1:9/bp/")


def test_depth_request_rounds_limit_up_to_an_allowed_size(codec):
    req = codec.depth_request("BTC_USDC_PERP", 30)
    assert (req.method, req.url, req.params) == ("GET", "http://127.0.0.1:9/bp/api/v1/depth",
                                                 (("symbol", "BTC_USDC_PERP"), ("limit", "50")))
    assert codec.depth_request("X").params[1] == ("limit", "1000")
    assert codec.depth_request("X", 5000).params[1] == ("limit", "1000")


@pytest.mark.parametrize(("name", "message"), [("rest_error_invalid_symbol.json", "Invalid market symbol"),
                                               ("rest_error_symbol_not_found.json", "Symbol not found")])
def test_rest_error_bodies_raise_venue_error(codec, name, message):
    for decode in (lambda b: codec.decode_snapshot("X", b), codec.decode_funding, codec.decode_funding_history,
                   codec.decode_instruments, codec.decode_open_interest, codec.decode_status):
        with pytest.raises(VenueError) as info:
            decode(fx(name))
        assert (info.value.venue, info.value.code, info.value.message) == ("backpack", "INVALID_CLIENT_REQUEST",
                                                                           message)


def test_rest_unreadable_body_raises_decode_error(codec):
    with pytest.raises(DecodeError):
        codec.decode_snapshot("X", b"Invalid limit")  # parameter errors are plain text
    with pytest.raises(DecodeError):
        codec.decode_funding(fx("rest_status.json"))


def test_decode_funding_mark_prices_list(codec):
    rows = codec.decode_funding(fx("rest_markPrices.json"))
    assert [r.symbol for r in rows][:3] == ["0G_USDC_PERP", "2Z_USDC_PERP", "AAVE_USDC_PERP"] and len(rows) == 8
    first = rows[0]
    assert (first.rate, first.rate_per_hour, first.interval_hours) == (D("-0.000179157"), D("-0.000179157"), 1)
    assert (first.mark_price, first.index_price, first.next_funding_ts, first.ts) == (
        D("2.93637296"), D("2.9405475"), 1759489200000, 0)
    assert not first.settled
    assert codec.funding_request().params == () and codec.funding_request("A").params == (("symbol", "A"),)


def test_decode_funding_single_row_in_the_eight_hour_era_by_hand():
    codec = venues.codec("backpack", funding_intervals={"BTC_USDC_PERP": 8})  # a July 2025 capture
    [one] = codec.decode_funding(fx("rest_markPrices_single.json"))
    # 0.0001 per 8 h interval = 0.0000125 per hour (the baseline 0.01 % / 8 h)
    assert (one.rate, one.interval_hours, one.rate_per_hour) == (D("0.0001"), 8, D("0.0000125"))
    assert (one.mark_price, one.next_funding_ts) == (D("118343.51853741"), 1753113600000)


def test_decode_funding_accepts_a_bare_row(codec):
    row = json.loads(fx("rest_markPrices_single.json"))[0]
    [one] = codec.decode_funding(json.dumps(row).encode())
    assert one.symbol == "BTC_USDC_PERP" and one.index_price == D("118333.18643195")


def test_decode_funding_history_newest_first_settled(codec):
    newest, older = codec.decode_funding_history(fx("rest_fundingRates.json"))
    assert (newest.symbol, newest.rate, newest.rate_per_hour, newest.settled) == ("BTC_USDC_PERP", D("0.0000125"),
                                                                                D("0.0000125"), True)
    assert newest.ts == 1790136000000  # 2026-09-23T04:00:00 naive UTC
    assert (older.ts, older.rate) == (1790136000000 - 3_600_000, D("0.000010077"))


def test_funding_history_request_pages_back_far_enough(codec):
    req = codec.funding_history_request("BTC_USDC_PERP", 0, 30 * 24 * 3_600_000)
    assert (req.url, req.params) == ("http://127.0.0.1:9/bp/api/v1/fundingRates",
                                     (("symbol", "BTC_USDC_PERP"), ("limit", "722")))
    assert codec.funding_history_request("X").params[1] == ("limit", "1000")
    assert codec.funding_history_request("X", 0, 10**13).params[1] == ("limit", "10000")


def test_decode_instruments_keeps_perps_and_learns_intervals(codec):
    [inst] = codec.decode_instruments(fx("rest_markets_2025_01.json"))  # the SPOT row is dropped
    assert (inst.symbol, inst.asset, inst.quote, inst.funding_interval_hours, inst.status) == (
        "SOL_USDC_PERP", "SOL", "USDC", 8, "Open")
    assert (inst.tick_size, inst.step_size, inst.min_size, inst.contract_size) == (D("0.01"), D("0.01"), D("0.01"),
                                                                                   D(1))
    assert codec.intervals == {"SOL_USDC_PERP": 8} and codec.interval_hours("BTC_USDC_PERP") == 1
    assert codec.instruments_request().params == (("marketType", "PERP"),)


def test_decode_instruments_per_thousand_token_contract_size(codec):
    rows = json.loads(fx("rest_markets_2025_01.json"))
    rows[1] |= {"symbol": "kPEPE_USDC_PERP", "baseSymbol": "kPEPE", "fundingInterval": 3600000}
    [inst] = codec.decode_instruments(json.dumps(rows).encode())
    assert (inst.asset, inst.contract_size, inst.funding_interval_hours) == ("PEPE", D(1000), 1)


def test_decode_instruments_bad_interval_changes_nothing(codec):
    rows = json.loads(fx("rest_markets_2025_01.json"))
    rows[1]["fundingInterval"] = 1800000  # half an hour: refused rather than rounded
    with pytest.raises(DecodeError):
        codec.decode_instruments(json.dumps(rows).encode())
    assert codec.intervals == {}


def test_decode_open_interest_and_status(codec):
    assert codec.decode_open_interest(fx("rest_openInterest.json")) == {"BTC_USDC_PERP": D("1273.85214")}
    assert codec.open_interest_request("BTC_USDC_PERP").params == (("symbol", "BTC_USDC_PERP"),)
    assert codec.decode_status(fx("rest_status.json")) == "Ok"
    assert codec.status_request().url == "http://127.0.0.1:9/bp/api/v1/status"


def _verify(req, signed: str) -> None:
    headers = dict(req.headers)
    assert (headers["X-Timestamp"], headers["X-Window"]) == (str(TS), "5000")
    VerifyKey(base64.b64decode(headers["X-API-Key"])).verify(signed.encode(), base64.b64decode(headers["X-Signature"]))


def test_new_order_request_market_signs_sorted_body(codec):
    req = codec.new_order_request(SECRET, symbol="BTC_USDC_PERP", side="buy", quantity=D("0.01"), timestamp_ms=TS)
    assert (req.method, req.url) == ("POST", "http://127.0.0.1:9/bp/api/v1/order")
    body = json.loads(req.body)
    assert body == {"symbol": "BTC_USDC_PERP", "side": "Bid", "quantity": "0.01", "orderType": "Market"}
    signed = ("instruction=orderExecute&orderType=Market&quantity=0.01&side=Bid&symbol=BTC_USDC_PERP"
              f"&timestamp={TS}&window=5000")
    assert auth.signing_string("orderExecute", body, TS) == signed
    _verify(req, signed)


def test_new_order_request_limit_with_flags_signs_booleans_as_json(codec):
    req = codec.new_order_request(SECRET, symbol="SOL_USDC_PERP", side=Side.SELL, quantity=D("1E+1"),
                                  price=D("150.25"), time_in_force="IOC", post_only=True, reduce_only=True,
                                  client_id=42, timestamp_ms=TS)
    body = json.loads(req.body)
    assert body == {"symbol": "SOL_USDC_PERP", "side": "Ask", "quantity": "10", "orderType": "Limit",
                    "price": "150.25", "timeInForce": "IOC", "postOnly": True, "reduceOnly": True, "clientId": 42}
    _verify(req, "instruction=orderExecute&clientId=42&orderType=Limit&postOnly=true&price=150.25&quantity=10"
                 f"&reduceOnly=true&side=Ask&symbol=SOL_USDC_PERP&timeInForce=IOC&timestamp={TS}&window=5000")


@pytest.mark.parametrize("kwargs", [{"time_in_force": "GTX", "price": D(1)}, {"client_id": 2**32}])
def test_new_order_request_refuses_what_the_venue_would(codec, kwargs):
    with pytest.raises(UsageError):
        codec.new_order_request(SECRET, symbol="X", side="buy", quantity=D(1), timestamp_ms=TS, **kwargs)


def test_cancel_order_request_by_order_id_or_client_id(codec):
    req = codec.cancel_order_request(SECRET, symbol="BTC_USDC_PERP", order_id="5406825793", timestamp_ms=TS)
    assert req.method == "DELETE" and json.loads(req.body) == {"symbol": "BTC_USDC_PERP", "orderId": "5406825793"}
    _verify(req, f"instruction=orderCancel&orderId=5406825793&symbol=BTC_USDC_PERP&timestamp={TS}&window=5000")
    by_client = codec.cancel_order_request(SECRET, symbol="BTC_USDC_PERP", client_id=7, timestamp_ms=TS)
    _verify(by_client, f"instruction=orderCancel&clientId=7&symbol=BTC_USDC_PERP&timestamp={TS}&window=5000")
    with pytest.raises(UsageError):
        codec.cancel_order_request(SECRET, symbol="X", timestamp_ms=TS)


def test_funding_history_before_the_hourly_switch_is_per_8_hours(codec):
    # constructed rows across 2025-08-20T08:00Z (SOURCES.md): 8-hourly up to it, hourly after
    rows = codec.decode_funding_history(fx("rest_fundingRates_8h_to_1h_constructed.json"))
    got = [(r.ts, r.interval_hours, r.rate, r.rate_per_hour) for r in rows]
    hour = 3_600_000
    switch = 1_755_676_800_000  # 2025-08-20T08:00:00Z
    assert got == [
        (switch + 2 * hour, 1, D("0.0000125"), D("0.0000125")),
        (switch + hour, 1, D("0.000011"), D("0.000011")),
        (switch, 8, D("0.0001"), D("0.0000125")),  # closes 00:00-08:00, the last 8-hour interval
        (switch - 8 * hour, 8, D("0.00008"), D("0.00001")),
        (switch - 16 * hour, 8, D("-0.00004"), D("-0.000005")),
    ]
    assert all(r.settled for r in rows)


def test_funding_history_old_rows_keep_8_hours_whatever_the_market_says_now(codec):
    codec.intervals["BTC_USDC_PERP"] = 2  # learned from today's markets
    rows = codec.decode_funding_history(fx("rest_fundingRates_8h_to_1h_constructed.json"))
    assert [r.interval_hours for r in rows] == [2, 2, 8, 8, 8]
    real = codec.decode_funding_history(fx("rest_fundingRates.json"))  # 2026 rows: today's interval
    assert [(r.interval_hours, r.rate_per_hour) for r in real] == [(2, D("0.00000625")), (2, D("0.0000050385"))]


def test_funding_history_mean_per_hour_is_not_inflated_by_8_hour_rows(codec):
    rows = codec.decode_funding_history(fx("rest_fundingRates_8h_to_1h_constructed.json"))
    # the 8-hour-era rows read as hourly would make this mean 8x too high for those rows
    assert sum(r.rate_per_hour for r in rows) / len(rows) == D("0.0000082")  # (12.5+11+12.5+10-5)e-6 / 5
