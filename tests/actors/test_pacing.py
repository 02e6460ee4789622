"""Pacing: capped exponential backoff with jitter, and the REST token bucket in venue weight units."""

from __future__ import annotations

import random

import pytest

from perpwire.actors.pacing import Backoff, TokenBucket, now_ms


def test_backoff_doubles_with_jitter_up_to_its_cap_and_resets():
    b = Backoff(base_s=0.5, cap_s=4.0, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(6)]
    for attempt, d in enumerate(delays):
        ceiling = min(4.0, 0.5 * 2**attempt)
        assert ceiling / 2 <= d <= ceiling  # jitter within the upper half of the step
    assert max(delays) <= 4.0 and delays[-1] >= 2.0
    b.reset()
    assert b.next_delay() <= 0.5


async def test_token_bucket_heavier_than_burst_waits_then_goes_into_debt():
    now = [0.0]
    bucket = TokenBucket(rate=10, burst=5, clock=lambda: now[0])
    assert bucket.wait_time(20) == 0  # a full bucket lets a heavy request through
    await bucket.acquire(20)
    assert bucket.wait_time(1) == pytest.approx(1.6)  # 15 of debt plus 1 token at 10/s
    bucket.penalize(3.0)
    assert bucket.wait_time(1) >= 3.0


async def test_token_bucket_refills_at_its_rate_up_to_its_burst():
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=4, clock=lambda: now[0])
    for _ in range(4):
        assert await bucket.acquire(1) == 0  # the burst goes at once
    assert bucket.wait_time(1) == pytest.approx(0.5)  # then one token per 1/rate seconds
    now[0] = 100.0  # a long idle time refills to the burst, not beyond
    for _ in range(4):
        assert await bucket.acquire(1) == 0
    assert bucket.wait_time(1) == pytest.approx(0.5)


def test_now_ms_is_wall_clock_milliseconds():
    import time

    assert abs(now_ms() - time.time() * 1000) < 50
