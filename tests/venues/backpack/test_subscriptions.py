"""Backpack subscribe/unsubscribe frames and the ED25519 signature of private streams."""

from __future__ import annotations

import base64
import json

import pytest
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from perpwire import venues
from perpwire.market.errors import SubscriptionError
from perpwire.venues.backpack import auth
from perpwire.venues.base import Channel, Subscription
from tests.venues.backpack.helpers import SECRET, SEED, fx_json

TS = 1614550000000  # the docs' signing example


def _verify(signature: list[str], message: bytes) -> None:
    VerifyKey(base64.b64decode(signature[0])).verify(message, base64.b64decode(signature[1]))


def test_subscribe_public_matches_docs_frame():
    codec = venues.codec("backpack")
    [frame] = codec.subscribe([Subscription(Channel.DEPTH, "SOL_USDC")])
    assert json.loads(frame) == fx_json("subscribe_public.json")


def test_unsubscribe_has_the_docs_shape():
    codec = venues.codec("backpack")
    [frame] = codec.unsubscribe([Subscription(Channel.BBO, "SOL_USDC")])
    want = fx_json("unsubscribe.json")  # params hold a literal "stream" placeholder
    assert json.loads(frame) == want | {"params": ["bookTicker.SOL_USDC"]}


def test_topics_for_each_channel():
    codec = venues.codec("backpack")
    got = {ch: codec.topics(Subscription(ch, "BTC_USDC_PERP")) for ch in
           (Channel.DEPTH, Channel.BBO, Channel.FUNDING, Channel.TRADES, Channel.LIQUIDATIONS)}
    assert got == {
        Channel.DEPTH: ["depth.BTC_USDC_PERP"], Channel.BBO: ["bookTicker.BTC_USDC_PERP"],
        Channel.FUNDING: ["markPrice.BTC_USDC_PERP"], Channel.TRADES: ["trade.BTC_USDC_PERP"],
        Channel.LIQUIDATIONS: ["liquidation"],
    }
    assert codec.topics(Subscription(Channel.ACCOUNT)) == ["account.orderUpdate", "account.positionUpdate"]
    assert codec.topic(Subscription(Channel.ACCOUNT, "SOL_USDC_PERP")) == "account.orderUpdate.SOL_USDC_PERP"


def test_topics_depth_window_option_picks_the_aggregated_stream():
    codec = venues.codec("backpack", depth_window="200ms")
    assert codec.topic(Subscription(Channel.DEPTH, "ETH_USDC_PERP")) == "depth.200ms.ETH_USDC_PERP"
    with pytest.raises(ValueError, match="depth_window"):
        venues.codec("backpack", depth_window="100ms")  # the venue answers 4008


@pytest.mark.parametrize("sub", [Subscription(Channel.BOOK, "BTC_USDC_PERP"), Subscription(Channel.FUNDING_ALL),
                                 Subscription(Channel.DEPTH)])
def test_topics_channels_the_venue_lacks_raise_subscription_error(sub):
    with pytest.raises(SubscriptionError):
        venues.codec("backpack").topic(sub)


def test_subscribe_many_streams_split_below_the_largest_seen_frame():
    codec = venues.codec("backpack")
    subs = [Subscription(ch, f"S{i}_USDC_PERP") for i in range(100) for ch in (Channel.DEPTH, Channel.BBO)]
    frames = [json.loads(f) for f in codec.subscribe(subs)]
    assert [len(f["params"]) for f in frames] == [90, 90, 20]
    assert frames[0]["params"][:2] == ["depth.S0_USDC_PERP", "bookTicker.S0_USDC_PERP"]


def test_subscribe_private_without_authorize_raises():
    with pytest.raises(SubscriptionError, match="authorize"):
        venues.codec("backpack").subscribe([Subscription(Channel.ACCOUNT)])


def test_subscribe_private_signature_matches_shape_and_verifies():
    codec = venues.codec("backpack")
    codec.authorize(SECRET, TS)
    public, private = codec.subscribe([Subscription(Channel.DEPTH, "SOL_USDC"), Subscription(Channel.ACCOUNT)])
    assert json.loads(public) == {"method": "SUBSCRIBE", "params": ["depth.SOL_USDC"]}
    msg = json.loads(private)
    want = fx_json("subscribe_private_constructed.json")
    assert msg["method"] == want["method"] and msg["params"] == want["params"]
    assert msg["signature"][2:] == want["signature"][2:] == ["1614550000000", "5000"]
    assert msg["signature"][0] == base64.b64encode(bytes(SigningKey(SEED).verify_key)).decode()
    _verify(msg["signature"], b"instruction=subscribe&timestamp=1614550000000&window=5000")
    with pytest.raises(BadSignatureError):  # streams are not part of the signed text
        _verify(msg["signature"], b"instruction=subscribe&timestamp=1614550000001&window=5000")


def test_unsubscribe_private_carries_the_signature_when_there_is_one():
    codec = venues.codec("backpack")
    [bare] = codec.unsubscribe([Subscription(Channel.ACCOUNT)])
    assert "signature" not in json.loads(bare)
    codec.authorize(SECRET, TS, window_ms=60_000)
    [signed] = codec.unsubscribe([Subscription(Channel.ACCOUNT)])
    assert json.loads(signed)["signature"][3] == "60000"


def test_auth_subscribe_signature_is_a_pure_function_of_seed_and_time():
    a = auth.subscribe_signature(SECRET, TS)
    assert a == auth.subscribe_signature(SECRET, TS)  # ED25519 is deterministic
    assert a != auth.subscribe_signature(SECRET, TS + 1)
    # a 64-byte seed + public key pair signs as its seed
    pair = base64.b64encode(SEED + bytes(SigningKey(SEED).verify_key)).decode()
    assert auth.subscribe_signature(pair, TS) == a


@pytest.mark.parametrize(("secret", "window", "match"), [
    ("not base64!", 5000, "not base64"), (base64.b64encode(b"short").decode(), 5000, "32-byte"),
    (SECRET, 0, "window"), (SECRET, 60_001, "window"),
])
def test_auth_bad_secret_or_window_raises_without_echoing_the_secret(secret, window, match):
    with pytest.raises(ValueError, match=match) as info:
        auth.subscribe_signature(secret, TS, window)
    assert SECRET not in str(info.value) and secret not in str(info.value)
