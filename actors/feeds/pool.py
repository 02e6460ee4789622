"""``ConnectionPool``: one venue's feed subscriptions sharded over connections within the
venue's published limits (``VenueSpec.limits``: topics per connection and in all, connections,
control messages per window).

A subscription goes to an open connection of its route (``Codec.route``) that has room for its
topics (``Codec.topic_count``); what does not fit opens new connections, each created with its
share already wanted, so its first socket subscribes it in the venue's largest frames. Every
frame a connection sends (subscribe, unsubscribe, pong) takes a token from a pacer that allows
at most ``messages`` in any ``per_s`` seconds (a bucket of half the limit, refilled at half the
rate: ``burst + rate * per_s == messages``), one per connection or one for the venue when the
venue counts per IP. Subscriptions whose venue topic is already live (Backpack's all-market
liquidation stream, Bybit's tickers carrying BBO and funding) ride on it instead of asking twice.
Going past the venue's connection or topic total is refused before anything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from perpwire.actors.app.config import StreamConfig
from perpwire.actors.feeds.channels import FeedError
from perpwire.actors.feeds.connection import FeedConnection
from perpwire.actors.pacing import TokenBucket, pacer_for
from perpwire.venues.base import Codec, Subscription, VenueLimits

__all__ = ["ConnectionPool", "pacer_for"]

Factory = Callable[[StreamConfig, TokenBucket], FeedConnection]


class _Slot:
    def __init__(self, conn: FeedConnection, route: str) -> None:
        self.conn = conn
        self.route = route
        self.topics: dict[str, set[Subscription]] = {}  # venue topic -> the subscriptions riding on it

    def used(self, codec: Codec) -> int:
        return sum(codec.topic_count(next(iter(subs))) for subs in self.topics.values() if subs)


class ConnectionPool:
    def __init__(self, venue: str, codec: Codec, limits: VenueLimits, factory: Factory, *,
                 codec_options: dict | None = None, overrides: dict | None = None) -> None:
        self.venue = venue
        self.codec = codec  # a probe: topics, routes and topic counts, never a socket's codec
        self.limits = limits
        self._factory = factory
        self._options = dict(codec_options or {})
        self._overrides = dict(overrides or {})
        self._shared = pacer_for(limits) if limits.control_scope == "ip" else None
        cap = codec.max_streams_per_connection  # a codec may hold fewer than the venue allows (Binance: 200)
        self.per_connection = min(limits.streams_per_connection, cap) if cap else limits.streams_per_connection
        self.slots: list[_Slot] = []
        self._lock = asyncio.Lock()
        self._started = False
        self._serial = 0

    @property
    def connections(self) -> list[FeedConnection]:
        return [s.conn for s in self.slots]

    def topics_total(self) -> int:
        return sum(s.used(self.codec) for s in self.slots)

    def _find(self, topic: str) -> _Slot | None:
        for slot in self.slots:
            if slot.topics.get(topic):
                return slot
        return None

    async def start(self) -> None:
        self._started = True
        for slot in self.slots:
            await slot.conn.start()

    async def subscribe(self, subs: list[Subscription]) -> list[Subscription]:
        """Make ``subs`` wanted somewhere; returns the ones that asked the venue for a new topic."""
        async with self._lock:
            return await self._subscribe(subs)

    async def _subscribe(self, subs: list[Subscription]) -> list[Subscription]:
        codec, limits = self.codec, self.limits
        riding: list[tuple[_Slot, str, Subscription]] = []
        fresh: dict[str, dict[str, list[Subscription]]] = {}  # route -> topic -> subs
        for sub in dict.fromkeys(subs):
            topic = codec.topic(sub)
            slot = self._find(topic)
            if slot is not None:
                riding.append((slot, topic, sub))
            else:
                fresh.setdefault(codec.route(sub), {}).setdefault(topic, []).append(sub)
        need = sum(codec.topic_count(group[0]) for topics in fresh.values() for group in topics.values())
        if limits.streams_total is not None and self.topics_total() + need > limits.streams_total:
            raise FeedError(f"{self.venue}: {self.topics_total() + need} topics would pass the venue's "
                            f"{limits.streams_total} in all ({limits.source})")
        plan: list[tuple[_Slot | None, str, list[tuple[str, list[Subscription]]]]] = []
        for route, topics in fresh.items():
            pending = list(topics.items())
            for slot in self.slots:  # fill open connections of this route first
                if slot.route != route or not pending:
                    continue
                room = self.per_connection - slot.used(codec)
                take = _fit(codec, pending, room)
                if take:
                    plan.append((slot, route, take))
                    pending = pending[len(take):]
            while pending:
                take = _fit(codec, pending, self.per_connection)
                if not take:
                    raise FeedError(f"{self.venue}: one subscription needs more topics than a connection holds")
                plan.append((None, route, take))
                pending = pending[len(take):]
        new_conns = sum(1 for slot, _, _ in plan if slot is None)
        if limits.max_connections_per_ip is not None and len(self.slots) + new_conns > limits.max_connections_per_ip:
            raise FeedError(f"{self.venue}: {len(self.slots) + new_conns} connections would pass the venue's "
                            f"{limits.connections} ({limits.source})")
        for slot, topic, sub in riding:
            slot.topics[topic].add(sub)
        sent: list[Subscription] = []
        for slot, route, take in plan:
            subs_here = [s for _, group in take for s in group]
            if slot is None:
                slot = self._open(route, subs_here)
                if self._started:
                    await slot.conn.start()
            else:
                await slot.conn.control.subscribe(subs_here)
            for topic, group in take:
                slot.topics.setdefault(topic, set()).update(group)
            sent += subs_here
        return sent

    def _open(self, route: str, subs: list[Subscription]) -> _Slot:
        name = f"feed-{route}-{self._serial}"
        self._serial += 1
        config = StreamConfig(venue=self.venue, name=name, route=route,
                              subscriptions=[{"channel": s.channel, "symbol": s.symbol} for s in subs],
                              codec_options=dict(self._options), **self._overrides)
        pacer = self._shared or pacer_for(self.limits)
        slot = _Slot(self._factory(config, pacer), route)
        self.slots.append(slot)
        return slot

    async def unsubscribe(self, subs: list[Subscription]) -> list[Subscription]:
        """No longer want ``subs``; a venue topic is dropped once nothing rides on it."""
        async with self._lock:
            gone: list[Subscription] = []
            for sub in dict.fromkeys(subs):
                topic = self.codec.topic(sub)
                slot = self._find(topic)
                if slot is None:
                    continue
                riders = slot.topics[topic]
                riders.discard(sub)
                if riders:
                    continue
                del slot.topics[topic]
                wanted = slot.conn.tracker.wanted
                drop = [s for s in wanted if s == sub or (s.symbol == sub.symbol and self.codec.topic(s) == topic)]
                gone += await slot.conn.control.unsubscribe(drop or [sub])
            return gone

    async def stop(self) -> None:
        for slot in self.slots:
            with contextlib.suppress(Exception):
                await slot.conn.stop()
        self._started = False

    def wanted(self) -> set[Subscription]:
        return {s for slot in self.slots for subs in slot.topics.values() for s in subs}


def _fit(codec: Codec, pending: list[tuple[str, list[Subscription]]], room: int) -> list[tuple[str, Any]]:
    out, used = [], 0
    for topic, group in pending:
        n = codec.topic_count(group[0])
        if used + n > room:
            break
        out.append((topic, group))
        used += n
    return out
