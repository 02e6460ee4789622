"""The channels a user subscribes to, and which venue stream carries each.

``trades`` (``Trade``), ``book`` (``BookView``: the top ``book_levels`` levels, best first, with
seq, timestamps and state), ``bbo`` (``BBO``), ``funding`` (``FundingRate``), ``liquidations``
(``Liquidation``) and ``bars`` (OHLCV bars aggregated from the trades). A venue carries each on
the first of its streams that exists (the codec is asked, ``Codec.topic``):

- book: the venue's top-N snapshot stream (``Channel.BOOK``), else its diff depth synced from a
  snapshot (``Channel.DEPTH``); either way the connection keeps the sequenced ``OrderBook``;
- bbo: the venue's best bid/offer stream, else the top of the book stream;
- funding: the per-symbol funding stream, else the venue's all-symbol one (filtered);
- liquidations: the per-symbol or all-market liquidation stream, else the trades stream when the
  venue prints liquidations there (``Codec.liquidations_on_trades``); a venue with neither says so;
- trades and bars: the trades stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from perpwire.market.errors import SubscriptionError, UsageError
from perpwire.venues.base import Channel, Codec, Subscription

__all__ = ["FeedChannel", "FeedError", "UnknownChannel", "parse_channels", "stream_for"]


class FeedError(UsageError, ValueError):
    """A request the streaming API refuses (unknown symbol or channel, over a venue's limits):
    the message is one line naming the venue."""


class UnknownChannel(FeedError):
    pass


class FeedChannel(StrEnum):
    TRADES = "trades"
    BOOK = "book"
    BBO = "bbo"
    FUNDING = "funding"
    LIQUIDATIONS = "liquidations"
    BARS = "bars"


_NAMES = ", ".join(c.value for c in FeedChannel)


def parse_channels(venue: str, channels: str | Iterable[str]) -> tuple[FeedChannel, ...]:
    """``"trades,bbo"`` or ``["trades", "bbo"]`` as FeedChannels (order kept, repeats dropped)."""
    names = channels.split(",") if isinstance(channels, str) else list(channels)
    out: list[FeedChannel] = []
    for raw in names:
        name = str(raw).strip().lower()
        try:
            ch = FeedChannel(name)
        except ValueError:
            raise UnknownChannel(f"{venue}: unknown channel {raw!r}; channels: {_NAMES}") from None
        if ch not in out:
            out.append(ch)
    if not out:
        raise UnknownChannel(f"{venue}: no channel given; channels: {_NAMES}")
    return tuple(out)


def _offers(codec: Codec, channel: Channel, symbol: str) -> str | None:
    """None when the codec has ``channel`` for ``symbol``, else its reason."""
    try:
        codec.topic(Subscription(channel, symbol))
    except SubscriptionError as exc:
        return str(exc)
    return None


def stream_for(codec: Codec, channel: FeedChannel, symbol: str) -> Subscription:
    """The venue subscription that carries ``channel`` for ``symbol`` (``FeedError`` if none)."""
    venue = codec.name
    candidates: tuple[Channel, ...]
    if channel in (FeedChannel.TRADES, FeedChannel.BARS):
        candidates = (Channel.TRADES,)
    elif channel is FeedChannel.BOOK:
        candidates = (Channel.BOOK, Channel.DEPTH)
    elif channel is FeedChannel.BBO:
        candidates = (Channel.BBO, Channel.BOOK, Channel.DEPTH)
    elif channel is FeedChannel.FUNDING:
        candidates = (Channel.FUNDING,)
    else:
        candidates = (Channel.LIQUIDATIONS,) + ((Channel.TRADES,) if codec.liquidations_on_trades else ())
    reasons = []
    for ch in candidates:
        reason = _offers(codec, ch, symbol)
        if reason is None:
            return Subscription(ch, symbol)
        reasons.append(reason)
    if channel is FeedChannel.FUNDING:
        try:
            codec.topic(Subscription(Channel.FUNDING_ALL))
            return Subscription(Channel.FUNDING_ALL)
        except SubscriptionError:
            pass
    why = reasons[-1] if reasons else ""
    raise FeedError(f"{venue}: no public {channel.value} stream on this venue for {symbol}"
                    + (f" (the codec says: {why})" if why else ""))
