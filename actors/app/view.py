"""The terminal view of a running deployment (rich): streams, opportunities, positions, PnL.

``run_live_view`` redraws once a second for ``duration_s``; ``render_summary`` prints the end of
a demo: positions opened and closed with their PnL, market-data bytes actually received on the
pausable streams against what an always-on stream would have received at the rate measured while
active, and resume latencies.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

from rich import box as rich_box
from rich.console import Console, Group
from rich.live import Live
from rich.measure import Measurement
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


WIDE = 120  # kept for callers that ask whether a terminal is wide; the tables measure themselves

# short names a narrow terminal uses in "venue:symbol" and "venue/stream" cells
VENUE_ABBR = {"aster": "ast", "backpack": "bpk", "lighter": "ltr", "binance": "bnc", "bybit": "byb",
              "hyperliquid": "hl", "kucoin": "kuc"}


def abbreviate(cell: str) -> str:
    """A cell in fewer characters without losing what it names: venue names shortened where they
    lead a "venue:symbol" or "venue/stream", Backpack's ``_USDC_PERP`` suffix to ``_PERP``."""
    for sep in (":", "/"):
        venue, found, rest = cell.partition(sep)
        if found and venue in VENUE_ABBR:
            return f"{VENUE_ABBR[venue]}{sep}{rest.replace('_USDC_PERP', '_PERP')}"
    return cell


def fit_table(title: str | None, columns: list[tuple[str, int]], rows: list[list[str]], width: int, *,
              abbreviable: frozenset[int] = frozenset(), box_style=rich_box.HEAVY_HEAD, **table_kw) -> Table:
    """The table with as many columns as fit ``width`` and no cell cut: every column, then
    columns dropped by priority (``(name, priority)``: the highest number goes first; 0 is never
    dropped), each step tried first as is and then with the ``abbreviable`` columns' cells
    abbreviated. Only a terminal too narrow for the priority-0 columns abbreviated gets cut cells."""
    order = sorted((i for i, (_, prio) in enumerate(columns) if prio > 0), key=lambda i: -columns[i][1])
    short = [[abbreviate(c) if i in abbreviable else c for i, c in enumerate(r)] for r in rows]
    attempts = []
    for n in range(len(order) + 1):  # fewer columns before shorter names: a full name reads best
        keep = [i for i in range(len(columns)) if i not in set(order[:n])]
        attempts += [(keep, rows), (keep, short)]
    measure = Console(width=10_000, file=io.StringIO(), color_system=None)  # the natural width, unclamped
    for keep, cells in attempts:
        table = _build(title, columns, keep, cells, box_style, table_kw)
        if Measurement.get(measure, measure.options, table).maximum <= width:
            break
    table.expand = True
    return table


def _build(title, columns, keep, cells, box_style, table_kw) -> Table:
    t = Table(title=title, box=box_style, **table_kw)
    for i in keep:
        t.add_column(columns[i][0], no_wrap=True, overflow="ellipsis")
    for r in cells:
        t.add_row(*(r[i] for i in keep))
    return t


def streams_table(status: dict[str, Any], rates: dict[str, float], width: int | None = None) -> Table:
    cols = [("venue/stream", 0), ("state", 0), ("msgs", 0), ("bytes", 0), ("B/s", 3), ("reconn", 1),
            ("resync", 2), ("resume p50 ms", 4)]
    rows = []
    for s in status["streams"]:
        key = f"{s['venue']}/{s['stream']}"
        if "error" in s:
            rows.append([key, "[red]error", "", "", "", "", "", ""])
            continue
        state = ("[red]connecting" if not s.get("connected")  # never-connected streams are not "paused"
                 else "[yellow]paused" if s.get("paused") else "[green]active")
        rows.append([key, state, str(s.get("messages", 0)), fmt_bytes(s.get("bytes", 0)),
                     fmt_bytes(rates.get(key, 0.0)), str(s.get("reconnects", 0)), str(s.get("resyncs", 0)),
                     str(s.get("resume_p50_ms") or "")])
    return fit_table("streams", cols, rows, width or console.width, abbreviable=frozenset({0}))


def opportunities_table(opps, width: int | None = None) -> Table:
    cols = [("asset", 0), ("long", 0), ("short", 0), ("spread/h", 2), ("net/h", 0), ("annualised", 1),
            ("z long", 3), ("z short", 3)]

    def z(v):
        return "" if v is None else f"{v:+.2f}"

    rows = [[o.asset, f"{o.long_venue}:{o.long_symbol}", f"{o.short_venue}:{o.short_symbol}",
             f"{o.spread_per_hour:.6f}", f"{o.net_per_hour:.6f}", f"{o.annualised:.2%}", z(o.long_z), z(o.short_z)]
            for o in opps[:6]]
    return fit_table("top funding spreads (fraction per hour)", cols, rows, width or console.width,
                     abbreviable=frozenset({1, 2}))


def positions_table(positions: list[dict], width: int | None = None) -> Table:
    cols = [("id", 0), ("asset", 0), ("long", 1), ("short", 1), ("qty", 4), ("state", 0), ("price", 3),
            ("funding", 2), ("fees", 3), ("total", 0)]
    rows = []
    for p in positions:
        state = "open" if p["open"] else f"closed: {p['close_reason']}"
        rows.append([p["id"], p["asset"], p["long"], p["short"], p["qty"], state,
                     *(f"{float(p[k]):+.4f}" for k in ("price", "funding", "fees", "total"))])
    return fit_table("positions (paper)", cols, rows, width or console.width, abbreviable=frozenset({2, 3}))


def status_text(doc: dict[str, Any], width: int = 80) -> str:
    """``perpwire status`` for a person, fitted to ``width`` columns (80 on a pipe): store health;
    every stream (connected, paused or connecting with its last error; books SYNCED of all, and
    how many read STALE); ledger and PnL; positions; holds; top spreads. Tables drop or abbreviate
    columns to fit, never cut a cell."""
    import textwrap

    dep, store, summary = doc["deployment"], doc["store"], doc["coordinator"]
    inner = max(40, width - 2)  # tables are indented by two spaces
    out = [f"deployment {dep['name']!r} at {dep['address']} (namespace {dep['namespace']!r})"]
    if store["ok"]:
        out.append(f"store: ok ({store.get('backend')}), {store.get('writes_waiting')} writes waiting")
    else:
        out.append(f"store: DOWN ({store['error']})")
    rows, errors = [], []
    for s in doc["streams"]:
        name = s.get("actor") if "error" in s and "venue" not in s else f"{s['venue']}/{s['stream']}"
        if "error" in s:
            rows.append([name, "error", "", "", "", "", "", ""])
            errors.append(f"{name}: {s['error']}")
            continue
        state = "connected" if s["connected"] else "connecting"
        if s["connected"] and s["paused"]:
            state = "paused"
        books = s.get("books") or {}
        synced = sum(1 for v in books.values() if v == "SYNCED")
        stale = sum(1 for v in books.values() if v == "STALE")
        book_text = f"{synced}/{len(books)}" + (f" {stale} stale" if stale else "") if books else "-"
        rows.append([name, state, str(s["messages"]), fmt_bytes(s["bytes"]), str(s["reconnects"]), str(s["resyncs"]),
                     str(s["decode_errors"]), book_text])
        if not s["connected"] and s.get("last_error"):
            errors.append(f"{name} last error: {s['last_error']}")
    cols = [("venue/stream", 0), ("state", 0), ("msgs", 0), ("bytes", 0), ("reconn", 1), ("resync", 2),
            ("errors", 3), ("books", 0)]
    out += ["", "streams", *_plain(fit_table(None, cols, rows, inner, abbreviable=frozenset({0}), box_style=None,
                                             pad_edge=False), inner)]
    out += [textwrap.fill(e, width, initial_indent="    ", subsequent_indent="      ") for e in errors]
    for venue, why in (summary.get("recovering") or {}).items():
        out.append(textwrap.fill(f"RECOVERING {venue}: {why}", width, initial_indent="  ", subsequent_indent="    "))
    failovers = summary.get("failovers") or []
    if failovers:
        rows = [[f"{f['venue']}/{f['stream']}", f["cause"],
                 "not yet" if f["seconds_to_synced"] is None else f"{f['seconds_to_synced']:.1f} s"]
                for f in failovers[-5:]]
        cols = [("venue/stream", 0), ("cause", 0), ("to SYNCED", 0)]
        out += ["", "stream restarts", *_plain(fit_table(None, cols, rows, inner, abbreviable=frozenset({1}),
                                                         box_style=None, pad_edge=False), inner)]
    ledger = summary.get("ledger")
    if ledger:
        out += ["", textwrap.fill(f"ledger: opened {ledger.get('opened')}, closed {ledger.get('closed')}, PnL total "
                                  f"{ledger.get('total')} (price {ledger.get('price')}, funding "
                                  f"{ledger.get('funding')}, fees {ledger.get('fees')})", width,
                                  subsequent_indent="  ")]
    if doc["positions"]:
        cols = [("id", 0), ("asset", 0), ("long", 0), ("short", 0), ("open", 0), ("price", 2), ("funding", 1),
                ("fees", 2), ("total", 0)]
        rows = [[p["id"], p["asset"], p["long"], p["short"], "yes" if p["open"] else "no",
                 *(str(p.get(k, "")) for k in ("price", "funding", "fees", "total"))] for p in doc["positions"]]
        out += ["", "positions", *_plain(fit_table(None, cols, rows, inner, abbreviable=frozenset({2, 3}),
                                                   box_style=None, pad_edge=False), inner)]
    for h in summary.get("holds") or []:
        out.append(textwrap.fill(f"hold {h['position']} ({h['strategy']}): {h['reason']}", width,
                                 initial_indent="  ", subsequent_indent="    "))
    if doc["opportunities"]:
        rows = []
        for o in doc["opportunities"][:10]:
            zs = [z for z in (o["long_z"], o["short_z"]) if z is not None]
            rows.append([o["asset"], o["long"], o["short"], o["net_per_hour"], o.get("annualised", ""),
                         f"{max(zs, key=abs):+.2f}" if zs else "-"])
        cols = [("asset", 0), ("long", 0), ("short", 0), ("net/h", 0), ("annualised", 1), ("z", 0)]
        out += ["", "top spreads", *_plain(fit_table(None, cols, rows, inner, abbreviable=frozenset({1, 2}),
                                                     box_style=None, pad_edge=False), inner)]
    return "\n".join(out)


def _plain(table: Table, width: int) -> list[str]:
    """A table as plain text lines, indented by two spaces."""
    buf = io.StringIO()
    table.expand = False
    Console(file=buf, width=width, color_system=None, highlight=False).print(table)
    return ["  " + ln.rstrip() for ln in buf.getvalue().splitlines()]


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
