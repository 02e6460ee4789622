"""Per-connection session bootstrap: what a venue needs before and while a socket is open.

Most connections need nothing. Aster and Binance user data need a listenKey (POST before
connecting, PUT every 30 minutes, a new one after ``listenKeyExpired``); KuCoin needs a
bullet-public token and endpoint before every connect; Backpack's ``account.*`` streams need an
ED25519 subscribe signature made just before every connect; Hyperliquid needs its coin list. A
``Session`` turns that into URL parameters for ``codec.url`` and a keepalive duty, reading API
keys only when it uses them.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.config import StreamConfig
from actors.pacing import now_ms
from actors.rest import RestClient
from market.errors import ConfigError
from venues.base import Channel, Codec

log = logging.getLogger(__name__)


class Session:
    """No bootstrap: connect to ``codec.url(route)`` as is."""

    keepalive_interval_s: float | None = None
    account_in_url = False  # True when the URL itself selects the account's user data

    async def connect_params(self, codec: Codec, rest: RestClient) -> dict[str, Any]:
        return {}

    async def keepalive(self, codec: Codec, rest: RestClient) -> None:
        return None

    def expire(self) -> None:
        return None


class ListenKeySession(Session):
    """Binance-style user data: a listenKey created by POST and kept alive by PUT."""

    keepalive_interval_s = 30 * 60.0
    account_in_url = True

    def __init__(self, config: StreamConfig):
        if config.api_key is None:
            raise ConfigError(f"streams[{config.venue}/{config.name}].api_key: user data needs an API key")
        self._api_key_ref = config.api_key
        self.listen_key: str | None = None

    async def connect_params(self, codec: Codec, rest: RestClient) -> dict[str, Any]:
        if self.listen_key is None:
            body = await rest.fetch(codec.listen_key_request("POST", api_key=self._api_key_ref.read()))
            self.listen_key = codec.decode_listen_key(body)
        return {"listen_key": self.listen_key}

    async def keepalive(self, codec: Codec, rest: RestClient) -> None:
        if self.listen_key is not None:
            await rest.fetch(codec.listen_key_request("PUT", api_key=self._api_key_ref.read()))

    def expire(self) -> None:
        self.listen_key = None


class BackpackAccountSession(Session):
    """Backpack ``account.*`` streams: the SUBSCRIBE carries an ED25519 signature that is only good
    for the venue's window (5 s), so the codec is authorised afresh before every connect; the
    secret is read from its ``SecretRef`` then and never kept (the codec keeps only the signature)."""

    def __init__(self, config: StreamConfig):
        if config.api_secret is None:
            raise ConfigError(f"streams[{config.venue}/{config.name}].api_secret: account streams need an API secret")
        self._secret_ref = config.api_secret

    async def connect_params(self, codec: Codec, rest: RestClient) -> dict[str, Any]:
        try:
            codec.authorize(self._secret_ref.read(), now_ms())
        except ValueError as exc:  # a secret that is no ED25519 seed; the message never holds the secret
            raise ConfigError(f"{codec.name}: api_secret: {exc}") from None
        return {}


class BulletSession(Session):
    """KuCoin: every connection starts with a bullet-public token and its endpoint."""

    def __init__(self) -> None:
        self._connects = 0

    async def connect_params(self, codec: Codec, rest: RestClient) -> dict[str, Any]:
        # decode_bullet keeps endpoint, token and ping schedule in the codec for url()/heartbeat()
        codec.decode_bullet(await rest.fetch(codec.bullet_request()))
        codec.reset_session()
        self._connects += 1
        return {"connect_id": f"perpwire-{self._connects}"}


class MetaSession(Session):
    """Hyperliquid: an unknown coin closes the whole socket, so the codec must know the venue's
    coins (its meta) before it builds a subscription; load it once per connection."""

    async def connect_params(self, codec: Codec, rest: RestClient) -> dict[str, Any]:
        codec.decode_instruments(await rest.fetch(codec.instruments_request()))
        return {}


def session_for(config: StreamConfig) -> Session:
    wants_account = any(s.channel is Channel.ACCOUNT for s in config.subscriptions)
    if config.venue in ("aster", "binance") and wants_account:
        return ListenKeySession(config)
    if config.venue == "backpack" and wants_account:
        return BackpackAccountSession(config)
    if config.venue == "kucoin":
        return BulletSession()
    if config.venue == "hyperliquid" and not config.codec_options.get("coins"):
        return MetaSession()
    return Session()
