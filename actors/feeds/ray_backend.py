"""``RayAdapter``: the adapter API with its connections in Ray actors (``backend="ray"``).

Each ``FeedActor`` runs an in-process ``Adapter`` on its own event loop — sockets, decoding,
books, validation and its own ``FeedQueue`` with the same overflow policies — so decoding spreads
over processes (and machines: the actors are scheduled like the stream actors, ``num_cpus=0``).
``actors=N`` spreads the symbols over N actors (by symbol, so one symbol's items keep their
order). The caller pulls items in batches: one ``next_batch`` call returns up to ``batch`` items
as one msgpack blob (each item with its kind and the wall time its frame arrived), decoded here
into the local queue, which applies the policies again; a full BLOCK queue stops the pulling, the
actor's queue fills, and its connections stop reading. Errors come back as the same one-line
``FeedError`` the in-process adapter raises. Ray is started locally (127.0.0.1 only) when this
process is not connected to one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import ray

from perpwire.actors.feeds import channels as channels_mod
from perpwire.actors.feeds import symbols as symbols_mod
from perpwire.actors.feeds.adapter import Adapter
from perpwire.actors.feeds.channels import FeedError, parse_channels
from perpwire.actors.feeds.health import FeedHealth
from perpwire.actors.feeds.queues import FeedQueue, QueueStats
from perpwire.actors.feeds.symbols import SymbolMap
from perpwire.market.bars import OHLCVBar
from perpwire.market.book import BookView
from perpwire.market.events import BBO, FundingRate, Liquidation, Trade

__all__ = ["FeedActor", "RayAdapter", "decode_batch", "encode_batch"]

_KIND = {Trade: "trades", BBO: "bbo", BookView: "book", FundingRate: "funding", Liquidation: "liquidations",
         OHLCVBar: "bars"}
_TYPES = {v: k for k, v in _KIND.items()}
_ENC = msgspec.msgpack.Encoder()
_BATCH = msgspec.msgpack.Decoder(list[tuple[str, float, msgspec.Raw]])
_ITEM = {kind: msgspec.msgpack.Decoder(t) for kind, t in _TYPES.items()}
_ERRORS = {"UnknownSymbol": symbols_mod.UnknownSymbol, "UnknownChannel": channels_mod.UnknownChannel}


def encode_batch(items: list[tuple[Any, float]]) -> bytes:
    """``[(item, frame wall time)]`` as one msgpack blob."""
    return _ENC.encode([(_KIND[type(x)], t, msgspec.Raw(_ENC.encode(x))) for x, t in items])


def decode_batch(blob: bytes) -> list[tuple[str, float, Any]]:
    return [(kind, t, _ITEM[kind].decode(raw)) for kind, t, raw in _BATCH.decode(blob)]


def _refusal(exc: Exception) -> tuple[str, str]:
    return type(exc).__name__, str(exc)


def _raise(answer: Any) -> Any:
    if isinstance(answer, tuple) and len(answer) == 3 and answer[0] == "__refused__":
        raise _ERRORS.get(answer[1], FeedError)(answer[2])
    return answer


@ray.remote(num_cpus=0, max_restarts=0)
class FeedActor:
    """One in-process adapter in its own process. Every method that may refuse returns
    ``("__refused__", kind, message)`` instead of raising, so the caller re-raises the same line."""

    def __init__(self, venue: str, options: dict) -> None:
        self.adapter = Adapter(venue, **options)
        self._mono_to_wall = time.time() - time.monotonic()

    async def connect(self) -> Any:
        try:
            await self.adapter.connect()
        except FeedError as exc:
            return ("__refused__", *_refusal(exc))
        return list(self.adapter.symbols.instruments.values()) if self.adapter.symbols else []

    async def subscribe(self, symbols: list[str], channels: list[str]) -> Any:
        try:
            return await self.adapter.subscribe(symbols, channels)
        except FeedError as exc:
            return ("__refused__", *_refusal(exc))

    async def unsubscribe(self, symbols: list[str], channels: list[str] | None) -> Any:
        try:
            await self.adapter.unsubscribe(symbols, channels)
        except FeedError as exc:
            return ("__refused__", *_refusal(exc))
        return None

    async def next_batch(self, max_items: int, timeout: float) -> bytes:
        """Up to ``max_items`` items (waits up to ``timeout`` for the first) as one blob."""
        q = self.adapter.queue
        slots = await q.get_batch_timed(max_items, timeout)
        off = self._mono_to_wall
        return encode_batch([(x, t + off) for x, t in slots])

    def health(self) -> list[FeedHealth]:
        return self.adapter.health()

    def queue_stats(self) -> QueueStats:
        return self.adapter.queue.stats()

    async def disconnect(self) -> None:
        await self.adapter.disconnect()


class RayAdapter:
    """``adapter(venue, backend="ray", actors=1, batch=1000, **options)``: the ``Adapter`` API;
    ``options`` go to each actor's in-process adapter (``queue_size`` and ``overflow`` also shape
    the local queue)."""

    backend = "ray"

    def __init__(self, venue: str, *, actors: int = 1, batch: int = 1000, queue_size: int = 10_000,
                 overflow: Mapping[str, Any] | None = None, queue: FeedQueue | None = None,
                 **options: Any) -> None:
        if actors < 1 or batch < 1:
            raise FeedError(f"{venue}: actors and batch must be at least 1, got {actors} and {batch}")
        Adapter(venue, queue_size=queue_size, overflow=overflow, **options)  # every option checked here, now
        self.venue = venue
        self.n_actors = actors
        self.batch = batch
        self._options = {**options, "queue_size": queue_size, "overflow": dict(overflow or {})}
        self.queue = queue if queue is not None else FeedQueue(queue_size, overflow)
        self._shared_queue = queue is not None
        self.symbols: SymbolMap | None = None
        self.actors: list[Any] = []
        self._owner: dict[str, int] = {}
        self._pumps: list[asyncio.Task] = []
        self._connected = False
        self._closed = False
        self.batches = 0
        self._health: list[FeedHealth] = []

    async def connect(self) -> RayAdapter:
        if self._closed:
            raise FeedError(f"{self.venue}: this adapter was disconnected; make a new one")
        if self._connected:
            return self
        if not ray.is_initialized():
            from perpwire.actors.app.deployment import start_local_ray

            start_local_ray()
        self.actors = [FeedActor.remote(self.venue, self._options) for _ in range(self.n_actors)]
        answers = [_raise(a) for a in await asyncio.gather(*(actor.connect.remote() for actor in self.actors))]
        self.symbols = SymbolMap(self.venue, answers[0])
        self._pumps = [asyncio.create_task(self._pump(a), name=f"{self.venue}:ray-pump-{i}")
                       for i, a in enumerate(self.actors)]
        self._connected = True
        return self

    async def _pump(self, actor: Any) -> None:
        q = self.queue
        while True:
            blob = await actor.next_batch.remote(self.batch, 0.5)
            off = time.monotonic() - time.time()
            items = decode_batch(blob)
            if items:
                self.batches += 1
            for kind, t_wall, item in items:
                q.put(kind, item, getattr(item, "symbol", None), self.venue, t_wall + off)
            if q.blocks:
                await q.wait_room()

    async def disconnect(self) -> None:
        self._closed = True
        for t in self._pumps:
            t.cancel()
        for t in self._pumps:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._pumps = []
        if self.actors:
            with contextlib.suppress(Exception):
                await asyncio.gather(*(a.disconnect.remote() for a in self.actors))
            for a in self.actors:
                ray.kill(a)
        self.actors = []
        if not self._shared_queue:
            self.queue.close()
        self._connected = False

    async def __aenter__(self) -> RayAdapter:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    def resolve(self, symbols: str | Iterable[str]) -> list[str]:
        if self.symbols is None:
            raise FeedError(f"{self.venue}: connect() first (the instrument list is not read yet)")
        return self.symbols.resolve_all(symbols)

    def unified(self, venue_symbol: str) -> str:
        return self.symbols.unified(venue_symbol) if self.symbols else venue_symbol

    def _split(self, syms: list[str]) -> dict[int, list[str]]:
        parts: dict[int, list[str]] = {}
        for s in syms:
            i = self._owner.setdefault(s, len(self._owner) % len(self.actors))
            parts.setdefault(i, []).append(s)
        return parts

    async def subscribe(self, symbols: str | Iterable[str], channels: str | Iterable[str] = ("trades",)) -> list[str]:
        await self.connect()
        syms = self.resolve(symbols)
        chans = [c.value for c in parse_channels(self.venue, channels)]
        parts = self._split(syms)
        answers = await asyncio.gather(*(self.actors[i].subscribe.remote(p, chans) for i, p in parts.items()))
        for a in answers:
            _raise(a)
        return syms

    async def unsubscribe(self, symbols: str | Iterable[str], channels: str | Iterable[str] | None = None) -> None:
        syms = self.resolve(symbols)
        chans = None if channels is None else [c.value for c in parse_channels(self.venue, channels)]
        parts = self._split(syms)
        for a in await asyncio.gather(*(self.actors[i].unsubscribe.remote(p, chans) for i, p in parts.items())):
            _raise(a)

    async def stream(self) -> FeedQueue:
        return self.queue

    def __aiter__(self) -> FeedQueue:
        return self.queue.__aiter__()

    async def health_async(self) -> list[FeedHealth]:
        out: list[FeedHealth] = []
        for h in await asyncio.gather(*(a.health.remote() for a in self.actors)):
            out += h
        self._health = out
        return out

    def queue_stats(self) -> QueueStats:
        return self.queue.stats()

    def health(self) -> list[FeedHealth]:
        """What ``health_async`` last read (call that from a coroutine for fresh figures)."""
        return list(self._health)
