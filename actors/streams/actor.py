"""The stream actor: one Ray actor per WebSocket connection, wrapping ``StreamConnection``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import msgspec
import ray
from ray.util import metrics

from perpwire import venues
from perpwire.actors.app.config import StreamConfig
from perpwire.actors.budgets import SharedBucket
from perpwire.actors.durable import RayKVState
from perpwire.actors.logs import apply_log_level
from perpwire.actors.streams.answers import PauseResult, ResumeResult, StreamHealth, StreamStats
from perpwire.actors.streams.connection import StreamConnection
from perpwire.market.book import BookView
from perpwire.market.events import BBO, FundingRate, pack_funding
from perpwire.venues.base import Subscription

_EXPORTED = ("messages", "bytes", "reconnects", "resyncs", "decode_errors", "stalls", "user_events")


def _remote_sink(target, method: str, pack=None):
    """A push to ``target``'s ``method``. ``target`` is an actor handle, or the name of a named
    actor looked up on first use: a name keeps handles out of the constructor's arguments, which
    Ray cannot restore when it restarts this actor (ray-project/ray#53727). ``pack`` turns a batch
    into the form sent (funding goes as one msgpack blob, see ``market.events.pack_funding``)."""
    if target is None:
        return None
    handle = None if isinstance(target, str) else target

    async def push(batch):
        nonlocal handle
        if handle is None:
            handle = ray.get_actor(target)
        await getattr(handle, method).remote(batch if pack is None else pack(batch))

    return push


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)
class StreamActor:
    """One venue WebSocket connection as a Ray actor: ``StreamActor.remote(stream_config_dict,
    funding_sink=..., user_sink=...)``, where a sink is an actor handle or a named actor's name
    whose ``on_funding`` / ``on_user_events`` receives each batch.

    The connection starts in ``__init__`` on the actor's event loop (no call needed, and none
    after a restart); ``await actor.wait_connected.remote(timeout)`` waits for the first socket.
    The actor is async, ``num_cpus=0`` (it waits on the network far more than it computes) and
    restarted by Ray whenever it dies (``max_restarts=-1``); a call in flight then fails (no
    retries): call again. What it wants (symbols, paused or not) is saved in the cluster's
    key-value store on every command and taken back on restart, so a paused book connection comes
    back paused; ``stop`` forgets it.

    Commands: ``pause`` → ``PauseResult``; ``resume(symbol)`` → ``ResumeResult`` once the book is
    SYNCED and fresh, or ``ResumeTimeout`` (raised through Ray): read a REST snapshot instead;
    ``prepare(symbol)`` and ``subscribe(subs)`` → the ``Subscription``s sent now. Queries answer by
    value: ``order_book``, ``order_books``, ``bbo``, ``funding``, ``user_events``, ``health`` →
    ``StreamHealth``, ``stats`` → ``StreamStats``. A view whose state is not SYNCED (EMPTY,
    BUFFERING, RESYNCING, STALE) must not be traded on (``VenueFacade`` falls back to REST).
    Counters are exported through ``ray.util.metrics`` as ``perpwire_<counter>``, tagged with venue
    and stream, every ``metrics_period_s``.
    """

    def __init__(self, config: dict, funding_sink=None, user_sink=None, metrics_period_s: float = 5.0):
        apply_log_level()
        cfg = StreamConfig.model_validate(config)
        self._state = RayKVState.for_this_actor("stream")
        self._conn = StreamConnection(
            cfg,
            funding_sink=_remote_sink(funding_sink, "on_funding", pack_funding),
            user_sink=_remote_sink(user_sink, "on_user_events"),
            state=self._state,
        )
        if cfg.shared_budgets:  # REST weight, new connections (and per-IP control frames) per venue and node
            rest = (cfg.rest_rate_per_s, cfg.rest_burst)
            self._conn.rest.budget = SharedBucket(cfg.venue, "rest", rest)
            self._conn.connect_budget = SharedBucket(cfg.venue, "connect", rest)
            if venues.spec(cfg.venue).limits.control_scope == "ip":
                self._conn.pace_with(SharedBucket(cfg.venue, "control", rest))
        self._metrics_period_s = metrics_period_s
        self._metrics_task: asyncio.Task | None = None
        self._counters = {k: metrics.Counter(f"perpwire_{k}", tag_keys=("venue", "stream")) for k in _EXPORTED}
        self._exported: dict[str, float] = {}
        self._tags = {"venue": cfg.venue, "stream": cfg.name}
        context = ray.get_runtime_context()
        self._incarnation = f"{context.get_node_id()[:12]}/{os.getpid()}/{time.time_ns()}"
        # start now, on the actor's loop: a restarted actor must not wait for a call to reconnect
        self._boot = asyncio.get_running_loop().create_task(self._ensure())

    async def _ensure(self) -> None:
        await self._conn.start()
        if self._metrics_task is None or self._metrics_task.done():
            self._metrics_task = asyncio.create_task(self._export())

    async def _export(self) -> None:
        while True:
            await asyncio.sleep(self._metrics_period_s)
            for key, counter in self._counters.items():
                value = self._conn.counters.get(key, 0)
                delta = value - self._exported.get(key, 0)
                if delta > 0:
                    counter.inc(delta, tags=self._tags)
                    self._exported[key] = value

    # commands
    async def start(self) -> None:
        await self._ensure()

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await self._ensure()
        await self._conn.wait_connected(timeout)

    async def stop(self) -> None:
        if self._metrics_task is not None:
            self._metrics_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._metrics_task
        await self._conn.stop()
        self._state.clear()  # a deliberate stop: a later actor of this name starts from its config

    async def pause(self) -> PauseResult:
        await self._ensure()
        return await self._conn.pause()

    async def resume(self, symbol: str | None = None, timeout_s: float | None = None) -> ResumeResult:
        await self._ensure()
        return await self._conn.resume(symbol, timeout_s)

    async def prepare(self, symbol: str) -> list[Subscription]:
        await self._ensure()
        return await self._conn.prepare(symbol)

    async def subscribe(self, subs: list[Subscription]) -> list[Subscription]:
        await self._ensure()
        return await self._conn.subscribe(subs)

    # queries (by value: Ray serialises the immutable views)
    async def order_book(self, symbol: str, levels: int | None = 20) -> BookView | None:
        """The book by value: packed once here, a ``BookView`` on the caller's side (``market.views``)."""
        await self._ensure()
        return self._conn.packed_order_book(symbol, levels)

    async def order_books(self, symbols: list[str], levels: int | None = 20) -> dict[str, BookView | None]:
        """Many books in one call and one blob; the caller receives ``dict[str, BookView | None]``."""
        await self._ensure()
        return self._conn.packed_order_books(symbols, levels)

    async def bbo(self, symbol: str) -> BBO | None:
        await self._ensure()
        return self._conn.bbo(symbol)

    async def funding(self) -> dict[str, FundingRate]:
        await self._ensure()
        return self._conn.funding_rates()

    async def user_events(self, since: int = 0) -> list:
        return list(self._conn.user_events)[since:]

    async def health(self) -> StreamHealth:
        await self._ensure()
        return msgspec.structs.replace(self._conn.health(), incarnation=self._incarnation)

    async def stats(self) -> StreamStats:
        return self._conn.stats()
