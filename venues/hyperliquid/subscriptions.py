"""What may be subscribed on Hyperliquid, and the frames that do it.

On this venue one bad coin name in a subscription (unknown, wrong case, a HIP-3 name without its
dex, a delisted coin) makes the server drop the whole socket about 100 ms later with no error
frame, killing every other subscription on it. ``Universe`` is the guard: it holds the names of
the live ``meta`` universe (learned by the REST decoders, or given up front), and ``check``
refuses anything else with a ``SubscriptionError`` naming the coin *before* a frame is built.
``SubscriptionPlan`` turns ``Subscription``s into the venue's one-object-per-frame
``{"method":"subscribe","subscription":{...}}``, keys them by topic (``"l2Book:BTC"``,
``"allMids"``, ``"userFills:0x…"``: what acks and error frames are matched on, since the venue
has no request ids) and remembers each body sent, because an unsubscribe must echo it exactly.

Coin names also map to the canonical asset perpwire matches across venues: "kPEPE" quotes 1000
PEPE (asset "PEPE", contract size 1000) and a HIP-3 name "xyz:SP500" is the asset "SP500" on the
builder dex "xyz".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import msgspec

from perpwire.market.errors import ConfigError, SubscriptionError
from perpwire.market.funding import asset, multiplier
from perpwire.venues.base import Channel, Subscription
from perpwire.venues.hyperliquid.schemas import HyperliquidMeta, HyperliquidSubscriptionEcho

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_COIN_TYPES = {Channel.BOOK: "l2Book", Channel.BBO: "bbo", Channel.FUNDING: "activeAssetCtx", Channel.TRADES: "trades"}
USER_TYPES = frozenset({"orderUpdates", "userFills", "userFundings", "userEvents"})
_ENCODE = msgspec.json.encode


class CoinInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What ``meta`` says about one coin; None where the coin was given by name only."""

    name: str
    index: int | None = None  # position in its dex's universe (the asset id on the first dex)
    sz_decimals: int | None = None
    max_leverage: int | None = None
    delisted: bool = False
    only_isolated: bool = False


def coin_base(coin: str) -> str:
    """The coin without its HIP-3 dex prefix: "xyz:SP500" -> "SP500"."""
    return coin.rpartition(":")[2]


def coin_multiplier(coin: str) -> int:
    """Units of the underlying per unit of the coin: 1000 for "kPEPE", else 1."""
    return multiplier(coin_base(coin))


def coin_asset(coin: str) -> str:
    """Canonical asset of a Hyperliquid coin: "BTC" -> "BTC", "kPEPE" -> "PEPE", "xyz:SP500" -> "SP500".

    Hyperliquid coin names are already bare bases, so only the multiplier prefix is removed; the
    generic quote-suffix stripping of ``market.funding.asset`` would mangle a coin whose name
    happens to end in "USD" or "PERP".
    """
    base = coin_base(coin)
    return asset(base) if multiplier(base) != 1 else base


class Universe:
    """Coin names the venue will accept; fed by ``learn(meta)`` and/or a fixed list of names."""

    def __init__(self, coins: Iterable[str] = ()):
        self._coins: dict[str, CoinInfo] = {}
        for name in coins:
            if not isinstance(name, str) or not name:
                raise SubscriptionError(f"hyperliquid: coin names must be non-empty strings, got {name!r}")
            self._coins[name] = CoinInfo(name=name)

    def learn(self, meta: HyperliquidMeta) -> list[CoinInfo]:
        """Record every coin of one dex's ``meta`` (a newer meta overrides what it names)."""
        infos = [
            CoinInfo(
                name=a.name, index=i, sz_decimals=a.szDecimals, max_leverage=a.maxLeverage,
                delisted=bool(a.isDelisted), only_isolated=bool(a.onlyIsolated),
            )
            for i, a in enumerate(meta.universe)
        ]
        for info in infos:
            self._coins[info.name] = info
        return infos

    def __contains__(self, coin: object) -> bool:
        info = self._coins.get(coin) if isinstance(coin, str) else None
        return info is not None and not info.delisted

    def __len__(self) -> int:
        return len(self._coins)

    def get(self, coin: str) -> CoinInfo | None:
        return self._coins.get(coin)

    def live(self) -> list[str]:
        """Names safe to subscribe, in the order they were learned."""
        return [name for name, info in self._coins.items() if not info.delisted]

    def check(self, coin: str | None, channel: str) -> str:
        """``coin`` if a subscription to it cannot kill the socket, else ``SubscriptionError``."""
        if not coin:
            raise SubscriptionError(f"hyperliquid: {channel} needs a coin")
        info = self._coins.get(coin)
        if info is not None and not info.delisted:
            return coin
        if info is not None:
            raise SubscriptionError(f"hyperliquid: coin {coin!r} is delisted; subscribing would close the socket")
        if not self._coins:
            raise SubscriptionError(
                f"hyperliquid: cannot check coin {coin!r}: no meta loaded (decode meta/metaAndAssetCtxs with "
                "decode_instruments or decode_funding, or pass coins=)"
            )
        hint = next((n for n in self._coins if n.lower() == coin.lower()), None)
        more = f" (did you mean {hint!r}? names are case-sensitive)" if hint else ""
        raise SubscriptionError(
            f"hyperliquid: unknown coin {coin!r}{more}; subscribing would close the whole socket"
        )


def topic_of(body: dict[str, Any] | HyperliquidSubscriptionEcho) -> str:
    """The topic key of a subscription body or of the venue's echo of it."""
    get = body.get if isinstance(body, dict) else lambda k: getattr(body, k, None)
    kind = get("type")
    kind = "user" if kind == "userEvents" else kind  # userEvents data arrives on channel "user"
    for part in ("coin", "user", "dex"):
        value = get(part)
        if value:
            return f"{kind}:{value.lower() if part == 'user' else value}"
    return kind


class SubscriptionPlan:
    """Builds (un)subscribe frames from ``Subscription``s; options as in ``HyperliquidCodec``."""

    def __init__(
        self, universe: Universe, *, user: str | None, n_sig_figs: int | None, mantissa: int | None, fast: bool,
        user_channels: Iterable[str], max_subscriptions: int,
    ):
        if n_sig_figs is not None and n_sig_figs not in (2, 3, 4, 5):
            raise ConfigError(f"hyperliquid n_sig_figs: must be 2-5 or None, got {n_sig_figs!r}")
        if mantissa is not None and (mantissa not in (1, 2, 5) or n_sig_figs != 5):
            raise ConfigError(f"hyperliquid mantissa: must be 1, 2 or 5 and needs n_sig_figs=5, got {mantissa!r}")
        if user is not None and not _ADDRESS.match(user):
            raise ConfigError("hyperliquid user: must be a 0x-prefixed 40-hex-digit address")
        self.user_channels = tuple(user_channels)
        if not self.user_channels or not set(self.user_channels) <= USER_TYPES:
            raise ConfigError(f"hyperliquid user_channels: choose from {sorted(USER_TYPES)}")
        self.universe = universe
        self.user = user
        self.n_sig_figs = n_sig_figs
        self.mantissa = mantissa
        self.fast = bool(fast)
        self.max_subscriptions = int(max_subscriptions)
        self.active: dict[str, dict[str, Any]] = {}  # topic -> body as sent

    def bodies(self, sub: Subscription) -> list[dict[str, Any]]:
        """The venue subscription objects for ``sub``; refuses anything that could kill the socket."""
        kind = _COIN_TYPES.get(sub.channel)
        if kind == "bbo" and sub.symbol is None:
            return [{"type": "allMids"}]
        if kind is not None:
            body: dict[str, Any] = {"type": kind, "coin": self.universe.check(sub.symbol, kind)}
            if kind == "l2Book":
                if self.n_sig_figs is not None:
                    body["nSigFigs"] = self.n_sig_figs
                if self.mantissa is not None:
                    body["mantissa"] = self.mantissa
                if self.fast:
                    body["fast"] = True
            return [body]
        if sub.channel is Channel.ACCOUNT:
            if self.user is None:
                raise SubscriptionError("hyperliquid: ACCOUNT needs the user= address option")
            if sub.symbol is not None:
                raise SubscriptionError("hyperliquid: ACCOUNT channels are per user, not per coin; use symbol=None")
            return [{"type": t, "user": self.user} for t in self.user_channels]
        if sub.channel is Channel.FUNDING_ALL:
            raise SubscriptionError("hyperliquid: no coin-keyed all-funding stream; use FUNDING per coin or REST")
        raise SubscriptionError(f"hyperliquid: channel {sub.channel.value} is not offered by this venue")

    def topics(self, sub: Subscription) -> list[str]:
        return [topic_of(b) for b in self.bodies(sub)]

    def subscribe(self, subs: Iterable[Subscription]) -> list[str]:
        """One frame per venue subscription; every sub is checked before any frame is built.

        Topics already active are sent again: after a reconnect the same plan replays them.
        """
        wanted: dict[str, dict[str, Any]] = {}
        for sub in subs:
            for body in self.bodies(sub):
                wanted.setdefault(topic_of(body), body)
        total = len(self.active.keys() | wanted.keys())
        if total > self.max_subscriptions:
            raise SubscriptionError(f"hyperliquid: {total} subscriptions exceed the venue cap {self.max_subscriptions}")
        self.active.update(wanted)
        return [_frame("subscribe", body) for body in wanted.values()]

    def unsubscribe(self, subs: Iterable[Subscription]) -> list[str]:
        """Frames echoing each subscription exactly as it was sent (the venue matches the body)."""
        frames = []
        for sub in subs:
            kind = _COIN_TYPES.get(sub.channel)
            if kind == "bbo" and sub.symbol is None:
                topics = ["allMids"]
            elif kind is not None and sub.symbol is not None:
                topics = [f"{kind}:{sub.symbol}"]  # no coin check: a sent body is echoed, not rebuilt
            else:
                topics = self.topics(sub)
            for t in topics:
                body = self.active.pop(t, None)
                if body is None:  # never subscribed through this plan: build it, coin-checked
                    body = {topic_of(b): b for b in self.bodies(sub)}[t]
                frames.append(_frame("unsubscribe", body))
        return frames


def _frame(method: str, body: dict[str, Any]) -> str:
    return _ENCODE({"method": method, "subscription": body}).decode()
