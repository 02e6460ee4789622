"""The dashboard's collector on a stand-in deployment: rates from two collections, pause savings,
book freshness, funding rows, positions with legs, latencies and the events derived from changes."""

from __future__ import annotations

from decimal import Decimal

from perpwire.actors.dashboard.collector import Collector
from perpwire.strategies.scanner import Opportunity


def _stream(venue="aster", stream="depth", **kw):
    row = {"venue": venue, "stream": stream, "connected": True, "paused": False, "messages": 0, "bytes": 0,
           "reconnects": 0, "resyncs": 0, "decode_errors": 0, "rejected": 0, "uptime_s": 10.0, "paused_seconds": 0.0,
           "market_data_seconds": 10.0, "resumes": 0, "resume_p50_ms": None, "resume_p99_ms": None,
           "resume_histogram": {}, "books": {}, "book_age_ms": {}, "last_frame_age_s": 0.1, "last_error": None}
    row.update(kw)
    return row


def _position(pid="p1", open_=True, **kw):
    p = {"id": pid, "asset": "BTC", "long": "aster:BTCUSDT", "short": "lighter:1", "qty": "0.02", "open": open_,
         "close_reason": None if open_ else "spread converged", "payments": 0, "price": "1.5", "funding": "0.25",
         "fees": "-2", "total": "-0.25",
         "legs": [{"side": "long", "venue": "aster", "symbol": "BTCUSDT", "qty": "0.02", "entry_price": "100000"},
                  {"side": "short", "venue": "lighter", "symbol": "1", "qty": "0.02", "entry_price": "100010"}]}
    p.update(kw)
    return p


class StubSource:
    def __init__(self):
        self.rows = [_stream()]
        self.summary_doc = {"ledger": {"opened": "0", "total": "0"}, "executions": [], "rates_ingested": 5}
        self.opps: list = []
        self.pos: list = []
        self.order_rows: list = []

    async def streams(self):
        return [dict(r) for r in self.rows]

    async def summary(self):
        return self.summary_doc

    async def opportunities(self, top):
        return self.opps[:top]

    async def positions(self):
        return self.pos

    async def orders(self):
        return self.order_rows


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _opp(asset: str, net: str) -> Opportunity:
    return Opportunity(asset=asset, long_venue="aster", long_symbol=f"{asset}USDT", short_venue="lighter",
                       short_symbol="1", long_rate_per_hour=Decimal("0.00001"), short_rate_per_hour=Decimal("0.0002"),
                       spread_per_hour=Decimal("0.00019"), fees_per_hour=Decimal("0.00004"),
                       net_per_hour=Decimal(net), annualised=Decimal("1.31"), long_z=0.5, short_z=2.5,
                       long_next_funding_ts=2_000, short_next_funding_ts=1_000)


async def test_collector_rates_come_from_two_collections_and_the_first_has_none():
    src, clock = StubSource(), Clock()
    c = Collector(src, clock=clock, wall_ms=lambda: 1)
    [row] = (await c.collect())["streams"]
    assert row["msgs_per_s"] is None and row["state"] == "active"
    src.rows = [_stream(messages=50, bytes=10_000)]
    clock.t += 2.0
    [row] = (await c.collect())["streams"]
    assert row["msgs_per_s"] == 25.0 and row["bytes_per_s"] == 5000.0


async def test_collector_pause_resume_reconnect_and_resync_become_events():
    src, clock = StubSource(), Clock()
    c = Collector(src, clock=clock)
    await c.collect()
    assert c.events == type(c.events)(maxlen=200)  # the first look is the baseline: nothing happened yet
    src.rows = [_stream(paused=True, paused_seconds=1.0)]
    await c.collect()
    src.rows = [_stream(paused=False, paused_seconds=1.0, reconnects=2, resyncs=1, last_error="closed 1006")]
    events = (await c.collect())["events"]
    assert [e["kind"] for e in events] == ["pause", "resume", "reconnect", "resync"]
    assert events[0]["text"] == "aster/depth: active -> paused"
    assert "closed 1006" in events[2]["text"] and [e["seq"] for e in events] == [1, 2, 3, 4]


async def test_collector_a_stream_resumed_for_one_symbol_is_active_and_only_that_book_resumed():
    src = StubSource()
    src.rows = [_stream(paused=True, resumed_symbols=["BTCUSDT"], books={"BTCUSDT": "SYNCED", "ETHUSDT": "EMPTY"})]
    panels = await Collector(src).collect()
    assert panels["streams"][0]["state"] == "active" and panels["streams"][0]["resumed_symbols"] == ["BTCUSDT"]
    assert [(b["symbol"], b["paused"]) for b in panels["books"]] == [("BTCUSDT", False), ("ETHUSDT", True)]


async def test_collector_never_connected_stream_is_connecting_not_paused():
    src = StubSource()
    src.rows = [_stream(connected=False, paused=True), {"venue": "kucoin", "stream": "funding", "error": "dead"}]
    rows = (await Collector(src).collect())["streams"]
    assert [r["state"] for r in rows] == ["connecting", "error"]


async def test_collector_savings_books_and_latency_panels():
    src = StubSource()
    src.rows = [_stream(bytes=1000, uptime_s=100.0, paused_seconds=90.0, market_data_seconds=10.0, paused=True,
                        books={"BTCUSDT": "SYNCED", "ETHUSDT": "STALE"}, book_age_ms={"BTCUSDT": 120},
                        resumes=3, resume_p50_ms=80.0, resume_p99_ms=400.0,
                        resume_histogram={"50": 0, "100": 2, "500": 1, "+Inf": 0}),
                _stream("lighter", "unified", resumes=1, resume_p50_ms=900.0, resume_p99_ms=900.0,
                        resume_histogram={"1000": 1})]
    panels = await Collector(src).collect()
    sav = panels["savings"]
    assert sav["received"] == 1000 and sav["always_on_estimate"] == 10_000 and sav["saved"] == 9000
    assert sav["saved_per_s"] == 90.0 and sav["saved_per_month"] == 90.0 * 30 * 86_400
    assert panels["books"] == [
        {"venue": "aster", "stream": "depth", "symbol": "BTCUSDT", "state": "SYNCED", "age_ms": 120, "paused": True},
        {"venue": "aster", "stream": "depth", "symbol": "ETHUSDT", "state": "STALE", "age_ms": None, "paused": True}]
    lat = panels["latency"]
    assert lat["worst_p50_ms"] == 900.0 and lat["worst_p99_ms"] == 900.0
    assert lat["histogram"] == {"50": 0, "100": 2, "500": 1, "+Inf": 0, "1000": 1}


async def test_collector_funding_rows_are_plain_and_capped_with_the_next_settlement():
    src = StubSource()
    src.opps = [_opp(f"A{i}", "0.0001") for i in range(30)]
    panels = await Collector(src, funding_rows=25).collect()
    assert len(panels["funding"]) == 25
    first = panels["funding"][0]
    assert first["net_per_hour"] == "0.0001" and first["short_z"] == 2.5 and first["next_settlement_ms"] == 1_000


async def test_collector_positions_keep_their_legs_and_opens_closes_rejections_are_events():
    src = StubSource()
    c = Collector(src)
    await c.collect()
    src.pos = [_position()]
    src.summary_doc = {**src.summary_doc, "ledger": {"opened": "1", "price": "1.5", "funding": "0.25", "fees": "-2",
                                                     "total": "-0.25"}}
    panels = await c.collect()
    [p] = panels["positions"]["positions"]
    assert [leg["side"] for leg in p["legs"]] == ["long", "short"] and p["legs"][1]["venue"] == "lighter"
    assert panels["positions"]["ledger"]["funding"] == "0.25"
    src.pos = [_position(open_=False)]
    src.summary_doc = {**src.summary_doc, "executions": [{"action": "open", "ok": False, "reason": "leg refused"}]}
    src.order_rows = [{"venue": "aster", "symbol": "BTCUSDT", "side": "buy", "status": "rejected",
                       "reason": "insufficient margin"}]
    events = (await c.collect())["events"]
    assert [e["kind"] for e in events] == ["open", "close", "rejection", "rejection"]
    assert "long aster:BTCUSDT, short lighter:1" in events[0]["text"] and "spread converged" in events[1]["text"]
    assert "insufficient margin" in events[3]["text"]


async def test_collector_event_log_is_bounded():
    src = StubSource()
    c = Collector(src, events=5)
    await c.collect()
    for i in range(1, 12):
        src.rows = [_stream(reconnects=i)]
        await c.collect()
    assert len(c.events) == 5 and c.events[-1]["seq"] == 11
