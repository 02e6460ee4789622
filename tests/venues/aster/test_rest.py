"""Aster REST: the recorded answers decoded, Aster's weights, and its empty keepalive answer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpwire.market.errors import DecodeError, VenueError
from perpwire.market.events import BBO, FundingRate
from perpwire.venues.aster.codec import AsterCodec
from tests.conftest import FIXTURES_DIR, fixture_loader

FIX = FIXTURES_DIR / "aster"


load = fixture_loader("aster")


def test_decode_snapshot_live_keeps_levels_and_seq():
    snap = AsterCodec().decode_snapshot("bnbusdt", load("rest_depth.json"))
    assert (snap.venue, snap.symbol, snap.seq, snap.ts) == ("aster", "BNBUSDT", 289171725544, 1765381868437)
    assert snap.bids == (("891.000", "20.87"), ("890.900", "80.44"), ("822.800", "0.11"))
    assert snap.asks[0] == ("891.100", "119.16")


def test_decode_snapshot_docs():
    snap = AsterCodec().decode_snapshot("BTCUSDT", load("rest_depth_docs.json"))
    assert snap.seq == 1027024 and snap.asks == (("4.00000200", "12.00000000"),)


@pytest.mark.parametrize("name", ["rest_premiumIndex.json", "rest_premiumIndex_all.json"])
def test_decode_funding_premium_index(name):
    assert AsterCodec().decode_funding(load(name)) == [FundingRate(
        venue="aster", symbol="BTCUSDT", rate=Decimal("0.00038246"), interval_hours=8,
        rate_per_hour=Decimal("0.0000478075"), mark_price=Decimal("11793.63104562"),
        index_price=Decimal("11781.80495970"), next_funding_ts=1597392000000, ts=1597370495002,
    )]


def test_decode_funding_history_without_mark_price():
    rates = AsterCodec().decode_funding_history(load("rest_fundingRate.json"))
    assert [(r.rate, r.ts, r.mark_price, r.settled) for r in rates] == [
        (Decimal("-0.03750000"), 1570608000000, None, True), (Decimal("0.00010000"), 1570636800000, None, True)]


def test_decode_funding_info_numeric_caps_and_intervals():
    codec = AsterCodec()
    assert codec.decode_funding_info(load("rest_fundingInfo.json")) == {"INJUSDT": 8, "ZORAUSDT": 4}
    assert codec.funding_interval("ZORAUSDT") == 4 and codec.funding_interval("BTCUSDT") == 8


def test_decode_instruments_live_exchange_info():
    codec = AsterCodec()
    codec.decode_funding_info(load("rest_fundingInfo.json"))
    aster, btc = codec.decode_instruments(load("rest_exchangeInfo.json"))
    assert (aster.symbol, aster.asset, aster.quote, aster.tick_size, aster.step_size, aster.min_notional) == (
        "ASTERUSDT", "ASTER", "USDT", Decimal("0.00010"), Decimal("0.01"), Decimal("5"))
    assert (btc.tick_size, btc.step_size, btc.min_size, btc.funding_interval_hours) == (
        Decimal("0.1"), Decimal("0.001"), Decimal("0.001"), 8)


@pytest.mark.parametrize("name", ["rest_bookTicker.json", "rest_bookTicker_all.json"])
def test_decode_bbo_rest(name):
    assert AsterCodec().decode_bbo(load(name)) == [BBO(
        venue="aster", symbol="BTCUSDT", bid_price=Decimal("4.00000000"), bid_size=Decimal("431.00000000"),
        ask_price=Decimal("4.00000200"), ask_size=Decimal("9.00000000"), ts=1589437530011,
    )]


def test_decode_listen_key_post_gives_key_and_put_gives_none():
    codec = AsterCodec()
    assert codec.decode_listen_key(load("rest_listenKey_post.json")) == (
        "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1")
    assert codec.decode_listen_key(load("rest_listenKey_put.json")) is None


@pytest.mark.parametrize("decoder", ["decode_snapshot", "decode_funding", "decode_bbo", "decode_funding_info"])
def test_rest_error_body_raises_venue_error(decoder):
    with pytest.raises(VenueError) as err:
        AsterCodec().decoders()[decoder](load("rest_error.json"))
    assert (err.value.venue, err.value.code, err.value.message) == ("aster", -1121, "Invalid symbol.")
    assert not isinstance(err.value, DecodeError)  # one blame per error: the venue said no


def test_weights_are_asters():
    codec = AsterCodec()
    assert codec.funding_request().weight == 1 and codec.funding_info_request().weight == 1
    assert codec.bbo_request().weight == 2 and codec.bbo_request("BTCUSDT").weight == 1
    assert codec.depth_request("BTCUSDT", 500).weight == 10
    assert codec.listen_key_request("PUT", "k").url == "https://fapi.asterdex.com/fapi/v1/listenKey"


def test_signed_order_uses_aster_host_and_doc_vector():
    from perpwire.venues.binance import auth

    req = AsterCodec().new_order_request(
        auth.Credentials("k", "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"),
        symbol="BTCUSDT", side="buy", quantity=Decimal("1"), price=Decimal("9000"), timestamp_ms=1591702613943,
        order_type="LIMIT",
    )
    assert req.url == "https://fapi.asterdex.com/fapi/v1/order"
    # same params as the docs' vector, but timeInForce sits before quantity here, so its own signature
    assert req.body.startswith(b"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=9000")
