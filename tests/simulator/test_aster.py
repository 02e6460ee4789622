"""Aster: stream and REST shapes against the recorded fixtures, control frames, book sync,
signed orders and the user-data stream."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from urllib.parse import urlencode

import aiohttp
import websockets

from perpwire.market.book import OrderBook, SyncState
from perpwire.market.events import BookDelta, BookSnapshot
from perpwire.market.sequence import PU_CHAIN
from perpwire.simulator import Simulator
from tests.simulator.helpers import assert_shape, drain, fixture, recv_json, recv_until


async def _barrier(ws, rid=999):
    """Wait until the server has read everything sent so far (streams in the URL included)."""
    await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": rid}))
    return await recv_until(ws, lambda m: m.get("id") == rid)


async def _subscribe(ws, streams, rid=1):
    await ws.send(json.dumps({"method": "SUBSCRIBE", "params": streams, "id": rid}))
    assert await recv_until(ws, lambda m: m.get("id") == rid) == {"result": None, "id": rid}


def _signed(secret: str, params: dict) -> str:
    query = urlencode({**params, "timestamp": int(time.time() * 1000)})
    return query + "&signature=" + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


async def test_aster_stream_frames_match_fixture_shapes(sim):
    streams = ["btcusdt@bookTicker", "btcusdt@depth@100ms", "ethusdt@depth20@100ms", "!markPrice@arr@1s",
               "btcusdt@markPrice@1s", "!forceOrder@arr", "btcusdt@aggTrade"]  # fmt: skip
    async with websockets.connect(sim.urls["aster"]["ws"] + "/stream?streams=" + "/".join(streams)) as ws:
        await _barrier(ws)
        sim.tick(2)
        sim.model.liquidate(sim.book("aster", "BTC"))
        sim.tick(20)
        frames = {}
        for m in await drain(ws):
            frames.setdefault(m["stream"], m)
    assert set(frames) == set(streams)
    assert_shape(frames["btcusdt@bookTicker"], fixture("aster", "combined_bookTicker.json"))
    assert_shape(frames["btcusdt@depth@100ms"]["data"], fixture("aster", "depthUpdate.json"))
    assert_shape(frames["ethusdt@depth20@100ms"]["data"], fixture("aster", "depth20.json"))
    assert len(frames["ethusdt@depth20@100ms"]["data"]["b"]) == 20
    assert_shape(frames["!markPrice@arr@1s"]["data"], fixture("aster", "markPrice_arr.json"))
    assert [r["s"] for r in frames["!markPrice@arr@1s"]["data"]] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert_shape(frames["btcusdt@markPrice@1s"]["data"], fixture("aster", "markPriceUpdate.json"))
    assert_shape(frames["!forceOrder@arr"]["data"], fixture("aster", "forceOrder_arr.json"))
    assert_shape(frames["btcusdt@aggTrade"]["data"], fixture("aster", "aggTrade.json"))
    assert frames["btcusdt@bookTicker"]["data"]["s"] == "BTCUSDT"


async def test_aster_raw_path_sends_bare_events(sim):
    async with websockets.connect(sim.urls["aster"]["ws"] + "/ws/btcusdt@bookTicker") as ws:
        await _barrier(ws)
        sim.tick(3)
        msg = await recv_json(ws)
    assert_shape(msg, fixture("aster", "bookTicker.json"))


async def test_aster_subscribe_list_unsubscribe_round_trip(sim):
    async with websockets.connect(sim.urls["aster"]["ws"] + "/ws") as ws:
        await ws.send(json.dumps(fixture("aster", "subscribe_request.json")))
        assert await recv_json(ws) == fixture("aster", "subscribe_response.json")
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 3}))
        listed = await recv_json(ws)
        assert_shape(listed, fixture("aster", "list_subscriptions_response.json"))
        assert listed["result"] == ["btcusdt@aggTrade", "btcusdt@depth"]
        await ws.send(json.dumps(fixture("aster", "unsubscribe_request.json")))
        assert await recv_until(ws, lambda m: "id" in m) == fixture("aster", "unsubscribe_response.json")
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 4}))
        assert (await recv_until(ws, lambda m: m.get("id") == 4))["result"] == ["btcusdt@aggTrade"]


async def test_aster_control_errors_use_documented_replies(sim):
    async with websockets.connect(sim.urls["aster"]["ws"] + "/ws") as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth"], "id": "x"}))
        assert await recv_json(ws) == fixture("aster", "ws_error_invalid_request_id.json")
        await ws.send("{not json")
        assert (await recv_json(ws))["code"] == 3
        await ws.send(json.dumps({"method": "FROB", "id": 5}))
        reply = await recv_json(ws)
        assert reply["code"] == 2 and "unknown variant `FROB`" in reply["msg"]
        await ws.send(json.dumps({"method": "SET_PROPERTY", "params": ["nope", True], "id": 6}))
        assert await recv_json(ws) == {"code": 0, "msg": "Unknown property", "id": 6}
        await ws.send(json.dumps({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 7}))
        assert (await recv_json(ws))["code"] == 1
        await ws.send(json.dumps({"method": "SET_PROPERTY", "params": ["combined", True], "id": 8}))
        assert await recv_json(ws) == {"result": None, "id": 8}
        await ws.send(json.dumps({"method": "GET_PROPERTY", "params": ["combined"], "id": 9}))
        assert await recv_json(ws) == {"result": True, "id": 9}
        await _subscribe(ws, ["btcusdt@bookTicker"], rid=10)
        sim.tick(3)
        assert (await recv_json(ws))["stream"] == "btcusdt@bookTicker"  # combined framing now


async def test_aster_more_than_ten_messages_a_second_closes_the_socket(sim):
    async with websockets.connect(sim.urls["aster"]["ws"] + "/ws") as ws:
        for i in range(12):
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
        try:
            while True:
                await recv_json(ws)
        except websockets.ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.code == 1008


def _levels(pairs):
    return tuple((p, q) for p, q in pairs)


async def test_aster_depth_diffs_bridge_the_rest_snapshot_and_chain(sim):
    async with websockets.connect(sim.urls["aster"]["ws"] + "/ws") as ws, aiohttp.ClientSession() as http:
        await _subscribe(ws, ["btcusdt@depth@100ms"])
        sim.tick(6)
        url = sim.urls["aster"]["rest"] + "/fapi/v1/depth"
        async with http.get(url, params={"symbol": "BTCUSDT", "limit": "1000"}) as r:
            snap = await r.json()
        sim.tick(40)  # ends on a 100 ms boundary: every change has been published
        diffs = await drain(ws)
        async with http.get(url, params={"symbol": "BTCUSDT", "limit": "1000"}) as r:
            final = await r.json()
    assert diffs and all(d["pu"] == p["u"] for p, d in itertools.pairwise(diffs))
    book = OrderBook("aster", "BTCUSDT", PU_CHAIN)
    for d in diffs:
        book.apply(BookDelta(venue="aster", symbol="BTCUSDT", bids=_levels(d["b"]), asks=_levels(d["a"]),
                             first_seq=d["U"], seq=d["u"], prev_seq=d["pu"]))  # fmt: skip
    resync = book.apply(BookSnapshot(venue="aster", symbol="BTCUSDT", bids=_levels(snap["bids"]),
                                     asks=_levels(snap["asks"]), seq=snap["lastUpdateId"]))  # fmt: skip
    assert resync is None
    assert book.state is SyncState.SYNCED
    assert book.seq == final["lastUpdateId"] == diffs[-1]["u"]
    bids, asks = book.top(None)
    assert [(str(p), str(q)) for p, q in bids] == [tuple(x) for x in final["bids"]]
    assert [(str(p), str(q)) for p, q in asks] == [tuple(x) for x in final["asks"]]


async def test_aster_rest_market_data_matches_fixture_shapes(sim):
    base = sim.urls["aster"]["rest"] + "/fapi/v1"
    async with aiohttp.ClientSession() as http:

        async def get(path, **params):
            async with http.get(base + path, params=params) as r:
                return r.status, await r.json()

        status, depth = await get("/depth", symbol="ETHUSDT", limit="5")
        assert status == 200 and len(depth["bids"]) == 5
        assert_shape(depth, fixture("aster", "rest_depth.json"))
        assert_shape((await get("/premiumIndex", symbol="BTCUSDT"))[1], fixture("aster", "rest_premiumIndex.json"))
        assert_shape((await get("/premiumIndex"))[1], fixture("aster", "rest_premiumIndex_all.json"))
        history = (await get("/fundingRate", symbol="BTCUSDT", limit="5"))[1]
        assert_shape(history, fixture("aster", "rest_fundingRate.json"))
        assert len(history) == 5 and [h["fundingTime"] for h in history] == sorted(h["fundingTime"] for h in history)
        info = (await get("/fundingInfo"))[1]
        assert_shape(info, fixture("aster", "rest_fundingInfo.json"))
        assert {i["fundingIntervalHours"] for i in info} == {8}
        assert_shape((await get("/exchangeInfo"))[1], fixture("aster", "rest_exchangeInfo.json"))
        assert_shape((await get("/ticker/bookTicker", symbol="BTCUSDT"))[1], fixture("aster", "rest_bookTicker.json"))
        status, err = await get("/depth", symbol="NOPE")
        assert status == 400 and err == fixture("aster", "rest_error.json")
        assert (await get("/depth", symbol="BTCUSDT", limit="7"))[0] == 400


async def _user_stream(sim, http, venue="aster"):
    key = sim.new_api_key(venue)
    async with http.post(sim.urls[venue]["rest"] + "/fapi/v1/listenKey", headers={"X-MBX-APIKEY": key.key}) as r:
        body = await r.json()
    return key, body


async def test_aster_signed_order_fills_and_pushes_user_events(sim):
    book = sim.book("aster", "BTC")
    async with aiohttp.ClientSession() as http:
        key, lk = await _user_stream(sim, http)
        assert_shape(lk, fixture("aster", "rest_listenKey_post.json"))
        async with websockets.connect(f"{sim.urls['aster']['ws']}/ws/{lk['listenKey']}") as ws:
            await _barrier(ws)
            (a1, s1), (a2, s2) = book.ladder.top(False, 2)
            qty = book.inst.size_text(s1 + s2 // 2)
            query = _signed(key.secret, {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                         "quantity": qty, "price": book.inst.price_text(a2)})  # fmt: skip
            async with http.post(sim.urls["aster"]["rest"] + "/fapi/v1/order?" + query,
                                 headers={"X-MBX-APIKEY": key.key}) as r:  # fmt: skip
                assert r.status == 200
                order = await r.json()
            events = [await recv_json(ws) for _ in range(4)]
    assert order["status"] == "FILLED" and order["executedQty"] == qty
    new, fill1, fill2, account = events
    assert [e["e"] for e in events] == ["ORDER_TRADE_UPDATE"] * 3 + ["ACCOUNT_UPDATE"]
    assert (new["o"]["x"], new["o"]["X"]) == ("NEW", "NEW")
    assert (fill1["o"]["x"], fill1["o"]["X"], fill1["o"]["L"]) == (
        "TRADE",
        "PARTIALLY_FILLED",
        book.inst.price_text(a1),
    )
    assert (fill2["o"]["X"], fill2["o"]["z"]) == ("FILLED", qty)
    for e in (new, fill1, fill2):
        assert_shape(e, fixture("aster", "ORDER_TRADE_UPDATE.json"))
    assert_shape(account, fixture("aster", "ACCOUNT_UPDATE.json"))
    assert account["a"]["P"][0]["pa"] == qty
    sim.tick(1)
    assert book.ladder.asks.get(a1) is None  # the order took the level: the public book shows it


async def test_aster_resting_order_partially_fills_and_cancels(sim):
    book = sim.book("aster", "ETH")
    async with aiohttp.ClientSession() as http:
        key, lk = await _user_stream(sim, http)
        async with websockets.connect(f"{sim.urls['aster']['ws']}/ws/{lk['listenKey']}") as ws:
            await _barrier(ws)
            ask, size = book.ladder.top(False, 1)[0]
            params = {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                      "quantity": book.inst.size_text(size * 2), "price": book.inst.price_text(ask),
                      "newClientOrderId": "rest-1"}  # fmt: skip
            url = sim.urls["aster"]["rest"] + "/fapi/v1/order?"
            async with http.post(url + _signed(key.secret, params), headers={"X-MBX-APIKEY": key.key}) as r:
                placed = await r.json()
            assert placed["status"] == "PARTIALLY_FILLED" and placed["executedQty"] == book.inst.size_text(size)
            cancel = {"symbol": "ETHUSDT", "origClientOrderId": "rest-1"}
            async with http.delete(url + _signed(key.secret, cancel), headers={"X-MBX-APIKEY": key.key}) as r:
                assert (await r.json())["status"] == "CANCELED"
            last = await recv_until(ws, lambda m: m.get("o", {}).get("x") == "CANCELED")
    assert last["o"]["c"] == "rest-1" and last["o"]["z"] == book.inst.size_text(size)


async def test_aster_bad_signature_and_unknown_key_are_rejected(sim):
    key = sim.new_api_key("aster")
    url = sim.urls["aster"]["rest"] + "/fapi/v1/order?"
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    async with aiohttp.ClientSession() as http:
        forged = _signed("not-the-secret", params)
        async with http.post(url + forged, headers={"X-MBX-APIKEY": key.key}) as r:
            assert (r.status, (await r.json())["code"]) == (400, -1022)
        async with http.post(url + _signed(key.secret, params), headers={"X-MBX-APIKEY": "unknown"}) as r:
            assert (r.status, (await r.json())["code"]) == (401, -2015)
        stale = urlencode({**params, "timestamp": int(time.time() * 1000) - 60_000})
        stale += "&signature=" + hmac.new(key.secret.encode(), stale.encode(), hashlib.sha256).hexdigest()
        async with http.post(url + stale, headers={"X-MBX-APIKEY": key.key}) as r:
            assert (await r.json())["code"] == -1021
    assert sim.exchange.accounts == {}


async def test_aster_listen_key_keepalive_expiry_and_recreation(sim):
    async with aiohttp.ClientSession() as http:
        key, lk = await _user_stream(sim, http)
        url = sim.urls["aster"]["rest"] + "/fapi/v1/listenKey"
        headers = {"X-MBX-APIKEY": key.key}
        async with http.put(url, headers=headers) as r:
            assert await r.json() == fixture("aster", "rest_listenKey_put.json")
        async with http.post(url, headers=headers) as r:
            assert (await r.json())["listenKey"] == lk["listenKey"]  # the active key, extended
        async with websockets.connect(f"{sim.urls['aster']['ws']}/ws/{lk['listenKey']}") as ws:
            await _barrier(ws)
            assert sim.expire_listen_key("aster") == 1
            expired = await recv_json(ws)
        assert_shape(expired, fixture("aster", "listenKeyExpired.json"))
        async with http.put(url, headers=headers) as r:
            assert (await r.json())["code"] == -1125
        async with http.post(url, headers=headers) as r:
            assert (await r.json())["listenKey"] != lk["listenKey"]


async def test_aster_listen_key_expires_after_an_hour_of_market_time():
    async with Simulator(seed=1, run_clock=False, speed=3600.0, venues=["aster"], history_days=1) as sim:
        async with aiohttp.ClientSession() as http:
            _, lk = await _user_stream(sim, http)
        async with websockets.connect(f"{sim.urls['aster']['ws']}/ws/{lk['listenKey']}") as ws:
            await _barrier(ws)
            sim.tick(40)  # 120 market minutes at 3 minutes a tick
            msg = await recv_until(ws, lambda m: m.get("e") == "listenKeyExpired")
    assert isinstance(msg["E"], int)


async def test_aster_server_pings_and_closes_a_silent_client():
    options = {"aster": {"heartbeat": {"ping_s": 0.05, "pong_timeout_s": 0.2}}}
    async with (
        Simulator(seed=1, run_clock=False, venues=["aster"], venue_options=options, history_days=1) as sim,
        aiohttp.ClientSession() as http,
        http.ws_connect(sim.urls["aster"]["ws"] + "/ws", autoping=False) as ws,
    ):
        kinds = [(await ws.receive(timeout=5)).type]
        while kinds[-1] == aiohttp.WSMsgType.PING and len(kinds) < 500:
            kinds.append((await ws.receive(timeout=5)).type)
        code = ws.close_code
    assert kinds[0] == aiohttp.WSMsgType.PING
    assert kinds[-1] in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert code == 1000
