"""Binance stream names, 2026 routed URLs, wrong-route refusal and the subscription tracker."""

from __future__ import annotations

import json

import pytest

from perpwire.market.errors import SubscriptionError
from perpwire.market.events import Subscribed, Unsubscribed, VenueRejected
from perpwire.venues.base import Channel, Subscription
from perpwire.venues.binance.codec import BinanceCodec
from tests.conftest import FIXTURES_DIR, fixture_loader

FIX = FIXTURES_DIR / "binance"
BTC = "BTCUSDT"


load = fixture_loader("binance")


@pytest.mark.parametrize(
    ("sub", "topic", "route"),
    [
        (Subscription(Channel.BBO, BTC), "btcusdt@bookTicker", "public"),
        (Subscription(Channel.BOOK, BTC), "btcusdt@depth20@100ms", "public"),
        (Subscription(Channel.DEPTH, BTC), "btcusdt@depth@100ms", "public"),
        (Subscription(Channel.FUNDING, BTC), "btcusdt@markPrice@1s", "market"),
        (Subscription(Channel.FUNDING_ALL), "!markPrice@arr@1s", "market"),
        (Subscription(Channel.LIQUIDATIONS), "!forceOrder@arr", "market"),
        (Subscription(Channel.LIQUIDATIONS, BTC), "btcusdt@forceOrder", "market"),
        (Subscription(Channel.TRADES, BTC), "btcusdt@aggTrade", "market"),
    ],
)
def test_topic_and_route_follow_2026_split(sub, topic, route):
    codec = BinanceCodec()
    assert codec.topic(sub) == topic
    assert codec.route(sub) == route


def test_route_account_is_private_and_topic_refused():
    codec = BinanceCodec()
    assert codec.route(Subscription(Channel.ACCOUNT)) == "private"
    with pytest.raises(SubscriptionError, match="listen_key"):
        codec.topic(Subscription(Channel.ACCOUNT))


def test_topic_per_symbol_channel_without_symbol_refused():
    with pytest.raises(SubscriptionError, match="needs a symbol"):
        BinanceCodec().topic(Subscription(Channel.BBO))


def test_url_public_combined_lists_streams():
    codec = BinanceCodec()
    subs = [Subscription(Channel.BBO, BTC), Subscription(Channel.BOOK, "ETHUSDT")]
    assert codec.url("public", subs=subs) == (
        "wss://fstream.binance.com/public/stream?streams=btcusdt@bookTicker/ethusdt@depth20@100ms"
    )


def test_url_market_raw_names_one_stream():
    codec = BinanceCodec(combined=False)
    assert codec.url("market", subs=[Subscription(Channel.FUNDING_ALL)]) == (
        "wss://fstream.binance.com/market/ws/!markPrice@arr@1s"
    )
    assert codec.url("market") == "wss://fstream.binance.com/market/ws"


def test_url_private_carries_listen_key_and_event_filter():
    assert BinanceCodec().url("user", listen_key="k/ey+1") == "wss://fstream.binance.com/private/ws?listenKey=k%2Fey%2B1"
    codec = BinanceCodec(user_events=["ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"])
    assert codec.url("private", listen_key="abc") == (
        "wss://fstream.binance.com/private/ws?listenKey=abc&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE"
    )


def test_url_simulator_base_is_an_option():
    codec = BinanceCodec(ws_url="ws://127.0.0.1:9001/")
    assert codec.url("market", subs=[Subscription(Channel.TRADES, BTC)]) == (
        "ws://127.0.0.1:9001/market/stream?streams=btcusdt@aggTrade"
    )


@pytest.mark.parametrize(
    ("route", "sub"),
    [
        ("public", Subscription(Channel.FUNDING, BTC)),
        ("public", Subscription(Channel.FUNDING_ALL)),
        ("public", Subscription(Channel.LIQUIDATIONS)),
        ("public", Subscription(Channel.TRADES, BTC)),
        ("market", Subscription(Channel.BBO, BTC)),
        ("market", Subscription(Channel.BOOK, BTC)),
        ("market", Subscription(Channel.DEPTH, BTC)),
        ("private", Subscription(Channel.BBO, BTC)),
    ],
)
def test_url_stream_on_wrong_route_refused(route, sub):
    with pytest.raises(SubscriptionError, match="drop it silently"):
        BinanceCodec().url(route, subs=[sub], listen_key="k" if route == "private" else None)


def test_url_private_without_listen_key_refused():
    with pytest.raises(SubscriptionError, match="listen_key"):
        BinanceCodec().url("private")


def test_url_listen_key_on_market_route_refused():
    with pytest.raises(SubscriptionError, match="/private only"):
        BinanceCodec().url("market", listen_key="abc")


def test_url_unknown_route_refused():
    with pytest.raises(SubscriptionError, match="unknown route"):
        BinanceCodec().url("ws")


def test_subscribe_on_connection_of_other_route_refused():
    codec = BinanceCodec()
    codec.url("public", subs=[Subscription(Channel.BBO, BTC)])
    with pytest.raises(SubscriptionError, match="drop it silently"):
        codec.subscribe([Subscription(Channel.FUNDING, BTC)])
    with pytest.raises(SubscriptionError, match="drop it silently"):
        codec.subscribe([Subscription(Channel.DEPTH, BTC)], route="market")


def test_subscribe_mixed_routes_in_one_request_refused():
    # the docs' own example mixes aggTrade (/market) and depth (/public): dead on Binance 2026
    request = json.loads(load("subscribe_request.json"))
    subs = [Subscription(Channel.TRADES, BTC), Subscription(Channel.DEPTH, BTC)]
    codec = BinanceCodec(depth_speed=None)
    assert [codec.topic(s) for s in subs] == request["params"]
    assert [codec.route(s) for s in subs] == ["market", "public"]
    with pytest.raises(SubscriptionError, match=r"btcusdt@depth is delivered on /public, not /market"):
        codec.subscribe(subs)


def test_subscribe_ack_gives_subscribed_with_request_streams():
    codec = BinanceCodec()
    (frame,) = codec.subscribe([Subscription(Channel.TRADES, BTC), Subscription(Channel.FUNDING, BTC)])
    assert json.loads(frame) == {"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade", "btcusdt@markPrice@1s"], "id": 1}
    assert json.loads(load("subscribe_response.json"))["id"] == 1
    assert codec.decode(load("subscribe_response.json")) == [
        Subscribed(venue="binance", channels=("btcusdt@aggTrade", "btcusdt@markPrice@1s"), request_id="1")
    ]


def test_unsubscribe_ack_gives_unsubscribed_with_request_streams():
    codec = BinanceCodec(depth_speed=None, first_request_id=312)
    (frame,) = codec.unsubscribe([Subscription(Channel.DEPTH, BTC)])
    assert json.loads(frame) == json.loads(load("unsubscribe_request.json"))
    assert codec.decode(load("unsubscribe_response.json")) == [
        Unsubscribed(venue="binance", channels=("btcusdt@depth",), request_id="312")
    ]


def test_ack_for_untracked_id_is_counted():
    codec = BinanceCodec()
    assert codec.decode(load("subscribe_response.json")) == []
    assert codec.stats.unknown["untracked_ack"] == 1


def test_subscribe_ids_increase_across_requests_and_connections():
    codec = BinanceCodec()
    ids = [json.loads(codec.subscribe([Subscription(Channel.TRADES, s)])[0])["id"] for s in ("AUSDT", "BUSDT")]
    codec.url("market")
    ids.append(json.loads(codec.subscribe([Subscription(Channel.TRADES, "CUSDT")])[0])["id"])
    assert ids == [1, 2, 3]


def test_list_subscriptions_reply_gives_subscribed_with_venue_list():
    codec = BinanceCodec(first_request_id=3)
    assert json.loads(codec.list_subscriptions()) == {"method": "LIST_SUBSCRIPTIONS", "id": 3}
    assert codec.decode(load("list_subscriptions_response.json")) == [
        Subscribed(venue="binance", channels=("btcusdt@aggTrade",), request_id="3")
    ]


def test_subscribe_over_200_streams_refused_and_unsubscribe_frees_room():
    codec = BinanceCodec()
    subs = [Subscription(Channel.TRADES, f"S{i}USDT") for i in range(200)]
    assert len(codec.subscribe(subs)) == 1
    with pytest.raises(SubscriptionError, match="200"):
        codec.subscribe([Subscription(Channel.TRADES, "XUSDT")])
    codec.unsubscribe(subs[:1])
    assert len(codec.subscribe([Subscription(Channel.TRADES, "XUSDT")])) == 1


def test_url_over_200_streams_refused():
    subs = [Subscription(Channel.BBO, f"S{i}USDT") for i in range(201)]
    with pytest.raises(SubscriptionError, match="201 streams"):
        BinanceCodec().url("public", subs=subs)


def test_pacing_limits_are_class_attributes():
    assert BinanceCodec.max_streams_per_connection == 200
    assert BinanceCodec.max_messages_per_second == 10


def test_error_frame_for_pending_request_names_its_streams():
    codec = BinanceCodec()
    codec.subscribe([Subscription(Channel.TRADES, BTC)])
    frame = b'{"error":{"code":2,"msg":"Invalid request: unknown variant"},"id":1}'
    assert codec.decode(frame) == [VenueRejected(
        venue="binance", code="2", message="Invalid request: unknown variant", request_id="1",
        channel="btcusdt@aggTrade",
    )]
    # request 1 is settled: a late ack for it is not tracked any more
    assert codec.decode(load("subscribe_response.json")) == []


def test_raw_connection_refuses_book_and_depth_of_one_symbol():
    codec = BinanceCodec(combined=False)
    codec.url("public", subs=[Subscription(Channel.BOOK, BTC)])
    with pytest.raises(SubscriptionError, match="raw"):
        codec.subscribe([Subscription(Channel.DEPTH, BTC)])


def test_heartbeat_is_protocol_level():
    codec = BinanceCodec()
    assert codec.heartbeat() is None and codec.heartbeat_interval_s is None
    assert (codec.server_ping_interval_s, codec.pong_timeout_s, codec.max_connection_age_s) == (180.0, 600.0, 86400.0)
