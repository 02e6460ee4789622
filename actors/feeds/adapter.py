"""``adapter(venue)``: clean real-time market data from any perpwire venue in user code.

One shape for every venue and both back-ends::

    async with perpwire.adapter("binance", urls=sim.urls["binance"]) as feed:
        await feed.subscribe(["BTC/USDT:USDT", "ETHUSDT"], ["trades", "bbo"])
        async for item in feed:          # Trade, BBO, BookView, FundingRate, Liquidation, OHLCVBar
            ...

``connect()`` reads the venue's instrument list (symbols are checked against it); ``subscribe``
resolves symbols (unified ``BTC/USDT:USDT`` or the venue's own), checks channels, and places the
venue streams on connections within the venue's limits (``actors.feeds.pool``), waiting until
new connections are open and subscribed; ``stream()`` is the ``FeedQueue`` every item lands in
(``async for`` over the adapter reads it); ``unsubscribe`` stops symbols or channels;
``disconnect()`` closes every socket and task and ends the queue once it is read out.
Underneath, each socket is a ``StreamConnection`` (reconnects with backoff, sequenced books with
per-symbol repair, the staleness watchdog). ``backend="ray"`` runs the same connections in Ray
stream actors and brings the items over in batches (``actors.feeds.ray_backend``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from perpwire import venues
from perpwire.actors.app.config import StreamConfig
from perpwire.actors.feeds.channels import FeedChannel, FeedError, parse_channels, stream_for
from perpwire.actors.feeds.connection import FeedConnection
from perpwire.actors.feeds.health import FeedHealth, health_of
from perpwire.actors.feeds.pool import ConnectionPool
from perpwire.actors.feeds.queues import FeedQueue, Overflow, QueueStats
from perpwire.actors.feeds.symbols import SymbolMap, load_symbols
from perpwire.actors.pacing import TokenBucket
from perpwire.actors.rest import RestClient
from perpwire.market.bars import OHLCVBar
from perpwire.market.book import BookView
from perpwire.market.events import BBO, FundingRate, Instrument, Liquidation, Trade
from perpwire.market.validation import ValidatorSet, Violation
from perpwire.venues.base import Channel, Subscription

__all__ = ["Adapter", "FeedItem", "adapter", "codec_options_for"]

log = logging.getLogger(__name__)

#: what an adapter delivers
FeedItem = Trade | BBO | BookView | FundingRate | Liquidation | OHLCVBar


def codec_options_for(venue: str, urls: Mapping[str, str] | None, codec_options: Mapping[str, Any] | None) -> dict:
    """Codec options with ``urls`` (``{"ws": ..., "rest": ...}``, as ``Simulator.urls[venue]`` and
    ``perpwire sim`` give them) as ``ws_url`` / ``rest_url``; explicit ``codec_options`` win."""
    out: dict[str, Any] = {}
    if urls:
        unknown = set(urls) - {"ws", "rest"}
        if unknown:
            raise FeedError(f"{venue}: urls takes 'ws' and 'rest', not {sorted(unknown)}")
        if "ws" in urls:
            out["ws_url"] = urls["ws"]
        if "rest" in urls:
            out["rest_url"] = urls["rest"]
    out.update(codec_options or {})
    return out


class Adapter:
    """The in-process (asyncio) adapter of one venue; ``adapter(venue)`` builds one.

    Options: ``urls`` / ``codec_options`` (where the venue is: the simulator's URLs, or the codec's
    own options), ``book_levels`` (depth of book items, default 10), ``queue_size`` (items queued
    before the overflow policy acts, default 10,000), ``overflow`` (``{channel: Overflow}`` over
    ``DEFAULT_POLICIES``), ``instruments`` (the venue's instruments, instead of reading its REST
    list), ``stream_overrides`` (``StreamConfig`` fields for every connection), ``connect_timeout``
    (seconds ``subscribe`` waits for new connections, default 15), ``bars`` (options of the bar
    aggregator: ``{"seconds": 60}``, ``{"ticks": 100}`` or ``{"volume": "10"}``), ``validation``
    (``ValidationConfig`` fields for the per-stream validator and its price-jump breaker; False
    turns validation off), ``queue`` (a ``FeedQueue`` to share with other adapters; the
    ``StreamManager`` passes its own). Flagged items are delivered all the same; the last 1,000
    violations are in ``violations`` and each stream's count in ``health()``."""

    backend = "asyncio"

    def __init__(self, venue: str, *, urls: Mapping[str, str] | None = None, codec_options: Mapping | None = None,
                 book_levels: int = 10, queue_size: int = 10_000, overflow: Mapping[str, Overflow | str] | None = None,
                 instruments: Iterable[Instrument] | None = None, stream_overrides: Mapping | None = None,
                 connect_timeout: float = 15.0, bars: Mapping[str, Any] | None = None,
                 validation: Mapping[str, Any] | bool | None = None, queue: FeedQueue | None = None) -> None:
        if venue not in venues.names():
            raise FeedError(f"unknown venue {venue!r}; venues: {', '.join(v for v in venues.names() if v != 'stub')}")
        if book_levels < 1:
            raise FeedError(f"{venue}: book_levels must be at least 1, got {book_levels}")
        self.venue = venue
        self.codec_options = codec_options_for(venue, urls, codec_options)
        try:
            self._probe = venues.codec(venue, **self.codec_options)
        except (TypeError, ValueError) as exc:
            raise FeedError(f"{venue}: bad codec options {sorted(self.codec_options)}: {exc}") from None
        self.book_levels = book_levels
        self.queue = queue if queue is not None else FeedQueue(queue_size, overflow)
        self._shared_queue = queue is not None  # its owner closes it
        self.symbols: SymbolMap | None = SymbolMap(venue, instruments) if instruments is not None else None
        self.wants: dict[str, set[FeedChannel]] = {}
        self._overrides = dict(stream_overrides or {})
        if self._overrides:
            StreamConfig(venue=venue, name="check", **self._overrides)  # bad fields fail here, named by pydantic
        self.connect_timeout = connect_timeout
        self._bars_options = dict(bars or {})
        self.validator = None if validation is False else ValidatorSet(None if validation is True else validation)
        self.violations: deque[Violation] = deque(maxlen=1000)
        self._bars: Any = None
        self.bar_validation_failures = 0
        self._rest: RestClient | None = None
        self.pool: ConnectionPool | None = None
        self._connected = False
        self._closed = False

    # --- lifecycle -------------------------------------------------------------------------------

    async def connect(self) -> Adapter:
        """Read the instrument list (unless given) and get ready; sockets open on ``subscribe``."""
        if self._closed:
            raise FeedError(f"{self.venue}: this adapter was disconnected; make a new one")
        if self._connected:
            return self
        self._rest = RestClient.for_venue(self.venue)
        if self.symbols is None:
            self.symbols = await load_symbols(self._probe, self._rest)
        self.pool = ConnectionPool(self.venue, self._probe, self._probe.spec.limits, self._connection,
                                   codec_options=self.codec_options, overrides=self._overrides)
        await self.pool.start()
        self._connected = True
        return self

    def _connection(self, config: StreamConfig, pacer: TokenBucket) -> FeedConnection:
        has_bbo = any(s.channel is Channel.BBO for s in config.wanted())
        return FeedConnection(config, self.queue, self.wants, pacer=pacer, book_levels=self.book_levels,
                              bbo_from_book=not has_bbo and not self._offers_bbo(), on_trade=self._on_trade,
                              validator=self.validator, on_violation=self.violations.extend)

    def _offers_bbo(self) -> bool:
        symbol = next(iter(self.symbols.instruments), None) if self.symbols else None
        return symbol is not None and stream_for(self._probe, FeedChannel.BBO, symbol).channel is Channel.BBO

    async def disconnect(self) -> None:
        """Close every socket and task; the queue ends once what it holds is read."""
        self._closed = True
        if self.pool is not None:
            await self.pool.stop()
        if self._bars is not None:
            with contextlib.suppress(Exception):
                await self._bars.stop()
        if self._rest is not None:
            await self._rest.close()
        if not self._shared_queue:
            self.queue.close()
        self._connected = False

    async def __aenter__(self) -> Adapter:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    # --- subscriptions ---------------------------------------------------------------------------

    def resolve(self, symbols: str | Iterable[str]) -> list[str]:
        """Venue symbols of ``symbols`` (either form); ``UnknownSymbol`` names the venue."""
        if self.symbols is None:
            raise FeedError(f"{self.venue}: connect() first (the instrument list is not read yet)")
        return self.symbols.resolve_all(symbols)

    def unified(self, venue_symbol: str) -> str:
        return self.symbols.unified(venue_symbol) if self.symbols else venue_symbol

    def _plan(self, symbols: list[str], channels: tuple[FeedChannel, ...]) -> list[Subscription]:
        return list(dict.fromkeys(stream_for(self._probe, ch, s) for s in symbols for ch in channels))

    async def subscribe(self, symbols: str | Iterable[str], channels: str | Iterable[str] = ("trades",)) -> list[str]:
        """Start ``channels`` for ``symbols``; returns the venue symbols. Every symbol and channel is
        checked before anything is sent; returns once new connections are open and subscribed."""
        await self.connect()
        syms = self.resolve(symbols)
        chans = parse_channels(self.venue, channels)
        subs = self._plan(syms, chans)
        if FeedChannel.BARS in chans:
            self._ensure_bars()
        for s in syms:
            self.wants.setdefault(s, set()).update(chans)
        assert self.pool is not None
        before = set(self.pool.connections)
        try:
            await self.pool.subscribe(subs)
        except FeedError:
            for s in syms:
                self.wants[s].difference_update(chans)
            raise
        new = [c for c in self.pool.connections if c not in before]
        try:
            await asyncio.gather(*(c.wait_connected(self.connect_timeout) for c in new))
        except TimeoutError:
            late = [c.name for c in new if not c._link.open]
            errors = {c.last_error for c in new if c.last_error}
            raise FeedError(f"{self.venue}: connection(s) {', '.join(late)} not open after {self.connect_timeout} s"
                            f"{' (' + '; '.join(sorted(errors)) + ')' if errors else ''}; still trying") from None
        return syms

    async def unsubscribe(self, symbols: str | Iterable[str], channels: str | Iterable[str] | None = None) -> None:
        """Stop ``channels`` (default: every channel) of ``symbols``."""
        syms = self.resolve(symbols)
        chans = parse_channels(self.venue, channels) if channels is not None else tuple(FeedChannel)
        drop: list[Subscription] = []
        for s in syms:
            wanted = self.wants.get(s, set())
            stopping = wanted & set(chans)
            wanted -= stopping
            keep = self._plan([s], tuple(wanted)) if wanted else []
            drop += [sub for sub in self._plan([s], tuple(stopping)) if sub not in keep]
            if not wanted:
                self.wants.pop(s, None)
        if drop and self.pool is not None:
            await self.pool.unsubscribe(drop)

    # --- reading ---------------------------------------------------------------------------------

    async def stream(self) -> FeedQueue:
        """The queue every item of this adapter lands in."""
        return self.queue

    def __aiter__(self) -> FeedQueue:
        return self.queue.__aiter__()

    # --- bars --------------------------------------------------------------------------------------

    def _ensure_bars(self) -> None:
        if self._bars is None:
            from perpwire.actors.feeds.bars import BarFeed

            self._bars = BarFeed(self.venue, self.queue, self._bars_options, self.validator, self._bar_violation)

    def _bar_violation(self, found: tuple[Violation, ...]) -> None:
        self.bar_validation_failures += 1
        self.violations.extend(found)

    def _on_trade(self, trade: Trade, t: float) -> None:
        if self._bars is not None:
            self._bars.on_trade(trade, t)

    # --- health ----------------------------------------------------------------------------------

    def health(self) -> list[FeedHealth]:
        if self.pool is None:
            return []
        return [health_of(c, c.counters["validation_failures"]) for c in self.pool.connections]

    def queue_stats(self) -> QueueStats:
        return self.queue.stats()

    @property
    def connections(self) -> list[FeedConnection]:
        return self.pool.connections if self.pool is not None else []


def adapter(venue: str, *, backend: str = "asyncio", **options: Any) -> Any:
    """An adapter of ``venue``: ``backend="asyncio"`` (in this event loop, no Ray) or ``"ray"``
    (Ray stream actors; items come over in batches). Options: see ``Adapter``. ``"ccxt:<id>"``
    is any ccxt.pro exchange (``perpwire[ccxt]``, in-process only; options: see ``CcxtAdapter``)."""
    if venue.startswith("ccxt:"):
        if backend != "asyncio":
            raise FeedError(f"{venue}: ccxt adapters run in-process only (backend 'asyncio'), not {backend!r}")
        from perpwire.actors.feeds.ccxt_adapter import CcxtAdapter

        return CcxtAdapter(venue[len("ccxt:") :], **options)
    if backend == "asyncio":
        return Adapter(venue, **options)
    if backend == "ray":
        from perpwire.actors.feeds.ray_backend import RayAdapter

        return RayAdapter(venue, **options)
    raise FeedError(f"{venue}: unknown backend {backend!r}; backends: asyncio, ray")
