"""Bybit, Hyperliquid and KuCoin: acks, heartbeats, book and funding frames against the fixtures."""

from __future__ import annotations

import json

import aiohttp
import pytest
import websockets

from perpwire.simulator import Simulator
from tests.simulator.helpers import assert_shape, drain, fixture, recv_json, recv_until

# --- Bybit ------------------------------------------------------------------------------------


async def test_bybit_subscribe_snapshot_delta_and_ping(sim):
    topics = ["orderbook.50.BTCUSDT", "tickers.ETHUSDT", "allLiquidation.SOLUSDT", "publicTrade.SOLUSDT"]
    async with websockets.connect(sim.urls["bybit"]["ws"]) as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": topics, "req_id": "4000001"}))
        ack = await recv_json(ws)
        snaps = [await recv_json(ws) for _ in range(2)]
        await ws.send(json.dumps(fixture("bybit", "ping_request.json")))
        pong = await recv_json(ws)
        await ws.send(json.dumps({"op": "subscribe", "args": ["orderbook.500.BTCUSDT"], "req_id": "2000001"}))
        refused = await recv_json(ws)
        sim.model.liquidate(sim.book("bybit", "SOL"))
        sim.tick(20)
        frames = await drain(ws)
    assert_shape(ack, fixture("bybit", "subscribe_response.json"))
    assert (ack["success"], ack["req_id"]) == (True, "4000001")
    book_snap, ticker_snap = snaps
    assert_shape(book_snap, fixture("bybit", "orderbook_snapshot.json"))
    assert_shape(ticker_snap, fixture("bybit", "tickers_snapshot_docs.json"))
    assert_shape(pong, fixture("bybit", "pong.json"))
    assert pong["req_id"] == "100001" and pong["op"] == "ping"
    assert_shape(refused, fixture("bybit", "subscribe_error_args_size.json"))
    assert refused["success"] is False and "orderbook.500.BTCUSDT" in refused["ret_msg"]
    deltas = [f for f in frames if f.get("topic") == "orderbook.50.BTCUSDT"]
    for d in deltas:
        assert_shape(d, fixture("bybit", "orderbook_delta.json"))
    assert [d["data"]["u"] for d in deltas] == list(
        range(book_snap["data"]["u"] + 1, book_snap["data"]["u"] + 1 + len(deltas))
    )
    bids = {p: s for p, s in book_snap["data"]["b"]}
    for d in deltas:
        for p, s in d["data"]["b"]:
            bids.pop(p) if float(s) == 0 else bids.__setitem__(p, s)
    book = sim.book("bybit", "BTC")
    assert sorted(bids.items(), key=lambda kv: -float(kv[0])) == [
        (book.inst.price_text(p), book.inst.size_text(s)) for p, s in book.ladder.top(True, 50)
    ]
    ticker_deltas = [f for f in frames if f.get("topic") == "tickers.ETHUSDT"]
    assert ticker_deltas and all(set(t["data"]) < set(ticker_snap["data"]) | {"symbol"} for t in ticker_deltas)
    assert_shape(ticker_deltas[0], fixture("bybit", "tickers_delta.json"), extra=set(ticker_snap["data"]),
                 missing={"fundingRate", "bid1Price", "bid1Size"})  # fmt: skip
    liq = next(f for f in frames if f.get("topic") == "allLiquidation.SOLUSDT")
    assert_shape(liq, fixture("bybit", "allLiquidation.json"))
    assert liq["data"][0]["S"] == "Buy"  # a liquidation sell order closes a long


async def test_bybit_rest_endpoints_match_fixture_shapes(sim):
    base = sim.urls["bybit"]["rest"] + "/v5/market"
    async with aiohttp.ClientSession() as http:

        async def get(path, **params):
            async with http.get(base + path, params=params) as r:
                return await r.json()

        assert_shape(await get("/orderbook", category="linear", symbol="BTCUSDT", limit="5"),
                     fixture("bybit", "rest_orderbook.json"))  # fmt: skip
        history = await get("/funding/history", category="linear", symbol="ETHUSDT", limit="3")
        assert_shape(history, fixture("bybit", "rest_funding_history.json"))
        times = [int(r["fundingRateTimestamp"]) for r in history["result"]["list"]]
        assert times == sorted(times, reverse=True) and all(t % (8 * 3_600_000) == 0 for t in times)
        tickers = await get("/tickers", category="linear")
        inverse_only = {
            "predictedDeliveryPrice",
            "basisRate",
            "deliveryFeeRate",
            "deliveryTime",
            "basis",
            "basisRateYear",
        }
        assert_shape(tickers, fixture("bybit", "rest_tickers_inverse.json"), missing=inverse_only,
                     extra={"tickDirection"})  # fmt: skip
        assert (await get("/orderbook", category="linear", symbol="NOPE"))["retCode"] == 10001


# --- Hyperliquid ------------------------------------------------------------------------------


async def test_hyperliquid_channels_acks_and_errors(sim):
    async with websockets.connect(sim.urls["hyperliquid"]["ws"]) as ws:
        await ws.send(json.dumps(fixture("hyperliquid", "subscribe_l2Book_fast.json")))
        ack = await recv_json(ws)
        first_book = await recv_json(ws)
        for sub in ({"type": "bbo", "coin": "BTC"}, {"type": "activeAssetCtx", "coin": "BTC"}, {"type": "allMids"},
                    {"type": "trades", "coin": "ETH"}):  # fmt: skip
            await ws.send(json.dumps({"method": "subscribe", "subscription": sub}))
        await ws.send(json.dumps(fixture("hyperliquid", "subscribe_l2Book_fast.json")))
        await ws.send(json.dumps({"method": "subscribe", "subscription": {"type": "bbo", "coin": ["BTC", "ETH"]}}))
        await ws.send(json.dumps(fixture("hyperliquid", "ping.json")))
        await ws.send(json.dumps(fixture("hyperliquid", "post_l2Book_request.json")))
        await ws.send(
            json.dumps(
                {"method": "post", "id": 7, "request": {"type": "info", "payload": {"type": "l2Book", "coin": "NOPE"}}}
            )
        )
        frames = []
        while (
            not frames or frames[-1].get("data", {}) != fixture("hyperliquid", "post_l2Book_unknown_coin.json")["data"]
        ):
            frames.append(await recv_json(ws))  # the last request's reply: every subscription is in place
        sim.tick(25)
        frames += await drain(ws)
        by_channel: dict = {}
        for f in frames:
            by_channel.setdefault(f["channel"], []).append(f)
        await ws.send(
            json.dumps({"method": "unsubscribe", "subscription": {"type": "l2Book", "coin": "BTC", "fast": True}})
        )
        unsub = await recv_until(ws, lambda m: m["channel"] == "subscriptionResponse")
    assert ack == fixture("hyperliquid", "subscriptionResponse.json")
    assert_shape(first_book, fixture("hyperliquid", "l2Book.json"))
    assert len(first_book["data"]["levels"][0]) == 5
    assert_shape(by_channel["l2Book"][0], fixture("hyperliquid", "l2Book_ccxt.json"))
    assert_shape(by_channel["bbo"][0], fixture("hyperliquid", "bbo.json"))
    assert_shape(by_channel["activeAssetCtx"][0], fixture("hyperliquid", "activeAssetCtx.json"))
    assert_shape(by_channel["allMids"][0], fixture("hyperliquid", "allMids.json"), maps={"mids"})
    assert_shape(by_channel["trades"][0], fixture("hyperliquid", "trades.json"))
    assert by_channel["pong"] == [fixture("hyperliquid", "pong.json")]
    errors = [e["data"] for e in by_channel["error"]]
    assert any(e.startswith("Already subscribed: ") for e in errors)
    assert_shape(by_channel["error"][-1], fixture("hyperliquid", "error_parse.json"))
    posts = {p["data"]["id"]: p for p in by_channel["post"]}
    assert_shape(posts[1], fixture("hyperliquid", "post_l2Book_response_docs.json"))
    assert posts[7] == fixture("hyperliquid", "post_l2Book_unknown_coin.json")
    assert_shape(unsub, fixture("hyperliquid", "subscriptionResponse_unsubscribe.json"), loose={"nSigFigs"})
    assert unsub["data"]["method"] == "unsubscribe"
    rate = float(by_channel["activeAssetCtx"][0]["data"]["ctx"]["funding"])
    assert rate == pytest.approx(sim.funding.rate_per_hour("hyperliquid", "BTC"), abs=1e-6)  # a few ticks old


async def test_hyperliquid_unknown_coin_kills_the_socket_without_a_close_frame(sim):
    async with websockets.connect(sim.urls["hyperliquid"]["ws"]) as ws:
        await ws.send(json.dumps({"method": "subscribe", "subscription": {"type": "l2Book", "coin": "NOPE"}}))
        with pytest.raises(websockets.ConnectionClosedError) as info:
            await recv_json(ws)
    assert info.value.rcvd is None


async def test_hyperliquid_info_endpoint_matches_fixture_shapes(sim):
    url = sim.urls["hyperliquid"]["rest"] + "/info"
    async with aiohttp.ClientSession() as http:

        async def info(body):
            async with http.post(url, json=body) as r:
                return r.status, await r.json()

        assert_shape((await info({"type": "meta"}))[1], fixture("hyperliquid", "rest_meta.json"),
                     missing={"isDelisted", "onlyIsolated"}, extra={"collateralToken"})  # fmt: skip
        assert_shape((await info({"type": "metaAndAssetCtxs"}))[1],
                     fixture("hyperliquid", "rest_metaAndAssetCtxs_docs.json"),
                     extra={"dayBaseVlm", "marginTableId"}, missing={"onlyIsolated"})  # fmt: skip
        history = (await info({"type": "fundingHistory", "coin": "BTC", "startTime": 0}))[1]
        assert_shape(history, fixture("hyperliquid", "rest_fundingHistory_docs.json"))
        assert_shape(history, fixture("hyperliquid", "rest_fundingHistory.json"))
        assert_shape((await info({"type": "l2Book", "coin": "SOL"}))[1],
                     fixture("hyperliquid", "rest_l2Book_2023.json"),
                     extra={"time"})  # fmt: skip
        assert_shape((await info({"type": "allMids"}))[1], fixture("hyperliquid", "rest_allMids_2023.json"), maps={"$"})
        assert_shape((await info({"type": "exchangeStatus"}))[1], fixture("hyperliquid", "rest_exchangeStatus.json"))
        predicted = (await info({"type": "predictedFundings"}))[1]
        assert predicted[0][1][0][0] == "HlPerp"
        assert (await info({"type": "l2Book", "coin": "NOPE"})) == (200, None)
        async with http.post(url, data=b'{"type":"meta"}') as r:
            assert r.status == 415
        async with http.post(url, json={"type": "fundingHistory", "coin": "BTC"}) as r:
            assert r.status == 422


# --- KuCoin -----------------------------------------------------------------------------------


async def _kucoin(sim, http):
    async with http.post(sim.urls["kucoin"]["rest"] + "/api/v1/bullet-public") as r:
        bullet = await r.json()
    server = bullet["data"]["instanceServers"][0]
    return bullet, f"{server['endpoint']}?token={bullet['data']['token']}&connectId=NSkIrWGB1s"


async def test_kucoin_token_flow_topics_and_sequences():
    options = {"kucoin": {"funding_rate_s": 0.5}}
    async with (
        Simulator(seed=3, run_clock=False, venues=["kucoin"], venue_options=options, history_days=1) as sim,
        aiohttp.ClientSession() as http,
    ):
        bullet, url = await _kucoin(sim, http)
        async with websockets.connect(url) as ws:
            welcome = await recv_json(ws)
            topics = ["/contractMarket/tickerV2:XBTUSDTM", "/contractMarket/level2Depth50:XBTUSDTM",
                      "/contractMarket/level2:ETHUSDTM", "/contract/instrument:XBTUSDTM,SOLUSDTM",
                      "/contract/announcement"]  # fmt: skip
            for i, topic in enumerate(topics, start=1):
                await ws.send(json.dumps({"id": i, "type": "subscribe", "topic": topic, "response": True}))
            acks = [await recv_json(ws) for _ in topics]
            await ws.send(json.dumps(fixture("kucoin", "ping.json")))
            assert await recv_json(ws) == fixture("kucoin", "pong.json")
            async with http.get(sim.urls["kucoin"]["rest"] + "/api/v1/level2/snapshot",
                                params={"symbol": "ETHUSDTM"}) as r:  # fmt: skip
                snap = (await r.json())["data"]
            sim.jump(sim.funding.next_funding_ms("kucoin") - sim.clock.now_ms)  # cross a settlement
            sim.tick(22)
            frames = await drain(ws)
    assert_shape(bullet, fixture("kucoin", "rest_bullet_public.json"))
    assert_shape(welcome, fixture("kucoin", "welcome.json"))
    assert welcome["id"] == "NSkIrWGB1s"
    assert acks[0] == fixture("kucoin", "ack.json")
    by_subject: dict = {}
    for f in frames:
        by_subject.setdefault((f["subject"], f["topic"].split(":")[0]), []).append(f)
    assert_shape(by_subject[("tickerV2", "/contractMarket/tickerV2")][0], fixture("kucoin", "tickerV2.json"))
    assert_shape(by_subject[("level2", "/contractMarket/level2Depth50")][0], fixture("kucoin", "level2Depth50.json"))
    increments = by_subject[("level2", "/contractMarket/level2")]
    for inc in increments[:5]:
        assert_shape(inc, fixture("kucoin", "level2_increment.json"))
    seqs = [i["data"]["sequence"] for i in increments]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert seqs[0] == snap["sequence"] + 1  # the REST snapshot and the increments share one sequence
    assert_shape(
        by_subject[("mark.index.price", "/contract/instrument")][0],
        fixture("kucoin", "instrument_mark_index_price.json"),
    )
    assert_shape(
        by_subject[("funding.rate", "/contract/instrument")][0], fixture("kucoin", "instrument_funding_rate.json")
    )
    begin = by_subject[("funding.begin", "/contract/announcement")]
    assert len(begin) == 3 and {b["data"]["symbol"] for b in begin} == {"XBTUSDTM", "ETHUSDTM", "SOLUSDTM"}
    assert_shape(begin[0], fixture("kucoin", "funding_begin.json"), extra={"type"})
    assert_shape(by_subject[("funding.end", "/contract/announcement")][0], fixture("kucoin", "funding_end.json"))


async def test_kucoin_socket_without_a_valid_token_is_refused(sim):
    async with websockets.connect(sim.urls["kucoin"]["ws"] + "?token=forged&connectId=x1") as ws:
        err = await recv_json(ws)
        with pytest.raises(websockets.ConnectionClosed):
            await recv_json(ws)
    assert (err["type"], err["code"], err["id"]) == ("error", 401, "x1")


async def test_kucoin_rest_endpoints_match_fixture_shapes(sim):
    base = sim.urls["kucoin"]["rest"] + "/api/v1"
    async with aiohttp.ClientSession() as http:

        async def get(path, **params):
            async with http.get(base + path, params=params) as r:
                return await r.json()

        assert_shape(await get("/level2/snapshot", symbol="XBTUSDTM"), fixture("kucoin", "rest_level2_snapshot.json"))
        depth20 = await get("/level2/depth20", symbol="XBTUSDTM")
        assert_shape(depth20, fixture("kucoin", "rest_level2_snapshot.json"))
        assert len(depth20["data"]["bids"]) == 20
        current = await get("/funding-rate/XBTUSDTM/current")
        assert_shape(current, fixture("kucoin", "rest_funding_rate_current.json"))
        assert current["data"]["granularity"] == 28_800_000
        assert_shape(
            await get("/contract/funding-rates", symbol="SOLUSDTM"),
            fixture("kucoin", "rest_public_funding_history.json"),
        )
        assert_shape(await get("/mark-price/ETHUSDTM/current"), fixture("kucoin", "rest_mark_price_current.json"))
        assert_shape(
            await get("/contracts/XBTUSDTM"), fixture("kucoin", "rest_contract_detail.json"), loose={"lastTradePrice"}
        )  # a float the capture printed without ".0"
        assert_shape(await get("/ticker", symbol="XBTUSDTM"), fixture("kucoin", "rest_ticker.json"))
        assert (await get("/ticker", symbol="NOPE"))["code"] == "400100"
