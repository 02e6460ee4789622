"""The terminal view of a running deployment (rich): streams, opportunities, positions, PnL.

``run_live_view`` redraws once a second for ``duration_s``; ``render_summary`` prints the end of
a demo: positions opened and closed with their PnL, market-data bytes actually received on the
pausable streams against what an always-on stream would have received at the rate measured while
active, and resume latencies.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

console = Console()


async def collect_summary(runtime, backfilled: int, started: float) -> dict[str, Any]:
    """What ``render_summary`` shows, read from a running deployment (before it is stopped)."""
    return {"status": await runtime.status(), "positions": await runtime.coordinator.positions.remote(),
            "backfilled": backfilled, "duration_s": round(time.monotonic() - started, 1)}


def fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


WIDE = 120  # at least this many columns: every column; narrower terminals drop the secondary ones


def _table(title: str, columns: list[tuple[str, bool]], wide: bool) -> tuple[Table, list[int]]:
    """A table of the columns that fit: (name, essential) pairs; returns it and the kept indices."""
    keep = [i for i, (_, essential) in enumerate(columns) if wide or essential]
    t = Table(title=title, expand=True)
    for i in keep:
        t.add_column(columns[i][0], no_wrap=True, overflow="ellipsis")
    return t, keep


def _row(t: Table, keep: list[int], cells: list[str]) -> None:
    t.add_row(*(cells[i] for i in keep))


def streams_table(status: dict[str, Any], rates: dict[str, float], width: int | None = None) -> Table:
    cols = [("venue/stream", True), ("state", True), ("msgs", True), ("bytes", True), ("B/s", False),
            ("reconn", True), ("resync", False), ("resume p50 ms", False)]
    t, keep = _table("streams", cols, (width or console.width) >= WIDE)
    for s in status["streams"]:
        if "error" in s:
            _row(t, keep, [f"{s['venue']}/{s['stream']}", "[red]error", "", "", "", "", "", ""])
            continue
        key = f"{s['venue']}/{s['stream']}"
        state = ("[red]connecting" if not s.get("connected")  # never-connected streams are not "paused"
                 else "[yellow]paused" if s.get("paused") else "[green]active")
        _row(t, keep, [key, state, str(s.get("messages", 0)), fmt_bytes(s.get("bytes", 0)),
                       fmt_bytes(rates.get(key, 0.0)), str(s.get("reconnects", 0)), str(s.get("resyncs", 0)),
                       str(s.get("resume_p50_ms") or "")])
    return t


def opportunities_table(opps, width: int | None = None) -> Table:
    cols = [("asset", True), ("long", True), ("short", True), ("spread/h", False), ("net/h", True),
            ("annualised", False), ("z long", False), ("z short", False)]
    t, keep = _table("top funding spreads (fraction per hour)", cols, (width or console.width) >= WIDE)
    for o in opps[:6]:
        def z(v):
            return "" if v is None else f"{v:+.2f}"

        _row(t, keep, [o.asset, f"{o.long_venue}:{o.long_symbol}", f"{o.short_venue}:{o.short_symbol}",
                       f"{o.spread_per_hour:.6f}", f"{o.net_per_hour:.6f}", f"{o.annualised:.2%}", z(o.long_z),
                       z(o.short_z)])
    return t


def positions_table(positions: list[dict], width: int | None = None) -> Table:
    cols = [("id", True), ("asset", True), ("long", False), ("short", False), ("qty", False), ("state", True),
            ("price", False), ("funding", False), ("fees", False), ("total", True)]
    t, keep = _table("positions (paper)", cols, (width or console.width) >= WIDE)
    for p in positions:
        state = "open" if p["open"] else f"closed: {p['close_reason']}"
        _row(t, keep, [p["id"], p["asset"], p["long"], p["short"], p["qty"], state,
                       *(f"{float(p[k]):+.4f}" for k in ("price", "funding", "fees", "total"))])
    return t


def status_line(status: dict[str, Any], positions: list[dict], elapsed_s: float) -> str:
    """One plain line for a log or a pipe (no terminal to redraw)."""
    streams = [s for s in status["streams"] if "error" not in s]
    connected = sum(1 for s in streams if s.get("connected"))
    paused = sum(1 for s in streams if s.get("paused"))
    c = status["coordinator"]
    ledger = c.get("ledger", {})
    return (f"t+{elapsed_s:.0f}s streams {connected}/{len(status['streams'])} connected ({paused} paused), "
            f"rates {c.get('rates_ingested', 0)}, positions {sum(1 for p in positions if p['open'])} open "
            f"/ {len(positions)}, PnL {ledger.get('total', '0')}")


async def run_live_view(runtime, duration_s: float, sim=None, period_s: float = 1.0) -> None:
    """Redraw the tables once a second on a terminal; on a pipe or a log, one plain status line
    every ten seconds instead. Ends after ``duration_s`` (``inf``: until cancelled)."""
    if not console.is_terminal:
        await _plain_view(runtime, duration_s)
        return
    last: dict[str, tuple[float, int]] = {}
    end = time.monotonic() + duration_s
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        while time.monotonic() < end:
            status = await runtime.status()
            now = time.monotonic()
            rates = {}
            for s in status["streams"]:
                key = f"{s['venue']}/{s['stream']}"
                prev = last.get(key)
                if prev is not None and now > prev[0]:
                    rates[key] = (s.get("bytes", 0) - prev[1]) / (now - prev[0])
                last[key] = (now, s.get("bytes", 0))
            opps = await runtime.coordinator.opportunities.remote(6)
            positions = await runtime.coordinator.positions.remote()
            left = (f"{max(0.0, end - now):.0f} s left" if duration_s != float("inf")
                    else "running: Ctrl-C or `perpwire stop` ends it")
            live.update(Group(streams_table(status, rates), opportunities_table(opps), positions_table(positions),
                              f"[dim]{left}"))
            await asyncio.sleep(period_s)


async def _plain_view(runtime, duration_s: float, every_s: float = 10.0) -> None:
    started = time.monotonic()
    while time.monotonic() - started < duration_s:
        await asyncio.sleep(min(every_s, max(0.0, duration_s - (time.monotonic() - started))))
        status = await runtime.status()
        positions = await runtime.coordinator.positions.remote()
        print(status_line(status, positions, time.monotonic() - started), flush=True)


SECONDS_PER_MONTH = 30 * 86_400  # the monthly figure: the measured saving kept up for 30 days


def pause_savings(status: dict[str, Any]) -> dict[str, float]:
    """Bytes the pausable streams received, and what always-on would have cost at their measured
    active rate (bytes / seconds with market data wanted × total seconds). A stream whose market
    data never ran (under 50 ms) gives no rate to measure and counts as received only. The rate of
    short resumes includes their snapshots, so the estimate leans high. ``saved_per_month`` is the
saving per second at the measured rates kept up for 30 days."""
    received = 0.0
    always_on = 0.0
    saved_per_s = 0.0  # bytes per second pausing saves, summed over the streams' own lifetimes
    for s in status["streams"]:
        if "error" in s or (not s.get("paused_seconds") and not s.get("paused")):
            continue
        total = s.get("uptime_s") or 0.0
        active = s.get("market_data_seconds", total - s.get("paused_seconds", 0.0))
        got = s.get("bytes", 0)
        would = got / active * total if total and active >= 0.05 else got
        received += got
        always_on += would
        if total:
            saved_per_s += (would - got) / total
    saved = always_on - received
    return {"received": received, "always_on_estimate": always_on, "saved": saved,
            "saved_fraction": saved / always_on if always_on else 0.0, "saved_per_s": saved_per_s,
            "saved_per_month": saved_per_s * SECONDS_PER_MONTH}


def render_summary(summary: dict[str, Any]) -> None:
    status = summary["status"]
    ledger = status["coordinator"]["ledger"]
    console.rule("perpwire demo summary")
    console.print(positions_table(summary["positions"]))
    console.print(f"positions opened {ledger['opened']}, closed {ledger['closed']}, funding payments "
                  f"{ledger['payments']}; PnL price {float(ledger['price']):+.4f}, funding "
                  f"{float(ledger['funding']):+.4f}, fees {float(ledger['fees']):+.4f}, total "
                  f"{float(ledger['total']):+.4f}")
    sav = pause_savings(status)
    console.print(f"market data on pausable streams: received {fmt_bytes(sav['received'])}, always-on at the "
                  f"measured active rate {fmt_bytes(sav['always_on_estimate'])}: saved {fmt_bytes(sav['saved'])} "
                  f"({sav['saved_fraction']:.1%})")
    lat = [s.get("resume_p50_ms") for s in status["streams"] if s.get("resume_p50_ms") is not None]
    p99 = [s.get("resume_p99_ms") for s in status["streams"] if s.get("resume_p99_ms") is not None]
    if lat:
        console.print(f"resume to fresh book: p50 {max(lat):.0f} ms, p99 {max(p99):.0f} ms (worst stream)")
    else:
        console.print("resume to fresh book: no resumes")
    c = status["coordinator"]
    console.print(f"funding rates ingested {c['rates_ingested']} ({c['immediate']} immediate), backfilled "
                  f"{summary['backfilled']} settled rates; exchange-time-to-rank p50 "
                  f"{c['update_to_rank_p50_ms'] if c['update_to_rank_p50_ms'] is not None else 'n/a (simulated clock)'}"
                  + (" ms" if c["update_to_rank_p50_ms"] is not None else ""))
