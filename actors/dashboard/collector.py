"""What the dashboard shows, read from a running deployment: one ``collect()`` gives every panel.

The collector asks a ``Source`` (the coordinator and the stream actors, or a stand-in in tests)
for their state by value and turns it into plain JSON-ready panels: streams (state, counters and
their rates since the previous collection), pause savings, book freshness, funding spreads,
positions with their legs and PnL split, resume latencies, and a log of recent events. Events are
what changed between two collections — a stream paused or resumed, a reconnect, a resync, a
position opened or closed, a rejected order — so nothing in the deployment has to push them.
A plain class with no Ray in it: ``RaySource`` in ``actors.dashboard.actor`` is the real source.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from perpwire.actors.app.view import pause_savings

PANELS = ("streams", "savings", "books", "funding", "positions", "latency", "events", "meta")


class Source(Protocol):
    """Where the collector reads a deployment. Every method answers by value."""

    async def streams(self) -> list[dict[str, Any]]:
        """One row per stream actor: ``StreamStats`` and ``StreamHealth`` fields flattened (with
        ``resumed_symbols``: symbols whose market data is wanted now), or ``{venue, stream, error}``
        when the actor did not answer."""

    async def summary(self) -> dict[str, Any]: ...

    async def opportunities(self, top: int) -> list[Any]: ...

    async def positions(self) -> list[dict[str, Any]]: ...

    async def orders(self) -> list[dict[str, Any]]: ...


def _plain(value: Any) -> Any:
    """A struct (an ``Opportunity``) or anything msgspec knows, as JSON-ready builtins (Decimals as text)."""
    return msgspec.to_builtins(value, builtin_types=(), str_keys=True, enc_hook=str)


def stream_state(row: dict[str, Any]) -> str:
    """active (market data flows, for all or some symbols: a trade resumes one), paused,
    connecting (never connected, or lost its socket) or error (the actor did not answer)."""
    if "error" in row:
        return "error"
    if not row.get("connected"):
        return "connecting"  # a stream that never connected is not "paused"
    return "paused" if row.get("paused") and not row.get("resumed_symbols") else "active"


class Collector:
    """Builds the panels; keeps what it needs between collections (last counters, event log)."""

    def __init__(self, source: Source, *, funding_rows: int = 2000, events: int = 200,
                 clock: Callable[[], float] = time.monotonic, wall_ms: Callable[[], int] | None = None):
        self.source = source
        self.funding_rows = funding_rows
        self.clock = clock
        self.wall_ms = wall_ms or (lambda: int(time.time() * 1000))
        self.events: deque[dict[str, Any]] = deque(maxlen=events)
        self._seq = 0
        self._last: dict[str, tuple[float, dict[str, Any]]] = {}  # stream key -> (when, row)
        self._positions: dict[str, bool] | None = None  # id -> open, at the previous collection
        self._rejections = None  # (failed executions, rejected orders) at the previous collection
        self.collections = 0
        self.boot_ms = self.wall_ms()  # tells a browser that an event log starting again is a new one

    async def collect(self) -> dict[str, Any]:
        rows = await self.source.streams()
        summary = await self.source.summary()
        opps = await self.source.opportunities(self.funding_rows)
        positions = await self.source.positions()
        orders = await self.source.orders()
        now = self.clock()
        panels = {
            "streams": self._streams(rows, now),
            "savings": self._savings(rows),
            "books": self._books(rows),
            "funding": [self._opportunity(o) for o in opps[: self.funding_rows]],
            "positions": self._positions_panel(positions, summary),
            "latency": self._latency(rows),
        }
        self._diff_positions(positions)
        self._diff_rejections(summary, orders)
        panels["events"] = list(self.events)
        panels["meta"] = {"ts_ms": self.wall_ms(), "boot_ms": self.boot_ms,
                          "rates_ingested": summary.get("rates_ingested", 0),
                          "settlements": summary.get("settlements", 0), "attached": summary.get("attached"),
                          "strategies": summary.get("strategies", [])}
        self.collections += 1
        return panels

    # --- events ----------------------------------------------------------------------------------

    def event(self, kind: str, text: str) -> None:
        self._seq += 1
        self.events.append({"seq": self._seq, "ts_ms": self.wall_ms(), "kind": kind, "text": text})

    def _diff_stream(self, key: str, row: dict[str, Any], before: dict[str, Any] | None) -> None:
        if before is None or "error" in row or "error" in before:
            return
        was, now = stream_state(before), stream_state(row)
        if was != now:
            kind = {"paused": "pause", "active": "resume"}.get(now, now)
            if now == "connecting":
                kind = "disconnect"
            self.event(kind, f"{key}: {was} -> {now}")
        for counter, kind in (("reconnects", "reconnect"), ("resyncs", "resync"),
                              ("decode_errors", "decode_error"), ("rejected", "venue_error")):
            grew = row.get(counter, 0) - before.get(counter, 0)
            if grew > 0:
                self.event(kind, f"{key}: {grew} {counter.replace('_', ' ')}" + (
                    f" ({row['last_error']})" if kind == "reconnect" and row.get("last_error") else ""))

    def _diff_positions(self, positions: list[dict[str, Any]]) -> None:
        now = {p["id"]: bool(p["open"]) for p in positions}
        if self._positions is not None:
            for p in positions:
                was = self._positions.get(p["id"])
                if was is None:
                    self.event("open", f"opened {p['id']} {p['asset']}: long {p['long']}, short {p['short']}, "
                                       f"qty {p.get('qty')}")
                    if not p["open"]:
                        self.event("close", f"closed {p['id']} {p['asset']}: {p.get('close_reason')}")
                elif was and not p["open"]:
                    self.event("close", f"closed {p['id']} {p['asset']}: {p.get('close_reason')}, total "
                                        f"{p.get('total')}")
        self._positions = now

    def _diff_rejections(self, summary: dict[str, Any], orders: list[dict[str, Any]]) -> None:
        failed = [e for e in summary.get("executions", []) if not e.get("ok")]
        rejected = [o for o in orders if str(o.get("status", "")).lower() == "rejected"]
        if self._rejections is not None:
            for e in failed[self._rejections[0]:]:
                self.event("rejection", f"{e.get('action')} failed: {e.get('reason')}")
            for o in rejected[self._rejections[1]:]:
                self.event("rejection", f"order {o['side']} {o['venue']}:{o['symbol']} rejected: {o.get('reason')}")
        self._rejections = (len(failed), len(rejected))

    # --- panels ----------------------------------------------------------------------------------

    def _streams(self, rows: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        out = []
        for row in rows:
            key = f"{row['venue']}/{row['stream']}"
            prev = self._last.get(key)
            self._diff_stream(key, row, prev[1] if prev else None)
            self._last[key] = (now, row)
            if "error" in row:
                out.append({"key": key, "venue": row["venue"], "stream": row["stream"], "state": "error",
                            "error": row["error"]})
                continue
            msgs_s = bytes_s = None
            if prev is not None and "error" not in prev[1] and now > prev[0]:
                dt = now - prev[0]
                msgs_s = max(0.0, (row.get("messages", 0) - prev[1].get("messages", 0)) / dt)
                bytes_s = max(0.0, (row.get("bytes", 0) - prev[1].get("bytes", 0)) / dt)
            out.append({
                "key": key, "venue": row["venue"], "stream": row["stream"], "state": stream_state(row),
                "connected": bool(row.get("connected")), "paused": bool(row.get("paused")),
                "pausable": bool(row.get("paused_seconds") or row.get("paused")),
                "messages": row.get("messages", 0), "bytes": row.get("bytes", 0),
                "msgs_per_s": None if msgs_s is None else round(msgs_s, 2),
                "bytes_per_s": None if bytes_s is None else round(bytes_s, 1),
                "reconnects": row.get("reconnects", 0), "resyncs": row.get("resyncs", 0),
                "decode_errors": row.get("decode_errors", 0), "last_message_age_s": row.get("last_frame_age_s"),
                "last_error": row.get("last_error"), "resumed_symbols": list(row.get("resumed_symbols") or []),
            })
        return out

    @staticmethod
    def _savings(rows: list[dict[str, Any]]) -> dict[str, Any]:
        sav = pause_savings({"streams": rows})
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in sav.items()}

    @staticmethod
    def _books(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for row in rows:
            if "error" in row:
                continue
            ages = row.get("book_age_ms") or {}
            resumed = set(row.get("resumed_symbols") or ())
            for symbol, state in sorted((row.get("books") or {}).items()):
                out.append({"venue": row["venue"], "stream": row["stream"], "symbol": symbol, "state": state,
                            "age_ms": ages.get(symbol), "paused": bool(row.get("paused")) and symbol not in resumed})
        return out

    @staticmethod
    def _opportunity(o: Any) -> dict[str, Any]:
        d = _plain(o)
        nexts = [t for t in (d.get("long_next_funding_ts"), d.get("short_next_funding_ts")) if t]
        d["next_settlement_ms"] = min(nexts) if nexts else None
        return d

    @staticmethod
    def _positions_panel(positions: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
        return {"ledger": dict(summary.get("ledger") or {}), "positions": [_plain(p) for p in positions],
                "holds": list(summary.get("holds") or [])}

    @staticmethod
    def _latency(rows: list[dict[str, Any]]) -> dict[str, Any]:
        streams, histogram = [], {}
        for row in rows:
            if "error" in row or not row.get("resumes"):
                continue
            streams.append({"key": f"{row['venue']}/{row['stream']}", "venue": row["venue"],
                            "stream": row["stream"], "resumes": row["resumes"], "p50_ms": row.get("resume_p50_ms"),
                            "p99_ms": row.get("resume_p99_ms"), "histogram": dict(row.get("resume_histogram") or {})})
            for bucket, n in (row.get("resume_histogram") or {}).items():
                histogram[bucket] = histogram.get(bucket, 0) + n
        p50 = [s["p50_ms"] for s in streams if s["p50_ms"] is not None]
        p99 = [s["p99_ms"] for s in streams if s["p99_ms"] is not None]
        return {"streams": streams, "histogram": histogram, "worst_p50_ms": max(p50, default=None),
                "worst_p99_ms": max(p99, default=None)}
