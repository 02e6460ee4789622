"""``FeedQueue``: the bounded queue between a venue's connections and user code.

Every item rides in one queue per adapter; each channel has an overflow policy, applied when the
queue is full or (for ``LATEST``) whenever an item of the same channel, venue and symbol is still
waiting:

- ``LATEST``: conflation, latest wins per (channel, venue, symbol). A newer book or BBO replaces
  the one still queued, in its place; the replaced one is counted in ``conflated``. Never blocks.
- ``DROP_OLDEST``: when full, the oldest queued item goes (counted in ``dropped`` under its
  channel) to make room. Never blocks.
- ``BLOCK``: when full, the producer waits: the connections stop reading their sockets until the
  consumer makes room (the kernel's buffer, then the venue, feel the back-pressure). Counted in
  ``blocked`` (times the queue filled up) and ``blocked_s``. Nothing is lost. With any channel on
  BLOCK, a full queue holds every producer of the queue back, whatever it was about to put.

A consumer reads with ``await get()``, ``get_nowait()``, ``await get_batch(max_items, timeout)``
or ``async for item in queue`` (ends once the queue is closed and empty). ``stats()`` returns the
counters as a ``QueueStats``, including the delay from the frame's arrival to the item's delivery.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import msgspec

__all__ = ["DEFAULT_POLICIES", "Deferred", "FeedQueue", "Overflow", "QueueClosed", "QueueStats"]


class Overflow(StrEnum):
    LATEST = "latest"
    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"


#: the policy of each channel unless the adapter is told otherwise
DEFAULT_POLICIES: Mapping[str, Overflow] = {
    "book": Overflow.LATEST, "bbo": Overflow.LATEST, "funding": Overflow.LATEST,
    "trades": Overflow.DROP_OLDEST, "bars": Overflow.DROP_OLDEST, "liquidations": Overflow.DROP_OLDEST,
}

_LATENCY_SAMPLES = 100_000
_NONE = object()  # "no item" (None may be an item)


class QueueClosed(Exception):
    """``get`` on a queue that is closed and empty."""


class QueueStats(msgspec.Struct, frozen=True, kw_only=True):
    """What a queue did so far. ``dropped`` and ``conflated`` are per channel; ``latency_p50_ms``
    and ``latency_p99_ms`` are frame arrival -> delivery to user code (the last 100,000 items)."""

    size: int
    maxsize: int
    put: int
    delivered: int
    dropped: dict[str, int]
    conflated: dict[str, int]
    blocked: int
    blocked_s: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    closed: bool


class Deferred:
    """An item made when it is taken: ``fn(arg)`` (a book view cut from the live book). One that
    comes out None (its source went away) is skipped."""

    __slots__ = ("arg", "fn")

    def __init__(self, fn: Any, arg: Any) -> None:
        self.fn, self.arg = fn, arg


class _Slot:
    """One place in the FIFO; a LATEST slot's entry is replaced in place by newer items."""

    __slots__ = ("channel", "item", "key", "t")

    def __init__(self, channel: str, item: Any, t: float, key: tuple | None) -> None:
        self.channel, self.item, self.t, self.key = channel, item, t, key


class FeedQueue:
    """A bounded queue of feed items with one ``Overflow`` policy per channel (``DEFAULT_POLICIES``
    for channels not named in ``policies``). ``maxsize`` counts queued items (conflated ones count
    once). Single event loop, no threads: producers are the adapter's connections."""

    def __init__(self, maxsize: int = 10_000, policies: Mapping[str, Overflow | str] | None = None) -> None:
        if maxsize < 1:
            raise ValueError(f"FeedQueue: maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self.policies: dict[str, Overflow] = dict(DEFAULT_POLICIES)
        for channel, policy in (policies or {}).items():
            try:
                self.policies[channel] = Overflow(policy)
            except ValueError:
                raise ValueError(f"FeedQueue: overflow policy {policy!r} for {channel!r} is none of "
                                 f"{', '.join(p.value for p in Overflow)}") from None
        self._fifo: deque[_Slot] = deque()
        self._latest: dict[tuple, _Slot] = {}
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closed = False
        self.put_count = 0
        self.delivered = 0
        self.dropped: Counter[str] = Counter()
        self.conflated: Counter[str] = Counter()
        self.blocked = 0
        self.blocked_s = 0.0
        self._full_since: float | None = None
        self._blocks = any(p is Overflow.BLOCK for p in self.policies.values())
        self._latency: deque[float] = deque(maxlen=_LATENCY_SAMPLES)

    # --- producer side -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._fifo)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def blocks(self) -> bool:
        """Whether any channel's policy is BLOCK (its producers must honour ``room``)."""
        return self._blocks

    @property
    def full(self) -> bool:
        return len(self._fifo) >= self.maxsize

    def put(self, channel: str, item: Any, symbol: str | None = None, venue: str = "", t: float | None = None) -> None:
        """Queue ``item`` of ``channel`` (``t``: ``time.monotonic()`` when its frame arrived). Never
        waits: a full queue drops the oldest item unless the channel's policy is BLOCK, in which
        case the item is taken and the producer must ``await wait_room()`` before producing more."""
        if self._closed:
            return
        now = time.monotonic() if t is None else t
        self.put_count += 1
        policy = self.policies.get(channel, Overflow.DROP_OLDEST)
        if policy is Overflow.LATEST:
            key = (channel, venue, symbol)
            slot = self._latest.get(key)
            if slot is not None:
                slot.item, slot.t = item, now  # the newer item takes the older one's place in line
                self.conflated[channel] += 1
                return
            self._make_room()
            slot = self._latest[key] = _Slot(channel, item, now, key)
        else:
            if policy is Overflow.DROP_OLDEST:
                self._make_room()
            slot = _Slot(channel, item, now, None)
        self._fifo.append(slot)
        self._readable.set()
        if len(self._fifo) >= self.maxsize and self._room.is_set():
            self._room.clear()
            if self._blocks:
                self.blocked += 1  # one episode of a full queue holding its producers back
                self._full_since = now

    def _make_room(self) -> None:
        while len(self._fifo) >= self.maxsize:
            old = self._fifo.popleft()
            if old.key is not None:
                del self._latest[old.key]
            self.dropped[old.channel] += 1

    async def wait_room(self) -> None:
        """Return once the queue has room (at once when it has)."""
        if self._room.is_set() or self._closed:
            return
        await self._room.wait()

    @property
    def room(self) -> asyncio.Event:
        """Set while the queue has room (the connection's read gate for BLOCK channels)."""
        return self._room

    def close(self) -> None:
        """No more items are taken; consumers get what is queued, then the end."""
        self._closed = True
        self._readable.set()
        self._room.set()

    # --- consumer side -------------------------------------------------------------------------

    def _pop(self) -> Any:
        """The oldest item, or ``_NONE`` when the queue is (or turned out to be) empty."""
        fifo = self._fifo
        item: Any = _NONE
        while fifo:
            slot = fifo.popleft()
            if slot.key is not None:
                del self._latest[slot.key]
            item = slot.item
            if type(item) is Deferred:
                item = item.fn(item.arg)
                if item is None:
                    item = _NONE
                    continue
            self.delivered += 1
            self._latency.append(time.monotonic() - slot.t)
            break
        if not fifo and not self._closed:
            self._readable.clear()
        if len(fifo) < self.maxsize and not self._room.is_set():
            self._room.set()
            if self._full_since is not None:
                self.blocked_s += time.monotonic() - self._full_since
                self._full_since = None
        return item

    def get_nowait(self) -> Any:
        """The oldest item; ``asyncio.QueueEmpty`` when there is none (``QueueClosed`` once closed)."""
        item = self._pop()
        if item is not _NONE:
            return item
        if self._closed:
            raise QueueClosed("the feed queue is closed")
        raise asyncio.QueueEmpty

    async def get(self) -> Any:
        """The oldest item, waiting for one; ``QueueClosed`` once the queue is closed and empty."""
        while True:
            item = self._pop()
            if item is not _NONE:
                return item
            if self._closed:
                raise QueueClosed("the feed queue is closed")
            await self._readable.wait()

    async def get_batch(self, max_items: int = 1000, timeout: float | None = None) -> list[Any]:
        """Up to ``max_items`` items: waits at most ``timeout`` seconds (None: no limit) for the
        first, then takes what is already queued without waiting more. ``[]`` on timeout, or once
        the queue is closed and empty."""
        if max_items < 1:
            raise ValueError(f"get_batch: max_items must be at least 1, got {max_items}")
        if not self._fifo and not self._closed:
            try:
                await asyncio.wait_for(self._readable.wait(), timeout)
            except TimeoutError:
                return []
        out: list[Any] = []
        while self._fifo and len(out) < max_items:
            item = self._pop()
            if item is not _NONE:
                out.append(item)
        return out

    async def get_batch_timed(self, max_items: int = 1000, timeout: float | None = None) -> list[tuple[Any, float]]:
        """``get_batch`` with each item's frame arrival time (``time.monotonic()``), for a relay
        that hands the items on (the Ray back-end)."""
        if not self._fifo and not self._closed:
            try:
                await asyncio.wait_for(self._readable.wait(), timeout)
            except TimeoutError:
                return []
        out: list[tuple[Any, float]] = []
        while self._fifo and len(out) < max_items:
            t = self._fifo[0].t
            item = self._pop()
            if item is not _NONE:
                out.append((item, t))
        return out

    def drain(self) -> list[Any]:
        """Everything queued, at once."""
        out: list[Any] = []
        while self._fifo:
            item = self._pop()
            if item is not _NONE:
                out.append(item)
        return out

    def __aiter__(self) -> FeedQueue:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.get()
        except QueueClosed:
            raise StopAsyncIteration from None

    def stats(self) -> QueueStats:
        lat = sorted(self._latency)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 4) if lat else None

        return QueueStats(size=len(self._fifo), maxsize=self.maxsize, put=self.put_count, delivered=self.delivered,
                          dropped=dict(self.dropped), conflated=dict(self.conflated), blocked=self.blocked,
                          blocked_s=round(self.blocked_s, 4), latency_p50_ms=pct(0.5), latency_p99_ms=pct(0.99),
                          closed=self._closed)
