"""The terminal view fits the terminal: secondary columns go at 80 columns, none is cut to a letter."""

from __future__ import annotations

import io

from rich.console import Console

from perpwire.actors.app.view import WIDE, positions_table, status_line, streams_table

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
