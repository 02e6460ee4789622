"""The simulator at scale: a catalogue of N symbols per venue, quiet books, real cadences, and
the venues split over processes that quote one market."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
import websockets

from perpwire.simulator import Simulator, catalog
from perpwire.simulator.procs import groups
from tests.simulator.helpers import recv_json, recv_until

ROOT = Path(__file__).resolve().parents[2]


def test_the_catalogue_is_deterministic_and_venue_like():
    a, b = catalog.assets(500), catalog.assets(500)
    assert a == b and len({x.name for x in a}) == 500
    assert [x.name for x in a[:3]] == ["BTC", "ETH", "SOL"] and a[:3] == catalog.ASSETS
    assert catalog.assets(10) == a[:10]  # a bigger catalogue only adds
    assert all(0.0005 < x.price < 5000 for x in a[3:])
    with pytest.raises(ValueError, match="symbols must be between 1 and"):
        catalog.assets(0)
    for venue in catalog.VENUES:
        insts = catalog.instruments(venue, 500)
        assert len({i.symbol for i in insts}) == 500 and len({i.market_id for i in insts}) == 500
        assert [i.symbol for i in insts[:3]] == [i.symbol for i in catalog.instruments(venue)]
        for inst, asset in zip(insts, a, strict=True):
            price = Decimal(inst.price_text(round(asset.price / inst.tick_value)))
            assert abs(float(price) / asset.price - 1) < 0.001, (venue, inst.symbol, price, asset.price)
            if asset.name not in ("BTC", "ETH", "SOL"):
                assert float(inst.tick) / asset.price < 2e-4  # a tick near 1e-5 of the price
                assert 0.5 <= inst.lot_base * asset.price <= 20  # a lot (KuCoin: a contract) of about a dollar
    assert [i.market_id for i in catalog.instruments("lighter", 5)][:3] == [1, 0, 2]  # Lighter's real ids kept
    assert catalog.instruments("kucoin", 5)[0].symbol == "XBTUSDTM"


async def test_a_quiet_book_moves_every_tick_once_watched_and_its_diffs_chain_from_rest():
    sim = Simulator(seed=5, run_clock=False, venues=["aster"], symbols=500, history_days=1)
    await sim.start()
    try:
        assert sim.model.quiet_books
        book = sim.venue("aster").by_symbol["QPAUSDT"]
        low = book.inst.symbol.lower()
        moved = 0
        for _ in range(sim.model.quiet_every):
            sim.tick()
            moved += book in sim.model.moved["aster"]
        assert moved == 1  # quiet: once per quiet_every ticks
        async with websockets.connect(f"{sim.urls['aster']['ws']}/stream?streams={low}@depth@100ms") as ws:
            for _ in range(10):
                sim.tick()
                assert book in sim.model.moved["aster"]
            async with aiohttp.ClientSession() as http, http.get(
                    f"{sim.urls['aster']['rest']}/fapi/v1/depth?symbol={book.inst.symbol}&limit=1000") as r:
                snap = await r.json()
            prev = None
            for _ in range(40):
                sim.tick(2)
                frame = (await recv_until(ws, lambda m: m.get("stream") == f"{low}@depth@100ms"))["data"]
                if frame["u"] < snap["lastUpdateId"]:
                    continue
                if prev is None:
                    assert frame["pu"] <= snap["lastUpdateId"] <= frame["u"]  # bridges the snapshot
                else:
                    assert frame["pu"] == prev
                prev = frame["u"]
            assert prev is not None
        sim.tick()
        assert book.watchers == 0 and book not in sim.model.watched["aster"]
    finally:
        await sim.stop()


async def test_funding_of_every_symbol_at_the_venues_cadence():
    """Binance's ``!markPrice@arr@1s`` lists every symbol once a second; KuCoin's funding.rate comes
    once a minute per contract."""
    sim = Simulator(seed=2, run_clock=False, venues=["binance", "kucoin"], symbols=300, history_days=1)
    await sim.start()
    try:
        ticks_1s = sim.clock.ticks_per(1.0)
        async with websockets.connect(f"{sim.urls['binance']['ws']}/market/ws/!markPrice@arr@1s") as ws:
            seen = []
            for _ in range(3 * ticks_1s):
                sim.tick()
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 0.05))
                except TimeoutError:
                    continue
                seen.append((sim.clock.ticks, frame))
                if len(seen) == 2:
                    break
        assert len(seen) == 2 and seen[1][0] - seen[0][0] == ticks_1s
        assert len(seen[0][1]) == 300 and len({e["s"] for e in seen[0][1]}) == 300
        # KuCoin: one funding.rate per contract per minute
        bullet = f"{sim.urls['kucoin']['rest']}/api/v1/bullet-public"
        async with aiohttp.ClientSession() as http, http.post(bullet) as r:
            data = (await r.json())["data"]
        url = f"{data['instanceServers'][0]['endpoint']}?token={data['token']}&connectId=t"
        async with websockets.connect(url) as ws:
            await recv_json(ws)  # welcome
            topic = "/contract/instrument:QAUSDTM"
            await ws.send(json.dumps({"id": 1, "type": "subscribe", "topic": topic, "response": True}))
            await recv_until(ws, lambda m: m.get("type") == "ack")
            rates = []
            for _ in range(2):
                sim.tick(sim.clock.ticks_per(60.0))
                frame = await recv_until(ws, lambda m: m.get("subject") == "funding.rate")
                rates.append(frame["data"]["timestamp"])
            assert rates[1] - rates[0] == 60_000
    finally:
        await sim.stop()


def test_groups_deal_the_venues_round_robin():
    venues = list(catalog.VENUES)
    assert groups(venues, 1) == [venues]
    assert groups(venues, 7) == [[v] for v in venues]
    two = groups(venues, 2)
    assert sorted(v for g in two for v in g) == sorted(venues) and [len(g) for g in two] == [4, 3]
    assert groups(["aster"], 3) == [["aster"]]
    with pytest.raises(ValueError):
        groups(venues, 0)


def _market(control: str) -> dict:
    with urllib.request.urlopen(f"{control}/market", timeout=10) as r:
        return json.loads(r.read())


def test_perpwire_sim_procs_splits_the_venues_over_processes_quoting_one_market():
    proc = subprocess.Popen([sys.executable, "-m", "perpwire.actors.app.cli", "sim", "--procs", "2", "--symbols", "20",
                             "--seed", "4", "--venues", "aster,bybit,kucoin"],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        out, deadline = b"", time.monotonic() + 60
        while not out.endswith(b"\n}\n"):
            assert time.monotonic() < deadline and proc.poll() is None, (out, proc.poll(), proc.stderr.read())
            if select.select([proc.stdout], [], [], 0.5)[0]:
                out += os.read(proc.stdout.fileno(), 65536)
        info = json.loads(out)
        assert sorted(info["venues"]) == ["aster", "bybit", "kucoin"]
        pids = [p["pid"] for p in info["processes"]]
        assert len(set(pids)) == 2 and proc.pid not in pids
        assert [p["venues"] for p in info["processes"]] == [["aster", "kucoin"], ["bybit"]]
        assert info["controls"]["aster"] != info["controls"]["bybit"]
        first, second = _market(info["controls"]["aster"]), _market(info["controls"]["bybit"])
        assert len(first["fair"]) == 20 and list(first["venues"]) == ["aster", "kucoin"]
        for asset, price in first["fair"].items():  # one market: the readers quote the writer's prices
            assert abs(second["fair"][asset] / price - 1) < 0.002, asset
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        for pid in pids:  # every child is gone
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
