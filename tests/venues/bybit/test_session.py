"""Bybit session: URLs, topics, subscribe splitting and limits, acks and errors, heartbeat and pong."""

from __future__ import annotations

import json

import pytest

from perpwire import venues
from perpwire.market.errors import DecodeError, SubscriptionError
from perpwire.market.events import Pong, Subscribed, Unsubscribed, VenueRejected
from perpwire.venues.base import Channel, Subscription
from perpwire.venues.bybit import BybitCodec
from tests.venues.bybit.helpers import load, load_json


def subs(channel: Channel, *symbols: str) -> list[Subscription]:
    return [Subscription(channel, s) for s in symbols]


def test_registry_bybit_builds_codec_with_ws_url_option():
    codec = venues.codec("bybit", ws_url="ws://127.0.0.1:9001/v5/public/linear")
    assert isinstance(codec, BybitCodec)
    assert codec.url() == "ws://127.0.0.1:9001/v5/public/linear"
    assert BybitCodec().url("market") == "wss://stream.bybit.com/v5/public/linear"
    with pytest.raises(SubscriptionError):
        codec.url("user")


def test_topic_each_channel_maps_to_bybit_topic():
    codec = BybitCodec(depth=200)
    assert codec.topic(Subscription(Channel.DEPTH, "BTCUSDT")) == "orderbook.200.BTCUSDT"
    assert codec.topic(Subscription(Channel.BOOK, "BTCUSDT")) == "orderbook.200.BTCUSDT"
    assert codec.topic(Subscription(Channel.FUNDING, "ETHUSDT")) == "tickers.ETHUSDT"
    assert codec.topic(Subscription(Channel.BBO, "ETHUSDT")) == "tickers.ETHUSDT"
    assert codec.topic(Subscription(Channel.TRADES, "SOLUSDT")) == "publicTrade.SOLUSDT"
    assert codec.topic(Subscription(Channel.LIQUIDATIONS, "ROSEUSDT")) == "allLiquidation.ROSEUSDT"
    assert BybitCodec().topic(Subscription(Channel.DEPTH, "BTCUSDT")) == "orderbook.50.BTCUSDT"


@pytest.mark.parametrize("sub", [Subscription(Channel.ACCOUNT, "BTCUSDT"), Subscription(Channel.FUNDING_ALL),
                                 Subscription(Channel.DEPTH)])
def test_topic_unsupported_or_symbolless_raises_subscription_error(sub):
    with pytest.raises(SubscriptionError):
        BybitCodec().topic(sub)


def test_constructor_removed_depth_500_raises_value_error():
    with pytest.raises(ValueError, match="500"):
        BybitCodec(depth=500)


def test_subscribe_splits_into_frames_of_at_most_max_args():
    codec = BybitCodec(first_request_id=7)
    symbols = [f"S{i}USDT" for i in range(23)]
    frames = [json.loads(f) for f in codec.subscribe(subs(Channel.FUNDING, *symbols))]
    assert [len(f["args"]) for f in frames] == [10, 10, 3]
    assert [f["req_id"] for f in frames] == ["7", "8", "9"]
    assert all(f["op"] == "subscribe" for f in frames)
    assert [a for f in frames for a in f["args"]] == [f"tickers.{s}" for s in symbols]


def test_subscribe_max_args_option_and_duplicate_topics_dedupe():
    codec = BybitCodec(max_args_per_request=2)
    wanted = subs(Channel.FUNDING, "BTCUSDT") + subs(Channel.BBO, "BTCUSDT") + subs(Channel.DEPTH, "BTCUSDT", "ETHUSDT")
    frames = [json.loads(f)["args"] for f in codec.subscribe(wanted)]
    assert frames == [["tickers.BTCUSDT", "orderbook.50.BTCUSDT"], ["orderbook.50.ETHUSDT"]]


def test_subscribe_request_matches_docs_shape():
    docs = load_json("subscribe_request.json")
    codec = BybitCodec(depth=1)
    [frame] = codec.subscribe([Subscription(Channel.BOOK, "BTCUSDT"), Subscription(Channel.TRADES, "BTCUSDT"),
                               Subscription(Channel.BOOK, "ETHUSDT")])
    sent = json.loads(frame)
    assert sent["op"] == docs["op"] == "subscribe"
    assert sent["args"] == docs["args"]
    assert set(sent) == set(docs)


def test_unsubscribe_request_matches_docs_shape_and_ack_names_topics():
    docs = load_json("unsubscribe_request.json")
    codec = BybitCodec()
    [frame] = codec.unsubscribe(subs(Channel.TRADES, "ETHUSD"))
    sent = json.loads(frame)
    assert (sent["op"], sent["args"], set(sent)) == (docs["op"], docs["args"], set(docs))
    ack = {"success": True, "ret_msg": "", "conn_id": "c", "req_id": sent["req_id"], "op": "unsubscribe"}
    assert codec.decode(json.dumps(ack)) == [
        Unsubscribed(venue="bybit", channels=("publicTrade.ETHUSD",), request_id=sent["req_id"])
    ]


def test_decode_our_own_requests_are_counted_as_unknown():
    codec = BybitCodec()
    for name in ("subscribe_request.json", "unsubscribe_request.json", "ping_request.json"):
        assert codec.decode(load(name)) == []
    assert codec.stats.unknown == {"subscribe request": 1, "unsubscribe request": 1, "ping request": 1}


def test_subscribe_past_21000_characters_per_connection_raises():
    codec = BybitCodec(max_args_per_request=1000)
    symbols = [f"SYMBOL{i:05d}USDT" for i in range(900)]  # 900 x 23 chars = 20,700
    codec.subscribe(subs(Channel.FUNDING, *symbols))
    codec.subscribe(subs(Channel.FUNDING, *symbols[:10]))  # a resubscribe (reconnect) adds nothing
    with pytest.raises(SubscriptionError, match="21000"):
        codec.subscribe(subs(Channel.DEPTH, *symbols[:20]))
    codec.unsubscribe(subs(Channel.FUNDING, *symbols[:100]))
    assert len(codec.subscribe(subs(Channel.DEPTH, *symbols[:20]))) == 1


def test_ack_live_linear_maps_req_id_to_channels():
    codec = BybitCodec(first_request_id=4000001)
    codec.subscribe(subs(Channel.DEPTH, "BTCUSDT") + subs(Channel.FUNDING, "BTCUSDT"))
    assert codec.decode(load("subscribe_response.json")) == [
        Subscribed(venue="bybit", channels=("orderbook.50.BTCUSDT", "tickers.BTCUSDT"), request_id="4000001")
    ]
    # the request is answered: the same ack again names no channels
    assert codec.decode(load("subscribe_response.json")) == [
        Subscribed(venue="bybit", channels=(), request_id="4000001")
    ]


def test_ack_spot_style_ret_msg_subscribe_is_an_ack_too():
    codec = BybitCodec(first_request_id=4000001)
    codec.subscribe(subs(Channel.TRADES, "BTCUSDT"))
    assert codec.decode(load("subscribe_response_spot.json")) == [
        Subscribed(venue="bybit", channels=("publicTrade.BTCUSDT",), request_id="4000001")
    ]


def test_ack_without_req_id_docs_is_subscribed_without_channels():
    assert BybitCodec().decode(load("subscribe_response_linear_docs.json")) == [
        Subscribed(venue="bybit", channels=(), request_id=None)
    ]


def test_error_args_size_live_is_venue_rejected_with_request_topics():
    codec = BybitCodec(first_request_id=2000001, max_args_per_request=11)
    codec.subscribe(subs(Channel.TRADES, *[f"C{i}USDT" for i in range(11)]))
    [ev] = codec.decode(load("subscribe_error_args_size.json"))
    assert isinstance(ev, VenueRejected)
    assert (ev.message, ev.request_id, ev.code) == ("args size >10", "2000001", "")
    assert ev.channel == ",".join(f"publicTrade.C{i}USDT" for i in range(11))


def test_error_handler_not_found_names_the_bad_topic():
    codec = BybitCodec(depth=1000, first_request_id=5)
    codec.subscribe(subs(Channel.DEPTH, "BTCUSDT", "ETHUSDT"))
    reply = {"success": False, "ret_msg": "error:handler not found,topic:orderbook.1000.ETHUSDT", "conn_id": "c",
             "req_id": "5", "op": "subscribe"}
    [ev] = codec.decode(json.dumps(reply).encode())
    assert ev == VenueRejected(venue="bybit", code="", message=reply["ret_msg"], request_id="5",
                               channel="orderbook.1000.ETHUSDT")


def test_heartbeat_is_json_ping_every_20_s():
    codec = BybitCodec(first_request_id=100001)
    assert codec.heartbeat_interval_s == 20.0
    assert json.loads(codec.heartbeat()) == load_json("ping_request.json")
    assert json.loads(codec.heartbeat("abc")) == {"req_id": "abc", "op": "ping"}


@pytest.mark.parametrize("name", ["pong.json", "pong_linear_docs.json"])
def test_pong_linear_op_ping_decodes_to_pong(name):
    codec = BybitCodec()
    assert codec.decode(load(name)) == [Pong(venue="bybit", ts=0)]
    assert (codec.stats.frames, codec.stats.events) == (1, 1)


def test_pong_option_style_carries_server_time():
    assert BybitCodec().decode(b'{"args":["1672916271846"],"op":"pong"}') == [Pong(venue="bybit", ts=1672916271846)]


@pytest.mark.parametrize("frame", [b"{}", b'{"topic":"kline.1.BTCUSDT","type":"snapshot","data":[{"start":1}]}',
                                   b'{"op":"auth","success":true}'])
def test_decode_unknown_kinds_are_counted_not_fatal(frame):
    codec = BybitCodec()
    assert codec.decode(frame) == []
    assert sum(codec.stats.unknown.values()) == 1


@pytest.mark.parametrize("frame", [b"[]", b"not json", b'{"topic":"orderbook.50.BTCUSDT","type":"delta","data":[]}',
                                   b'{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":""}}',
                                   b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","data":{"s":"X"}}'])
def test_decode_broken_frames_raise_decode_error_with_venue(frame):
    codec = BybitCodec()
    with pytest.raises(DecodeError) as err:
        codec.decode(frame)
    assert err.value.venue == "bybit"
    assert codec.stats.errors == 1
