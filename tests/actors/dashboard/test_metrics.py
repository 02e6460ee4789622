"""``/metrics``: well-formed text exposition, bounded labels (symbols only when configured),
cumulative resume buckets, and every metric the Grafana dashboard and the docs name exists."""

from __future__ import annotations

import json
import re

from perpwire.actors.dashboard.collector import Collector
from perpwire.actors.dashboard.metrics import render
from tests.actors.dashboard.test_collector import StubSource, _opp, _position, _stream
from tests.conftest import ROOT

SAMPLE = re.compile(r'^([a-z_:][a-z0-9_:]*)(\{([a-z_]+="(?:[^"\\]|\\.)*"(,[a-z_]+="(?:[^"\\]|\\.)*")*)?\})? (\S+)$')


async def _panels():
    src = StubSource()
    src.rows = [_stream(messages=5, bytes=700, paused=True, paused_seconds=5.0, market_data_seconds=5.0,
                        books={"BTCUSDT": "SYNCED", "ETHUSDT": "STALE"}, book_age_ms={"BTCUSDT": 80, "ETHUSDT": 9000},
                        resumed_symbols=["BTCUSDT"], resumes=4, resume_p50_ms=40.0, resume_p99_ms=300.0,
                        resume_histogram={"50": 2, "100": 1, "500": 1, "+Inf": 0}),
                _stream("lighter", "unified", last_error='quote " and \\ backslash')]
    src.pos = [_position()]
    src.opps = [_opp("BTC", "0.0001")]
    src.summary_doc = {**src.summary_doc, "ledger": {"opened": "1", "closed": "0", "price": "1", "funding": "0.5",
                                                     "fees": "-2", "total": "-0.5"}, "settlements": 3}
    return await Collector(src).collect()


def _families(text: str) -> dict[str, str]:
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


async def test_metrics_exposition_is_well_formed_and_typed():
    text = render(await _panels(), clients=2, dropped=1)
    assert text.endswith("\n")
    families = _families(text)
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ .+$", line), line
            continue
        m = SAMPLE.match(line)
        assert m, line
        base = m.group(1)
        assert base in families, line
        float(m.group(5).replace("+Inf", "inf"))
    assert families["perpwire_stream_bytes_total"] == "counter" and families["perpwire_stream_up"] == "gauge"
    assert all(name.endswith("_total") for name, kind in families.items() if kind == "counter")
    assert "perpwire_dashboard_clients 2" in text and "perpwire_dashboard_clients_dropped_total 1" in text


async def test_metrics_labels_stay_bounded_unless_symbols_are_configured():
    panels = await _panels()
    text = render(panels)
    assert "symbol=" not in text
    assert 'perpwire_books{venue="aster",stream="depth",state="STALE"} 1' in text
    # the oldest resumed book: ETHUSDT (9 s) is paused, so its age says nothing about freshness
    assert 'perpwire_book_oldest_age_seconds{venue="aster",stream="depth"} 0.08' in text
    with_symbols = render(panels, symbol_labels=True)
    assert 'perpwire_book_age_seconds{venue="aster",stream="depth",symbol="BTCUSDT"} 0.08' in with_symbols


async def test_metrics_resume_buckets_are_cumulative_and_quantiles_labelled():
    text = render(await _panels())
    buckets = re.findall(r'perpwire_resume_latency_window_bucket\{venue="aster",stream="depth",le="([^"]+)"\} (\d+)',
                         text)
    assert buckets == [("50", "2"), ("100", "3"), ("500", "4"), ("+Inf", "4")]
    assert 'perpwire_resume_latency_milliseconds{venue="aster",stream="depth",quantile="0.99"} 300' in text
    assert 'perpwire_pnl{component="total"} -0.5' in text and "perpwire_funding_settlements_total 3" in text


async def test_every_metric_in_the_grafana_dashboard_and_the_docs_is_exposed():
    families = set(_families(render(await _panels(), symbol_labels=True)))
    grafana = json.loads((ROOT / "docs" / "grafana-perpwire.json").read_text())
    exprs = [t["expr"] for p in grafana["panels"] for t in p["targets"]]
    named = {n for e in exprs for n in re.findall(r"perpwire_[a-z_]+", e)}
    assert named and named <= families, named - families
    documented = set(re.findall(r"`(perpwire_[a-z_]+)`", (ROOT / "docs" / "dashboard.md").read_text()))
    assert documented - {"perpwire_dashboard", "perpwire_counter"} <= families
    assert families <= documented  # and nothing exposed goes undocumented
