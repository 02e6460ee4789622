"""What the coordinator knows of its venues' stream actors: restarts, and the time to SYNCED.

Ray restarts a stream actor whose process or node died, and the actor reconnects and resyncs by
itself; the coordinator must still learn of it, because a venue whose books are being rebuilt
must not be traded on. ``StreamWatch.poll`` asks every attached stream actor for its health (a
bounded call each): an actor that does not answer, or answers as a new incarnation (another
process), puts its venue into *recovering*; the venue is recovered once every such stream is
connected again with its wanted books SYNCED (a paused book connection has none: connected is
enough). Each episode is kept as a ``Recovery`` record (cause, when it began, when it was SYNCED
again, how long that took) for ``summary`` and ``perpwire status``. Open positions are not
touched: the ledger carries them; only new opens on a recovering venue are held.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import msgspec

from perpwire.venues.base import Channel

log = logging.getLogger(__name__)

_BOOKS = (Channel.DEPTH, Channel.BOOK)


class Recovery(msgspec.Struct, kw_only=True):
    venue: str
    stream: str
    cause: str  # "restarted" (a new incarnation answered) or "unreachable: <why>"
    since_ms: int
    synced_ms: int | None = None
    incarnation: str = ""  # the incarnation that answered last

    @property
    def seconds_to_synced(self) -> float | None:
        return None if self.synced_ms is None else round((self.synced_ms - self.since_ms) / 1000, 2)

    def as_dict(self) -> dict[str, Any]:
        return {"venue": self.venue, "stream": self.stream, "cause": self.cause, "since_ms": self.since_ms,
                "synced_ms": self.synced_ms, "seconds_to_synced": self.seconds_to_synced}


def _recovered(health) -> bool:
    """Connected, and every wanted book SYNCED (a paused connection wants none; a symbol resumed
    on it is wanted)."""
    if not health.connected:
        return False
    books = {s.symbol for s in health.subscriptions.wanted if s.symbol and s.channel in _BOOKS}
    return all(health.books.get(sym) == "SYNCED" for sym in books)


class StreamWatch:
    """``streams``: venue -> stream name -> actor handle (anything whose ``health`` is awaitable
    through ``call``). ``call(handle, method)`` is the coordinator's way of calling an actor."""

    def __init__(self, streams: dict[str, dict[str, Any]], call, timeout_s: float = 3.0, keep: int = 50) -> None:
        self._streams = streams
        self._call = call
        self._timeout_s = timeout_s
        self._incarnations: dict[tuple[str, str], str] = {}
        self._open: dict[tuple[str, str], Recovery] = {}
        self.history: deque[Recovery] = deque(maxlen=keep)
        self.polls = 0

    def recovering(self, venue: str) -> str | None:
        """Why ``venue`` must not be opened on now (None: it may)."""
        for (v, stream), rec in self._open.items():
            if v == venue:
                return f"{venue} recovering since its {stream} stream was {rec.cause.split(':')[0]}"
        return None

    def recovering_venues(self) -> dict[str, str]:
        return {v: why for v in sorted({v for v, _ in self._open}) if (why := self.recovering(v))}

    async def poll(self, now_ms: int) -> None:
        pairs = [(v, n, h) for v, hs in self._streams.items() for n, h in hs.items()]
        answers = await asyncio.gather(*(self._ask(h) for _, _, h in pairs), return_exceptions=True)
        self.polls += 1
        for (venue, name, _), answer in zip(pairs, answers, strict=True):
            self._take(venue, name, answer, now_ms)

    async def _ask(self, handle):
        return await asyncio.wait_for(self._call(handle, "health"), self._timeout_s)

    def _take(self, venue: str, name: str, answer, now_ms: int) -> None:
        key = (venue, name)
        rec = self._open.get(key)
        if isinstance(answer, BaseException):
            if rec is None:
                text = str(answer) or f"no answer within {self._timeout_s:g} s"
                why = f"{type(answer).__name__}: {text}".splitlines()[0][:200]
                self._begin(key, f"unreachable: {why}", now_ms, "")
            return
        seen = self._incarnations.get(key)
        self._incarnations[key] = answer.incarnation
        if seen is not None and answer.incarnation != seen and rec is None:
            rec = self._begin(key, "restarted", now_ms, answer.incarnation)
        if rec is not None:
            rec.incarnation = answer.incarnation
            if _recovered(answer):
                rec.synced_ms = now_ms
                del self._open[key]
                log.warning("%s %s: back and SYNCED %.1f s after it was %s; opening on %s allowed again", venue, name,
                            rec.seconds_to_synced, rec.cause, venue)

    def _begin(self, key: tuple[str, str], cause: str, now_ms: int, incarnation: str) -> Recovery:
        rec = Recovery(venue=key[0], stream=key[1], cause=cause, since_ms=now_ms, incarnation=incarnation)
        self._open[key] = rec
        self.history.append(rec)
        log.warning("%s %s: stream actor %s; no new positions on %s until its books are SYNCED", key[0], key[1],
                    cause, key[0])
        return rec

    def records(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.history]
