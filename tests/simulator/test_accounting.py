"""Accounting: per connection and channel, exact to the byte, and the saving of an unsubscribe."""

from __future__ import annotations

import json

import aiohttp
import websockets

from tests.simulator.helpers import drain, recv_until


async def test_accounting_counts_every_byte_the_client_receives(sim):
    async with websockets.connect(sim.urls["aster"]["ws"] + "/ws") as ws:
        await ws.send(
            json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms", "btcusdt@bookTicker"], "id": 1})
        )
        ack = await ws.recv()
        sim.tick(10)
        frames = []
        while True:
            batch = await drain(ws, quiet=0.2)
            if not batch:
                break
            frames += batch
        conn = sim.hub.select("aster")[0]
        stats = sim.connection_stats(conn.conn_id)
    received = len(ack) + sum(len(json.dumps(f, separators=(",", ":"))) for f in frames)
    assert stats["msgs_out"] == len(frames) + 1
    assert stats["bytes_out"] == received
    assert stats["channels"]["control"] == {"msgs": 1, "bytes": len(ack)}
    assert stats["channels"]["btcusdt@depth@100ms"]["msgs"] == 5
    assert stats["wire_bytes_out"] > stats["bytes_out"]


async def test_accounting_shows_the_saving_after_unsubscribe(sim):
    async with websockets.connect(sim.urls["aster"]["ws"] + "/ws") as ws:
        await ws.send(
            json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms", "btcusdt@bookTicker"], "id": 1})
        )
        await recv_until(ws, lambda m: m.get("id") == 1)
        sim.tick(10)
        before = sim.stats("aster")["venues"]["aster"]["channels"]
        await ws.send(json.dumps({"method": "UNSUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 2}))
        await recv_until(ws, lambda m: m.get("id") == 2)
        sim.tick(10)
        await drain(ws)
        after = sim.stats("aster")["venues"]["aster"]["channels"]
    assert after["btcusdt@depth@100ms"] == before["btcusdt@depth@100ms"]
    assert after["btcusdt@bookTicker"]["msgs"] > before["btcusdt@bookTicker"]["msgs"]


async def test_control_api_serves_stats_and_resets_them(sim):
    async with (
        websockets.connect(sim.urls["kucoin"]["ws"] + "?token=x&connectId=1") as ws,
        aiohttp.ClientSession() as http,
    ):
        await drain(ws)
        async with http.get(sim.base_url + "/_control/stats", params={"venue": "kucoin"}) as r:
            stats = await r.json()
        async with http.post(sim.base_url + "/_control/stats/reset") as r:
            assert (await r.json()) == {"ok": True}
        async with http.get(sim.base_url + "/_control/stats", params={"connections": "0"}) as r:
            reset = await r.json()
    kucoin = stats["venues"]["kucoin"]
    assert kucoin["msgs_out"] == 1 and kucoin["channels"]["control"]["msgs"] == 1
    assert stats["connections"][0]["path"].startswith("/kucoin/?token=x")
    assert "connections" not in reset and all(v["msgs_out"] == 0 for v in reset["venues"].values())
