"""Faults on request: drops, stalls, malformed frames, sequence gaps, REST 429/418, 24 h closes."""

from __future__ import annotations

import itertools
import json

import aiohttp
import pytest
import websockets

from perpwire.simulator import Simulator
from tests.simulator.helpers import drain, recv_json, recv_until


async def _aster(sim, streams="btcusdt@bookTicker/btcusdt@depth@100ms"):
    ws = await websockets.connect(f"{sim.urls['aster']['ws']}/stream?streams={streams}")
    await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}))
    await recv_until(ws, lambda m: m.get("id") == 1)
    return ws


async def test_drop_aborts_without_a_close_frame(sim):
    ws = await _aster(sim)
    assert await sim.faults.drop("aster") == 1
    with pytest.raises(websockets.ConnectionClosedError) as info:
        await recv_json(ws)
    assert info.value.rcvd is None  # 1006: no close frame


async def test_drop_with_a_code_closes_cleanly(sim):
    ws = await _aster(sim)
    await sim.faults.drop(conn_id=sim.hub.select("aster")[0].conn_id, code=1011)
    with pytest.raises(websockets.ConnectionClosed) as info:
        await recv_json(ws)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1011


async def test_stall_silences_a_channel_but_keeps_the_socket_answering(sim):
    ws = await _aster(sim)
    async with ws:
        sim.faults.stall("aster", channel="btcusdt@depth@100ms")
        sim.tick(10)
        stalled = {m["stream"] for m in await drain(ws)}
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        answer = await recv_until(ws, lambda m: m.get("id") == 2)
        sim.faults.unstall("aster")
        sim.tick(10)
        resumed = {m["stream"] for m in await drain(ws)}
    assert stalled == {"btcusdt@bookTicker"}
    assert answer["result"] == ["btcusdt@bookTicker", "btcusdt@depth@100ms"]
    assert resumed == {"btcusdt@bookTicker", "btcusdt@depth@100ms"}
    assert sim.stats("aster")["venues"]["aster"]["stalled"] == 5  # five 100 ms depth frames swallowed


async def test_stall_of_everything_still_answers_pings(sim):
    async with websockets.connect(sim.urls["lighter"]["ws"]) as ws:
        await recv_json(ws)  # connected
        await ws.send(json.dumps({"type": "subscribe", "channel": "order_book/0"}))
        await recv_json(ws)  # snapshot
        sim.faults.stall("lighter")
        sim.tick(5)
        await ws.send(json.dumps({"type": "ping"}))
        assert await drain(ws) == [{"type": "pong"}]


async def test_malformed_frame_is_invalid_json(sim):
    ws = await _aster(sim)
    async with ws:
        sim.tick(2)
        await drain(ws)
        sim.faults.malformed("aster")
        raw = await ws.recv()
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)


async def test_skip_sequence_breaks_each_venue_chain_once(sim):
    async with (
        websockets.connect(sim.urls["backpack"]["ws"]) as bp,
        websockets.connect(sim.urls["lighter"]["ws"]) as lt,
    ):
        aster = await _aster(sim, "ethusdt@depth@100ms")
        await bp.send(json.dumps({"method": "SUBSCRIBE", "params": ["depth.ETH_USDC_PERP"]}))
        await bp.send("barrier")
        await recv_json(bp)
        await recv_json(lt)
        await lt.send(json.dumps({"type": "subscribe", "channel": "order_book/0"}))
        snap = await recv_json(lt)
        sim.tick(4)
        for venue, symbol in (("aster", "ETHUSDT"), ("backpack", "ETH_USDC_PERP"), ("lighter", "ETH")):
            sim.faults.skip_sequence(venue, symbol)
        sim.tick(6)
        a = [m["data"] for m in await drain(aster)]
        b = [m["data"] for m in await drain(bp)]
        c = [snap["order_book"]] + [m["order_book"] for m in await drain(lt)]
        await aster.close()
    assert sum(x["pu"] != p["u"] for p, x in itertools.pairwise(a)) == 1
    assert sum(x["U"] != p["u"] + 1 for p, x in itertools.pairwise(b)) == 1
    assert sum(x["begin_nonce"] != p["nonce"] for p, x in itertools.pairwise(c)) == 1
    assert sim.faults.injected["skip_sequence"] == 3


async def test_rest_errors_carry_retry_after_then_clear(sim):
    url = sim.urls["aster"]["rest"] + "/fapi/v1/depth"
    sim.faults.rest_error("aster", 429, count=2, retry_after=7, path="/fapi/v1/depth")
    sim.faults.rest_error("backpack", 418, retry_after=120)
    async with aiohttp.ClientSession() as http:
        statuses = []
        for _ in range(3):
            async with http.get(url, params={"symbol": "BTCUSDT", "limit": "5"}) as r:
                statuses.append((r.status, r.headers.get("Retry-After"), (await r.json()).get("code")))
        async with http.get(sim.urls["backpack"]["rest"] + "/api/v1/status") as r:
            banned = (r.status, r.headers["Retry-After"])
    assert statuses == [(429, "7", -1003), (429, "7", -1003), (200, None, None)]
    assert banned == (418, "120")


async def test_age_out_and_the_scaled_24h_limit_close_with_1001():
    # 0.05 s ticks at speed 43200: one tick is 36 market minutes, 24 h is 40 ticks
    async with Simulator(seed=4, run_clock=False, speed=43_200.0, venues=["lighter", "kucoin"], history_days=1) as sim:
        async with websockets.connect(sim.urls["lighter"]["ws"]) as ws:
            await recv_json(ws)
            sim.tick(39)
            alive = await drain(ws, quiet=0.1)
            sim.tick(21)
            with pytest.raises(websockets.ConnectionClosed) as info:
                await recv_until(ws, lambda m: False)
        async with websockets.connect(sim.urls["lighter"]["ws"]) as ws2:
            await recv_json(ws2)
            assert await sim.faults.age_out("lighter") == 1
            with pytest.raises(websockets.ConnectionClosed) as info2:
                await recv_until(ws2, lambda m: False)
    assert alive == []
    assert info.value.rcvd.code == 1001 and info2.value.rcvd.code == 1001


async def test_fault_on_a_venue_without_connections_is_an_error(sim):
    with pytest.raises(LookupError):
        sim.faults.stall("bybit")
    with pytest.raises(ValueError):
        sim.faults.rest_error("bybit", 500)
