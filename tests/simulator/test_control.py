"""The HTTP control API and the Python helpers it mirrors: market view, funding shocks, faults,
credentials, manual ticks, replays."""

from __future__ import annotations

import json

import aiohttp
import websockets

from tests.simulator.helpers import recv_json, recv_until


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


async def test_shock_answers_when_it_took_effect_and_the_next_frame_carries_it(sim):
    """A latency measurement starts at the shock: the answer says when (server wall clock and
    market time), and the first frame stamped after that market time carries the new rate."""
    topic = "tickers.BTCUSDT"
    async with websockets.connect(sim.urls["bybit"]["ws"]) as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": [topic]}))
        await recv_until(ws, lambda m: m.get("topic") == topic)  # the snapshot
        sim.tick(2)
        async with aiohttp.ClientSession() as http, http.post(sim.base_url + "/_control/funding/shock",
                             json={"venue": "bybit", "asset": "BTC", "rate": 0.002, "per_hour": True}) as r:
            assert r.status == 200
            answer = await r.json()
        assert answer["ok"] is True and answer["market_ms"] == sim.clock.now_ms
        assert abs(answer["rate_per_hour"] - 0.002) < 1e-12
        assert abs(answer["wall_ms"] - sim.clock.wall_ms()) < 5_000
        sim.tick(2)  # one ticker publish (every 0.1 s)
        # a delta published at the shock's own market time (before it) may carry the old rate's drift
        frame = await recv_until(ws, lambda m: m.get("topic") == topic and "fundingRate" in m["data"]
                                 and m["ts"] > answer["market_ms"])
    assert frame["ts"] > answer["market_ms"]
    assert abs(float(frame["data"]["fundingRate"]) - 0.016) < 0.00001  # per bybit's 8 h interval (then decaying)


async def test_shock_refuses_what_it_cannot_apply_and_the_clock_keeps_going():
    """A shock for a venue the simulator does not serve used to add a key the funding model
    cannot step, so the next tick raised and the clock task died: no feed published again.
    ``per_hour: "false"`` used to mean per hour (``bool("false")``)."""
    import asyncio

    import pytest

    from perpwire.simulator.server import Simulator

    sim = Simulator(seed=3, venues=["aster"], history_days=1, levels=20, tick_s=0.01)
    async with sim:
        with pytest.raises(KeyError):
            sim.shock_funding("bybit", "BTC", 0.001, per_hour=True)
        async with aiohttp.ClientSession() as http:
            for body in ({"venue": "bybit", "asset": "BTC", "rate": 0.001},
                         {"venue": "aster", "asset": "DOGE", "rate": 0.001},
                         {"venue": "aster", "asset": "BTC", "rate": 0.001, "per_hour": "false"}):
                async with http.post(sim.base_url + "/_control/funding/shock", json=body) as r:
                    assert r.status == 400, body
        assert abs(sim.funding.rate("aster", "BTC") - 0.001) > 1e-6  # nothing was applied
        before = sim.clock.ticks
        await asyncio.sleep(0.2)
        assert sim.clock.ticks > before and sim.tick_errors == 0


async def test_a_failing_tick_does_not_stop_the_clock(monkeypatch):
    import asyncio

    from perpwire.simulator.server import Simulator

    sim = Simulator(seed=4, venues=["aster"], history_days=1, levels=20, tick_s=0.01)
    step, calls = sim.funding.step, []

    def flaky(dt_h, now):
        calls.append(now)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return step(dt_h, now)

    monkeypatch.setattr(sim.funding, "step", flaky)
    async with sim:
        await asyncio.sleep(0.3)
    assert sim.tick_errors == 1 and len(calls) > 5
