"""The HTTP control API and the Python helpers it mirrors: market view, funding shocks, faults,
credentials, manual ticks, replays."""

from __future__ import annotations

import json

import aiohttp
import websockets

from tests.simulator.helpers import recv_json


async def test_control_market_view_and_funding_shock(sim):
    async with aiohttp.ClientSession() as http:
        async with http.post(
            sim.base_url + "/_control/funding/shock",
            json={"venue": "hyperliquid", "asset": "SOL", "rate": "0.0004", "per_hour": True},
        ) as r:
            assert r.status == 200
        async with http.post(
            sim.base_url + "/_control/funding/shock", json={"venue": "nope", "asset": "SOL", "rate": 1}
        ) as r:
            assert r.status == 400
        async with http.get(sim.base_url + "/_control/market") as r:
            market = await r.json()
        async with http.get(sim.base_url + "/_control/urls") as r:
            urls = await r.json()
    sol = market["venues"]["hyperliquid"]["SOL"]
    assert abs(sol["funding_rate_per_hour"] - 0.0004) < 1e-12
    assert sol["interval_hours"] == 1 and sol["symbol"] == "SOL"
    assert float(market["venues"]["aster"]["BTC"]["best_bid"]) < float(market["venues"]["aster"]["BTC"]["best_ask"])
    assert urls["venues"] == sim.urls


async def test_shock_funding_reaches_the_wire_in_the_venue_units(sim):
    sim.shock_funding("aster", "ETH", "0.0008")  # per the venue's 8 h interval
    sim.shock_funding("lighter", "ETH", "0.0003")  # per hour
    async with aiohttp.ClientSession() as http:
        async with http.get(sim.urls["aster"]["rest"] + "/fapi/v1/premiumIndex", params={"symbol": "ETHUSDT"}) as r:
            aster = await r.json()
        async with websockets.connect(sim.urls["lighter"]["ws"]) as ws:
            await recv_json(ws)
            await ws.send(json.dumps({"type": "subscribe", "channel": "market_stats/0"}))
            stats = (await recv_json(ws))["market_stats"]
    assert aster["lastFundingRate"] == "0.00080000"
    assert stats["current_funding_rate"] == "0.0300"  # percent per hour


async def test_control_faults_accounts_and_ticks(sim):
    async with aiohttp.ClientSession() as http:
        async with websockets.connect(sim.urls["bybit"]["ws"]) as ws:
            async with http.post(sim.base_url + "/_control/faults/drop", json={"venue": "bybit"}) as r:
                assert await r.json() == {"affected": 1}
            closed = ws.wait_closed()
            await closed
        async with http.post(sim.base_url + "/_control/faults/drop", json={"venue": "bybit"}) as r:
            assert r.status == 400
        async with http.post(sim.base_url + "/_control/faults/nonsense", json={}) as r:
            assert r.status == 404
        async with http.post(sim.base_url + "/_control/faults/rest_error", json={"venue": "bybit", "status": 429}) as r:
            assert r.status == 200
        async with http.get(sim.urls["bybit"]["rest"] + "/v5/market/tickers", params={"category": "linear"}) as r:
            assert (r.status, (await r.json())["retCode"]) == (429, 10006)
        async with http.post(sim.base_url + "/_control/accounts", json={"venue": "aster"}) as r:
            minted = await r.json()
        async with http.get(sim.base_url + "/_control/accounts") as r:
            listed = await r.json()
        ticks = sim.clock.ticks
        async with http.post(sim.base_url + "/_control/tick", json={"n": 3}) as r:
            assert (await r.json())["ticks"] == ticks + 3
    assert minted["venue"] == "aster" and len(minted["secret"]) == 64
    assert listed["aster"] == [minted]


async def test_control_replay_serves_posted_lines(sim):
    lines = [{"ts": 0, "frame": {"a": 1}}, {"ts": 5, "frame": "plain text"}]
    async with (
        aiohttp.ClientSession() as http,
        http.post(sim.base_url + "/_control/replay", json={"name": "posted", "lines": lines, "speed": None}) as r,
    ):
        url = (await r.json())["url"]
    async with websockets.connect(url) as ws:
        got = [await ws.recv(), await ws.recv()]
    assert got == ['{"a":1}', "plain text"]
