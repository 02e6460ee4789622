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

from collections.abc import Iterator

from perpwire import venues
from perpwire.actors.app.config import StreamConfig
from perpwire.market.errors import ConfigError
from perpwire.venues.base import Channel, Connection, VenueSpec

#: per-symbol channels that make a connection pausable (market data the coordinator stops)
_PAUSABLE = (Channel.DEPTH, Channel.BOOK, Channel.BBO)


def shard(symbols: list[str], size: int) -> list[list[str]]:
    """``symbols`` sorted, without repeats, in groups of at most ``size`` (one empty group if none)."""
    ordered = sorted(set(symbols))
    return [ordered[i : i + size] for i in range(0, len(ordered), size)] or [[]]


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
