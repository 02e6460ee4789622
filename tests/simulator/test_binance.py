"""Binance USD-M: the 2026 routed paths (silent on the wrong path), payload drift and user data."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import aiohttp
import websockets

from tests.simulator.helpers import assert_shape, drain, fixture, recv_json, recv_until

_NEW_FIELDS = {"ps", "st"}


def _signed(secret: str, params: dict) -> str:
    query = urlencode({**params, "timestamp": int(time.time() * 1000)})
    return query + "&signature=" + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


async def test_binance_public_path_ignores_market_streams_silently(sim):
    streams = "btcusdt@bookTicker/btcusdt@depth@100ms/btcusdt@markPrice@1s"
    async with websockets.connect(f"{sim.urls['binance']['ws']}/public/stream?streams={streams}") as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["!markPrice@arr@1s"], "id": 1}))
        assert await recv_until(ws, lambda m: m.get("id") == 1) == {"result": None, "id": 1}
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        listed = await recv_until(ws, lambda m: m.get("id") == 2)
        sim.tick(40)
        seen = {m["stream"] for m in await drain(ws)}
    assert "!markPrice@arr@1s" in listed["result"]
    assert seen == {"btcusdt@bookTicker", "btcusdt@depth@100ms"}


async def test_binance_streams_carry_the_2026_fields(sim):
    async with websockets.connect(f"{sim.urls['binance']['ws']}/market/stream?streams=!markPrice@arr@1s/"
                                  "!forceOrder@arr/btcusdt@aggTrade") as market, \
            websockets.connect(f"{sim.urls['binance']['ws']}/public/stream?streams=btcusdt@bookTicker/"
                               "btcusdt@depth@100ms") as public:  # fmt: skip
        for ws in (market, public):  # the server has read the URL streams once it answers
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 9}))
            await recv_until(ws, lambda m: m.get("id") == 9)
        sim.tick(2)
        sim.model.liquidate(sim.book("binance", "BTC"), sell=False)
        sim.tick(20)
        frames = {m["stream"]: m["data"] for m in (await drain(market)) + (await drain(public)) if "stream" in m}
    assert_shape(frames["!markPrice@arr@1s"], fixture("binance", "markPrice_arr_sdk_post_cm_migration.json"))
    assert_shape(frames["!forceOrder@arr"], fixture("binance", "forceOrder_arr_sdk_post_cm_migration.json"))
    assert frames["!forceOrder@arr"]["o"]["S"] == "BUY"
    assert_shape(frames["btcusdt@aggTrade"], fixture("binance", "aggTrade.json"))
    assert_shape(frames["btcusdt@bookTicker"], fixture("binance", "bookTicker_sdk_post_cm_migration.json"))
    assert_shape(frames["btcusdt@depth@100ms"], fixture("binance", "depthUpdate.json")["data"], extra=_NEW_FIELDS)


async def test_binance_rest_funding_endpoints_match_fixture_shapes(sim):
    base = sim.urls["binance"]["rest"] + "/fapi/v1"
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/fundingRate", params={"symbol": "SOLUSDT", "limit": "3"}) as r:
            assert_shape(await r.json(), fixture("binance", "rest_fundingRate.json"))
        async with http.get(base + "/fundingInfo") as r:
            assert_shape(await r.json(), fixture("binance", "rest_fundingInfo.json"))
        async with http.get(base + "/premiumIndex", params={"symbol": "BTCUSDT"}) as r:
            assert_shape(await r.json(), fixture("binance", "rest_premiumIndex.json"))
        async with http.get(base + "/depth", params={"symbol": "BTCUSDT", "limit": "100"}) as r:
            assert_shape(await r.json(), fixture("binance", "rest_depth.json"))
        async with http.get(base + "/exchangeInfo") as r:
            info = await r.json()
    assert_shape(info["symbols"][0], fixture("binance", "rest_exchangeInfo.json")["symbols"][0])


async def test_binance_private_stream_filters_events_and_names_the_expired_key(sim):
    key = sim.new_api_key("binance")
    headers = {"X-MBX-APIKEY": key.key}
    book = sim.book("binance", "SOL")
    async with aiohttp.ClientSession() as http:
        async with http.post(sim.urls["binance"]["rest"] + "/fapi/v1/listenKey", headers=headers) as r:
            lk = (await r.json())["listenKey"]
        async with http.put(sim.urls["binance"]["rest"] + "/fapi/v1/listenKey", headers=headers) as r:
            put = await r.json()
        assert_shape(put, fixture("binance", "rest_listenKey_put.json"))
        assert put["listenKey"] == lk
        only_orders = f"{sim.urls['binance']['ws']}/private/ws?listenKey={lk}&events=ORDER_TRADE_UPDATE"
        everything = f"{sim.urls['binance']['ws']}/private/ws?listenKey={lk}"
        async with websockets.connect(only_orders) as orders, websockets.connect(everything) as full:
            for ws in (orders, full):  # attached once the server answers
                await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 9}))
                assert await recv_json(ws) == {"result": [], "id": 9}
            params = {"symbol": "SOLUSDT", "side": "SELL", "type": "MARKET", "quantity": book.inst.size_text(1)}
            async with http.post(sim.urls["binance"]["rest"] + "/fapi/v1/order?" + _signed(key.secret, params),
                                 headers=headers) as r:  # fmt: skip
                assert (await r.json())["status"] == "FILLED"
            got = [await recv_json(orders) for _ in range(2)]
            account = await recv_until(full, lambda m: m["e"] == "ACCOUNT_UPDATE")
            sim.expire_listen_key("binance", lk)
            expired = await recv_json(orders)
            leftover = await drain(orders)
    assert [g["o"]["x"] for g in got] == ["NEW", "TRADE"]
    assert_shape(got[0], fixture("binance", "ORDER_TRADE_UPDATE.json"))
    assert_shape(got[1], fixture("binance", "ORDER_TRADE_UPDATE_fill.json"), extra={"V", "pm", "gtd", "er"})
    assert_shape(account, fixture("binance", "ACCOUNT_UPDATE.json"))
    assert account["a"]["P"][0]["pa"] == "-" + book.inst.size_text(1)
    assert expired == {"e": "listenKeyExpired", "E": expired["E"], "listenKey": lk}
    assert_shape(expired, fixture("binance", "listenKeyExpired.json"))
    assert leftover == []
