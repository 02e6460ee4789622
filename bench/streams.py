"""Stream-actor figures, as JSON lines.

Run: ``python bench/streams.py [--seconds S] [--resumes N]``.

- ``pause_bytes``: Aster bookTicker + depth connections for BTC/ETH/SOL against the simulator
  over the same wall-clock period, one set always on and one set paused after its books synced
  (an idle strategy: nothing to trade). Bytes are the clients' own receive counters; the
  simulator's per-channel send counters are reported beside them.
- ``resume_latency``: pause → resume(symbol) → SYNCED book fresher than 2 s, p50/p99 in ms.
- ``order_book_by_value``: a Ray stream actor holding 50 books of 20 levels a side (stub venue
  on loopback); ``order_book`` p50/p99 and ``order_books`` for all 50 in one call.
- ``frames_per_s``: one connection's receive path (decode + apply + bookkeeping) on recorded
  Aster diff-depth frames, in-process, one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from perpwire.actors.app.config import StreamConfig  # noqa: E402
from perpwire.actors.streams.connection import StreamConnection  # noqa: E402
from perpwire.market.sequence import UNCHECKED  # noqa: E402
from perpwire.simulator.server import Simulator  # noqa: E402

SYMS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(p * len(s)))], 2)


def aster(sim, name, channel, **kw) -> StreamConnection:
    urls = sim.urls["aster"]
    return StreamConnection(StreamConfig(
        venue="aster", name=name, pausable=True, subscriptions=[{"channel": channel, "symbol": s} for s in SYMS],
        codec_options={"ws_url": urls["ws"], "rest_url": urls["rest"]}, **kw))


async def until(pred, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


async def pause_bytes(seconds: float) -> None:
    async with Simulator(seed=11, venues=("aster",), history_days=1) as sim:
        on = [aster(sim, "bookticker", "bbo"), aster(sim, "depth", "depth")]
        off = [aster(sim, "bookticker", "bbo"), aster(sim, "depth", "depth")]
        for c in on + off:
            await c.start()
        await until(lambda: all(off[1].order_book(s) and off[1].order_book(s).synced for s in SYMS))
        for c in off:
            await c.pause()
        base_on = sum(c.counters["bytes"] for c in on)
        base_off = sum(c.counters["bytes"] for c in off)
        await asyncio.sleep(seconds)
        got_on = sum(c.counters["bytes"] for c in on) - base_on
        got_off = sum(c.counters["bytes"] for c in off) - base_off
        for c in on + off:
            await c.stop()
        emit(bench="streams", metric="pause_bytes", seconds=seconds, always_on_bytes=got_on, paused_bytes=got_off,
             reduction=round(1 - got_off / got_on, 6) if got_on else None,
             always_on_bytes_per_min=round(got_on / seconds * 60), paused_bytes_per_min=round(got_off / seconds * 60),
             target_reduction=0.99)


async def resume_latency(n: int) -> None:
    async with Simulator(seed=12, venues=("aster",), history_days=1) as sim:
        depth = aster(sim, "depth", "depth")
        await depth.start()
        await until(lambda: all(depth.order_book(s) and depth.order_book(s).synced for s in SYMS))
        lat = []
        for i in range(n):
            await depth.pause()
            await asyncio.sleep(0.2)
            res = await depth.resume(SYMS[i % len(SYMS)])
            lat.append(res.latency_ms)
        await depth.stop()
        emit(bench="streams", metric="resume_latency", resumes=n, p50_ms=pct(lat, 0.5), p99_ms=pct(lat, 0.99),
             mean_ms=round(statistics.mean(lat), 2), target_p50_ms=500)


async def by_value(calls: int) -> None:
    import os

    import ray

    os.environ.setdefault("PERPWIRE_EXTRA_CODECS", "stub=tests.actors.stub_venue:StubCodec")
    from perpwire.actors.streams.actor import StreamActor
    from tests.actors.stub_venue import StubServer

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "PERPWIRE_EXTRA_CODECS": os.environ[
                 "PERPWIRE_EXTRA_CODECS"]}})
    server = await StubServer(period_s=0.1, levels=20).start()
    symbols = [f"S{i:02d}" for i in range(50)]
    actor = StreamActor.remote({"venue": "stub", "name": "books", "codec_options": {"url": server.url},
                                "subscriptions": [{"channel": "book", "symbol": s} for s in symbols]})
    try:
        await actor.wait_connected.remote()
        for _ in range(200):
            views = await actor.order_books.remote(symbols, 20)
            if all(v is not None and v.synced for v in views.values()):
                break
            await asyncio.sleep(0.05)
        one, many = [], []
        for i in range(calls):
            t = time.perf_counter()
            await actor.order_book.remote(symbols[i % 50], 20)
            one.append((time.perf_counter() - t) * 1000)
        for _ in range(max(20, calls // 10)):
            t = time.perf_counter()
            await actor.order_books.remote(symbols, 20)
            many.append((time.perf_counter() - t) * 1000)
        emit(bench="streams", metric="order_book_by_value", levels=20, calls=calls, p50_ms=pct(one, 0.5),
             p99_ms=pct(one, 0.99))
        emit(bench="streams", metric="order_books_50_symbols", levels=20, calls=len(many), p50_ms=pct(many, 0.5),
             p99_ms=pct(many, 0.99))
    finally:
        await actor.stop.remote()
        await server.stop()
        ray.shutdown()


def frames_per_s() -> None:
    recorded = json.loads((ROOT / "tests/fixtures/binance/depthUpdate_sequence_SUSHIUSDT.json").read_bytes())
    frames = [json.dumps({"stream": "sushiusdt@depth@100ms", "data": f}, separators=(",", ":")).encode()
              for f in recorded]
    conn = StreamConnection(StreamConfig(venue="aster", name="depth",
                                         subscriptions=[{"channel": "depth", "symbol": "SUSHIUSDT"}]))
    conn.codec.url("market")  # bind the route as a live connection would
    snap = (ROOT / "tests/fixtures/binance/rest_depth.json").read_bytes()
    book = conn.books["SUSHIUSDT"] = conn.codec.book("SUSHIUSDT")
    book.apply(conn.codec.decode_snapshot("SUSHIUSDT", snap))
    book.rule = UNCHECKED  # the 255 frames are looped: keep applying every one, as a live stream would
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < 3.0:
        for f in frames:
            conn._on_frame(f)
        n += len(frames)
    elapsed = time.perf_counter() - start
    emit(bench="streams", metric="frames_per_s", frames=n, frames_per_s=round(n / elapsed),
         source="255 recorded SUSHIUSDT diff-depth frames, decoded and applied in a loop, one core")


async def main(args) -> None:
    await pause_bytes(args.seconds)
    await resume_latency(args.resumes)
    frames_per_s()
    await by_value(args.calls)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--resumes", type=int, default=40)
    p.add_argument("--calls", type=int, default=500)
    asyncio.run(main(p.parse_args()))
