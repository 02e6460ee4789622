"""The dashboard's figures in the Prometheus text exposition format (version 0.0.4), for ``/metrics``.

Rendered from the same panels the page shows, so a scrape and the page agree. Label cardinality
is bounded: stream figures carry ``venue`` and ``stream`` only; book ages are summarised per
stream (the oldest book and books per state) unless ``symbol_labels`` adds one series per book;
funding and PnL figures carry no symbol at all. Counters are the stream actors' own (monotonic
while an actor lives; a restarted actor starts again from zero, which Prometheus' ``rate``
treats as a reset).
"""

from __future__ import annotations

import math
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_STREAM_COUNTERS = (("messages", "perpwire_stream_messages_total", "frames received"),
                    ("bytes", "perpwire_stream_bytes_total", "bytes of frames received"),
                    ("reconnects", "perpwire_stream_reconnects_total", "reconnections"),
                    ("resyncs", "perpwire_stream_resyncs_total", "books that lost their sequence and resynced"),
                    ("decode_errors", "perpwire_stream_decode_errors_total", "frames skipped as undecodable"))


def _escape(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: Any) -> str:
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)


class _Out:
    def __init__(self):
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_: str, samples: list[tuple[dict[str, Any], Any]]) -> None:
        samples = [(labels, v) for labels, v in samples if v is not None]
        self.lines.append(f"# HELP {name} {help_}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.sample(name, labels, value)

    def sample(self, name: str, labels: dict[str, Any], value: Any) -> None:
        text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        self.lines.append(f"{name}{{{text}}} {_num(value)}" if text else f"{name} {_num(value)}")


def render(panels: dict[str, Any], *, clients: int = 0, dropped: int = 0, symbol_labels: bool = False) -> str:
    out = _Out()
    streams = [s for s in panels.get("streams") or [] if s.get("state") != "error"]

    def per_stream(field: str) -> list[tuple[dict[str, Any], Any]]:
        return [({"venue": s["venue"], "stream": s["stream"]}, s.get(field)) for s in streams]

    for field, name, help_ in _STREAM_COUNTERS:
        out.family(name, "counter", f"Stream actor: {help_}.", per_stream(field))
    out.family("perpwire_stream_up", "gauge", "1 while the stream's socket is connected.",
               [(k, int(v)) for k, v in per_stream("connected")])
    out.family("perpwire_stream_paused", "gauge", "1 while the stream's market data is paused.",
               [(k, int(v)) for k, v in per_stream("paused")])
    out.family("perpwire_stream_last_message_age_seconds", "gauge", "Seconds since the stream's last frame.",
               per_stream("last_message_age_s"))
    errored = [s for s in panels.get("streams") or [] if s.get("state") == "error"]
    out.family("perpwire_stream_unreachable", "gauge", "Stream actors that did not answer the dashboard.",
               [({}, len(errored))])

    sav = panels.get("savings") or {}
    out.family("perpwire_pause_received_bytes", "gauge", "Bytes received by the pausable streams.",
               [({}, sav.get("received"))])
    out.family("perpwire_pause_always_on_bytes", "gauge", "Bytes the pausable streams would have received "
               "always on, at their measured active rate.", [({}, sav.get("always_on_estimate"))])
    out.family("perpwire_pause_saved_bytes_per_second", "gauge", "Bandwidth pausing saves at the measured rates.",
               [({}, sav.get("saved_per_s"))])
    out.family("perpwire_pause_saved_fraction", "gauge", "Fraction of always-on bytes not received.",
               [({}, sav.get("saved_fraction"))])

    books = panels.get("books") or []
    by_state: dict[tuple[str, str, str], int] = {}
    oldest: dict[tuple[str, str], int] = {}
    for b in books:
        k = (b["venue"], b["stream"], b["state"])
        by_state[k] = by_state.get(k, 0) + 1
        if b.get("age_ms") is not None and not b.get("paused"):
            key = (b["venue"], b["stream"])
            oldest[key] = max(oldest.get(key, 0), b["age_ms"])
    out.family("perpwire_books", "gauge", "Books per stream and state (SYNCED, STALE, ...).",
               [({"venue": v, "stream": s, "state": st}, n) for (v, s, st), n in sorted(by_state.items())])
    out.family("perpwire_book_oldest_age_seconds", "gauge", "Age of the oldest book of a resumed stream.",
               [({"venue": v, "stream": s}, ms / 1000) for (v, s), ms in sorted(oldest.items())])
    if symbol_labels:
        out.family("perpwire_book_age_seconds", "gauge", "Age of each book (symbol labels: configured on).",
                   [({"venue": b["venue"], "stream": b["stream"], "symbol": b["symbol"]}, b["age_ms"] / 1000)
                    for b in books if b.get("age_ms") is not None])

    lat = panels.get("latency") or {}
    quantiles = []
    for s in lat.get("streams") or []:
        labels = {"venue": s["venue"], "stream": s["stream"]}
        quantiles += [({**labels, "quantile": "0.5"}, s.get("p50_ms")), ({**labels, "quantile": "0.99"},
                                                                          s.get("p99_ms"))]
    out.family("perpwire_resume_latency_milliseconds", "gauge", "Resume to fresh book, over the last 1000 resumes "
               "of each stream.", quantiles)
    out.family("perpwire_resume_latency_window_bucket", "gauge", "Resumes of the last 1000 per stream at or under "
               "le milliseconds (cumulative).", _cumulative(lat.get("streams") or []))

    funding = panels.get("funding") or []
    out.family("perpwire_funding_spreads", "gauge", "Ranked cross-venue funding spreads.", [({}, len(funding))])
    out.family("perpwire_funding_best_net_per_hour", "gauge", "Best spread's net funding, fraction per hour.",
               [({}, funding[0]["net_per_hour"] if funding else None)])

    pos = panels.get("positions") or {}
    ledger = pos.get("ledger") or {}
    out.family("perpwire_positions_open", "gauge", "Open hedged pairs.",
               [({}, sum(1 for p in pos.get("positions") or [] if p.get("open")))])
    out.family("perpwire_positions_opened_total", "counter", "Pairs opened.", [({}, ledger.get("opened"))])
    out.family("perpwire_positions_closed_total", "counter", "Pairs closed.", [({}, ledger.get("closed"))])
    out.family("perpwire_pnl", "gauge", "PnL in quote currency, split by component.",
               [({"component": c}, ledger.get(c)) for c in ("price", "funding", "fees", "total")])

    meta = panels.get("meta") or {}
    out.family("perpwire_funding_rates_ingested_total", "counter", "Funding rates taken by the coordinator.",
               [({}, meta.get("rates_ingested"))])
    out.family("perpwire_funding_settlements_total", "counter", "Funding settlements booked.",
               [({}, meta.get("settlements"))])
    out.family("perpwire_dashboard_clients", "gauge", "Browsers connected to the dashboard.", [({}, clients)])
    out.family("perpwire_dashboard_clients_dropped_total", "counter", "Browsers dropped for not reading.",
               [({}, dropped)])
    return "\n".join(out.lines) + "\n"


def _cumulative(streams: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any]]:
    samples = []
    for s in streams:
        hist = s.get("histogram") or {}
        total = 0
        for bound in sorted((b for b in hist if b != "+Inf"), key=float):
            total += hist[bound]
            samples.append(({"venue": s["venue"], "stream": s["stream"], "le": bound}, total))
        samples.append(({"venue": s["venue"], "stream": s["stream"], "le": "+Inf"}, total + hist.get("+Inf", 0)))
    return samples
