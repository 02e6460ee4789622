"""The Ray stream actor and the venue facade, on the shared local Ray, against the stub venue."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from perpwire.actors.streams.actor import StreamActor
from perpwire.actors.streams.answers import PauseResult, StreamHealth, StreamStats
from perpwire.actors.trading.facade import VenueFacade, call
from perpwire.market.book import BookView, SyncState
from perpwire.venues.base import Channel, Subscription
from tests.actors.stub_venue import StubServer


async def _until(coro_fn, timeout=15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await coro_fn()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


@pytest.fixture
async def server():
    srv = await StubServer().start()
    yield srv
    await srv.stop()


def _config(server, name="depth", channel="book"):
    return {"venue": "stub", "name": name, "pausable": True, "codec_options": {"url": server.url},
            "subscriptions": [{"channel": channel, "symbol": "AAA"}, {"channel": "account"}],
            "backoff_base_s": 0.01, "backoff_cap_s": 0.05}


async def test_stream_actor_serves_book_views_by_value_and_pauses(ray_local, server):
    actor = StreamActor.remote(_config(server))
    try:
        await actor.wait_connected.remote()
        view = await _until(lambda: actor.order_book.remote("AAA", 5))
        assert view.venue == "stub" and view.symbol == "AAA"
        # packed by the actor (market.views), a BookView of exact Decimals on this side
        assert isinstance(view, BookView) and view.state in {s.name for s in SyncState}
        assert len(view.bids) <= 5 and all(type(p) is Decimal and type(q) is Decimal for p, q in view.bids + view.asks)
        assert [p for p, _ in view.bids] == sorted((p for p, _ in view.bids), reverse=True)
        views = await actor.order_books.remote(["AAA", "ZZZ"], 1)
        assert views["ZZZ"] is None and len(views["AAA"].bids) == 1 and isinstance(views["AAA"], BookView)
        assert views["AAA"].recv_ts > 0 and views["AAA"].age_ms is not None
        paused = await actor.pause.remote()
        assert isinstance(paused, PauseResult) and paused.paused and paused.unsubscribed == 1
        health = await actor.health.remote()
        assert isinstance(health, StreamHealth) and health.paused and health.connected
        assert health.subscriptions.paused == (Subscription(Channel.BOOK, "AAA"),)
        res = await actor.resume.remote("AAA")
        assert res.synced
        assert await actor.prepare.remote("BBB") == [Subscription(Channel.BOOK, "BBB")]
        assert await actor.prepare.remote("BBB") == []  # already wanted: nothing sent twice
        stats = await actor.stats.remote()
        assert isinstance(stats, StreamStats) and stats.messages > 0 and stats.resumes == 1
    finally:
        await actor.stop.remote()


async def test_facade_resume_then_depth_from_websocket(ray_local, server):
    actor = StreamActor.remote(_config(server))
    facade = VenueFacade("stub", {"depth": actor}, codec_options={"url": server.url})
    try:
        await call(actor, "wait_connected")
        [paused] = await facade.pause_market_data_streams()
        assert isinstance(paused, PauseResult) and paused.paused and paused.stream == "depth"
        results = await facade.resume_market_data_streams("AAA")
        assert [r.synced for r in results] == [True]
        answer = await facade.get_order_book_depth("AAA", 5)
        assert answer.source == "ws" and answer.view.synced
        bbo = await facade.get_bbo("AAA")
        assert str(bbo.bid_price) == "100" and str(bbo.ask_price) == "101"
    finally:
        await actor.stop.remote()
        await facade.close()
