"""The coordinator's hot path: packed funding batches and one re-ranking per touched asset give
exactly what the per-rate path gives."""

from __future__ import annotations

import random
from decimal import Decimal

from perpwire.market.events import FundingRate, pack_funding, unpack_funding
from perpwire.strategies.desk import FundingDesk
from perpwire.strategies.scanner import FundingScanner

VENUES = ("aster", "backpack", "binance", "bybit", "lighter")
FEES = {v: Decimal("0.0004") for v in VENUES}
H = 3_600_000


def _batch(rng: random.Random, ts: int, symbols: int = 12) -> list[FundingRate]:
    out = []
    for v in VENUES:
        for i in range(symbols):
            rph = Decimal(rng.randint(-400, 800)) / Decimal(10**7)
            out.append(FundingRate(venue=v, symbol=f"A{i:02d}USDT", rate=rph * 8, interval_hours=8,
                                   rate_per_hour=rph, mark_price=Decimal("101.2500"), index_price=None,
                                   next_funding_ts=(ts // (8 * H) + 1) * 8 * H, ts=ts + rng.randint(0, 50)))
    rng.shuffle(out)
    return out


def test_a_packed_batch_reads_back_exactly_and_lists_pass_through():
    batch = _batch(random.Random(1), 1_700_000_000_000)
    blob = pack_funding(batch)
    assert isinstance(blob, bytes)
    back = unpack_funding(blob)
    assert back == batch
    assert str(back[0].mark_price) == "101.2500"  # the venue's own digits, not a float
    assert unpack_funding(batch) is batch


def test_update_many_ranks_as_one_update_per_quote():
    rng = random.Random(2)
    desk = FundingDesk(taker_fees=FEES)
    for r in range(3):
        desk.ingest(_batch(rng, 1_700_000_000_000 + r * 60_000), 1_700_000_000_000 + r * 60_000 + 100)
    quotes = list(desk.stats)
    one, many = FundingScanner(FEES), FundingScanner(FEES)
    for q in quotes:
        one.update(q)
    many.update_many(quotes)
    assert many.ranked() == one.ranked()
    assert len(many) > 0


def test_the_batched_desk_ranks_and_books_as_rate_by_rate():
    rng_a, rng_b = random.Random(3), random.Random(3)
    batched, single = FundingDesk(taker_fees=FEES), FundingDesk(taker_fees=FEES)
    t0 = 1_700_000_000_000
    for r in range(6):
        now = t0 + r * 2 * H  # the next funding time rolls over every few rounds
        batched.ingest(_batch(rng_a, now), now + 100)
        for ev in sorted(_batch(rng_b, now), key=lambda e: e.ts):
            single.ingest([ev], now + 100)
    for desk in (batched, single):  # a batch period later: what either still holds back is ranked
        desk.ingest([], t0 + 100 * H)
    assert batched.opportunities(None) == single.opportunities(None)
    assert batched.settlements == single.settlements
    assert batched.ingested == single.ingested > 0
    assert batched.latest == single.latest
