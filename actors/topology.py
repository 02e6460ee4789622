"""Which connections each venue gets, and which subscriptions ride on each, read from the venue's
``VenueSpec`` (declared beside its codec): nothing here names a venue.

``streams_for`` turns one venue's spec and symbols into one ``StreamConfig`` per connection:
per-symbol channels are sharded over connections of one kind (``max_symbols_per_connection``)
rather than one actor per symbol (an actor costs ~50 MB and every call ~1 ms); the account's
channel is subscribed only when the deployment streams user data; whole-venue channels (every
market's funding, the account) ride on the first shard only; book connections are pausable;
each connection gets the venue's REST budget unless ``overrides`` says otherwise.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator

from perpwire import venues
from perpwire.actors.app.config import StreamConfig
from perpwire.market.errors import ConfigError
from perpwire.venues.base import Channel, Connection, VenueSpec

#: per-symbol channels that make a connection pausable (market data the coordinator stops)
_PAUSABLE = (Channel.DEPTH, Channel.BOOK, Channel.BBO)


def _rank(symbol: str, slot: int) -> bytes:
    return hashlib.blake2b(f"{slot}:{symbol}".encode(), digest_size=8).digest()


def shard(symbols: list[str], size: int, fill: float = 0.9) -> list[list[str]]:
    """``symbols`` (without repeats) in groups of at most ``size``, each group sorted (one empty
    group if none), assigned by rendezvous hashing with bounded load so that the assignment is
    stable: adding or removing a symbol moves only that symbol, or a handful when a group is full.

    Groups are filled to ``fill`` of ``size`` on average (the headroom that keeps the assignment
    stable as symbols come and go), never beyond ``size``: that is the venue's limit. Each symbol
    goes to the first group of its own hash order with room; symbols are placed in the order of
    their own hash, so neither the input order nor the names of other symbols decide where one goes.
    """
    unique = sorted(set(symbols))
    if not unique:
        return [[]]
    target = size if size < 10 else int(size * fill)  # tiny groups (tests, toy venues) are filled up
    count = max(1, math.ceil(len(unique) / target))
    groups: list[list[str]] = [[] for _ in range(count)]
    for sym in sorted(unique, key=lambda s: _rank(s, -1)):
        for slot in sorted(range(count), key=lambda k: _rank(sym, k)):
            if len(groups[slot]) < size:
                groups[slot].append(sym)
                break
    return [sorted(g) for g in groups if g] or [[]]


def _whole_venue(conn: Connection, user_data: bool) -> tuple[Channel, ...]:
    if conn.account and not user_data:
        return tuple(c for c in conn.whole_venue if c is not Channel.ACCOUNT)
    return conn.whole_venue


def _configs(venue: str, spec: VenueSpec, conn: Connection, symbols: list[str], book_symbols: list[str],
             user_data: bool, codec_options: dict | None, overrides: dict | None) -> Iterator[StreamConfig]:
    whole = _whole_venue(conn, user_data)
    syms = symbols if Channel.FUNDING in conn.per_symbol else book_symbols
    parts = shard(syms, spec.max_symbols_per_connection) if conn.per_symbol else [[]]
    fields = {"rest_rate_per_s": spec.rest.rate_per_s, "rest_burst": spec.rest.burst, **(overrides or {})}
    for i, part in enumerate(parts):
        subs = [{"channel": c, "symbol": s} for s in part for c in conn.per_symbol]
        if i == 0:  # whole-venue channels ride on one connection: on every shard they would arrive N times
            subs += [{"channel": c} for c in whole]
        if not subs:
            continue
        yield StreamConfig(
            venue=venue, name=conn.name if i == 0 else f"{conn.name}-{i}", subscriptions=subs,
            pausable=conn.pausable and any(c in _PAUSABLE for c in conn.per_symbol),
            codec_options=dict(codec_options or {}), **fields,
        )


def streams_for(venue: str, symbols: list[str], *, trading: bool = False, book_symbols: list[str] | None = None,
                codec_options: dict | None = None, overrides: dict | None = None) -> list[StreamConfig]:
    """The StreamConfigs of one venue: ``symbols`` for funding, ``book_symbols`` for books.

    The account's user data is subscribed only when ``trading`` (the runtime passes whether the
    deployment streams user data); book connections start with their symbols wanted and are paused
    by the coordinator until needed. A venue whose spec declares no connections is a ConfigError.
    """
    spec = venues.spec(venue)
    if not spec.connections:
        raise ConfigError(f"{venue}: its codec's spec declares no connections (VenueSpec.connections)")
    book_symbols = symbols if book_symbols is None else book_symbols
    return [sc for conn in spec.connections
            for sc in _configs(venue, spec, conn, symbols, book_symbols, trading, codec_options, overrides)]
