"""Per-connection session bootstrap: what a venue needs before and while a socket is open.

The codec names the kind it needs (``Codec.session_kind`` → a ``SessionKind``) and this module
implements each kind once, for whichever venue asks: ``plain`` (nothing); ``listen_key`` (user
data behind a key made by POST before connecting, PUT every 30 minutes, a new one after the
venue says it expired: Binance, Aster); ``bullet`` (a token and endpoint fetched before every
connect: KuCoin); ``signed_subscribe`` (a subscribe signature made just before every connect:
Backpack's account streams); ``auth_token`` (an expiring token obtained before connect and
renewed on the open socket: Lighter's account channels); ``instruments`` (the venue's instrument
list loaded first: Hyperliquid). A ``Session`` turns that into URL parameters for ``codec.url``
and a keepalive duty, reading API keys only when it uses them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from perpwire import venues
from perpwire.actors.app.config import SecretRef, StreamConfig
from perpwire.actors.pacing import now_ms
from perpwire.actors.rest import RestClient
from perpwire.market.errors import ConfigError
from perpwire.venues.base import Codec, SessionKind
from perpwire.venues.lighter.auth import (
    MAX_SIGNED_LIFETIME_S,
    RENEW_LEAD_S,
    TokenInfo,
    parse_token,
    renew_after_s,
    token_problem,
)
from perpwire.venues.lighter.rest import REST_URL as LIGHTER_REST_URL

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


TokenSource = Callable[[], Awaitable[str]]


class SecretTokenSource:
    """A ready Lighter auth token kept in an environment variable or a file by someone else (a
    read-only token made once, or a process that signs and rotates the file); read afresh at
    every renewal and never kept by the source."""

    def __init__(self, ref: SecretRef):
        self._ref = ref

    async def __call__(self) -> str:
        return self._ref.read()

    def __repr__(self) -> str:
        return f"SecretTokenSource({self._ref!r})"


class SignerTokenSource:
    """Mints signed Lighter auth tokens offline with the native signer of the optional
    ``lighter-sdk`` package, from the API private key (read from its ``SecretRef`` for each token
    and dropped right after). ``lifetime_s`` stays under the venue's 8 h so clock skew cannot
    push a token past it."""

    def __init__(self, key: SecretRef, account_index: int, api_key_index: int, url: str,
                 lifetime_s: int = MAX_SIGNED_LIFETIME_S - 600):
        self._key_ref = key
        self.account_index = account_index
        self.api_key_index = api_key_index
        self._url = url
        self.lifetime_s = lifetime_s

    async def __call__(self) -> str:
        try:
            from lighter import SignerClient  # optional extra: pip install 'perpwire[lighter]'
        except ImportError:
            raise ConfigError("lighter: minting auth tokens needs the optional lighter-sdk package "
                              "(pip install 'perpwire[lighter]'), or give auth_token instead") from None
        key = self._key_ref.read()
        try:
            client = SignerClient(url=self._url, account_index=self.account_index,
                                  api_private_keys={self.api_key_index: key})
        except Exception as exc:  # the signer's own text may quote parts of the key: name only its type
            raise ConfigError(f"lighter: api_secret is no usable API private key (the signer refused it: "
                              f"{type(exc).__name__})") from None
        try:
            token, err = client.create_auth_token_with_expiry(self.lifetime_s, api_key_index=self.api_key_index)
        finally:
            await client.close()
        if err or not token:
            raise ConfigError(f"lighter: the signer made no auth token ({err})")
        return token

    def __repr__(self) -> str:
        return f"SignerTokenSource(account_index={self.account_index}, api_key_index={self.api_key_index})"


def lighter_token_source(config: StreamConfig) -> TokenSource:
    """The configured source: ``auth_token`` (a ready token), else ``api_secret`` (the API
    private key, minted with ``lighter-sdk``; needs ``account_index`` and ``api_key_index``)."""
    where = f"streams[{config.venue}/{config.name}]"
    if config.auth_token is not None:
        return SecretTokenSource(config.auth_token)
    if config.api_secret is None:
        raise ConfigError(f"{where}.auth_token: Lighter account channels need auth_token or api_secret")
    opts = config.codec_options
    if opts.get("account_index") is None or opts.get("api_key_index") is None:
        raise ConfigError(f"{where}.codec_options: minting Lighter auth tokens needs account_index and api_key_index")
    return SignerTokenSource(config.api_secret, int(opts["account_index"]), int(opts["api_key_index"]),
                             str(opts.get("rest_url", LIGHTER_REST_URL)))


class LighterAccountSession(Session):
    """Lighter account channels (``account_all/{ACCOUNT}``, ``account_all_orders/{ACCOUNT}``) on the
    unified socket: their subscribe frames carry an auth token that expires (at most 8 h).

    Before every connect the codec gets a usable token (the current one while it is good, else a
    new one from the source); the connection's keepalive loop then wakes when renewal is due —
    15 min before expiry, or after half the life of a short token — and sends the codec's
    ``reauth_frames()`` on the open socket: no reconnect, and market data on the same socket never
    waits. Soon after a token was sent the session checks that the venue took it (every account
    channel delivered its snapshot) or refused it (20013). A token that is unusable — malformed,
    expired, for another account, refused — is logged once, with venue/stream and account but
    never the token, and the account channels wait (held back by the codec) while the session asks
    the source again every ``retry_s``; it recovers as soon as the source gives a good one.
    """

    def __init__(self, config: StreamConfig, source: TokenSource | None = None, *, lead_s: float = RENEW_LEAD_S,
                 retry_s: float = 5.0, verify_s: float = 1.0):
        self._source = source if source is not None else lighter_token_source(config)
        self._ctx = f"{config.venue}/{config.name}"
        account = config.codec_options.get("account_index")
        self._account = int(account) if account is not None else None
        self._lead_s, self._retry_s, self._verify_s = lead_s, retry_s, verify_s
        self._token: str | None = None
        self._info: TokenInfo | None = None
        self._renew_at = 0.0  # wall-clock seconds
        self._check_until = 0.0  # until then, look for the venue's verdict on the token just sent
        self._refused: str | None = None  # a token the venue refused: not sent again
        self._problem: object = None  # what the problem last logged was about (each is logged once)
        self.renewals = 0

    @property
    def keepalive_interval_s(self) -> float:
        now = time.time()
        if self._token is None:
            return self._retry_s
        if now < self._check_until:
            return self._verify_s
        return min(3600.0, max(0.05, self._renew_at - now))

    @property
    def token_expiry_s(self) -> int | None:
        """Unix expiry of the token in use (None while there is none)."""
        return self._info.expiry_s if self._info is not None else None

    async def connect_params(self, codec: Codec, rest: RestClient) -> dict[str, Any]:
        codec.reset_session()
        codec.defer_private = True  # without a token the account channels wait, market data does not
        if self._token is None or time.time() >= self._renew_at:
            got = await self._fetch()
            if got is not None:
                self._adopt(codec, *got)
        if self._token is not None:
            codec.set_auth_token(self._token)
            self._check_until = time.time() + 30.0
        return {}

    async def keepalive(self, codec: Codec, rest: RestClient) -> list[str] | None:
        now = time.time()
        rejection = codec.auth_rejection
        if rejection is not None and self._token is not None:
            codec.auth_rejection = None
            self._refused = self._token
            self._drop(codec, f"the venue refused the auth token ({rejection.code} {rejection.message})")
        elif self._token is not None:
            if now < self._check_until and codec.private_live:
                self._check_until = 0.0  # taken: sleep until renewal
            if now < self._renew_at:
                return None
        got = await self._fetch()
        if got is None:
            if self._info is not None and token_problem(self._info, time.time(), self._account) is not None:
                self._drop(codec, "the auth token expired before a new one was available")
            self._renew_at = time.time() + self._retry_s
            return None
        if got[0] == self._token:  # the source still holds the current token: ask again soon
            self._renew_at = time.time() + self._retry_s
            return None
        self._adopt(codec, *got)
        self.renewals += 1
        return codec.reauth_frames()

    async def _fetch(self) -> tuple[str, TokenInfo] | None:
        try:
            token = (await self._source()).strip()
            info = parse_token(token)
        except Exception as exc:  # the source is a boundary: its failure must not end the connection
            text = f"no usable auth token from {self._source!r} ({type(exc).__name__}: {exc})"
            self._report(text, text)
            return None
        if token == self._refused:
            return None  # already logged as refused; wait for the source to change it
        problem = token_problem(info, time.time(), self._account)
        if problem is not None:
            self._report(problem, ("token", hash(token)))  # once per bad token, however often it is read
            return None
        return token, info

    def _adopt(self, codec: Codec, token: str, info: TokenInfo) -> None:
        now = time.time()
        self._token, self._info = token, info
        self._renew_at = now + renew_after_s(info, now, self._lead_s)
        self._check_until = now + 30.0
        codec.set_auth_token(token)
        if self._problem is not None:
            log.info("%s: account %s: auth token usable again (expires in %.0f s)", self._ctx, info.account_index,
                     info.expiry_s - now)
        self._problem = None

    def _drop(self, codec: Codec, problem: str) -> None:
        self._token, self._info = None, None
        codec.set_auth_token(None)
        self._report(problem, problem)

    def _report(self, problem: str, key: object) -> None:
        if key != self._problem:
            self._problem = key
            log.warning("%s: account %s: %s; account channels wait for a good auth token (asking again every %.1f s)",
                        self._ctx, self._account, problem, self._retry_s)


#: how each kind of session is made from the connection's config
SESSIONS: Mapping[SessionKind, Callable[[StreamConfig], Session]] = {
    SessionKind.PLAIN: lambda config: Session(),
    SessionKind.LISTEN_KEY: ListenKeySession,
    SessionKind.SIGNED_SUBSCRIBE: BackpackAccountSession,
    SessionKind.BULLET: lambda config: BulletSession(),
    SessionKind.INSTRUMENTS: lambda config: MetaSession(),
    SessionKind.AUTH_TOKEN: LighterAccountSession,
}

_CREDENTIALS = ("api_key", "api_secret", "auth_token")


def session_for(config: StreamConfig) -> Session:
    """The session the venue's codec asks for, for what this connection subscribes and the
    credentials configured for it (their names only: no secret is read here)."""
    channels = frozenset(s.channel for s in config.subscriptions)
    credentials = frozenset(f for f in _CREDENTIALS if getattr(config, f) is not None)
    kind = venues.codec_class(config.venue).session_kind(channels, config.codec_options, credentials)
    try:
        make = SESSIONS[SessionKind(kind)]
    except (KeyError, ValueError):
        raise ConfigError(f"streams[{config.venue}/{config.name}]: the codec asks for session kind {kind!r}; "
                          f"known: {', '.join(SessionKind)}") from None
    return make(config)
