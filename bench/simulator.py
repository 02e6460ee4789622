"""How many frames per second the simulator serves: N clients on every book stream of every venue.

The simulator runs in its own process (``python -m simulator``), the clients in this one
(aiohttp WebSocket clients), so on a 2-core machine each side has a core. Every client opens
one connection per venue and subscribes to all of that venue's book streams for BTC, ETH and
SOL (diff depth, top-N snapshots, BBO). After a warm-up, frames and bytes are counted for
``--seconds``; the server's counters, wall clock and tick count (``/_control/stats``) and its
CPU time (``/proc``) are read at both ends of the window, so the output shows what the server
sent per second of its own time, what the clients received, the server's CPU use, and whether
the tick loop kept its pace (``tick_ratio`` 1.0 = every tick on time; below 1, ticks were
dropped because the server was saturated). One JSON line per venue, then a total line.

    .venv/bin/python bench/simulator.py [--clients 4] [--seconds 10] [--venues aster,lighter]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = {
    "aster": ("btcusdt", "ethusdt", "solusdt"),
    "binance": ("btcusdt", "ethusdt", "solusdt"),
    "backpack": ("BTC_USDC_PERP", "ETH_USDC_PERP", "SOL_USDC_PERP"),
    "lighter": ("1", "0", "2"),
    "bybit": ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
    "hyperliquid": ("BTC", "ETH", "SOL"),
    "kucoin": ("XBTUSDTM", "ETHUSDTM", "SOLUSDTM"),
}


def emit(**fields: Any) -> None:
    print(json.dumps({"bench": "simulator", **fields}), flush=True)


async def _open(venue: str, urls: dict[str, str], http: aiohttp.ClientSession) -> Any:
    """A connection subscribed to every book stream of ``venue``."""
    syms = SYMBOLS[venue]
    if venue in ("aster", "binance"):
        names = [f"{s}@{k}" for s in syms for k in ("bookTicker", "depth@100ms", "depth20@100ms")]
        path = "/public/stream" if venue == "binance" else "/stream"
        return await http.ws_connect(f"{urls['ws']}{path}?streams={'/'.join(names)}", max_msg_size=0)
    if venue == "kucoin":
        async with http.post(urls["rest"] + "/api/v1/bullet-public") as r:
            data = (await r.json())["data"]
        url = f"{data['instanceServers'][0]['endpoint']}?token={data['token']}&connectId=bench"
        ws = await http.ws_connect(url, max_msg_size=0)
        await ws.receive()  # welcome
        for i, s in enumerate(syms):
            for topic in ("level2", "level2Depth50", "tickerV2"):
                await ws.send_json({"id": f"{i}{topic}", "type": "subscribe", "topic": f"/contractMarket/{topic}:{s}"})
        return ws
    ws = await http.ws_connect(urls["ws"], max_msg_size=0)
    if venue == "backpack":
        await ws.send_json(
            {"method": "SUBSCRIBE", "params": [f"{k}.{s}" for s in syms for k in ("depth", "bookTicker")]}
        )
    elif venue == "lighter":
        for s in syms:
            for kind in ("order_book", "ticker"):
                await ws.send_json({"type": "subscribe", "channel": f"{kind}/{s}"})
    elif venue == "bybit":
        await ws.send_json({"op": "subscribe", "args": [f"orderbook.{d}.{s}" for s in syms for d in (1, 50, 200)]})
    elif venue == "hyperliquid":
        for s in syms:
            for sub in ({"type": "l2Book", "coin": s, "fast": True}, {"type": "bbo", "coin": s}):
                await ws.send_json({"method": "subscribe", "subscription": sub})
    return ws


class Counter:
    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0
        self.counting = False


async def _read(ws: Any, counter: Counter) -> None:
    async for msg in ws:  # ends when the socket closes
        if counter.counting:
            counter.frames += 1
            counter.bytes += len(msg.data)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as r:
        return await r.json()


async def run(args: argparse.Namespace) -> None:
    cmd = [sys.executable, "-m", "perpwire.simulator", "--seed", "1", "--tick", str(args.tick)]
    if args.venues:
        cmd += ["--venues", args.venues]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or lines[-1] != "}":
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the simulator exited before printing its URLs")
            lines.append(line.rstrip())
        info = json.loads("\n".join(lines))
        control = info["control"]
        venues = list(info["venues"])
        counters = {v: Counter() for v in venues}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:  # no pool cap
            conns = []
            for _ in range(args.clients):
                for v in venues:
                    conns.append((v, await _open(v, info["venues"][v], http)))
            readers = [asyncio.create_task(_read(ws, counters[v])) for v, ws in conns]
            await asyncio.sleep(args.warmup)
            stats0, cpu0, t0 = await _get(http, control + "/stats?connections=0"), _cpu_s(proc.pid), time.monotonic()
            for c in counters.values():
                c.counting = True
            await asyncio.sleep(args.seconds)
            for c in counters.values():
                c.counting = False
            elapsed = time.monotonic() - t0
            stats1, cpu1 = await _get(http, control + "/stats?connections=0"), _cpu_s(proc.pid)
            for _, ws in conns:
                await ws.close()
            for task in readers:
                task.cancel()
        server_s = (stats1["wall_ms"] - stats0["wall_ms"]) / 1000.0
        tick_ratio = (stats1["ticks"] - stats0["ticks"]) * args.tick / server_s
        total_sent = total_recv = total_bytes = 0
        for v in venues:
            sent = (stats1["venues"][v]["msgs_out"] - stats0["venues"][v]["msgs_out"]) * elapsed / server_s
            c = counters[v]
            total_sent += sent
            total_recv += c.frames
            total_bytes += c.bytes
            emit(venue=v, clients=args.clients, server_frames_per_s=round(sent / elapsed),
                 client_frames_per_s=round(c.frames / elapsed),
                 client_mb_per_s=round(c.bytes / elapsed / 1e6, 2))
        emit(venue="all", clients=args.clients, connections=len(conns), seconds=round(elapsed, 1),
             server_frames_per_s=round(total_sent / elapsed), client_frames_per_s=round(total_recv / elapsed),
             client_mb_per_s=round(total_bytes / elapsed / 1e6, 2), tick_ratio=round(tick_ratio, 3),
             server_cpu=round((cpu1 - cpu0) / elapsed, 2), cpus=os.cpu_count())  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--tick", type=float, default=0.05)
    p.add_argument("--venues", default=None, help="comma-separated subset (default: all)")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
