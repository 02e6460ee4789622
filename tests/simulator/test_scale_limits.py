"""With ``enforce_limits`` the simulator holds clients to each venue's published limits (its
``VenueSpec.limits``) and answers a breach the way the venue does; every breach is counted in
the stats. Each test pushes one limit just past the venue's own figure."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import websockets

from perpwire import venues
from perpwire.simulator import Simulator
from tests.simulator.helpers import recv_json, recv_until


@pytest.fixture
async def enforced():
    s = Simulator(seed=3, run_clock=False, history_days=1, enforce_limits=True)
    await s.start()
    yield s
    await s.stop()


def _breaches(sim: Simulator, venue: str) -> dict[str, int]:
    return sim.stats(venue, connections=False)["limits"][venue]["breaches"]


async def _kucoin_ws(sim: Simulator, http: aiohttp.ClientSession):
    async with http.post(f"{sim.urls['kucoin']['rest']}/api/v1/bullet-public") as r:
        data = (await r.json())["data"]
    ws = await websockets.connect(f"{data['instanceServers'][0]['endpoint']}?token={data['token']}&connectId=t")
    assert (await recv_json(ws))["type"] == "welcome"
    return ws


async def test_binance_closes_1008_past_10_messages_a_second_and_answers_429_then_418(enforced):
    sim = enforced
    async with websockets.connect(f"{sim.urls['binance']['ws']}/public/ws") as ws:
        for i in range(11):  # the 11th message within a second closes the socket
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "too many messages")
    assert _breaches(sim, "binance")["control_messages"] == 1
    url = f"{sim.urls['binance']['rest']}/fapi/v1/depth?symbol=BTCUSDT&limit=1000"  # weight 20: 120 fit 2,400
    async with aiohttp.ClientSession() as http:
        for _ in range(120):
            async with http.get(url) as r:
                assert r.status == 200
        async with http.get(url) as r:
            assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
            assert (await r.json())["code"] == -1003
        async with http.get(url) as r:  # not backing off: the IP is banned
            body = await r.json()
            assert r.status == 418 and int(r.headers["Retry-After"]) >= 60
            assert body["code"] == -1003 and "banned until" in body["msg"]
    got = _breaches(sim, "binance")
    assert got["rest_weight"] == 1 and got["banned"] == 1


async def test_aster_refuses_a_201st_stream_with_its_error_frame(enforced):
    sim = enforced
    limit = venues.spec("aster").limits.streams_per_connection
    names = [f"s{i}usdt@bookTicker" for i in range(limit + 1)]
    async with websockets.connect(f"{sim.urls['aster']['ws']}/ws") as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": names[:limit], "id": 1}))
        assert await recv_json(ws) == {"result": None, "id": 1}
        await asyncio.sleep(1.1)  # a new second for the message rate
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": names[limit:], "id": 2}))
        assert await recv_json(ws) == {"code": 2, "msg": "Invalid request: too many streams", "id": 2}
    assert _breaches(sim, "aster")["streams"] == 1


async def test_kucoin_answers_error_frames_for_a_101st_topic_and_a_101st_message_in_10_s():
    big = Simulator(seed=3, run_clock=False, history_days=1, enforce_limits=True, venues=["kucoin"], symbols=101)
    await big.start()
    try:
        async with aiohttp.ClientSession() as http:
            ws = await _kucoin_ws(big, http)
            syms = [b.inst.symbol for b in big.venue("kucoin").books]
            first = "/contractMarket/tickerV2:" + ",".join(syms[:100])
            await ws.send(json.dumps({"id": 1, "type": "subscribe", "topic": first, "response": True}))
            assert await recv_json(ws) == {"id": "1", "type": "ack"}
            await ws.send(json.dumps({"id": 2, "type": "subscribe", "topic": f"/contractMarket/tickerV2:{syms[100]}",
                                      "response": True}))
            assert await recv_json(ws) == {"id": "2", "type": "error", "code": 509,
                                           "data": "exceed max subscription count limitation of 100 per session"}
            for i in range(3, 101):  # messages 3..100 of this 10-second window pass
                await ws.send(json.dumps({"id": i, "type": "ping"}))
            await ws.send(json.dumps({"id": 101, "type": "ping"}))
            answers = [await recv_json(ws) for _ in range(99)]
            assert [a["type"] for a in answers[:-1]] == ["pong"] * 98
            assert answers[-1] == {"id": "101", "type": "error", "code": 509,
                                   "data": "exceed max permits per 10 seconds"}
            await ws.close()
        assert _breaches(big, "kucoin") == {"streams": 1, "control_messages": 1}
    finally:
        await big.stop()


async def test_kucoin_rest_answers_429000_past_its_pool(enforced):
    sim = enforced
    url = f"{sim.urls['kucoin']['rest']}/api/v1/bullet-public"  # weight 10: 200 fit the 2,000 per 30 s
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            async with http.post(url) as r:
                assert r.status == 200
        async with http.post(url) as r:
            assert r.status == 429 and (await r.json())["code"] == "429000"
    assert _breaches(sim, "kucoin")["rest_weight"] == 1


async def _lighter_subscribe_101(sim: Simulator, ws) -> None:
    """101 distinct subscriptions on one connection: ticker and trade of 50 markets, then one more."""
    assert (await recv_json(ws))["type"] == "connected"
    for mid in range(50):
        for kind in ("ticker", "trade"):
            await ws.send(json.dumps({"type": "subscribe", "channel": f"{kind}/{mid}"}))
    await ws.send(json.dumps({"type": "subscribe", "channel": "height"}))


async def test_lighter_answers_23001_30009_and_23003():
    sim = Simulator(seed=3, run_clock=False, history_days=1, enforce_limits=True, venues=["lighter"], symbols=50)
    await sim.start()
    lim = venues.spec("lighter").limits
    try:
        async with websockets.connect(sim.urls["lighter"]["ws"]) as ws:
            await _lighter_subscribe_101(sim, ws)
            assert await recv_until(ws, lambda m: "error" in m) == {
                "error": {"code": 23001, "message": "Too Many Subscriptions!"}}
            for _ in range(lim.control_messages - 101):  # the IP's 200 messages of this minute
                await ws.send(json.dumps({"type": "ping"}))
            await ws.send(json.dumps({"type": "ping"}))
            frame = await recv_until(ws, lambda m: "error" in m)
            assert frame == {"error": {"code": 30009, "message": "Too Many Websocket Messages!"}}
        got = _breaches(sim, "lighter")
        assert got["streams"] == 1 and got["control_messages"] == 1
        opened = []  # connections: 60 new a minute per IP, one used above
        try:
            for _ in range(lim.connections - 1):
                opened.append(await websockets.connect(sim.urls["lighter"]["ws"]))
            async with websockets.connect(sim.urls["lighter"]["ws"]) as ws:
                assert await recv_json(ws) == {"error": {"code": 23003, "message": "Too Many Connections!"}}
        finally:
            for ws in opened:
                await ws.close()
        assert _breaches(sim, "lighter")["connections"] == 1
    finally:
        await sim.stop()


async def test_hyperliquid_error_channel_past_1000_subscriptions_and_2000_messages_and_a_11th_socket():
    sim = Simulator(seed=3, run_clock=False, history_days=1, enforce_limits=True, venues=["hyperliquid"],
                    symbols=400)
    await sim.start()
    try:
        coins = [b.inst.symbol for b in sim.venue("hyperliquid").books]
        subs = [{"type": t, "coin": c} for t in ("activeAssetCtx", "bbo", "trades") for c in coins][:1001]
        async with websockets.connect(sim.urls["hyperliquid"]["ws"]) as a, websockets.connect(
                sim.urls["hyperliquid"]["ws"]) as b:
            for i, sub in enumerate(subs[:1000]):  # split over two sockets: the cap is the IP's
                await (a if i % 2 else b).send(json.dumps({"method": "subscribe", "subscription": sub}))
            await a.send(json.dumps({"method": "subscribe", "subscription": subs[1000]}))
            await recv_until(a, lambda m: m.get("channel") == "error", limit=20_000)
            # the answer names the cap, and only the extra subscription was refused
            assert sum(len(c.subs) for c in sim.hub.select("hyperliquid")) == 1000
            for _ in range(2000 - 1001):
                await b.send(json.dumps({"method": "ping"}))
            await b.send(json.dumps({"method": "ping"}))  # message 2,001 of this minute, across both sockets
            frame = await recv_until(b, lambda m: m.get("channel") == "error", limit=20_000)
            assert frame == {"channel": "error", "data": "Cannot send more than 2000 messages per minute."}
            got = _breaches(sim, "hyperliquid")
            assert got["streams"] == 1 and got["control_messages"] == 1
            more = [await websockets.connect(sim.urls["hyperliquid"]["ws"]) for _ in range(8)]  # 10 open
            try:
                with pytest.raises(websockets.InvalidStatus) as refused:
                    await websockets.connect(sim.urls["hyperliquid"]["ws"])
                assert refused.value.response.status_code == 429
            finally:
                for ws in more:
                    await ws.close()
        assert _breaches(sim, "hyperliquid")["connections"] == 1
    finally:
        await sim.stop()


async def test_hyperliquid_rest_counts_the_weight_of_each_info_request(enforced):
    url = f"{enforced.urls['hyperliquid']['rest']}/info"
    async with aiohttp.ClientSession() as http:
        for _ in range(60):  # meta weighs 20: 60 fit 1,200 a minute
            async with http.post(url, json={"type": "meta"}) as r:
                assert r.status == 200
        async with http.post(url, json={"type": "allMids"}) as r:  # weight 2: still over
            assert r.status == 429
    assert _breaches(enforced, "hyperliquid")["rest_weight"] == 1


async def test_bybit_refuses_topics_past_the_args_limit_and_answers_403_past_600_requests_in_5_s():
    sim = Simulator(seed=3, run_clock=False, history_days=1, enforce_limits=True, venues=["bybit"], symbols=1001)
    await sim.start()
    try:
        syms = [b.inst.symbol for b in sim.venue("bybit").books]
        async with websockets.connect(sim.urls["bybit"]["ws"]) as ws:
            for i in range(0, 1000, 100):
                await ws.send(json.dumps({"op": "subscribe", "req_id": str(i),
                                          "args": [f"tickers.{s}" for s in syms[i : i + 100]]}))
            acks = [await recv_until(ws, lambda m: m.get("op") == "subscribe") for _ in range(10)]
            assert all(a["success"] for a in acks)
            await ws.send(json.dumps({"op": "subscribe", "req_id": "x", "args": [f"tickers.{syms[1000]}"]}))
            ack = await recv_until(ws, lambda m: m.get("op") == "subscribe" and m.get("req_id") == "x",
                                   limit=20_000)
            assert ack["success"] is False and "1000 topics" in ack["ret_msg"]
        url = f"{sim.urls['bybit']['rest']}/v5/market/tickers?category=linear&symbol=BTCUSDT"
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                async with http.get(url) as r:
                    assert r.status == 200
            async with http.get(url) as r:
                assert r.status == 403 and await r.text() == "access too frequent"
        assert _breaches(sim, "bybit") == {"streams": 1, "rest_weight": 1}
    finally:
        await sim.stop()


async def test_backpack_answers_429_without_retry_after(enforced):
    url = f"{enforced.urls['backpack']['rest']}/api/v1/markPrices"
    limit = venues.spec("backpack").limits.rest_weight
    async with aiohttp.ClientSession() as http:
        for _ in range(limit):
            async with http.get(url) as r:
                assert r.status == 200
        async with http.get(url) as r:
            assert r.status == 429 and "Retry-After" not in r.headers
            assert (await r.json())["code"] == "TOO_MANY_REQUESTS"


@pytest.mark.parametrize("enforce", [False, True])
async def test_limits_are_off_unless_asked_and_breaches_show_in_the_control_stats(enforce):
    sim = Simulator(seed=3, run_clock=False, history_days=1, enforce_limits=enforce, venues=["lighter"], symbols=50)
    await sim.start()
    try:
        async with websockets.connect(sim.urls["lighter"]["ws"]) as ws:
            await _lighter_subscribe_101(sim, ws)
            if enforce:
                assert (await recv_until(ws, lambda m: "error" in m))["error"]["code"] == 23001
            conn = sim.hub.select("lighter")[0]
            for _ in range(50):  # the 101st (height) sends no frame: wait for the server to have read it
                if "height" in conn.subs or _breaches(sim, "lighter"):
                    break
                await asyncio.sleep(0.05)
            assert len(conn.subs) == 100 + (not enforce)
        async with aiohttp.ClientSession() as http, http.get(f"{sim.base_url}/_control/stats?connections=0") as r:
            limits = (await r.json())["limits"]
        assert limits["lighter"]["enforced"] is enforce
        assert limits["lighter"]["breaches"] == ({"streams": 1} if enforce else {})
    finally:
        await sim.stop()
