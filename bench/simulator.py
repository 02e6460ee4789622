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

At scale (``--symbols 100,300,500 [--procs 1,3]``) the simulator lists N symbols per venue and
is split over K processes (``perpwire sim --procs K``); with ``--funding`` each client subscribes
every symbol's funding stream on every venue instead (Binance/Aster ``!markPrice@arr@1s``, Bybit
``tickers``, Hyperliquid ``activeAssetCtx``, KuCoin ``/contract/instrument``, Backpack
``markPrice``, Lighter ``market_stats/all``), and ``--clients 0`` measures the idle simulator.
One total line per (N, K): ticks kept over ticks scheduled (``tick_ratio``, summed over the
processes, 1.0 = every tick on time), the CPU of all simulator processes, frames received.

    .venv/bin/python bench/simulator.py --symbols 100,300,500 --procs 1,3 --funding --clients 1
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


def _symbols(venue: str, n: int) -> list[str]:
    """Every symbol of the simulator's ``n``-symbol catalogue, in ``venue``'s spelling for streams."""
    from perpwire.simulator import catalog

    insts = catalog.instruments(venue, n)
    if venue == "lighter":
        return [str(i.market_id) for i in insts]
    return [i.symbol.lower() if venue in ("aster", "binance") else i.symbol for i in insts]


async def _open_funding(venue: str, urls: dict[str, str], http: aiohttp.ClientSession, n: int) -> Any:
    """A connection subscribed to the funding of every one of ``n`` symbols of ``venue``."""
    syms = _symbols(venue, n)
    if venue in ("aster", "binance"):
        path = "/market/ws" if venue == "binance" else "/ws"
        return await http.ws_connect(f"{urls['ws']}{path}/!markPrice@arr@1s", max_msg_size=0)
    if venue == "kucoin":
        async with http.post(urls["rest"] + "/api/v1/bullet-public") as r:
            data = (await r.json())["data"]
        url = f"{data['instanceServers'][0]['endpoint']}?token={data['token']}&connectId=bench"
        ws = await http.ws_connect(url, max_msg_size=0)
        await ws.receive()  # welcome
        for i in range(0, len(syms), 50):
            topic = "/contract/instrument:" + ",".join(syms[i : i + 50])
            await ws.send_json({"id": f"f{i}", "type": "subscribe", "topic": topic})
        return ws
    ws = await http.ws_connect(urls["ws"], max_msg_size=0)
    if venue == "backpack":
        await ws.send_json({"method": "SUBSCRIBE", "params": [f"markPrice.{s}" for s in syms]})
    elif venue == "lighter":
        await ws.send_json({"type": "subscribe", "channel": "market_stats/all"})
    elif venue == "bybit":
        for i in range(0, len(syms), 10):
            await ws.send_json({"op": "subscribe", "args": [f"tickers.{s}" for s in syms[i : i + 10]]})
    elif venue == "hyperliquid":
        for s in syms:
            await ws.send_json({"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": s}})
    return ws


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


async def run(args: argparse.Namespace, symbols: int = 3, procs: int = 1) -> None:
    cmd = [sys.executable, "-m", "perpwire.simulator", "--seed", "1", "--tick", str(args.tick),
           "--symbols", str(symbols), "--procs", str(procs)]  # fmt: skip
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
        # one simulator process, or several (--procs): each with its own control API and clock
        parts = info.get("processes") or [{"pid": proc.pid, "venues": list(info["venues"]),
                                           "base_url": info["base_url"]}]  # fmt: skip
        venues = list(info["venues"])
        counters = {v: Counter() for v in venues}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:  # no pool cap
            conns = []
            for _ in range(args.clients):
                for v in venues:
                    ws = (await _open_funding(v, info["venues"][v], http, symbols) if args.funding
                          else await _open(v, info["venues"][v], http))  # fmt: skip
                    conns.append((v, ws))
            readers = [asyncio.create_task(_read(ws, counters[v])) for v, ws in conns]
            await asyncio.sleep(args.warmup)

            async def reading() -> tuple[list[Any], float]:
                got = [await _get(http, p["base_url"] + "/_control/stats?connections=0") for p in parts]
                return got, sum(_cpu_s(p["pid"]) for p in parts)

            (stats0, cpu0), t0 = await reading(), time.monotonic()
            for c in counters.values():
                c.counting = True
            await asyncio.sleep(args.seconds)
            for c in counters.values():
                c.counting = False
            elapsed = time.monotonic() - t0
            stats1, cpu1 = await reading()
            for _, ws in conns:
                await ws.close()
            for task in readers:
                task.cancel()
        kept = scheduled = 0.0
        per_venue: dict[str, tuple[dict[str, Any], dict[str, Any], float]] = {}
        for p, a, b in zip(parts, stats0, stats1, strict=True):
            server_s = (b["wall_ms"] - a["wall_ms"]) / 1000.0
            kept += (b["ticks"] - a["ticks"]) * args.tick
            scheduled += server_s
            per_venue.update({v: (a, b, server_s) for v in p["venues"]})
        tick_ratio = kept / scheduled
        total_sent = total_recv = total_bytes = 0
        for v in venues:
            a, b, server_s = per_venue[v]
            sent = (b["venues"][v]["msgs_out"] - a["venues"][v]["msgs_out"]) * elapsed / server_s
            c = counters[v]
            total_sent += sent
            total_recv += c.frames
            total_bytes += c.bytes
            emit(venue=v, clients=args.clients, server_frames_per_s=round(sent / elapsed),
                 client_frames_per_s=round(c.frames / elapsed),
                 client_mb_per_s=round(c.bytes / elapsed / 1e6, 2))
        emit(venue="all", symbols=symbols, procs=len(parts), funding=args.funding, clients=args.clients,
             connections=len(conns), seconds=round(elapsed, 1),
             server_frames_per_s=round(total_sent / elapsed), client_frames_per_s=round(total_recv / elapsed),
             client_mb_per_s=round(total_bytes / elapsed / 1e6, 2), tick_ratio=round(tick_ratio, 3),
             server_cpu=round((cpu1 - cpu0) / elapsed, 2), cpus=os.cpu_count())  # fmt: skip
    finally:
        proc.terminate()  # the parent stops its own children
        proc.wait(timeout=30)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--tick", type=float, default=0.05)
    p.add_argument("--venues", default=None, help="comma-separated subset (default: all)")
    p.add_argument("--symbols", default="3", help="comma-separated catalogue sizes to measure (default 3)")
    p.add_argument("--procs", default="1", help="comma-separated process counts to measure (default 1)")
    p.add_argument("--funding", action="store_true", help="clients subscribe every symbol's funding, not books")
    args = p.parse_args()

    async def every() -> None:
        for n in (int(x) for x in args.symbols.split(",")):
            for k in (int(x) for x in args.procs.split(",")):
                await run(args, n, k)

    asyncio.run(every())


if __name__ == "__main__":
    main()
