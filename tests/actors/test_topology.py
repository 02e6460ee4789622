"""The topology and the session bootstrap read every venue fact from the venue's ``VenueSpec``
and its codec: connections, shards, pausable flags, account connections only with user data,
REST budgets, and which session a connection needs."""

from __future__ import annotations

import pytest

from perpwire import venues
from perpwire.actors.app.config import SecretRef, StreamConfig
from perpwire.actors.rest import RestClient
from perpwire.actors.streams.sessions import (
    SESSIONS,
    BackpackAccountSession,
    BulletSession,
    LighterAccountSession,
    ListenKeySession,
    MetaSession,
    Session,
    session_for,
)
from perpwire.actors.topology import shard, streams_for
from perpwire.market.errors import ConfigError
from perpwire.venues.base import Channel, SessionKind, Subscription

BUILT_IN = ("aster", "backpack", "lighter", "binance", "bybit", "hyperliquid", "kucoin")


def _names(configs):
    return [c.name for c in configs]


def _subs(config):
    return [s.to_subscription() for s in config.subscriptions]


def test_shard_dedupes_sorts_each_group_and_keeps_every_group_within_size():
    groups = shard(["c", "a", "b", "a"], 2)
    assert sorted(s for g in groups for s in g) == ["a", "b", "c"]
    assert all(g == sorted(g) and 0 < len(g) <= 2 for g in groups)
    assert shard([], 5) == [[]]
    assert shard(["b", "a", "c"], 2) == groups  # the input order decides nothing


def test_shard_assignment_is_stable_when_symbols_come_and_go():
    base = [f"S{i:03d}USDT" for i in range(300)]
    before = shard(base, 100)
    assert len(before) == 4 and all(len(g) <= 100 for g in before)
    # one listing more: the group count stays, so at most a few symbols change their group
    after = shard([*base, "NEWUSDT"], 100)
    moved = [s for s in base if not _same_group(before, after, s)]
    assert len(moved) <= 3, moved
    # one delisting: nobody else moves
    gone = shard(base[1:], 100)
    assert all(_same_group(before, gone, s) for s in base[1:])
    # contiguous chunks would have moved every symbol after the new one
    assert not all(before[i] == sorted(base)[i * 75:(i + 1) * 75] for i in range(4))


def _same_group(a, b, symbol):
    """``symbol`` shares its group in ``b`` with most of its group in ``a`` (group indices may differ)."""
    ga = next(set(g) for g in a if symbol in g)
    gb = next(set(g) for g in b if symbol in g)
    return len(ga & gb) > len(ga) // 2


def test_500_symbols_shard_within_every_venues_limit():
    symbols = [f"S{i:03d}USDT" for i in range(500)]
    for venue in ("aster", "backpack", "binance", "bybit", "hyperliquid", "kucoin", "lighter"):
        spec = venues.spec(venue)
        for conn in spec.connections:
            for sc in (c for c in streams_for(venue, symbols, trading=True) if c.name.split("-")[0] == conn.name):
                per_symbol = [s for s in sc.subscriptions if s.symbol]
                assert len({s.symbol for s in per_symbol}) <= spec.max_symbols_per_connection, (venue, sc.name)


def test_aster_gets_user_bookticker_depth_funding_with_user_data_only_when_trading():
    paper = streams_for("aster", ["BTCUSDT", "ETHUSDT"])
    assert _names(paper) == ["bookticker", "depth", "funding"]  # no user connection without user data
    live = streams_for("aster", ["BTCUSDT", "ETHUSDT"], trading=True)
    assert _names(live) == ["user", "bookticker", "depth", "funding"]
    by_name = {c.name: c for c in live}
    assert _subs(by_name["user"]) == [Subscription(Channel.ACCOUNT)]
    assert _subs(by_name["bookticker"]) == [Subscription(Channel.BBO, "BTCUSDT"), Subscription(Channel.BBO, "ETHUSDT")]
    assert _subs(by_name["funding"]) == [Subscription(Channel.FUNDING_ALL), Subscription(Channel.LIQUIDATIONS)]
    assert {n for n, c in by_name.items() if c.pausable} == {"bookticker", "depth"}


def test_lighter_keeps_its_unified_connection_and_adds_the_account_only_with_user_data():
    [paper] = streams_for("lighter", ["1", "0"])
    assert Subscription(Channel.ACCOUNT) not in _subs(paper) and Subscription(Channel.FUNDING_ALL) in _subs(paper)
    [live] = streams_for("lighter", ["1", "0"], trading=True)
    assert Subscription(Channel.ACCOUNT) in _subs(live)
    assert paper.pausable and live.pausable  # a pause unsubscribes only the book channels


def test_per_symbol_channels_are_sharded_by_the_specs_limit():
    symbols = [f"S{i:03d}USDT" for i in range(450)]
    depth = [c for c in streams_for("aster", symbols) if c.name.split("-")[0] == "depth"]
    assert _names(depth) == ["depth", "depth-1", "depth-2"]  # Aster: 200 symbols a connection
    assert sum(len(c.subscriptions) for c in depth) == 450
    assert all(len(c.subscriptions) <= 200 for c in depth)
    funding = streams_for("bybit", symbols)
    assert len(funding) == 5 and all(len(c.subscriptions) <= venues.spec("bybit").max_symbols_per_connection
                                     for c in funding)


def test_funding_connections_take_every_symbol_book_connections_only_book_symbols():
    configs = {c.name: c for c in streams_for("backpack", ["A_USDC_PERP", "B_USDC_PERP"],
                                             book_symbols=["A_USDC_PERP"])}
    assert {s.symbol for s in configs["funding"].subscriptions} == {"A_USDC_PERP", "B_USDC_PERP"}
    assert {s.symbol for s in configs["depth"].subscriptions} == {"A_USDC_PERP"}
    assert configs["depth"].pausable and not configs["funding"].pausable


@pytest.mark.parametrize("venue", BUILT_IN)
def test_every_connection_gets_the_specs_rest_budget_unless_overridden(venue):
    spec = venues.spec(venue)
    for config in streams_for(venue, [venues.codec_class(venue).example_symbol], trading=True):
        assert (config.rest_rate_per_s, config.rest_burst) == (spec.rest.rate_per_s, spec.rest.burst)
    [first, *_] = streams_for(venue, ["X"], overrides={"rest_rate_per_s": 1.5})
    assert first.rest_rate_per_s == 1.5


def test_budgets_differ_where_the_venues_limits_do():
    assert venues.spec("lighter").rest.rate_per_s == 150.0 and venues.spec("hyperliquid").rest.rate_per_s == 10.0
    client = RestClient.for_venue("hyperliquid", budget_scale=3.0)
    assert (client.budget.rate, client.budget.burst) == (30.0, 300.0)
    assert RestClient.for_venue("lighter").budget.burst == 600.0


def test_a_venue_without_connections_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match=r"stub: its codec's spec declares no connections"):
        streams_for("stub", ["AAA"])


def test_the_account_connections_are_the_ones_the_spec_marks():
    assert venues.spec("aster").account_connections == {"user"}
    assert venues.spec("backpack").account_connections == {"account"}
    assert venues.spec("lighter").account_connections == {"unified"}
    assert venues.spec("binance").account_connections == frozenset()


# --- sessions: the codec names the kind, sessions.py builds it -------------------------------------


def test_every_session_kind_has_an_implementation():
    assert set(SESSIONS) == set(SessionKind)


def _stream(venue, channels, **fields):
    subs = [{"channel": c} if c in (Channel.ACCOUNT, Channel.FUNDING_ALL) else {"channel": c, "symbol": "X"}
            for c in channels]
    return StreamConfig(venue=venue, name="s", subscriptions=subs, **fields)


@pytest.mark.parametrize(("venue", "channels", "fields", "kind"), [
    ("aster", [Channel.ACCOUNT], {"api_key": SecretRef(env="K")}, ListenKeySession),
    ("binance", [Channel.ACCOUNT], {"api_key": SecretRef(env="K")}, ListenKeySession),
    ("aster", [Channel.DEPTH], {}, Session),
    ("backpack", [Channel.ACCOUNT], {"api_secret": SecretRef(env="S")}, BackpackAccountSession),
    ("backpack", [Channel.DEPTH, Channel.BBO], {}, Session),
    ("lighter", [Channel.ACCOUNT], {"auth_token": SecretRef(env="T")}, LighterAccountSession),
    ("lighter", [Channel.ACCOUNT], {}, Session),  # a static token in the codec options
    ("kucoin", [Channel.FUNDING], {}, BulletSession),
    ("hyperliquid", [Channel.FUNDING], {}, MetaSession),
    ("hyperliquid", [Channel.FUNDING], {"codec_options": {"coins": ["X"]}}, Session),
    ("bybit", [Channel.FUNDING], {}, Session),
])
def test_session_for_builds_the_kind_the_codec_asks_for(venue, channels, fields, kind):
    assert type(session_for(_stream(venue, channels, **fields))) is kind


def test_a_listen_key_session_without_a_key_is_refused_naming_the_stream():
    with pytest.raises(ConfigError, match=r"streams\[aster/s\]\.api_key"):
        session_for(_stream("aster", [Channel.ACCOUNT]))


def test_session_for_does_not_branch_on_venue_names():
    import inspect

    from perpwire.actors.streams import sessions

    source = inspect.getsource(sessions.session_for)
    assert not any(f'"{v}"' in source for v in BUILT_IN)


@pytest.mark.parametrize(("venue", "n"), [("kucoin", 300), ("lighter", 250)])
def test_shards_stay_within_the_venues_topic_cap_and_whole_venue_channels_ride_once(venue, n):
    """KuCoin's funding takes two topics per contract and Lighter's first connection also carries
    every market's funding and the account: no connection may ask for more than 100 topics, and a
    whole-venue channel is subscribed on one connection only (else each event arrives per shard)."""
    symbols = [str(i) for i in range(n)] if venue == "lighter" else [f"S{i}USDTM" for i in range(n)]
    configs = streams_for(venue, symbols, trading=True)
    codec = venues.codec(venue, account_index=1, auth_token="1:1:3:ab") if venue == "lighter" else venues.codec(venue)
    whole = [sc.name for sc in configs for s in sc.subscriptions if s.symbol is None]
    assert len(set(whole)) <= 1  # on the first connection only
    for sc in configs:
        subs = [Subscription(s.channel, s.symbol) for s in sc.subscriptions]
        topics = [t for sub in subs for t in codec.topics(sub)]
        assert len(topics) <= codec.max_topics_per_connection, (sc.name, len(topics))
        codec.subscribe(subs)  # the codec's own per-connection check accepts it
    assert sorted(s.symbol for sc in configs for s in sc.subscriptions if s.symbol) == sorted(symbols)
