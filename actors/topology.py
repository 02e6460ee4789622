"""Which connections each venue gets, and which subscriptions ride on each.

The seed topology (DESIGN.md): Aster — user data (always on), bookTicker (pausable), depth
(pausable); Backpack — account (always on), depth (pausable); Lighter — one unified connection
whose pause unsubscribes only its book channels; every venue — a funding feed, always on.
Symbols are sharded over connections of one kind (``max_streams``) rather than one actor per
symbol: an actor costs ~50 MB and every call ~1 ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perpwire.actors.app.config import StreamConfig
from perpwire.venues.base import Channel


@dataclass(frozen=True)
class VenueLayout:
    # connection name -> (channels per symbol, whole-venue channels, pausable)
    streams: dict[str, tuple[tuple[Channel, ...], tuple[Channel, ...], bool]]
    needs_account: frozenset[str] = frozenset()
    resync_by_resubscribe: bool = False  # the venue sends a fresh snapshot on (re)subscribe
    max_streams: int = 100
    book_stream: str = "depth"
    bbo_stream: str = "depth"
    funding_per_symbol: bool = False
    # REST budget in the venue's own weight units (half the published limit, so other clients of
    # the same key keep room): Aster/Binance 2400/min, Lighter ~60 req/min of weight 300,
    # Hyperliquid 1200/min, Bybit ~600 req/5 s, KuCoin ~2000/30 s, Backpack undocumented.
    rest_rate_per_s: float = 20.0
    rest_burst: float = 100.0
    extra: dict = field(default_factory=dict)


LAYOUTS: dict[str, VenueLayout] = {
    "aster": VenueLayout(
        streams={
            "user": ((), (Channel.ACCOUNT,), False),
            "bookticker": ((Channel.BBO,), (), True),
            "depth": ((Channel.DEPTH,), (), True),
            "funding": ((), (Channel.FUNDING_ALL, Channel.LIQUIDATIONS), False),
        },
        needs_account=frozenset({"user"}), max_streams=200, bbo_stream="bookticker",
    ),
    "backpack": VenueLayout(
        streams={
            "account": ((), (Channel.ACCOUNT,), False),
            "depth": ((Channel.DEPTH, Channel.BBO), (), True),
            "funding": ((Channel.FUNDING,), (), False),
        },
        needs_account=frozenset({"account"}), funding_per_symbol=True,
    ),
    "lighter": VenueLayout(
        streams={"unified": ((Channel.DEPTH,), (Channel.FUNDING_ALL, Channel.ACCOUNT), True)},
        needs_account=frozenset({"unified"}), resync_by_resubscribe=True, book_stream="unified",
        bbo_stream="unified", rest_rate_per_s=150.0, rest_burst=600.0,
    ),
    "binance": VenueLayout(streams={"funding": ((), (Channel.FUNDING_ALL,), False)}),
    "bybit": VenueLayout(streams={"funding": ((Channel.FUNDING,), (), False)}, funding_per_symbol=True,
                         resync_by_resubscribe=True),
    "hyperliquid": VenueLayout(streams={"funding": ((Channel.FUNDING,), (), False)}, funding_per_symbol=True,
                               resync_by_resubscribe=True, rest_rate_per_s=10.0, rest_burst=100.0),
    "kucoin": VenueLayout(streams={"funding": ((Channel.FUNDING,), (), False)}, funding_per_symbol=True),
}


def shard(symbols: list[str], size: int) -> list[list[str]]:
    ordered = sorted(set(symbols))
    return [ordered[i : i + size] for i in range(0, len(ordered), size)] or [[]]


def streams_for(venue: str, symbols: list[str], *, trading: bool = False, book_symbols: list[str] | None = None,
                codec_options: dict | None = None, overrides: dict | None = None) -> list[StreamConfig]:
    """The StreamConfigs of one venue: ``symbols`` for funding, ``book_symbols`` for books.

    User-data connections are built only when ``trading``; book connections start with their
    symbols wanted and are paused by the coordinator until needed.
    """
    layout = LAYOUTS[venue]
    book_symbols = symbols if book_symbols is None else book_symbols
    out = []
    for name, (per_symbol, whole, pausable) in layout.streams.items():
        if name in layout.needs_account and not trading:
            whole = tuple(c for c in whole if c is not Channel.ACCOUNT)
            if not whole and not per_symbol:
                continue
        syms = symbols if Channel.FUNDING in per_symbol else book_symbols
        for i, part in enumerate(shard(syms, layout.max_streams) if per_symbol else [[]]):
            subs = [{"channel": c, "symbol": s} for s in part for c in per_symbol]
            subs += [{"channel": c} for c in whole]
            if not subs:
                continue
            fields = {"rest_rate_per_s": layout.rest_rate_per_s, "rest_burst": layout.rest_burst,
                      **(overrides or {})}
            out.append(StreamConfig(
                venue=venue, name=name if i == 0 else f"{name}-{i}", subscriptions=subs,
                pausable=pausable and any(c in (Channel.DEPTH, Channel.BOOK, Channel.BBO) for c in per_symbol),
                codec_options=dict(codec_options or {}), **fields,
            ))
    return out
