"""KuCoin session: bullet token → URL and heartbeat schedule, welcome, pings, subscriptions and acks."""

from __future__ import annotations

import json

import pytest

from perpwire.market.errors import SubscriptionError
from perpwire.market.events import Connected, Ping, Pong, Subscribed, Unsubscribed, VenueRejected
from perpwire.venues.base import Channel, Subscription
from perpwire.venues.kucoin import KucoinCodec
from tests.conftest import FIXTURES_DIR, fixture_loader

FIXTURES = FIXTURES_DIR / "kucoin"


load = fixture_loader("kucoin")


def test_bullet_request_posts_bullet_public_on_rest_url_option():
    req = KucoinCodec(rest_url="http://127.0.0.1:8123/").bullet_request()
    assert (req.method, req.url, req.params) == ("POST", "http://127.0.0.1:8123/api/v1/bullet-public", ())
    assert req.weight == 10


def test_decode_bullet_sdk_example_gives_url_and_heartbeat_schedule():
    codec = KucoinCodec()
    bullet = codec.decode_bullet(load("rest_bullet_public.json"))
    assert bullet.endpoint == "wss://ws-api-futures.kucoin.com/"
    assert bullet.token.startswith("2neAiuYvAU61ZDXANAGAsiL4") and bullet.token.endswith(".gJEIAywPXFr_4L-WG10eug==")
    assert (bullet.ping_interval_ms, bullet.ping_timeout_ms) == (18000, 10000)
    assert (codec.heartbeat_interval_s, codec.ping_timeout_s) == (18.0, 10.0)
    url = codec.url("market", connect_id="1731000000000000000")
    assert url == f"wss://ws-api-futures.kucoin.com/?token={bullet.token}&connectId=1731000000000000000"


def test_decode_bullet_docs_example_sets_instance_interval_not_class():
    codec = KucoinCodec()
    bullet = codec.decode_bullet(load("rest_bullet_public_docs.json"))
    assert codec.heartbeat_interval_s == 50.0
    assert KucoinCodec.heartbeat_interval_s == 18.0
    assert codec.url(connect_id=7) == f"wss://push.kucoin.com/endpoint?token={bullet.token}&connectId=7"
    assert bullet.token.endswith("IoORVxR2LmKV7_maOR9xOg==")


def test_decode_bullet_sandbox_capture_reads_sandbox_endpoint():
    codec = KucoinCodec()
    bullet = codec.decode_bullet(load("rest_bullet_public_sandbox_live.json"))
    assert bullet.endpoint == "wss://push-websocket-sandbox.kucoin.com/endpoint"
    assert (bullet.ping_interval_ms, codec.heartbeat_interval_s) == (50000, 50.0)


def test_url_ws_url_option_overrides_bullet_endpoint():
    codec = KucoinCodec(ws_url="ws://127.0.0.1:9000/ws?v=1")
    codec.decode_bullet(load("rest_bullet_public.json"))
    assert codec.url(connect_id="c1").startswith("ws://127.0.0.1:9000/ws?v=1&token=2neAiuYv")
    assert codec.url(connect_id="c1").endswith("&connectId=c1")


def test_url_without_bullet_raises_subscription_error():
    with pytest.raises(SubscriptionError, match="decode_bullet"):
        KucoinCodec().url("market", connect_id="1")


def test_url_user_stream_raises_subscription_error():
    codec = KucoinCodec()
    codec.decode_bullet(load("rest_bullet_public.json"))
    with pytest.raises(SubscriptionError):
        codec.url("user", connect_id="1")


@pytest.mark.parametrize(("name", "session"), [("welcome.json", "NSkIrWGB1s"), ("welcome_docs.json", "hQvf8jkno")])
def test_decode_welcome_gives_connected_with_connect_id(name, session):
    codec = KucoinCodec()
    assert codec.welcomed is False
    assert codec.decode(load(name)) == [Connected(venue="kucoin", session_id=session)]
    assert codec.welcomed is True
    codec.reset_session()
    assert codec.welcomed is False


def test_heartbeat_with_id_matches_docs_ping_frame():
    frame = KucoinCodec().heartbeat("1545910590801")
    assert json.loads(frame) == json.loads(load("ping.json"))


def test_heartbeat_without_id_uses_request_counter():
    codec = KucoinCodec(first_request_id=40)
    assert json.loads(codec.heartbeat()) == {"id": "40", "type": "ping"}
    assert json.loads(codec.heartbeat()) == {"id": "41", "type": "ping"}


def test_decode_pong_gives_pong():
    assert KucoinCodec().decode(load("pong.json")) == [Pong(venue="kucoin")]


def test_decode_venue_ping_gives_ping_and_pong_echoes_id():
    codec = KucoinCodec()
    [ping] = codec.decode(load("ping.json"))
    assert ping == Ping(venue="kucoin", payload="1545910590801")
    assert json.loads(codec.pong(ping)) == json.loads(load("pong.json"))


def test_topics_map_each_channel_to_kucoin_topics():
    codec = KucoinCodec()
    assert codec.topics(Subscription(Channel.FUNDING, "XBTUSDTM")) == (
        "/contract/instrument:XBTUSDTM", "/contract/announcement:XBTUSDTM",
    )
    assert codec.topic(Subscription(Channel.BOOK, "XBTUSDTM")) == "/contractMarket/level2Depth50:XBTUSDTM"
    assert KucoinCodec(book_depth=5).topic(Subscription(Channel.BOOK, "X")) == "/contractMarket/level2Depth5:X"
    assert codec.topic(Subscription(Channel.DEPTH, "ETHUSDTM")) == "/contractMarket/level2:ETHUSDTM"
    assert codec.topic(Subscription(Channel.BBO, "XBTUSDTM")) == "/contractMarket/tickerV2:XBTUSDTM"


@pytest.mark.parametrize("sub", [Subscription(Channel.LIQUIDATIONS, "XBTUSDTM"), Subscription(Channel.FUNDING_ALL),
                                 Subscription(Channel.ACCOUNT), Subscription(Channel.BBO)])
def test_topic_unsupported_or_symbolless_raises_subscription_error(sub):
    with pytest.raises(SubscriptionError):
        KucoinCodec().topic(sub)


def test_subscribe_frame_matches_live_request_framing_and_key_order():
    live = json.loads(load("subscribe_request_live_spot.json"))
    [frame] = KucoinCodec(first_request_id=1).subscribe([Subscription(Channel.BBO, "XBTUSDTM")])
    ours = json.loads(frame)
    assert ours == {**live, "topic": "/contractMarket/tickerV2:XBTUSDTM"}
    assert list(ours) == list(live)


def test_subscribe_ack_live_string_id_gives_subscribed_with_topic():
    codec = KucoinCodec(first_request_id=1)
    codec.subscribe([Subscription(Channel.DEPTH, "XBTUSDTM")])
    assert codec.decode(load("ack.json")) == [
        Subscribed(venue="kucoin", channels=("/contractMarket/level2:XBTUSDTM",), request_id="1")
    ]
    assert codec.decode(load("ack.json")) == []  # answered once; a repeat is counted, not fatal
    assert codec.stats.unknown["ack of an unknown request"] == 1


def test_subscribe_funding_sends_two_frames_each_acked_with_its_topic():
    docs = json.loads(load("subscribe_request.json"))
    codec = KucoinCodec(first_request_id=1545910660739)
    frames = codec.subscribe([Subscription(Channel.FUNDING, "XBTUSDTM")])
    assert [json.loads(f) for f in frames] == [
        {**docs, "topic": "/contract/instrument:XBTUSDTM"},
        {**docs, "id": 1545910660740, "topic": "/contract/announcement:XBTUSDTM"},
    ]
    assert codec.decode(load("ack_docs.json")) == [
        Subscribed(venue="kucoin", channels=("/contract/instrument:XBTUSDTM",), request_id="1545910660739")
    ]


def test_unsubscribe_ack_gives_unsubscribed_with_topic():
    docs = json.loads(load("unsubscribe_request.json"))
    codec = KucoinCodec(first_request_id=1545910840805)
    [frame] = codec.unsubscribe([Subscription(Channel.BBO, "XBTUSDM")])
    ours = json.loads(frame)
    assert str(ours.pop("id")) == docs.pop("id")
    assert ours == {**docs, "topic": "/contractMarket/tickerV2:XBTUSDM"}
    assert codec.decode(load("unsubscribe_ack.json")) == [
        Unsubscribed(venue="kucoin", channels=("/contractMarket/tickerV2:XBTUSDM",), request_id="1545910840805")
    ]


def test_subscribe_more_topics_than_a_connection_holds_raises():
    subs = [Subscription(Channel.FUNDING, f"S{i}USDTM") for i in range(51)]
    with pytest.raises(SubscriptionError, match="102 topics"):
        KucoinCodec().subscribe(subs)


def test_decode_error_frame_gives_venue_rejected_naming_the_topic():
    codec = KucoinCodec(first_request_id=5)
    codec.subscribe([Subscription(Channel.DEPTH, "NOPEUSDTM")])
    frame = b'{"id":"5","type":"error","code":404,"data":"topic /contractMarket/level2:NOPEUSDTM is not found"}'
    assert codec.decode(frame) == [VenueRejected(
        venue="kucoin", code="404", message="topic /contractMarket/level2:NOPEUSDTM is not found",
        request_id="5", channel="/contractMarket/level2:NOPEUSDTM",
    )]


def test_decode_outbound_request_fixtures_are_counted_unknown():
    codec = KucoinCodec()
    for name in ("subscribe_request.json", "unsubscribe_request.json", "subscribe_request_live_spot.json"):
        assert codec.decode(load(name)) == []
    assert codec.stats.unknown == {"subscribe": 2, "unsubscribe": 1}


def test_reset_session_forgets_unanswered_requests():
    codec = KucoinCodec(first_request_id=1)
    codec.subscribe([Subscription(Channel.BBO, "XBTUSDTM")])
    codec.reset_session()
    assert codec.decode(load("ack.json")) == []
