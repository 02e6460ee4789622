"""Lighter auth tokens: parsing, refusal rules, renewal timing, and the codec's re-authorisation of
account channels on an open socket."""

from __future__ import annotations

import json

import pytest

from perpwire.market.errors import SubscriptionError
from perpwire.market.events import Subscribed, Unsubscribed, VenueRejected
from perpwire.venues.base import Channel, Subscription
from perpwire.venues.lighter.auth import TokenInfo, parse_token, renew_after_s, token_problem
from perpwire.venues.lighter.codec import LighterCodec
from tests.conftest import FIXTURES_DIR, fixture_loader

FIX = FIXTURES_DIR / "lighter"
NOW = 1_785_431_774
ACCOUNT = [Subscription(Channel.ACCOUNT)]


_raw = fixture_loader("lighter")


def test_parse_signed_and_read_only_tokens():
    assert parse_token(f"{NOW + 600}:516:3:deadbeef") == TokenInfo(expiry_s=NOW + 600, account_index=516,
                                                                  api_key_index=3)
    assert parse_token(f"ro:516:all:{NOW + 86400}:00ff") == TokenInfo(expiry_s=NOW + 86400, account_index=516,
                                                                     api_key_index=None, read_only=True)


@pytest.mark.parametrize("bad", ["", "abc", "1:2:3", "x:516:3:ab", f"{NOW}:516:3:", "ro:516:some:1:ab",
                                 "ro:516:all:soon:ab"])
def test_parse_malformed_token_error_never_echoes_it(bad):
    with pytest.raises(ValueError) as err:
        parse_token(bad)
    assert bad == "" or bad not in str(err.value)


def test_token_problem_expired_too_long_wrong_account():
    signed = parse_token(f"{NOW + 600}:516:3:ab")
    assert token_problem(signed, NOW, 516) is None
    assert token_problem(signed, NOW + 601, 516) == "token expired 1 s ago"
    assert token_problem(signed, NOW, 517) == "token is for account 516, not 517"
    assert "8 h" in token_problem(parse_token(f"{NOW + 9 * 3600}:516:3:ab"), NOW, 516)
    # read-only tokens live up to 10 years
    assert token_problem(parse_token(f"ro:516:all:{NOW + 365 * 86400}:ab"), NOW, 516) is None


def test_renewal_lead_for_long_tokens_half_life_for_short_ones():
    assert renew_after_s(parse_token(f"{NOW + 8 * 3600}:516:3:ab"), NOW) == 8 * 3600 - 900
    assert renew_after_s(parse_token(f"{NOW + 1200}:516:3:ab"), NOW) == 600  # 20 min: half, not 5 min
    assert renew_after_s(parse_token(f"{NOW + 4}:516:3:ab"), NOW) == 2
    assert renew_after_s(parse_token(f"{NOW + 4}:516:3:ab"), NOW + 10) == 0


def test_deferred_account_channels_wait_for_a_token_market_data_does_not():
    codec = LighterCodec(account_index=516)
    codec.defer_private = True
    frames = codec.subscribe([Subscription(Channel.DEPTH, "1"), *ACCOUNT])
    assert [json.loads(f) for f in frames] == [{"type": "subscribe", "channel": "order_book/1"}]
    assert codec.private_channels == ("account_all/516", "account_all_orders/516") and not codec.private_live
    codec.set_auth_token(f"{NOW}:516:3:aa")
    assert [json.loads(f) for f in codec.reauth_frames()] == [
        {"type": "subscribe", "channel": "account_all/516", "auth": f"{NOW}:516:3:aa"},
        {"type": "subscribe", "channel": "account_all_orders/516", "auth": f"{NOW}:516:3:aa"},
    ]


def test_reauth_unsubscribes_live_channels_then_subscribes_with_the_new_token():
    old, new = f"{NOW}:516:3:aa", f"{NOW + 60}:516:3:bb"
    codec = LighterCodec(account_index=516, auth_token=old)
    codec.subscribe(ACCOUNT)
    ack, _ = codec.decode(_raw("account_all_orders_snapshot.json"))  # real testnet snapshot of account 516
    assert ack == Subscribed(venue="lighter", channels=("account_all_orders/516",))
    assert not codec.private_live  # account_all has not delivered its snapshot yet
    codec.decode(json.dumps({"channel": "account_all:516", "type": "subscribed/account_all"}))
    assert codec.private_live
    codec.set_auth_token(new)
    frames = [json.loads(f) for f in codec.reauth_frames()]
    assert frames == [
        {"type": "unsubscribe", "channel": "account_all/516"},
        {"type": "subscribe", "channel": "account_all/516", "auth": new},
        {"type": "unsubscribe", "channel": "account_all_orders/516"},
        {"type": "subscribe", "channel": "account_all_orders/516", "auth": new},
    ]
    assert not codec.private_live  # until the fresh snapshots arrive
    assert codec.decode(json.dumps({"type": "unsubscribed", "channel": "account_all_orders:516"})) == [
        Unsubscribed(venue="lighter", channels=("account_all_orders/516",))]


def test_auth_error_frames_are_kept_for_the_session_other_errors_are_not():
    codec = LighterCodec()
    codec.decode(_raw("error_already_subscribed.json"))
    assert codec.auth_rejection is None
    (ev,) = codec.decode(_raw("error_auth_required.json"))  # real 20001 "auth field is required"
    assert codec.auth_rejection == ev
    codec.auth_rejection = None
    deadline = json.dumps({"error": json.loads(_raw("rest_error_invalid_deadline.json"))})  # real 20013 body
    (ev,) = codec.decode(deadline)
    assert isinstance(ev, VenueRejected) and ev.code == "20013" and codec.auth_rejection == ev
    codec.set_auth_token(f"{NOW}:516:3:aa")
    codec.reauth_frames()
    assert codec.auth_rejection is None  # a new token starts with a clean slate


def test_reauth_without_token_refused_and_reset_forgets_channels():
    codec = LighterCodec(account_index=516)
    codec.defer_private = True
    codec.subscribe(ACCOUNT)
    with pytest.raises(SubscriptionError):
        codec.reauth_frames()
    codec.reset_session()
    codec.set_auth_token(f"{NOW}:516:3:aa")
    assert codec.private_channels == () and codec.reauth_frames() == []
