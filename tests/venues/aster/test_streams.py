"""Aster stream URLs (one route, no 2026 split), the docs' control frames and timings."""

from __future__ import annotations

import json

import pytest

from perpwire.market.errors import SubscriptionError
from perpwire.market.events import Subscribed, Unsubscribed
from perpwire.venues.aster.codec import AsterCodec
from perpwire.venues.base import Channel, Subscription
from tests.conftest import FIXTURES_DIR, fixture_loader

FIX = FIXTURES_DIR / "aster"
BTC = "BTCUSDT"


load = fixture_loader("aster")


@pytest.mark.parametrize("channel", list(Channel))
def test_route_is_single_for_every_channel(channel):
    assert AsterCodec().route(Subscription(channel, BTC if channel is not Channel.FUNDING_ALL else None)) == "market"


def test_url_combined_mixes_book_and_funding_streams():
    subs = [Subscription(Channel.BBO, BTC), Subscription(Channel.FUNDING_ALL), Subscription(Channel.DEPTH, BTC)]
    assert AsterCodec().url("market", subs=subs) == (
        "wss://fstream.asterdex.com/stream?streams=btcusdt@bookTicker/!markPrice@arr@1s/btcusdt@depth@100ms"
    )


def test_url_user_data_is_ws_listen_key():
    codec = AsterCodec()
    assert codec.url("user", listen_key="pqia91ma") == "wss://fstream.asterdex.com/ws/pqia91ma"
    assert codec.url("market", listen_key="pqia91ma", subs=[Subscription(Channel.BBO, BTC)]) == (
        "wss://fstream.asterdex.com/stream?streams=pqia91ma/btcusdt@bookTicker"
    )


def test_url_testnet_hosts_are_options():
    codec = AsterCodec(ws_url="wss://fstream.asterdex-testnet.com", rest_url="https://fapi.asterdex-testnet.com")
    assert codec.url("market") == "wss://fstream.asterdex-testnet.com/stream"
    assert codec.depth_request(BTC).url == "https://fapi.asterdex-testnet.com/fapi/v1/depth"


def test_url_binance_route_names_refused():
    with pytest.raises(SubscriptionError, match="unknown route"):
        AsterCodec().url("public")


def test_subscribe_matches_docs_request_and_ack():
    codec = AsterCodec(depth_speed=None)
    (frame,) = codec.subscribe([Subscription(Channel.TRADES, BTC), Subscription(Channel.DEPTH, BTC)])
    assert json.loads(frame) == json.loads(load("subscribe_request.json"))
    assert codec.decode(load("subscribe_response.json")) == [
        Subscribed(venue="aster", channels=("btcusdt@aggTrade", "btcusdt@depth"), request_id="1")
    ]


def test_unsubscribe_matches_docs_request_and_ack():
    codec = AsterCodec(depth_speed=None, first_request_id=312)
    (frame,) = codec.unsubscribe([Subscription(Channel.DEPTH, BTC)])
    assert json.loads(frame) == json.loads(load("unsubscribe_request.json"))
    assert codec.decode(load("unsubscribe_response.json")) == [
        Unsubscribed(venue="aster", channels=("btcusdt@depth",), request_id="312")
    ]


def test_subscribe_over_200_streams_refused():
    codec = AsterCodec()
    with pytest.raises(SubscriptionError, match="200 per connection"):
        codec.subscribe([Subscription(Channel.BBO, f"S{i}USDT") for i in range(201)])


def test_timings_are_asters():
    assert (AsterCodec.server_ping_interval_s, AsterCodec.pong_timeout_s) == (300.0, 900.0)
    assert AsterCodec.max_connection_age_s == 86400.0 and AsterCodec.heartbeat_interval_s is None
    assert AsterCodec.listen_key_keepalive_s == 1800.0 and AsterCodec().ws_api_url is None
