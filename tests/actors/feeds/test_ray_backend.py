"""The Ray back-end: the same adapter API, connections in Ray actors, items in batches."""

from __future__ import annotations

import time

import pytest

from perpwire.actors.feeds.adapter import adapter
from perpwire.actors.feeds.channels import UnknownChannel
from perpwire.actors.feeds.ray_backend import decode_batch, encode_batch
from perpwire.actors.feeds.symbols import UnknownSymbol
from perpwire.market.book import BookView
from perpwire.market.events import BBO, Side, Trade


def test_a_batch_round_trips_exactly():
    from decimal import Decimal

    trade = Trade(venue="binance", symbol="BTCUSDT", side=Side.BUY, price=Decimal("100000.10"), size=Decimal("0.001"),
                  trade_id="7", ts=1)
    view = BookView(venue="binance", symbol="BTCUSDT", bids=((Decimal("1.10"), Decimal("2")),),
                    asks=((Decimal("1.20"), Decimal("3")),), seq=5, ts=1, recv_ts=2, state="SYNCED", age_ms=0)
    [(k1, t1, a), (k2, _, b)] = decode_batch(encode_batch([(trade, 1.5), (view, 2.5)]))
    assert (k1, t1, a) == ("trades", 1.5, trade) and (k2, b) == ("book", view)
    assert str(a.price) == "100000.10"


async def test_ray_backend_delivers_batches_from_two_actors(ray_local, live_sim):
    async with adapter("binance", backend="ray", urls=live_sim.urls["binance"], actors=2) as feed:
        syms = await feed.subscribe(["BTC/USDT:USDT", "ETHUSDT", "SOLUSDT"], ["trades", "bbo", "book"])
        assert syms == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
        with pytest.raises(UnknownSymbol, match=r"^binance: unknown symbol 'DOGEUSDT'"):
            await feed.subscribe(["DOGEUSDT"], ["trades"])
        with pytest.raises(UnknownChannel, match=r"^binance: unknown channel 'ticks'"):
            await feed.subscribe(["BTCUSDT"], ["ticks"])
        queue = await feed.stream()
        items: list = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not ({Trade, BBO, BookView} <= {type(x) for x in items}
                                                   and len(items) > 50):
            items += await queue.get_batch(1000, timeout=0.5)
        health = await feed.health_async()
        assert len(feed.actors) == 2
    assert {Trade, BBO, BookView} <= {type(x) for x in items}
    assert {x.symbol for x in items} <= set(syms)
    assert 1 <= feed.batches < len(items)  # they came over in batches, not one call per item
    assert health and all(h.connected for h in health)
    stats = queue.stats()
    assert stats.latency_p50_ms is not None and stats.latency_p50_ms < 5000
