"""300 symbols subscribed within a venue's published limits (``VenueSpec.limits``), against the
simulator (which closes an Aster connection that sends more than 10 messages in a second and refuses
more than 200 streams)."""

from __future__ import annotations

import asyncio

import pytest

from perpwire import venues
from perpwire.actors.feeds.adapter import adapter
from perpwire.actors.feeds.channels import FeedError
from perpwire.actors.pacing import PACING_SHARE, pacer_for
from perpwire.market.events import Instrument
from perpwire.venues.base import VenueLimits


def _instruments(n: int, venue: str = "aster") -> list[Instrument]:
    return [Instrument(venue=venue, symbol=f"C{i:03d}USDT", asset=f"C{i:03d}", quote="USDT") for i in range(n)]


async def _confirmed(feed, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if all(not c.tracker.pending for c in feed.connections):
            return
        await asyncio.sleep(0.05)
    raise AssertionError({c.name: len(c.tracker.pending) for c in feed.connections})


async def test_300_symbols_in_30_calls_stay_within_aster_limits(live_sim):
    insts = _instruments(300)
    limits = venues.spec("aster").limits
    assert (limits.streams_per_connection, limits.control_messages, limits.control_window_s) == (200, 10, 1.0)
    async with adapter("aster", urls=live_sim.urls["aster"], instruments=insts) as feed:
        symbols = [i.symbol for i in insts]
        for i in range(0, 300, 10):  # 30 calls: every call after a connection's first is one more SUBSCRIBE frame
            await feed.subscribe(symbols[i:i + 10], ["trades"])
        await _confirmed(feed)
        conns = feed.connections
        assert [len(c.tracker.wanted) for c in conns] == [200, 100]
        assert all(c.counters["reconnects"] == 0 and c.counters["rejected"] == 0 for c in conns)
        assert sum(c.counters["control_sent"] for c in conns) == 30
        assert sum(c.counters["control_paced_ms"] for c in conns) > 0  # the pacer held frames back
        server = sorted(len(c.subs) for c in live_sim.hub.conns.values())
        assert server == [100, 200]


async def test_binance_shards_by_its_codec_s_200_streams_though_the_venue_allows_1024(live_sim):
    insts = [Instrument(venue="binance", symbol=f"B{i:03d}USDT", asset=f"B{i:03d}", quote="USDT") for i in range(250)]
    assert venues.spec("binance").limits.streams_per_connection == 1024
    async with adapter("binance", urls=live_sim.urls["binance"], instruments=insts) as feed:
        await feed.subscribe([i.symbol for i in insts], ["trades"])
        await _confirmed(feed)
        assert sorted(len(c.tracker.wanted) for c in feed.connections) == [50, 200]
        assert all(c.counters["reconnects"] == 0 and c.counters["rejected"] == 0 for c in feed.connections)


async def test_a_venue_total_is_refused_before_anything_is_sent(live_sim):
    insts = [Instrument(venue="lighter", symbol=str(i), asset=f"C{i}", quote="USDC", market_id=i) for i in range(600)]
    async with adapter("lighter", urls=live_sim.urls["lighter"], instruments=insts) as feed:
        with pytest.raises(FeedError, match=r"^lighter: 1200 topics would pass the venue's 1000 in all"):
            await feed.subscribe([i.symbol for i in insts], ["trades", "funding"])
        assert feed.connections == []


def test_the_pacer_allows_at_most_the_limit_in_any_window():
    bucket = pacer_for(VenueLimits(control_messages=10, control_window_s=1.0))
    assert bucket.burst + bucket.rate * 1.0 == 10 * PACING_SHARE <= 10
    kucoin = pacer_for(venues.spec("kucoin").limits)
    assert kucoin.burst + kucoin.rate * 10.0 == 100 * PACING_SHARE
