"""Lighter account channels get and renew their auth token from the stream's session.

Unit tests drive ``LighterAccountSession`` against the real codec; the stream tests run a
``StreamConnection`` against the simulator (plain asyncio, no Ray), whose server ends an account
subscription when its token expires, so a session that failed to renew would lose updates.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import types

import aiohttp
import pytest

from perpwire.actors.app.config import SecretRef, StreamConfig
from perpwire.actors.streams.connection import StreamConnection
from perpwire.actors.streams.sessions import (
    LighterAccountSession,
    SecretTokenSource,
    Session,
    SignerTokenSource,
    lighter_token_source,
    session_for,
)
from perpwire.market.errors import ConfigError
from perpwire.market.events import FundingRate, OrderUpdate
from perpwire.simulator.server import Simulator
from perpwire.venues.lighter.codec import LighterCodec

ACCOUNT_SUBS = [{"channel": "funding_all"}, {"channel": "account"}]


def _config(**fields) -> StreamConfig:
    base = {"venue": "lighter", "name": "unified", "subscriptions": ACCOUNT_SUBS,
            "codec_options": {"account_index": 516}}
    return StreamConfig(**{**base, **fields})


def _token(ttl_s: float, account: int = 516, key: int = 3) -> str:
    return f"{int(time.time() + ttl_s)}:{account}:{key}:{'cd' * 16}"


async def until(pred, timeout: float = 8.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s")
        await asyncio.sleep(0.02)


# --- configuration and sources ------------------------------------------------------------------


def test_session_for_lighter_account_picks_the_token_session_only_when_configured(tmp_path):
    token_file = tmp_path / "token"
    assert isinstance(session_for(_config(auth_token={"file": str(token_file)})), LighterAccountSession)
    assert isinstance(session_for(_config(api_secret={"env": "LIGHTER_KEY"},
                                          codec_options={"account_index": 516, "api_key_index": 3})),
                      LighterAccountSession)
    assert type(session_for(_config())) is Session  # a static codec option token, as before
    assert type(session_for(_config(subscriptions=[{"channel": "funding_all"}],
                                    auth_token={"file": str(token_file)}))) is Session
    with pytest.raises(ConfigError, match=r"streams\[lighter/unified\]\.codec_options: .*api_key_index"):
        lighter_token_source(_config(api_secret={"env": "LIGHTER_KEY"}))


async def test_secret_token_source_rereads_the_file_every_time(tmp_path):
    path = tmp_path / "token"
    source = SecretTokenSource(SecretRef(file=path))
    path.write_text(_token(60) + "\n")
    first = await source()
    path.write_text(_token(120))
    assert await source() != first and first == first.strip()
    assert str(path) in repr(source) and first not in repr(source)


async def test_signer_source_without_lighter_sdk_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "lighter", None)  # the optional extra is not installed
    monkeypatch.setenv("LIGHTER_KEY", "0x" + "11" * 40)
    source = SignerTokenSource(SecretRef(env="LIGHTER_KEY"), 516, 3, "https://mainnet.zklighter.elliot.ai")
    with pytest.raises(ConfigError, match=r"lighter-sdk .*perpwire\[lighter\].*auth_token"):
        await source()


async def test_signer_source_mints_with_the_sdk_and_keeps_no_key(monkeypatch):
    calls = []

    class FakeSignerClient:  # the lighter-sdk surface the source uses
        def __init__(self, url, account_index, api_private_keys):
            calls.append(("init", url, account_index, dict(api_private_keys)))
            self.account_index = account_index

        def create_auth_token_with_expiry(self, deadline, *, api_key_index):
            calls.append(("mint", deadline, api_key_index))
            return f"{int(time.time()) + deadline}:{self.account_index}:{api_key_index}:{'ef' * 16}", None

        async def close(self):
            calls.append(("close",))

    monkeypatch.setitem(sys.modules, "lighter", types.SimpleNamespace(SignerClient=FakeSignerClient))
    key = "0x" + "22" * 40
    monkeypatch.setenv("LIGHTER_KEY", key)
    source = lighter_token_source(_config(api_secret={"env": "LIGHTER_KEY"},
                                          codec_options={"account_index": 516, "api_key_index": 3,
                                                         "rest_url": "https://testnet.zklighter.elliot.ai"}))
    token = await source()
    expiry, account, key_index, _ = token.split(":")
    assert (account, key_index) == ("516", "3")
    assert 7 * 3600 < int(expiry) - time.time() < 8 * 3600  # under the venue's 8 h cap
    assert calls == [("init", "https://testnet.zklighter.elliot.ai", 516, {3: key}), ("mint", 8 * 3600 - 600, 3),
                     ("close",)]
    assert key not in repr(vars(source)) and key not in repr(source)


async def test_signer_source_bad_key_error_quotes_nothing_of_the_key(monkeypatch):
    class RefusingSignerClient:
        def __init__(self, url, account_index, api_private_keys):
            raise Exception(f"encoding/hex: invalid byte in {api_private_keys[3]!r}")

    monkeypatch.setitem(sys.modules, "lighter", types.SimpleNamespace(SignerClient=RefusingSignerClient))
    monkeypatch.setenv("LIGHTER_KEY", "0xsecret-looking-key")
    source = SignerTokenSource(SecretRef(env="LIGHTER_KEY"), 516, 3, "https://mainnet.zklighter.elliot.ai")
    with pytest.raises(ConfigError) as err:
        await source()
    assert "api_secret is no usable API private key" in str(err.value) and "secret-looking" not in str(err.value)


# --- the session against the real codec ---------------------------------------------------------


async def test_session_sets_the_token_before_connect_and_schedules_renewal():
    tokens = [_token(3600)]

    async def source():
        return tokens[-1]

    codec = LighterCodec(account_index=516)
    session = LighterAccountSession(_config(), source, verify_s=0.2)
    assert await session.connect_params(codec, None) == {}
    frames = [json.loads(f) for f in codec.subscribe([s.to_subscription() for s in _config().subscriptions])]
    assert {f["channel"]: f.get("auth") for f in frames} == {
        "market_stats/all": None, "account_all/516": tokens[0], "account_all_orders/516": tokens[0]}
    assert session.keepalive_interval_s == 0.2  # watching for the venue's verdict
    for ch in ("account_all:516", "account_all_orders:516"):
        codec.decode(json.dumps({"channel": ch, "type": f"subscribed/{ch.partition(':')[0]}"}))
    assert await session.keepalive(codec, None) is None
    assert 2690 < session.keepalive_interval_s <= 2700  # 15 min before the hour-long token expires
    assert session.token_expiry_s == int(tokens[0].split(":")[0])


async def test_session_renews_with_reauth_frames_when_due():
    tokens = [_token(4)]

    async def source():
        return tokens[-1]

    codec = LighterCodec(account_index=516)
    session = LighterAccountSession(_config(), source, verify_s=0.1)
    await session.connect_params(codec, None)
    codec.subscribe([s.to_subscription() for s in _config().subscriptions])
    for ch in ("account_all:516", "account_all_orders:516"):
        codec.decode(json.dumps({"channel": ch, "type": f"subscribed/{ch.partition(':')[0]}"}))
    await session.keepalive(codec, None)
    assert 1.0 < session.keepalive_interval_s <= 2.0  # half the life of a short token
    assert await session.keepalive(codec, None) is None  # not due yet: nothing to send
    await asyncio.sleep(session.keepalive_interval_s)
    tokens.append(_token(4))
    frames = [json.loads(f) for f in await session.keepalive(codec, None)]
    assert [(f["type"], f["channel"], f.get("auth")) for f in frames] == [
        ("unsubscribe", "account_all/516", None), ("subscribe", "account_all/516", tokens[1]),
        ("unsubscribe", "account_all_orders/516", None), ("subscribe", "account_all_orders/516", tokens[1])]
    assert session.renewals == 1


async def test_session_refused_token_logged_once_then_replaced(caplog):
    bad, good = _token(600, key=9), _token(600)
    tokens = [bad]

    async def source():
        return tokens[-1]

    codec = LighterCodec(account_index=516)
    session = LighterAccountSession(_config(), source, retry_s=0.1, verify_s=0.05)
    await session.connect_params(codec, None)
    codec.subscribe([s.to_subscription() for s in _config().subscriptions])
    codec.decode(json.dumps({"error": {"code": 20013, "message": "invalid auth: account mismatch"}}))
    with caplog.at_level(logging.WARNING, logger="perpwire.actors.streams.sessions"):
        assert await session.keepalive(codec, None) is None  # the same token again: not re-sent
        assert await session.keepalive(codec, None) is None
    (line,) = [r.getMessage() for r in caplog.records if r.name == "perpwire.actors.streams.sessions"]
    assert "lighter/unified: account 516: the venue refused the auth token (20013 invalid auth" in line
    assert bad not in line and not codec.has_auth_token and session.keepalive_interval_s == 0.1
    tokens.append(good)
    frames = [json.loads(f) for f in await session.keepalive(codec, None)]
    assert [f["auth"] for f in frames] == [good, good]  # nothing was live: subscribe only


async def test_session_without_any_usable_token_connects_for_market_data(caplog):
    async def source():
        return _token(-5)  # already expired

    codec = LighterCodec(account_index=516)
    session = LighterAccountSession(_config(), source, retry_s=0.1)
    with caplog.at_level(logging.WARNING, logger="perpwire.actors.streams.sessions"):
        await session.connect_params(codec, None)
        await session.keepalive(codec, None)
    frames = [json.loads(f) for f in codec.subscribe([s.to_subscription() for s in _config().subscriptions])]
    assert frames == [{"type": "subscribe", "channel": "market_stats/all"}]
    (line,) = [r.getMessage() for r in caplog.records if r.name == "perpwire.actors.streams.sessions"]
    assert line.startswith("lighter/unified: account 516: token expired")


# --- the stream against the simulator -----------------------------------------------------------


async def _place_resting_order(http: aiohttp.ClientSession, rest_url: str, key, client_index: int) -> None:
    """A limit buy at the lowest price: it rests, so every one is in the account's open orders."""
    async with http.get(f"{rest_url}/api/v1/nextNonce",
                        params={"account_index": key.account, "api_key_index": key.key}) as r:
        nonce = (await r.json())["nonce"]
    info = {"AccountIndex": int(key.account), "ApiKeyIndex": int(key.key), "MarketIndex": 1,
            "ClientOrderIndex": client_index, "BaseAmount": 100, "Price": 1, "IsAsk": 0, "Type": 0,
            "TimeInForce": 1, "Nonce": nonce, "Sig": "unchecked-by-the-simulator"}
    async with http.post(f"{rest_url}/api/v1/sendTx", data={"tx_type": "14", "tx_info": json.dumps(info)}) as r:
        assert r.status == 200, await r.text()


def _stream(sim, key, session_factory) -> StreamConnection:
    urls = sim.urls["lighter"]
    config = _config(codec_options={"ws_url": urls["ws"], "rest_url": urls["rest"],
                                    "account_index": int(key.account)})
    return StreamConnection(config, session=session_factory(config), resync_by_resubscribe=True)


def _order_clients(conn: StreamConnection) -> set[str]:
    return {e.client_order_id for e in conn.user_events if isinstance(e, OrderUpdate)}


async def test_short_lived_tokens_renew_on_the_open_socket_and_no_order_update_is_lost():
    async with Simulator(seed=11, venues=("lighter",), history_days=1) as sim:
        key = sim.new_api_key("lighter")
        server = sim.venues["lighter"]
        urls = sim.urls["lighter"]
        minted = []
        placing: list[asyncio.Task] = []
        async with aiohttp.ClientSession() as http:

            async def source():  # a 4 s token each time; every renewal races an order in flight
                minted.append(server.issue_token(key.account, key.key, 4))
                if len(minted) > 1:
                    placing.append(asyncio.ensure_future(_place_resting_order(http, urls["rest"], key,
                                                                              900 + len(minted))))
                return minted[-1]

            conn = _stream(sim, key, lambda c: LighterAccountSession(c, source, verify_s=0.2))
            await conn.start()
            try:
                await until(lambda: conn.codec.private_live, what="account channels live")
                expected = set()
                for i in range(24):  # one order every 0.25 s for 6 s: before, during, after renewals
                    await _place_resting_order(http, urls["rest"], key, 100 + i)
                    expected.add(str(100 + i))
                    await asyncio.sleep(0.25)
                await asyncio.gather(*placing)
                expected |= {str(900 + n) for n in range(2, len(minted) + 1)}
                await until(lambda: expected <= _order_clients(conn), timeout=3.0, what="every order update")
                assert conn._session.renewals >= 2 and len(minted) == conn._session.renewals + 1
                assert server.expired_subs == 0  # every token was replaced before it expired
                assert conn.stats().reconnects == 0
                assert len([c for c in sim.stats("lighter")["connections"] if c["closed_ms"] is None]) == 1
                assert any(isinstance(e, FundingRate) for e in conn.funding.values())
            finally:
                await conn.stop()


@pytest.mark.parametrize(("case", "problem"), [
    ("expired", "token expired"),  # seen before sending: the account channels are held back
    ("unregistered key", "the venue refused the auth token (20013 invalid auth: account mismatch)"),
])
async def test_bad_token_logged_once_market_data_flows_then_recovers_from_the_rotated_file(
        tmp_path, caplog, case, problem):
    async with Simulator(seed=12, venues=("lighter",), history_days=1) as sim:
        key = sim.new_api_key("lighter")
        server = sim.venues["lighter"]
        path = tmp_path / "lighter.token"
        if case == "expired":
            bad = f"{int(time.time()) - 30}:{key.account}:{key.key}:{'ab' * 16}"
        else:
            bad = server.issue_token(key.account, "254", 600)  # no such API key on the account
        path.write_text(bad)
        conn = _stream(sim, key, lambda c: LighterAccountSession(
            c.model_copy(update={"auth_token": SecretRef(file=path)}), retry_s=0.3, verify_s=0.2))
        with caplog.at_level(logging.INFO, logger="perpwire.actors.streams.sessions"):
            await conn.start()
            try:
                await until(lambda: conn.stats().market_events > 0, what="market data without a token")
                await asyncio.sleep(1.0)  # several retries: still one line
                lines = [r.getMessage() for r in caplog.records if r.name == "perpwire.actors.streams.sessions"]
                assert len(lines) == 1, lines
                assert lines[0].startswith(f"lighter/unified: account {key.account}: {problem}")
                assert not conn.codec.private_live
                good = server.issue_token(key.account, key.key, 600)
                path.write_text(good)  # an external process rotates the file
                await until(lambda: conn.codec.private_live, what="account channels after rotation")
                async with aiohttp.ClientSession() as http:
                    await _place_resting_order(http, sim.urls["lighter"]["rest"], key, 4242)
                await until(lambda: "4242" in _order_clients(conn), what="order update after recovery")
                assert conn.stats().reconnects == 0
                text = "\n".join(r.getMessage() for r in caplog.records)
                assert "usable again" in text and bad not in text and good not in text
            finally:
                await conn.stop()
