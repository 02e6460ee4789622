"""The terminal view fits the terminal: secondary columns go at 80 columns, none is cut to a letter."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from perpwire.actors.app.view import (
    WIDE,
    abbreviate,
    opportunities_table,
    positions_table,
    status_line,
    status_text,
    streams_table,
)

STATUS = {"streams": [
    {"venue": "lighter", "stream": "unified", "paused": True, "connected": True, "messages": 1200, "bytes": 250_000,
     "reconnects": 0, "resyncs": 1, "resume_p50_ms": 14.0},
    {"venue": "backpack", "stream": "depth", "paused": False, "connected": True, "messages": 90, "bytes": 9_000,
     "reconnects": 2, "resyncs": 0, "resume_p50_ms": None},
], "coordinator": {"rates_ingested": 321, "ledger": {"total": "-0.0204"}}}
POSITIONS = [{"id": "P1", "asset": "BTC", "long": "lighter:1", "short": "backpack:BTC_USDC_PERP", "qty": "0.02",
              "open": False, "close_reason": "spread flipped", "price": "1.14", "funding": "0.42", "fees": "-1.59",
              "total": "-0.02"}]


def _render(table, width: int) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(table)
    return out.getvalue().splitlines()


def test_at_80_columns_only_the_essential_columns_remain_and_none_is_cut_to_a_letter():
    lines = _render(positions_table(POSITIONS, width=80), 80)
    header = next(ln for ln in lines if "asset" in ln)
    assert "funding" not in header and "total" in header and "state" in header
    assert max(map(len, lines)) <= 80
    assert any("closed: spread flipped" in ln for ln in lines)  # the state is readable, not 'clos…'
    text = "\n".join(_render(streams_table(STATUS, {}, width=80), 80))
    assert "lighter/unified" in text and "backpack/depth" in text and "paused" in text


def test_wide_terminals_get_every_column():
    header = next(ln for ln in _render(positions_table(POSITIONS, width=WIDE + 80), WIDE + 80) if "asset" in ln)
    for col in ("long", "short", "qty", "price", "funding", "fees", "total"):
        assert col in header


def test_a_pipe_gets_one_plain_line_per_update():
    line = status_line(STATUS, POSITIONS, 12.3)
    assert line == "t+12s streams 2/2 connected (1 paused), rates 321, positions 0 open / 1, PnL -0.0204"


# --- 80 and 200 columns: readable at both, nothing cut ------------------------------------------------

MANY = {"streams": [
    {"venue": v, "stream": n, "paused": p, "connected": c, "messages": 123_456, "bytes": 12_345_678,
     "reconnects": 3, "resyncs": 1, "decode_errors": 0, "resume_p50_ms": 35.5,
     "books": {"BTC": "SYNCED", "ETH": "STALE"} if n in ("depth", "unified") else {},
     "last_error": None if c else "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 8700)"}
    for v, n, c, p in (("aster", "user", True, False), ("aster", "bookticker", True, True),
                       ("aster", "depth", True, True), ("backpack", "depth", True, True),
                       ("lighter", "unified", True, True), ("hyperliquid", "funding", False, False),
                       ("kucoin", "funding-1", True, False))],
    "coordinator": {"rates_ingested": 1, "ledger": {"opened": "2", "closed": "1", "total": "-0.0204",
                                                    "price": "1.14", "funding": "0.42", "fees": "-1.59"},
                    "holds": [{"position": "P2", "strategy": "funding_arb-1", "reason": "no z-score yet"}]}}
WIDE_POSITIONS = [{**POSITIONS[0], "long": "hyperliquid:BTC"}]


def _opps():
    from decimal import Decimal

    from perpwire.strategies.scanner import Opportunity

    return [Opportunity(asset="BTC", long_venue="hyperliquid", long_symbol="BTC", short_venue="backpack",
                        short_symbol="BTC_USDC_PERP", long_rate_per_hour=Decimal("0.00001"),
                        short_rate_per_hour=Decimal("0.0002"), spread_per_hour=Decimal("0.00019"),
                        fees_per_hour=Decimal("0.00004"), net_per_hour=Decimal("0.00015"), annualised=Decimal("1.31"),
                        long_z=0.5, short_z=2.5)]


def _status_doc():
    return {"deployment": {"name": "perpwire", "address": "127.0.0.1:41429", "namespace": "perpwire"},
            "store": {"ok": True, "backend": "sqlite", "writes_waiting": 0}, "streams": MANY["streams"],
            "coordinator": MANY["coordinator"], "positions": WIDE_POSITIONS,
            "opportunities": [{"asset": "BTC", "long": "hyperliquid:BTC", "short": "backpack:BTC_USDC_PERP",
                               "net_per_hour": "0.00015", "annualised": "1.31", "long_z": 0.5, "short_z": 2.5}]}


@pytest.mark.parametrize("width", [80, 200])
def test_live_tables_fit_the_width_and_no_cell_is_cut(width):
    for table in (streams_table(MANY, {}, width=width), opportunities_table(_opps(), width=width),
                  positions_table(WIDE_POSITIONS, width=width)):
        lines = _render(table, width)
        assert max(map(len, lines)) <= width
        assert "…" not in "\n".join(lines)  # no cell cut: columns dropped or names abbreviated instead


def test_at_200_columns_every_column_and_every_full_name_shows():
    text = "\n".join(_render(streams_table(MANY, {}, width=200), 200))
    assert "hyperliquid/funding" in text and "resume p50 ms" in text and "resync" in text
    text = "\n".join(_render(opportunities_table(_opps(), width=200), 200))
    assert "backpack:BTC_USDC_PERP" in text and "z short" in text and "annualised" in text
    header = next(ln for ln in _render(positions_table(WIDE_POSITIONS, width=200), 200) if "asset" in ln)
    assert all(c in header for c in ("long", "short", "qty", "price", "funding", "fees", "total"))


def test_at_80_columns_long_venue_names_are_abbreviated_not_cut():
    text = "\n".join(_render(opportunities_table(_opps(), width=80), 80))
    assert "hl:BTC" in text and "bpk:BTC_PERP" in text and "net/h" in text


@pytest.mark.parametrize("width", [80, 200])
def test_status_text_fits_the_width_and_no_cell_is_cut(width):
    text = status_text(_status_doc(), width)
    lines = text.splitlines()
    assert max(len(ln) for ln in lines[1:]) <= width and "…" not in text
    [row] = [ln for ln in lines if ln.strip().startswith("aster/depth")]
    assert row.split()[1:4] == ["paused", "123456", "11.8"] and "1/2 1 stale" in row
    assert any("hyperliquid/funding last error: ConnectionRefusedError" in ln for ln in lines)
    assert any(ln.startswith("ledger: opened 2, closed 1") for ln in lines)
    header = lines[lines.index("streams") + 1].split()
    if width >= 200:  # every column, every name in full
        assert header == ["venue/stream", "state", "msgs", "bytes", "reconn", "resync", "errors", "books"]
        assert "bpk:" not in text and "hl:" not in text
    else:  # secondary columns gone, the essential ones kept
        assert {"venue/stream", "state", "msgs", "bytes", "books"} <= set(header) and len(header) < 8


def test_abbreviate_shortens_known_venues_only():
    assert abbreviate("hyperliquid/funding") == "hl/funding" and abbreviate("backpack:BTC_USDC_PERP") == "bpk:BTC_PERP"
    assert abbreviate("closed: spread flipped") == "closed: spread flipped" and abbreviate("P1") == "P1"
