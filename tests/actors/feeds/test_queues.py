"""FeedQueue: each overflow policy, batches, closing."""

from __future__ import annotations

import asyncio

import pytest

from perpwire.actors.feeds.queues import FeedQueue, Overflow, QueueClosed


async def test_latest_conflates_per_symbol_and_keeps_the_place_in_line():
    q = FeedQueue(maxsize=10)
    q.put("bbo", "btc-1", "BTC", "v")
    q.put("bbo", "eth-1", "ETH", "v")
    q.put("bbo", "btc-2", "BTC", "v")  # replaces btc-1 where it stood
    q.put("bbo", "btc-3", "BTC", "v")
    q.put("bbo", "btc-other-venue", "BTC", "w")  # another venue is another key
    assert q.get_nowait() == "btc-3"
    assert q.get_nowait() == "eth-1"
    assert q.get_nowait() == "btc-other-venue"
    assert q.stats().conflated == {"bbo": 2}
    q.put("bbo", "btc-4", "BTC", "v")  # nothing of BTC waits any more: queued anew
    assert q.get_nowait() == "btc-4"


async def test_drop_oldest_counts_what_it_drops_per_channel():
    q = FeedQueue(maxsize=3)
    for i in range(5):
        q.put("trades", i, "BTC")
    q.put("bbo", "b", "BTC")  # a full queue: the oldest trade goes for the BBO too
    assert q.drain() == [3, 4, "b"]
    st = q.stats()
    assert st.dropped == {"trades": 3} and st.put == 6 and st.delivered == 3


async def test_block_holds_the_producer_until_the_consumer_makes_room():
    q = FeedQueue(maxsize=2, policies={"trades": Overflow.BLOCK})
    q.put("trades", 1)
    q.put("trades", 2)
    assert q.full and not q.room.is_set()
    waiter = asyncio.create_task(q.wait_room())
    await asyncio.sleep(0.05)
    assert not waiter.done()  # still blocked
    assert await q.get() == 1
    await asyncio.wait_for(waiter, 1)
    st = q.stats()
    assert st.blocked == 1 and st.blocked_s >= 0.04 and st.dropped == {}


async def test_get_batch_waits_for_the_first_item_then_takes_what_is_there():
    q = FeedQueue()
    assert await q.get_batch(10, timeout=0.05) == []

    async def later():
        await asyncio.sleep(0.05)
        for i in range(25):
            q.put("trades", i)

    task = asyncio.create_task(later())
    first = await q.get_batch(10, timeout=2)
    await task
    assert first == list(range(10))
    assert await q.get_batch(100, timeout=0) == list(range(10, 25))


async def test_closed_queue_delivers_what_it_holds_then_ends():
    q = FeedQueue()
    q.put("trades", "a")
    q.close()
    q.put("trades", "ignored")
    assert [x async for x in q] == ["a"]
    with pytest.raises(QueueClosed):
        await q.get()
    assert await q.get_batch(5, timeout=1) == []
    assert q.stats().closed


def test_bad_policy_and_size_are_one_clear_error():
    with pytest.raises(ValueError, match="overflow policy 'newest' for 'trades' is none of latest, block, drop_oldest"):
        FeedQueue(policies={"trades": "newest"})
    with pytest.raises(ValueError, match="maxsize must be at least 1"):
        FeedQueue(maxsize=0)


async def test_latency_is_measured_from_the_frame_to_delivery():
    import time

    q = FeedQueue()
    q.put("trades", "x", t=time.monotonic() - 0.010)
    q.get_nowait()
    st = q.stats()
    assert 9.0 <= st.latency_p50_ms < 1000


async def test_a_deferred_item_is_made_when_taken_and_skipped_when_gone():
    from perpwire.actors.feeds.queues import Deferred

    state = {"BTC": "v1"}
    q = FeedQueue()
    q.put("book", Deferred(state.get, "BTC"), "BTC")
    q.put("book", Deferred(state.get, "BTC"), "BTC")  # conflated: one slot
    q.put("book", Deferred(state.get, "ETH"), "ETH")  # its source is gone by the time it is read
    q.put("trades", "t")
    state["BTC"] = "v2"
    assert q.drain() == ["v2", "t"]
    assert q.stats().conflated == {"book": 1}
