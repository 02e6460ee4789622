"""The coordinator's cost per funding rate, as JSON lines.

Run: ``python bench/coordinator.py [--symbols N] [--rounds R]``. Every funding update of every
venue flows through the one coordinator actor, so its CPU per rate bounds the deployment
(2,100 contracts at one update a second each is 2,100 rates/s). Lines, measured in alternating
rounds in one process so both sides share the machine's load:

- ``coordinator_per_rate``: CPU µs per rate of ``Coordinator.on_funding`` for a batch of
  ``N × 7`` rates (7 venues quoting each asset) as the stream actors push it now (one msgpack
  blob, ``market.events.pack_funding``; the desk re-ranks each touched asset once), beside the
  form before (a pickled list of ``FundingRate``, one scanner update per rate): ``us_per_rate``,
  ``baseline_us_per_rate``, their ratio, and the Ray call's serialisation share of each.
- ``desk_per_rate``: the pure desk part alone (``FundingDesk.ingest``), for the same batches.

Target (issue 17): at most 25 µs of CPU per rate.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import pickle
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import emit  # noqa: E402

from perpwire.actors.coordination.coordinator import Coordinator  # noqa: E402
from perpwire.market.events import FundingRate, pack_funding, unpack_funding  # noqa: E402
from perpwire.market.stats import IMMEDIATE, REJECTED, Trigger  # noqa: E402
from perpwire.strategies.desk import FundingDesk  # noqa: E402

VENUES = ("aster", "backpack", "binance", "bybit", "hyperliquid", "kucoin", "lighter")
H = 3_600_000
FEES = {v: Decimal("0.0004") for v in VENUES}


def _batches(symbols: int, rounds: int, t0: int) -> list[list[FundingRate]]:
    rng = random.Random(7)
    out = []
    for r in range(rounds):
        ts = t0 + r * 1_000
        batch = []
        for v in VENUES:
            for i in range(symbols):
                rph = Decimal(rng.randint(-400, 800)) / Decimal(10**7)
                batch.append(FundingRate(venue=v, symbol=f"A{i:03d}USDT", rate=rph * 8, interval_hours=8,
                                         rate_per_hour=rph, mark_price=Decimal("101.25"),
                                         next_funding_ts=(ts // (8 * H) + 1) * 8 * H, ts=ts))
        out.append(batch)
    return out


def _markets(symbols: int) -> dict[str, dict[str, str]]:
    return {v: {f"A{i:03d}USDT": f"A{i:03d}" for i in range(symbols)} for v in VENUES}


def _ingest_per_rate(desk: FundingDesk, batch: list[FundingRate], now_ms: int) -> bool:
    """The desk's loop before: one scanner update per immediate or new rate, IntFlag tests."""
    urgent = False
    for ev in sorted(batch, key=lambda e: e.ts):
        key = (ev.venue, ev.symbol)
        trig = desk.stats.update(ev, received_ms=now_ms)
        if trig & REJECTED:
            continue
        desk.ingested += 1
        prev = desk.latest.get(key)
        desk.latest[key] = ev
        desk.received_ms[key] = now_ms
        desk._settle(prev, ev, now_ms)
        if ev.mark_price is not None:
            desk.ledger.mark(ev.venue, ev.symbol, ev.mark_price)
        if trig & IMMEDIATE:
            desk.scanner.update(desk.stats[key])
            urgent = True
        elif trig & Trigger.NEW:
            desk.scanner.update(desk.stats[key])
    for s in desk.stats.take_batch(now_ms):
        desk.scanner.update(s)
    return urgent


async def _run(symbols: int, rounds: int) -> None:
    config = {"taker_fees": {k: str(v) for k, v in FEES.items()}, "markets": _markets(symbols)}
    plain = Coordinator.__ray_actor_class__  # the class itself, without Ray
    now = plain(config)
    before = plain(config)
    before.desk.ingest = lambda batch, now_ms, d=before.desk: _ingest_per_rate(d, batch, now_ms)
    t0 = 1_700_000_000_000
    batches = _batches(symbols, rounds * 2, t0)
    n_rates = len(batches[0])
    cpu = {"now": 0.0, "before": 0.0, "now_ser": 0.0, "before_ser": 0.0}
    gc.disable()
    try:
        for r, batch in enumerate(batches):
            # the sender's side is not the coordinator's CPU; the receiver's decode is
            blob, pickled = pack_funding(batch), pickle.dumps(batch)
            order = (("now", now, blob), ("before", before, pickled)) if r % 2 == 0 else \
                (("before", before, pickled), ("now", now, blob))
            for name, coord, payload in order:
                t = time.process_time()
                rates = unpack_funding(payload) if name == "now" else pickle.loads(payload)
                t_ser = time.process_time()
                await coord.on_funding(rates)
                t_end = time.process_time()
                cpu[name] += t_end - t
                cpu[name + "_ser"] += t_ser - t
    finally:
        gc.enable()
    total = n_rates * len(batches)
    us_now, us_before = cpu["now"] / total * 1e6, cpu["before"] / total * 1e6
    emit(metric="coordinator_per_rate", symbols_per_venue=symbols, venues=len(VENUES), batch=n_rates,
         rounds=len(batches), us_per_rate=round(us_now, 2), baseline_us_per_rate=round(us_before, 2),
         speedup=round(us_before / us_now, 2), decode_us_per_rate=round(cpu["now_ser"] / total * 1e6, 2),
         baseline_decode_us_per_rate=round(cpu["before_ser"] / total * 1e6, 2), target_us=25,
         same_ranking=[o.asset for o in now.desk.opportunities(50)] == [o.asset for o in before.desk.opportunities(50)])

    desk_now = FundingDesk(taker_fees=FEES, markets=_markets(symbols))
    desk_before = FundingDesk(taker_fees=FEES, markets=_markets(symbols))
    t_now = t_before = 0.0
    for r, batch in enumerate(_batches(symbols, rounds * 2, t0)):
        now_ms = t0 + r * 1_000 + 5
        t = time.process_time()
        desk_now.ingest(batch, now_ms)
        t_now += time.process_time() - t
        t = time.process_time()
        _ingest_per_rate(desk_before, batch, now_ms)
        t_before += time.process_time() - t
    emit(metric="desk_per_rate", symbols_per_venue=symbols, us_per_rate=round(t_now / total * 1e6, 2),
         baseline_us_per_rate=round(t_before / total * 1e6, 2), speedup=round(t_before / t_now, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=300, help="symbols per venue (7 venues)")
    parser.add_argument("--rounds", type=int, default=10, help="paired rounds (each side gets this many batches)")
    args = parser.parse_args()
    asyncio.run(_run(args.symbols, args.rounds))


if __name__ == "__main__":
    main()
