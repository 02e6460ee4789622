"""The public endpoints served for clients such as ccxt, checked at the wire (shapes, routing, errors).

ccxt's own view of them is in ``test_ccxt.py``; here each frame or body is checked against the
recorded fixture where one exists and against the venue's documented rules where not.
"""

from __future__ import annotations

import json

import aiohttp
import websockets

from tests.simulator.helpers import assert_shape, drain, fixture, recv_until


async def _get(url: str, **params: str) -> tuple[int, object]:
    async with aiohttp.ClientSession() as s, s.get(url, params=params) as r:
        return r.status, await r.json(content_type=None)


async def _post(url: str, body: object) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.post(url, json=body) as r:
        return r.status, await r.text()


async def test_aster_ticker_streams_match_the_live_24hr_ticker(sim):
    streams = ["btcusdt@ticker", "btcusdt@miniTicker", "!ticker@arr"]
    async with websockets.connect(sim.urls["aster"]["ws"] + "/stream?streams=" + "/".join(streams)) as ws:
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 5}))
        await recv_until(ws, lambda m: m.get("id") == 5)
        sim.tick(60)  # 3 s of market time: some trades, tickers every 500 ms, the array every second
        frames: dict[str, list] = {}
        for m in await drain(ws):
            frames.setdefault(m["stream"], []).append(m["data"])
    assert set(frames) == set(streams)
    live = fixture("aster", "ticker24hr.json")
    for t in frames["btcusdt@ticker"]:
        assert_shape(t, live)
        assert list(t) == list(live)  # the live key order
    mini = frames["btcusdt@miniTicker"][-1]
    assert list(mini) == ["e", "E", "s", "c", "o", "h", "l", "v", "q"] and mini["e"] == "24hrMiniTicker"
    assert [r["s"] for r in frames["!ticker@arr"][-1]] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    book = sim.book("aster", "BTC")
    last = frames["btcusdt@ticker"][-1]
    assert last["c"] == book.inst.price_text(book.recent[-1].px)  # the last trade
    assert last["L"] == book.trade_id and last["n"] == book.trade_id - 1_000_000
    assert float(last["l"]) <= float(last["w"]) <= float(last["h"])
    assert len(frames["btcusdt@ticker"]) >= 5


async def test_aster_subscribe_without_id_is_answered_with_a_null_id(sim):
    async with websockets.connect(sim.urls["aster"]["ws"] + "/stream") as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"]}))
        assert await recv_until(ws, lambda m: "result" in m or "code" in m) == {"result": None, "id": None}
        sim.tick(5)
        assert any(m.get("stream") == "btcusdt@bookTicker" for m in await drain(ws))
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": "x"}))
        err = await recv_until(ws, lambda m: "code" in m)
        assert err == fixture("aster", "ws_error_invalid_request_id.json")


async def test_binance_tickers_ride_the_market_route_only(sim):
    ws_base = sim.urls["binance"]["ws"]
    async with websockets.connect(ws_base + "/public/ws/btcusdt@ticker") as pub, websockets.connect(
        ws_base + "/market/ws/btcusdt@ticker"
    ) as mkt:
        sim.tick(30)
        assert await drain(pub) == []  # acknowledged by the path, never delivered: the 2026 routing
        got = await drain(mkt)
    assert got and all(m["e"] == "24hrTicker" and m["ps"] == "BTCUSDT" and m["st"] == 1 for m in got)


async def test_binance_and_aster_rest_24hr_ticker(sim):
    sim.tick(40)
    for venue, prefix in (("binance", "/fapi/v1"), ("aster", "/fapi/v3")):
        status, one = await _get(sim.urls[venue]["rest"] + prefix + "/ticker/24hr", symbol="BTCUSDT")
        assert status == 200 and one["symbol"] == "BTCUSDT", venue
        book = sim.book(venue, "BTC")
        assert one["lastPrice"] == book.inst.price_text(book.recent[-1].px) and one["lastId"] == book.trade_id
        status, rows = await _get(sim.urls[venue]["rest"] + prefix + "/ticker/24hr")
        assert status == 200 and [r["symbol"] for r in rows] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
        assert await _get(sim.urls[venue]["rest"] + prefix + "/ticker/24hr", symbol="NOPE") == (
            400, {"code": -1121, "msg": "Invalid symbol."})  # fmt: skip
    status, spot = await _get(sim.urls["aster"]["rest"] + "/api/v3/exchangeInfo")
    assert status == 200 and spot["symbols"] == [] and spot["timezone"] == "UTC"


async def test_hyperliquid_spot_meta_and_perp_dexs(sim):
    url = sim.urls["hyperliquid"]["rest"] + "/info"
    status, text = await _post(url, {"type": "spotMeta"})
    meta = json.loads(text)
    assert status == 200 and meta["universe"] == [] and [t["name"] for t in meta["tokens"]] == ["USDC"]
    status, text = await _post(url, {"type": "spotMetaAndAssetCtxs"})
    assert status == 200 and json.loads(text) == [meta, []]
    assert await _post(url, {"type": "perpDexs"}) == (200, "[null]")
    status, text = await _post(url, {"type": "noSuchThing"})
    assert status == 422 and text.startswith("Failed to deserialize")


async def test_kucoin_currencies_and_trade_ticker(sim):
    status, body = await _get(sim.urls["kucoin"]["rest"] + "/api/v3/currencies")
    assert status == 200 and body["code"] == "200000"
    assert [c["currency"] for c in body["data"]] == ["BTC", "ETH", "SOL", "USDT"]
    async with aiohttp.ClientSession() as s, s.post(sim.urls["kucoin"]["rest"] + "/api/v1/bullet-public") as r:
        bullet = (await r.json())["data"]
    url = bullet["instanceServers"][0]["endpoint"] + "?token=" + bullet["token"]
    async with websockets.connect(url) as ws:
        await recv_until(ws, lambda m: m.get("type") == "welcome")
        await ws.send(json.dumps({"id": "7", "type": "subscribe", "topic": "/contractMarket/ticker:XBTUSDTM",
                                  "response": True}))  # fmt: skip
        assert await recv_until(ws, lambda m: m.get("id") == "7") == {"id": "7", "type": "ack"}
        await ws.send(json.dumps({"id": "8", "type": "subscribe", "topic": "/contractMarket/execution:XBTUSDTM",
                                  "response": True}))  # fmt: skip
        assert await recv_until(ws, lambda m: m.get("id") == "8") == {"id": "8", "type": "ack"}
        sim.tick(40)
        frames = await drain(ws)
        got = [m for m in frames if m.get("subject") == "ticker"]
        matches = [m for m in frames if m.get("subject") == "match"]
    book = sim.book("kucoin", "BTC")
    assert got, "no ticker v1 message after 40 ticks"
    data = got[-1]["data"]
    assert list(data) == ["symbol", "sequence", "side", "price", "size", "tradeId", "bestBidSize", "bestBidPrice",
                          "bestAskPrice", "bestAskSize", "ts"]  # fmt: skip
    assert data["tradeId"] == str(book.trade_id) and data["price"] == book.inst.price_text(book.recent[-1].px)
    assert isinstance(data["size"], int) and data["ts"] > 10**18  # contracts; nanoseconds
    assert len(matches) == len(got)  # one match and one ticker per trade
    m = matches[-1]
    assert m["topic"] == "/contractMarket/execution:XBTUSDTM" and m["data"]["price"] == data["price"]
    assert list(m["data"]) == ["symbol", "sequence", "side", "size", "price", "takerOrderId", "makerOrderId",
                               "tradeId", "ts"]  # fmt: skip


async def test_backpack_assets_and_tickers(sim):
    rest = sim.urls["backpack"]["rest"]
    status, assets = await _get(rest + "/api/v1/assets")
    assert status == 200 and [a["symbol"] for a in assets] == ["BTC", "ETH", "SOL", "USDC"]
    assert all(a["tokens"] and a["tokens"][0]["depositEnabled"] for a in assets)
    sim.tick(40)
    status, t = await _get(rest + "/api/v1/ticker", symbol="BTC_USDC_PERP")
    book = sim.book("backpack", "BTC")
    assert status == 200 and t["lastPrice"] == book.inst.price_text(book.recent[-1].px)
    assert set(t) == {"symbol", "firstPrice", "lastPrice", "priceChange", "priceChangePercent", "high", "low",
                      "volume", "quoteVolume", "trades"}  # fmt: skip
    assert all(isinstance(v, str) for v in t.values())
    status, rows = await _get(rest + "/api/v1/tickers")
    assert status == 200 and [r["symbol"] for r in rows] == ["BTC_USDC_PERP", "ETH_USDC_PERP", "SOL_USDC_PERP"]
    assert (await _get(rest + "/api/v1/ticker", symbol="NOPE"))[0] == 400
    assert await _get(rest + "/api/v1/securities") == (200, [])


async def test_bybit_instruments_by_category(sim):
    url = sim.urls["bybit"]["rest"] + "/v5/market/instruments-info"
    status, linear = await _get(url, category="linear")
    assert status == 200 and [r["symbol"] for r in linear["result"]["list"]] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert linear["result"]["list"][0]["lotSizeFilter"]["minNotionalValue"] == "5"
    for params in ({"category": "spot"}, {"category": "inverse"}, {"category": "option", "baseCoin": "BTC"},
                   {"category": "linear", "status": "PreLaunch"}):  # fmt: skip
        status, body = await _get(url, **params)
        assert status == 200 and body["retCode"] == 0 and body["result"]["list"] == [], params
    _, bad = await _get(url, category="futures")
    assert bad["retCode"] == 10001


async def test_lighter_asset_details(sim):
    status, body = await _get(sim.urls["lighter"]["rest"] + "/api/v1/assetDetails")
    assert status == 200 and body["code"] == 200
    assert [(a["asset_id"], a["symbol"], a["decimals"]) for a in body["asset_details"]] == [(3, "USDC", 6)]
