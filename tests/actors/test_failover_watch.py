"""The coordinator learns of a restarted or unreachable stream actor and holds new opens on its
venue until its books are SYNCED again (``failover.StreamWatch``), as a plain object."""

from __future__ import annotations

import asyncio

from perpwire.actors.coordination.failover import StreamWatch
from perpwire.actors.streams.answers import StreamHealth, SubscriptionState
from perpwire.venues.base import Channel, Subscription

WANTED = (Subscription(Channel.DEPTH, "BTCUSDT"), Subscription(Channel.FUNDING, "BTCUSDT"))


class FakeStream:
    def __init__(self) -> None:
        self.incarnation = "node/1/1"
        self.dead = False
        self.hang = False
        self.connected = True
        self.book = "SYNCED"
        self.paused = False
        self.wanted = WANTED

    async def health(self) -> StreamHealth:
        if self.hang:
            await asyncio.sleep(3600)
        if self.dead:
            raise RuntimeError("ActorDiedError: the actor died unexpectedly\nmore lines")
        return StreamHealth(venue="aster", stream="depth", connected=self.connected, paused=self.paused,
                            last_frame_age_s=0.1, books={"BTCUSDT": self.book} if self.book else {},
                            subscriptions=SubscriptionState(wanted=self.wanted), incarnation=self.incarnation)


async def _call(handle, method):
    return await getattr(handle, method)()


async def test_a_restart_holds_the_venue_until_its_books_are_synced_again():
    depth = FakeStream()
    watch = StreamWatch({"aster": {"depth": depth}, "backpack": {"depth": FakeStream()}}, _call)
    await watch.poll(1_000)
    assert watch.recovering("aster") is None and watch.recovering_venues() == {}
    depth.incarnation, depth.book = "node2/7/9", None  # restarted elsewhere; its book not seeded yet
    await watch.poll(2_000)
    assert "aster recovering" in watch.recovering("aster") and watch.recovering("backpack") is None
    depth.book = "BUFFERING"
    await watch.poll(3_000)
    assert watch.recovering("aster") is not None
    depth.book = "SYNCED"
    await watch.poll(6_500)
    assert watch.recovering("aster") is None
    [rec] = watch.records()
    assert rec["cause"] == "restarted" and rec["seconds_to_synced"] == 4.5 and rec["synced_ms"] == 6_500


async def test_an_unreachable_actor_is_one_record_with_a_one_line_cause_and_a_paused_one_needs_no_book():
    depth = FakeStream()
    watch = StreamWatch({"aster": {"depth": depth}}, _call, timeout_s=0.05)
    await watch.poll(0)
    depth.dead = True
    await watch.poll(1_000)
    depth.dead, depth.hang = False, True  # restarting: calls hang until the bound
    await watch.poll(2_000)
    [rec] = watch.records()
    assert rec["cause"].startswith("unreachable: RuntimeError: ActorDiedError") and "\n" not in rec["cause"]
    depth.hang, depth.incarnation, depth.book, depth.paused = False, "node3/1/2", None, True
    await watch.poll(2_500)  # back, but a book it wants (resumed on a paused connection) is not seeded
    assert watch.recovering("aster") is not None
    depth.wanted = (Subscription(Channel.FUNDING, "BTCUSDT"),)  # paused: it wants no book any more
    await watch.poll(3_000)
    assert watch.recovering_venues() == {} and watch.records()[0]["seconds_to_synced"] == 2.0


async def test_a_disconnected_answer_keeps_the_venue_recovering():
    depth = FakeStream()
    watch = StreamWatch({"aster": {"depth": depth}}, _call)
    await watch.poll(0)
    depth.incarnation, depth.connected = "x/2/3", False
    await watch.poll(1_000)
    await watch.poll(2_000)
    assert watch.recovering("aster") is not None
    assert len(watch.records()) == 1  # one episode, not one per poll
