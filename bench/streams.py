"""Stream-actor figures, as JSON lines.

Run: ``python bench/streams.py [--seconds S] [--resumes N] [--calls N] [--only by_value ...]``.

- ``pause_bytes``: Aster bookTicker + depth connections for BTC/ETH/SOL against the simulator
  over the same wall-clock period, one set always on and one set paused after its books synced
  (an idle strategy: nothing to trade). Bytes are the clients' own receive counters; the
  simulator's per-channel send counters are reported beside them.
- ``resume_latency``: pause → resume(symbol) → SYNCED book fresher than 2 s, p50/p99 in ms.
- ``order_book_by_value``: a Ray stream actor holding 50 books of 20 levels a side (stub venue
  on loopback); ``order_book`` p50/p99 and ``order_books`` for all 50 in one call.
- ``view_wire_form``: the same books in a bench actor, read in alternating rounds as plain
  pickled ``BookView`` objects (the form before ``market.views``) and in the wire form, beside the
  floor of an empty actor call, so the three figures share the machine's load.
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
             p99_ms=pct(one, 0.99), target_p50_ms=1.5)
        emit(bench="streams", metric="order_books_50_symbols", levels=20, calls=len(many), p50_ms=pct(many, 0.5),
             p99_ms=pct(many, 0.99), target_p50_ms=3.0)
        await wire_form(ray, symbols, calls)
    finally:
        await actor.stop.remote()
        await server.stop()
        ray.shutdown()


async def wire_form(ray, symbols: list[str], calls: int) -> None:
    """Plain pickled views against the wire form, and the empty-call floor, in alternating rounds."""
    from perpwire.market import views
    from perpwire.market.book import OrderBook
    from perpwire.market.events import BookSnapshot

    @ray.remote(num_cpus=0)
    class Books:
        def __init__(self):
            self.books = {}
            for i, s in enumerate(symbols):
                b = self.books[s] = OrderBook("stub", s)
                mid = 100 + i
                b.apply(BookSnapshot(venue="stub", symbol=s, seq=1, ts=1,
                                     bids=tuple((f"{mid - 0.01 * (j + 1):.2f}", f"{1 + j}.125") for j in range(20)),
                                     asks=tuple((f"{mid + 0.01 * (j + 1):.2f}", f"{2 + j}.5") for j in range(20))), 1)

        def floor(self):
            return None

        def plain(self, syms):
            return {s: self.books[s].view(20, now_ms=2) for s in syms}

        def packed(self, syms):
            return views.PackedViews({s: views.wire(self.books[s], 20, 2) for s in syms})

    books = Books.remote()
    await books.floor.remote()
    got = await books.packed.remote(symbols)
    assert got == await books.plain.remote(symbols), "the wire form must unpickle to the same views"
    times: dict[str, list[float]] = {}
    cases = [("floor", lambda: books.floor.remote()),
             ("plain_1", lambda: books.plain.remote(symbols[:1])), ("wire_1", lambda: books.packed.remote(symbols[:1])),
             ("plain_50", lambda: books.plain.remote(symbols)), ("wire_50", lambda: books.packed.remote(symbols))]
    for _ in range(max(20, calls // 10)):
        for name, call in cases:
            t = time.perf_counter()
            await call()
            times.setdefault(name, []).append((time.perf_counter() - t) * 1000)
    for n in ("1", "50"):
        plain, wire = pct(times[f"plain_{n}"], 0.5), pct(times[f"wire_{n}"], 0.5)
        emit(bench="streams", metric="view_wire_form", books=int(n), levels=20, floor_p50_ms=pct(times["floor"], 0.5),
             plain_view_p50_ms=plain, wire_form_p50_ms=wire, speedup=round(plain / wire, 2) if wire else None,
             plain_view_p99_ms=pct(times[f"plain_{n}"], 0.99), wire_form_p99_ms=pct(times[f"wire_{n}"], 0.99))
    ray.kill(books)


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
    only = set(args.only or ("pause", "resume", "frames", "by_value"))
    if "pause" in only:
        await pause_bytes(args.seconds)
    if "resume" in only:
        await resume_latency(args.resumes)
    if "frames" in only:
        frames_per_s()
    if "by_value" in only:
        await by_value(args.calls)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--resumes", type=int, default=40)
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--only", nargs="*", choices=("pause", "resume", "frames", "by_value"),
                   help="run only these parts (default: all)")
    asyncio.run(main(p.parse_args()))
