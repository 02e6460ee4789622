"""Items per second through the streaming adapters, and the delay from a frame to the user's item.

A firehose in its own process speaks Binance's combined-stream protocol on 127.0.0.1 (SUBSCRIBE
acked, then ``aggTrade`` and ``bookTicker`` frames shaped like the recorded fixtures, for every
stream each connection subscribed, as fast as the client reads them). The adapter subscribes
100 symbols of trades and BBO (two connections: Binance routes trades to /market, BBO to /public)
and a consumer drains its queue with ``get_batch``. Measured: items/s delivered to the consumer,
frames/s read, and the queue's frame-arrival -> delivery delay (p50/p99), for the in-process
adapter and for the Ray back-end (1 and 2 actors). BBO is conflated per symbol (latest wins), so
fewer BBO items than frames reach the user when the consumer is slower than the feed.

    python bench/streaming.py [--seconds 6] [--symbols 100] [--only asyncio|ray]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import sys
import time

from harness import emit  # bench/ is on sys.path when run as a script; harness puts the repository there too


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _firehose(port: int, ready) -> None:
    import websockets

    async def handle(ws):
        streams: list[str] = []
        sender = None

        async def send_forever():
            seq = 600859600576
            trade_id = 3057600382
            while True:
                batch = []
                for name in streams:
                    sym = name.split("@")[0].upper()
                    now = int(time.time() * 1000)
                    if name.endswith("@aggTrade"):
                        trade_id += 1
                        data = (f'{{"e":"aggTrade","E":{now},"a":{trade_id},"s":"{sym}","p":"95208.60","q":"0.020",'
                                f'"nq":"0.020","f":{trade_id},"l":{trade_id},"T":{now},"m":true}}')
                    else:
                        seq += 1
                        data = (f'{{"e":"bookTicker","u":{seq},"s":"{sym}","b":"7.6110","B":"2","a":"7.6120",'
                                f'"A":"297","T":{now},"E":{now}}}')
                    batch.append(f'{{"stream":"{name}","data":{data}}}')
                try:
                    for frame in batch:
                        await ws.send(frame)
                except websockets.ConnectionClosed:
                    return
                await asyncio.sleep(0)

        try:
            async for msg in ws:
                req = json.loads(msg)
                if req.get("method") == "SUBSCRIBE":
                    streams.extend(req["params"])
                    await ws.send(json.dumps({"result": None, "id": req["id"]}))
                    if sender is None:
                        sender = asyncio.create_task(send_forever())
        except websockets.ConnectionClosed:
            pass
        finally:
            if sender is not None:
                sender.cancel()

    async def main():
        async with websockets.serve(handle, "127.0.0.1", port, max_size=2**20):
            ready.set()
            await asyncio.Future()

    asyncio.run(main())


def _instruments(n: int):
    from perpwire.market.events import Instrument

    return [Instrument(venue="binance", symbol=f"S{i:03d}USDT", asset=f"S{i:03d}", quote="USDT") for i in range(n)]


async def _run(backend: str, port: int, symbols: int, seconds: float, actors: int) -> dict:
    import perpwire

    insts = _instruments(symbols)
    options = {"urls": {"ws": f"ws://127.0.0.1:{port}", "rest": f"http://127.0.0.1:{port}"},
               "instruments": insts, "queue_size": 100_000, "validation": False}
    if backend == "ray":
        options.update(backend="ray", actors=actors, batch=5000)
    feed = perpwire.adapter("binance", **options)
    async with feed:
        await feed.subscribe([i.symbol for i in insts], ["trades", "bbo"])
        queue = await feed.stream()
        warm_until = time.monotonic() + 1.5
        while time.monotonic() < warm_until:
            await queue.get_batch(10_000, timeout=0.1)
        start_stats = queue.stats()
        counts = {"Trade": 0, "BBO": 0}
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            for item in await queue.get_batch(10_000, timeout=0.1):
                counts[type(item).__name__] = counts.get(type(item).__name__, 0) + 1
        elapsed = time.monotonic() - t0
        stats = queue.stats()
        if backend == "asyncio":
            frames = sum(c.counters["messages"] for c in feed.connections)
        else:
            frames = sum(h.messages for h in await feed.health_async())
    items = sum(counts.values())
    return {"backend": backend, "actors": actors if backend == "ray" else 0, "symbols": symbols,
            "channels": "trades+bbo", "seconds": round(elapsed, 2), "items_per_s": round(items / elapsed),
            "trades_per_s": round(counts["Trade"] / elapsed), "bbo_per_s": round(counts["BBO"] / elapsed),
            "frames_read_total": frames, "conflated": stats.conflated, "dropped": stats.dropped,
            "latency_p50_ms": stats.latency_p50_ms, "latency_p99_ms": stats.latency_p99_ms,
            "delivered_in_warmup": start_stats.delivered}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--symbols", type=int, default=100)
    p.add_argument("--only", choices=("asyncio", "ray"), default=None)
    args = p.parse_args()
    port = _free_port()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    hose = ctx.Process(target=_firehose, args=(port, ready), daemon=True)
    hose.start()
    try:
        ready.wait(30)
        runs = []
        if args.only in (None, "asyncio"):
            runs.append(("asyncio", 1))
        if args.only in (None, "ray"):
            runs += [("ray", 1), ("ray", 2)]
        for backend, actors in runs:
            emit(bench="streaming", **asyncio.run(_run(backend, port, args.symbols, args.seconds, actors)))
    finally:
        hose.terminate()
        hose.join(5)
        if "ray" in sys.modules:
            from perpwire.actors.app.deployment import shutdown_ray

            shutdown_ray()


if __name__ == "__main__":
    main()
