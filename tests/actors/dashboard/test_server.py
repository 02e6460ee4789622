"""The dashboard server on loopback with a stand-in deployment: bind default, token check, the
page and its files, the WebSocket's snapshot and updates, ``/metrics``, the funding history, and a
client that never reads being dropped with the server's memory bounded."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import aiohttp
import pytest
from pydantic import ValidationError

from perpwire.actors.app.config import DashboardConfig, parse_config
from perpwire.actors.dashboard.collector import Collector
from perpwire.actors.dashboard.server import DashboardServer, thin
from perpwire.market.errors import ConfigError
from tests.actors.dashboard.test_collector import StubSource, _position, _stream


@pytest.fixture
async def served():
    src = StubSource()
    history_calls = []

    async def history(venue, symbol, since_ms, until_ms):
        history_calls.append((venue, symbol, round(time.time() * 1000 - since_ms, -3), until_ms))
        end = since_ms + 86_400_000 + 3_600_000  # the venue's clock an hour ahead (a fast simulator)
        return {"settled": [[since_ms + 1_000, 0.00005], [end - 3_600_000, 0.0001]],
                "streamed": [[end - i * 60_000, 0.0002] for i in range(2000)][::-1]}

    server = DashboardServer(Collector(src), port=0, history=history, refresh_s=0.05, panel_hz=20.0)
    await server.start()
    yield server, src, history_calls
    await server.stop()


def test_dashboard_config_binds_loopback_on_8650_by_default(monkeypatch):
    monkeypatch.delenv("PERPWIRE_DASHBOARD_TOKEN", raising=False)
    cfg = DashboardConfig()
    assert (cfg.enabled, cfg.host, cfg.port, cfg.token_env) == (True, "127.0.0.1", 8650, "PERPWIRE_DASHBOARD_TOKEN")
    assert cfg.token() is None


def test_dashboard_config_refuses_beyond_loopback_without_a_token(monkeypatch):
    monkeypatch.delenv("PERPWIRE_DASHBOARD_TOKEN", raising=False)
    with pytest.raises(ValidationError, match=r"host: '0\.0\.0\.0' is beyond loopback.*PERPWIRE_DASHBOARD_TOKEN"):
        DashboardConfig(host="0.0.0.0")
    with pytest.raises(ConfigError, match=r"dashboard: Value error, host: '10\.0\.0\.5' is beyond loopback"):
        parse_config({"venues": {"binance": {"symbols": ["BTCUSDT"]}}, "dashboard": {"host": "10.0.0.5"}}, "x.yaml")
    monkeypatch.setenv("PERPWIRE_DASHBOARD_TOKEN", "s3cret")
    assert DashboardConfig(host="0.0.0.0").token() == "s3cret"


async def test_dashboard_server_listens_on_loopback_only(served):
    server, _, _ = served
    assert [a[0] for a in server.addresses] == ["127.0.0.1"] and server.url == f"http://127.0.0.1:{server.port}/"


async def test_dashboard_page_files_and_metrics_are_served(served):
    server, src, _ = served
    src.rows = [_stream(messages=10, bytes=2048, books={"BTCUSDT": "SYNCED"}, book_age_ms={"BTCUSDT": 250})]
    src.pos = [_position()]
    src.summary_doc = {**src.summary_doc, "ledger": {"opened": "1", "closed": "0", "price": "1.5", "funding": "0.25",
                                                     "fees": "-2", "total": "-0.25"}}
    await server.collect_once()
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url) as r:
            assert r.status == 200 and "<title>perpwire</title>" in await r.text()
        for name, kind in (("app.js", "javascript"), ("app.css", "css")):
            async with http.get(server.url + "static/" + name) as r:
                assert r.status == 200 and kind in r.headers["Content-Type"]
        async with http.get(server.url + "metrics") as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await r.text()
    assert 'perpwire_stream_messages_total{venue="aster",stream="depth"} 10' in text
    assert 'perpwire_stream_bytes_total{venue="aster",stream="depth"} 2048' in text
    assert 'perpwire_book_oldest_age_seconds{venue="aster",stream="depth"} 0.25' in text
    assert 'perpwire_pnl{component="funding"} 0.25' in text and "perpwire_positions_open 1" in text
    assert "symbol=" not in text  # no per-symbol series unless configured


async def test_dashboard_refuses_without_the_token_when_one_is_set(served):
    server, _, _ = served
    server.token = "s3cret"
    async with aiohttp.ClientSession() as http:
        for path in ("", "metrics", "ws", "api/funding_history?venue=aster&symbol=BTCUSDT"):
            async with http.get(server.url + path) as r:
                assert r.status == 401, path
                assert "access token required" in await r.text()
            async with http.get(server.url + path, headers={"Authorization": "Bearer wrong"}) as r:
                assert r.status == 401, path
        async with http.get(server.url + "metrics", headers={"Authorization": "Bearer s3cret"}) as r:
            assert r.status == 200
        async with http.get(server.url + "?token=s3cret") as r:
            assert r.status == 200
        async with http.get(server.url + "static/app.js") as r:
            assert r.status == 200  # the package's own files hold no data
        async with http.ws_connect(server.url + "ws?token=s3cret") as ws:
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "snapshot"


async def test_dashboard_websocket_sends_a_snapshot_then_updates(served):
    server, src, _ = served
    await server.collect_once()
    async with aiohttp.ClientSession() as http, http.ws_connect(server.url + "ws") as ws:
        snap = json.loads((await ws.receive(timeout=5)).data)
        assert snap["type"] == "snapshot" and snap["panels"]["streams"][0]["state"] == "active"
        src.rows = [_stream(paused=True, paused_seconds=1.0)]
        seen = set()
        deadline = time.monotonic() + 5
        while not {"streams", "events"} <= seen:
            msg = json.loads((await ws.receive(timeout=max(0.1, deadline - time.monotonic()))).data)
            seen.add(msg["panel"])
            if msg["panel"] == "streams":
                assert msg["type"] == "update" and msg["data"][0]["state"] == "paused"
            if msg["panel"] == "events":
                assert msg["type"] == "append" and msg["items"][0]["kind"] == "pause"


async def test_dashboard_funding_history_covers_a_day_thinned_and_needs_venue_and_symbol(served):
    server, _, calls = served
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "api/funding_history?venue=aster&symbol=BTCUSDT") as r:
            doc = await r.json()
        async with http.get(server.url + "api/funding_history?venue=aster") as r:
            assert r.status == 400 and "give venue and symbol" in (await r.json())["error"]
    assert calls == [("aster", "BTCUSDT", 86_400_000, None)]
    assert doc["until_ms"] - doc["since_ms"] == 86_400_000  # a day up to the newest point
    assert doc["settled"] == [[doc["until_ms"] - 3_600_000, 0.0001]]  # the one older than that day left out
    assert len(doc["streamed"]) == 720 and doc["streamed"][-1][0] == doc["until_ms"]
    assert all(p[0] >= doc["since_ms"] for p in doc["streamed"])
    assert thin(list(range(10)), 4) == [0, 2, 5, 9]


async def test_dashboard_drops_a_client_that_never_reads_and_memory_stays_bounded(served):
    server, src, _ = served
    server.hub.queue = 8
    server.send_timeout_s = 1.0
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a browser that never reads fills this at once
    raw.connect(("127.0.0.1", server.port))
    raw.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    try:
        deadline = time.monotonic() + 20
        i = 0
        while server.hub.dropped == 0:
            assert time.monotonic() < deadline, "the client that never reads was not dropped"
            i += 1
            src.rows = [_stream(messages=i, last_error="x" * 50_000)]  # ~50 kB per streams update
            await server.collect_once()
            for client in server.hub.clients:
                assert len(client.queue) <= 8
            await asyncio.sleep(0.02)
        assert not server.hub.clients  # gone, its queue with it
        async with aiohttp.ClientSession() as http, http.ws_connect(server.url + "ws") as ws:  # others still served
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "snapshot"
    finally:
        raw.close()
