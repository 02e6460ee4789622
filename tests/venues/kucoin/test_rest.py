"""KuCoin REST: request builders, body decoders (snapshot, funding, history, contracts, ticker) and errors."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal

import pytest

from perpwire.market.errors import DecodeError, RateLimited, VenueError
from perpwire.market.events import BBO, FundingRate, Instrument, MarkPrice
from perpwire.venues.kucoin import KucoinCodec
from tests.conftest import FIXTURES_DIR, fixture_loader

FIXTURES = FIXTURES_DIR / "kucoin"
D = Decimal


load = fixture_loader("kucoin")


def test_requests_use_rest_url_option_paths_params_and_weights():
    codec = KucoinCodec(rest_url="http://127.0.0.1:8123")
    base = "http://127.0.0.1:8123"
    req = codec.depth_request("XBTUSDTM")
    assert (req.url, req.params, req.weight) == (base + "/api/v1/level2/snapshot", (("symbol", "XBTUSDTM"),), 3)
    assert codec.depth_request("XBTUSDTM", 20).url == base + "/api/v1/level2/depth20"
    assert codec.depth_request("XBTUSDTM", 50).url == base + "/api/v1/level2/depth100"
    assert codec.depth_request("XBTUSDTM", 1000).url == base + "/api/v1/level2/snapshot"
    req = codec.funding_request("XBTUSDTM")
    assert (req.method, req.url, req.weight) == ("GET", base + "/api/v1/funding-rate/XBTUSDTM/current", 2)
    assert codec.funding_request().url == base + "/api/v1/contracts/active"
    req = codec.funding_history_request("XBTUSDTM", 1700000000000, 1702296000000)
    assert req.url == base + "/api/v1/contract/funding-rates"
    assert req.params == (("symbol", "XBTUSDTM"), ("from", "1700000000000"), ("to", "1702296000000"))
    assert codec.instruments_request().url == base + "/api/v1/contracts/active"
    assert codec.contract_request("XBTUSDTM").url == base + "/api/v1/contracts/XBTUSDTM"
    assert codec.mark_price_request("XBTUSDTM").url == base + "/api/v1/mark-price/XBTUSDTM/current"
    assert codec.ticker_request("XBTUSDTM").params == (("symbol", "XBTUSDTM"),)


def test_decode_snapshot_live_numeric_levels_become_exact_text():
    snap = KucoinCodec().decode_snapshot("XBTUSDCM", load("rest_level2_snapshot.json"))
    assert snap.bids == (("110135.5", "176"), ("110131.8", "640"), ("0.1", "15602000"))
    assert snap.asks == (("110269.7", "176"), ("110275.0", "612"), ("141999.9", "3"))
    assert (snap.symbol, snap.seq, snap.ts) == ("XBTUSDCM", 1695731285612, 1756205428766)


@pytest.mark.parametrize("name", ["rest_level2_snapshot_docs.json", "rest_level2_depth20_docs.json"])
def test_decode_snapshot_sdk_examples_integer_price_stays_integer_text(name):
    snap = KucoinCodec().decode_snapshot("XBTUSDM", load(name))
    assert snap.bids == (("66968", "2"), ("66964.8", "25596"))
    assert snap.asks == (("66968.1", "13501"), ("66968.7", "2032"))
    assert (snap.seq, snap.ts) == (1697895963339, 1729168101216)


def test_decode_funding_current_maps_index_symbol_and_hand_checked_rate_per_hour():
    codec = KucoinCodec()
    [fr] = codec.decode_funding(load("rest_funding_rate_current.json"))
    # hand check: 6.1E-5 per 8 h = 0.000061 / 8 = 0.000007625 per hour
    assert fr == FundingRate(
        venue="kucoin", symbol="XBTUSDTM", rate=D("0.000061"), interval_hours=8, rate_per_hour=D("0.000007625"),
        next_funding_ts=1748491200000, ts=1748462400000,
    )
    # the next settlement is remembered for later WS estimates
    assert codec.contracts.next_funding("XBTUSDTM", 1748470000000) == 1748491200000


def test_decode_funding_active_contracts_with_clock_gives_next_settlement():
    detail = json.loads(load("rest_contract_detail.json"))
    body = json.dumps({"code": "200000", "data": [detail["data"]]}).encode()
    [fr] = KucoinCodec().decode_funding(body, now_ms=1_700_000_000_000)
    assert (fr.symbol, fr.rate, fr.rate_per_hour, fr.interval_hours) == ("XBTUSDTM", D("0.000052"), D("0.0000065"), 8)
    assert (fr.mark_price, fr.index_price) == (D("86378.69"), D("86382.64"))
    assert fr.next_funding_ts == 1_700_000_000_000 + 17752926
    assert KucoinCodec().decode_funding(body)[0].next_funding_ts is None


def test_decode_funding_history_settled_newest_first():
    rates = KucoinCodec().decode_funding_history(load("rest_public_funding_history.json"))
    assert len(rates) == 69
    assert rates[0] == FundingRate(
        venue="kucoin", symbol="XBTUSDTM", rate=D("0.00021"), interval_hours=8, rate_per_hour=D("0.00002625"),
        ts=1702296000000, settled=True,
    )
    assert (rates[-1].rate, rates[-1].ts) == (D("0.000132"), 1700337600000)
    assert all(a.ts - b.ts == 8 * 3_600_000 for a, b in itertools.pairwise(rates))


def test_decode_funding_history_index_symbol_maps_to_contract_and_its_interval():
    body = load("rest_public_funding_history.json").replace(b'"XBTUSDTM"', b'".XBTUSDTMFPI4H"', 1)
    first = KucoinCodec().decode_funding_history(body)[0]
    assert (first.symbol, first.interval_hours, first.rate_per_hour) == ("XBTUSDTM", 4, D("0.0000525"))


def test_decode_instruments_contract_detail_learns_multiplier():
    codec = KucoinCodec()
    assert codec.contract_size("XBTUSDTM") is None
    assert codec.decode_instruments(load("rest_contract_detail.json")) == [Instrument(
        venue="kucoin", symbol="XBTUSDTM", asset="BTC", quote="USDT", tick_size=D("0.1"), step_size=D(1),
        min_size=D(1), contract_size=D("0.001"), funding_interval_hours=8, max_leverage=D(125), status="Open",
    )]
    assert codec.contract_size("XBTUSDTM") == D("0.001")
    assert codec.contracts.contract_symbol(".XBTUSDTMFPI8H") == "XBTUSDTM"


def test_decode_instruments_active_list_skips_dated_futures():
    detail = json.loads(load("rest_contract_detail.json"))["data"]
    dated = {**detail, "symbol": "XBTMH26", "type": "FFICSX", "fundingRateGranularity": None}
    body = json.dumps({"code": "200000", "data": [detail, dated]}).encode()
    assert [i.symbol for i in KucoinCodec().decode_instruments(body)] == ["XBTUSDTM"]


def test_decode_mark_price_gives_mark_and_index():
    assert KucoinCodec().decode_mark_price(load("rest_mark_price_current.json")) == MarkPrice(
        venue="kucoin", symbol="XBTUSDTM", mark_price=D("67687.08"), index_price=D("67683.58"), ts=1729254307000,
    )


def test_decode_ticker_gives_bbo_in_contracts():
    assert KucoinCodec().decode_ticker(load("rest_ticker.json")) == BBO(
        venue="kucoin", symbol="XBTUSDM", bid_price=D("67169.6"), bid_size=D(32345), ask_price=D("67169.7"),
        ask_size=D(7251), ts=1729163001780, seq=1697895100310,
    )


def test_decode_error_code_raises_venue_error_with_code_and_message():
    with pytest.raises(VenueError) as info:
        KucoinCodec().decode_funding(b'{"code":"400100","msg":"Parameter error"}')
    assert (info.value.code, info.value.message) == ("400100", "Parameter error")
    assert not isinstance(info.value, RateLimited)


def test_decode_rate_limit_code_raises_rate_limited():
    with pytest.raises(RateLimited) as info:
        KucoinCodec().decode_snapshot("XBTUSDTM", b'{"code":"429000","msg":"Too Many Requests"}')
    assert info.value.status == 429


def test_decode_wrong_body_for_endpoint_raises_decode_error():
    with pytest.raises(DecodeError):
        KucoinCodec().decode_snapshot("XBTUSDTM", load("rest_funding_rate_current.json"))
    with pytest.raises(DecodeError):
        KucoinCodec().decode_bullet(b'{"code":"200000","data":{"token":"t","instanceServers":[]}}')
