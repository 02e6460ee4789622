"""Every venue declares its published limits (``VenueSpec.limits``) with a source, and its own
sharding fits them: a full shard's topics fit one connection, and a 500-symbol configuration yields
only connections within the per-connection limit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from perpwire import venues
from perpwire.actors.topology import streams_for
from perpwire.market.errors import SubscriptionError
from perpwire.venues.base import Channel, Codec, Subscription, VenueLimits, VenueSpec

SHIPPED = ("aster", "backpack", "binance", "bybit", "hyperliquid", "kucoin", "lighter")
#: options that let every channel (the account too) name its topics without a session
_OPTIONS = {"hyperliquid": {"coins": ["BTC"], "user": "0x" + "ab" * 20},
            "lighter": {"account_index": 1, "auth_token": "1:1:3:ab"}}
DOC = Path(__file__).resolve().parents[2] / "docs" / "venue-limits.md"


def _codec(name: str, **extra) -> Codec:
    return venues.codec(name, **{**_OPTIONS.get(name, {}), **extra})


def _topics(codec: Codec, sub: Subscription) -> list[str]:
    """The venue topics one subscription takes on a connection."""
    if hasattr(codec, "topics"):
        return list(codec.topics(sub))
    try:
        return [codec.topic(sub)]
    except SubscriptionError:
        if sub.channel is Channel.ACCOUNT:  # a listenKey: one more stream of the connection
            return ["<account>"]
        raise


def _symbols(name: str, n: int) -> list[str]:
    """``n`` distinct symbols in the venue's own spelling."""
    if name == "lighter":
        return [str(i) for i in range(n)]
    if name == "hyperliquid":
        return [f"C{i}" for i in range(n)]
    if name == "kucoin":
        return [f"S{i}USDTM" for i in range(n)]
    if name == "backpack":
        return [f"S{i}_USDC_PERP" for i in range(n)]
    return [f"S{i}USDT" for i in range(n)]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_venue_declares_its_limits_with_a_source(name):
    spec = venues.spec(name)
    limits = spec.limits
    assert isinstance(limits, VenueLimits) and limits is not VenueSpec().limits
    assert limits.problems() == []
    assert re.search(r"[a-z0-9-]+\.[a-z]{2,}/", limits.source), f"{name}: the source names no page"
    # the per-connection limit is what the codec itself enforces, where it enforces one
    cap = getattr(venues.codec_class(name), "max_topics_per_connection", None)
    if cap is not None:
        assert limits.streams_per_connection == cap


@pytest.mark.parametrize("name", SHIPPED)
def test_a_full_shard_fits_one_connection(name):
    """``max_symbols_per_connection`` symbols times the topics each takes, plus the whole-venue
    channels the first shard carries, fit ``streams_per_connection``."""
    codec = _codec(name)
    spec = codec.spec
    n = spec.max_symbols_per_connection
    for conn in spec.connections:
        per_symbol = sum(len(_topics(codec, Subscription(ch, codec.example_symbol))) for ch in conn.per_symbol)
        whole = sum(len(_topics(codec, Subscription(ch))) for ch in conn.whole_venue)
        used = (n * per_symbol if per_symbol else 0) + whole
        assert used <= spec.limits.streams_per_connection, (name, conn.name, used)


def test_the_check_would_catch_an_oversized_shard():
    """KuCoin's funding takes two topics a contract: 100 contracts a shard would not fit."""
    codec = _codec("kucoin")
    per_symbol = len(_topics(codec, Subscription(Channel.FUNDING, codec.example_symbol)))
    assert per_symbol == 2
    assert 100 * per_symbol > codec.spec.limits.streams_per_connection


@pytest.mark.parametrize("name", SHIPPED)
def test_500_symbols_yield_only_connections_within_the_limits(name):
    symbols = _symbols(name, 500)
    configs = streams_for(name, symbols, trading=True, codec_options=_OPTIONS.get(name))
    limits = venues.spec(name).limits
    codec = _codec(name, **({"coins": symbols} if name == "hyperliquid" else {}))
    for sc in configs:
        topics = [t for s in sc.subscriptions for t in _topics(codec, Subscription(s.channel, s.symbol))]
        assert len(topics) <= limits.streams_per_connection, (name, sc.name, len(topics))
    if limits.max_connections_per_ip is not None:
        assert len(configs) <= limits.max_connections_per_ip, (name, len(configs))
    wanted = {(ch, s) for conn in venues.spec(name).connections for ch in conn.per_symbol for s in symbols}
    got = {(s.channel, s.symbol) for sc in configs for s in sc.subscriptions if s.symbol}
    assert wanted <= got


def test_the_limits_table_lists_every_venue_with_its_source():
    text = DOC.read_text()
    for name in SHIPPED:
        row = next((line for line in text.splitlines() if line.startswith(f"| {name} ")), None)
        assert row is not None, f"docs/venue-limits.md has no row for {name}"
        assert str(venues.spec(name).limits.streams_per_connection) in row.replace(",", "")
