"""Hyperliquid subscriptions: coin checks (one bad coin kills the socket), frames, topics, options."""

from __future__ import annotations

import json

import pytest

from perpwire.market.errors import ConfigError, SubscriptionError
from perpwire.venues.base import Channel, Subscription
from perpwire.venues.hyperliquid.codec import HyperliquidCodec
from perpwire.venues.hyperliquid.subscriptions import coin_asset, coin_multiplier, topic_of
from tests.venues.hyperliquid.helpers import USER, codec, fixture

BOOK_BTC = Subscription(Channel.BOOK, "BTC")


def test_subscribe_book_matches_recorded_frame():
    assert codec().subscribe([BOOK_BTC]) == [fixture("subscribe_l2Book.json").decode().strip()]


def test_subscribe_book_fast_option_matches_recorded_frame():
    assert codec(fast=True).subscribe([BOOK_BTC]) == [fixture("subscribe_l2Book_fast.json").decode().strip()]


def test_subscribe_unknown_coin_refused_naming_it():
    c = codec()
    with pytest.raises(SubscriptionError, match="'NOPE'"):
        c.subscribe([BOOK_BTC, Subscription(Channel.BBO, "NOPE")])
    assert c.plan.active == {}  # nothing half-subscribed: the good sub was not sent either


@pytest.mark.parametrize("coin", ["btc", "SP500", "XYZ:SP500", ""])
def test_subscribe_names_the_venue_would_reject_are_refused(coin):
    with pytest.raises(SubscriptionError):
        codec().subscribe([Subscription(Channel.TRADES, coin)])


def test_subscribe_wrong_case_hints_the_right_name():
    with pytest.raises(SubscriptionError, match="did you mean 'BTC'"):
        codec().subscribe([Subscription(Channel.FUNDING, "btc")])


def test_subscribe_without_meta_refuses_every_coin():
    with pytest.raises(SubscriptionError, match="no meta loaded"):
        HyperliquidCodec().subscribe([BOOK_BTC])


def test_subscribe_after_meta_decode_accepts_live_coin_and_refuses_delisted():
    c = HyperliquidCodec()
    c.decode_instruments(fixture("rest_meta.json"))
    assert c.subscribe([Subscription(Channel.BBO, "ATOM")]) == [
        '{"method":"subscribe","subscription":{"type":"bbo","coin":"ATOM"}}'
    ]
    c.decode_instruments(b'{"universe":[{"name":"ATOM","szDecimals":2,"maxLeverage":5,"isDelisted":true}]}')
    with pytest.raises(SubscriptionError, match="delisted"):
        c.subscribe([Subscription(Channel.BBO, "ATOM")])


def test_subscribe_after_funding_decode_learns_coins():
    c = HyperliquidCodec()
    c.decode_funding(fixture("rest_metaAndAssetCtxs_docs.json"))
    frames = c.subscribe([Subscription(Channel.FUNDING, "HPOS")])
    assert json.loads(frames[0])["subscription"] == {"type": "activeAssetCtx", "coin": "HPOS"}


def test_subscribe_one_frame_per_subscription_and_channel_map():
    frames = codec().subscribe([
        Subscription(Channel.BBO, "ETH"), Subscription(Channel.FUNDING, "kPEPE"), Subscription(Channel.TRADES, "SOL"),
        Subscription(Channel.BBO), Subscription(Channel.TRADES, "SOL"),
    ])
    subs = [json.loads(f)["subscription"] for f in frames]
    assert subs == [
        {"type": "bbo", "coin": "ETH"}, {"type": "activeAssetCtx", "coin": "kPEPE"},
        {"type": "trades", "coin": "SOL"}, {"type": "allMids"},
    ]


def test_subscribe_book_aggregation_options_in_body():
    [frame] = codec(n_sig_figs=5, mantissa=2).subscribe([BOOK_BTC])
    assert json.loads(frame)["subscription"] == {"type": "l2Book", "coin": "BTC", "nSigFigs": 5, "mantissa": 2}


def test_subscribe_account_one_frame_per_user_channel():
    c = codec(user=USER)
    frames = c.subscribe([Subscription(Channel.ACCOUNT)])
    assert [json.loads(f)["subscription"] for f in frames] == [
        {"type": "orderUpdates", "user": USER}, {"type": "userFills", "user": USER},
        {"type": "userFundings", "user": USER},
    ]
    topics = [f"orderUpdates:{USER}", f"userFills:{USER}", f"userFundings:{USER}"]
    assert c.topics(Subscription(Channel.ACCOUNT)) == topics


def test_subscribe_account_without_user_refused():
    with pytest.raises(SubscriptionError, match="user="):
        codec().subscribe([Subscription(Channel.ACCOUNT)])


@pytest.mark.parametrize("channel", [Channel.FUNDING_ALL, Channel.LIQUIDATIONS, Channel.DEPTH])
def test_subscribe_channels_the_venue_lacks_refused(channel):
    with pytest.raises(SubscriptionError):
        codec().subscribe([Subscription(channel, None if channel is not Channel.DEPTH else "BTC")])


def test_subscribe_over_venue_cap_refused():
    c = codec(max_subscriptions=2)
    c.subscribe([BOOK_BTC, Subscription(Channel.BBO, "BTC")])
    with pytest.raises(SubscriptionError, match="cap 2"):
        c.subscribe([Subscription(Channel.TRADES, "BTC")])


def test_subscribe_again_replays_frames_for_reconnect():
    c = codec()
    first = c.subscribe([BOOK_BTC])
    assert c.subscribe([BOOK_BTC]) == first


def test_unsubscribe_echoes_the_body_sent():
    c = codec(n_sig_figs=3)
    c.subscribe([BOOK_BTC])
    [frame] = c.unsubscribe([BOOK_BTC])
    sent = {"type": "l2Book", "coin": "BTC", "nSigFigs": 3}
    assert json.loads(frame) == {"method": "unsubscribe", "subscription": sent}
    assert c.plan.active == {}


def test_unsubscribe_never_subscribed_unknown_coin_refused():
    with pytest.raises(SubscriptionError, match="'NOPE'"):
        codec().unsubscribe([Subscription(Channel.BOOK, "NOPE")])


def test_topic_matches_ack_topic():
    c = codec()
    [ack] = c.decode(fixture("subscriptionResponse.json"))
    assert c.topic(BOOK_BTC) == ack.channels[0] == "l2Book:BTC"
    assert c.topic(Subscription(Channel.BBO)) == "allMids"


def test_topic_of_user_events_is_channel_user():
    assert topic_of({"type": "userEvents", "user": USER.upper().replace("0X", "0x")}) == f"user:{USER}"


@pytest.mark.parametrize(
    "options",
    [{"n_sig_figs": 1}, {"mantissa": 2}, {"n_sig_figs": 4, "mantissa": 2}, {"user": "0xabc"}, {"user_channels": ()},
     {"user_channels": ("webData3",)}],
)
def test_codec_bad_options_raise_config_error(options):
    with pytest.raises(ConfigError):
        HyperliquidCodec(**options)


def test_url_is_the_ws_url_option():
    c = HyperliquidCodec(ws_url="ws://127.0.0.1:9999/ws")
    assert c.url() == c.url("user") == "ws://127.0.0.1:9999/ws"


@pytest.mark.parametrize(
    ("coin", "asset", "mult"),
    [("BTC", "BTC", 1), ("kPEPE", "PEPE", 1000), ("xyz:SP500", "SP500", 1), ("SUSD", "SUSD", 1)],
)
def test_coin_asset_strips_only_multiplier_and_dex(coin, asset, mult):
    assert (coin_asset(coin), coin_multiplier(coin)) == (asset, mult)
