"""The in-process adapter against the simulator: every venue, symbols, channels, shutdown."""

from __future__ import annotations

import asyncio
import itertools
import time
from decimal import Decimal

import pytest

from perpwire.actors.feeds.adapter import adapter
from perpwire.actors.feeds.channels import FeedError, UnknownChannel
from perpwire.actors.feeds.symbols import UnknownSymbol
from perpwire.market.book import BookView
from perpwire.market.events import BBO, Trade
from tests.actors.feeds.conftest import open_sockets

VENUES = {  # venue -> (BTC in the unified form, ETH in the venue's own form)
    "binance": ("BTC/USDT:USDT", "ETHUSDT"),
    "aster": ("BTC/USDT:USDT", "ETHUSDT"),
    "backpack": ("BTC/USDC:USDC", "ETH_USDC_PERP"),
    "bybit": ("BTC/USDT:USDT", "ETHUSDT"),
    "hyperliquid": ("BTC/USDC:USDC", "ETH"),
    "kucoin": ("BTC/USDT:USDT", "ETHUSDTM"),
    "lighter": ("BTC/USDC:USDC", "0"),
}
BTC = {"binance": "BTCUSDT", "aster": "BTCUSDT", "backpack": "BTC_USDC_PERP", "bybit": "BTCUSDT",
       "hyperliquid": "BTC", "kucoin": "XBTUSDTM", "lighter": "1"}


async def _collect(queue, kinds: set[type], seconds: float) -> list:
    got: list = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got += await queue.get_batch(1000, timeout=0.2)
        if kinds <= {type(x) for x in got}:
            break
    return got


@pytest.mark.parametrize("venue", list(VENUES))
async def test_every_venue_streams_trades_books_and_bbo_for_unified_and_venue_symbols(live_sim, venue):
    unified, own = VENUES[venue]
    async with adapter(venue, urls=live_sim.urls[venue], book_levels=5) as feed:
        symbols = await feed.subscribe([unified, own], ["trades", "book", "bbo"])
        assert symbols[0] == BTC[venue] and symbols[1] == own
        assert feed.unified(BTC[venue]) == unified
        items = await _collect(await feed.stream(), {Trade, BookView, BBO}, 8.0)
        health = feed.health()
    assert health and all(h.connected and h.decode_errors == 0 and h.messages > 0 for h in health)
    kinds = {type(x) for x in items}
    assert {Trade, BookView, BBO} <= kinds, f"{venue}: only {kinds}"
    assert {x.symbol for x in items} <= set(symbols)
    for x in items:
        if isinstance(x, BookView):
            prices_b = [p for p, _ in x.bids]
            prices_a = [p for p, _ in x.asks]
            assert prices_b == sorted(prices_b, reverse=True) and prices_a == sorted(prices_a)  # best first
            assert 0 < len(x.bids) <= 5 and 0 < len(x.asks) <= 5 and prices_b[0] < prices_a[0]
            assert x.venue == venue and x.state in ("SYNCED", "STALE")
        elif isinstance(x, BBO):
            assert x.bid_price < x.ask_price
        elif isinstance(x, Trade):
            assert x.price > 0 and x.size > 0 and x.venue == venue


async def test_a_bad_symbol_or_channel_is_one_clear_error_and_opens_nothing(live_sim):
    async with adapter("binance", urls=live_sim.urls["binance"]) as feed:
        with pytest.raises(UnknownSymbol) as info:
            await feed.subscribe(["BTCUSDT", "DOGEUSDT"], ["trades"])
        assert str(info.value).startswith("binance: unknown symbol 'DOGEUSDT': not among its 3 instruments")
        assert "\n" not in str(info.value)
        with pytest.raises(UnknownChannel, match=r"^binance: unknown channel 'ticker'; channels: trades, book, bbo, "
                                                 r"funding, liquidations, bars$"):
            await feed.subscribe(["BTCUSDT"], ["trades", "ticker"])
        assert feed.connections == [] and feed.wants == {}
    async with adapter("hyperliquid", urls=live_sim.urls["hyperliquid"]) as feed:
        with pytest.raises(FeedError, match=r"^hyperliquid: no public liquidations stream"):
            await feed.subscribe(["BTC"], ["liquidations"])
        with pytest.raises(UnknownSymbol, match=r"^hyperliquid: unknown symbol 'btc'"):  # its names are case sensitive
            await feed.subscribe(["btc"], ["trades"])
    with pytest.raises(FeedError, match=r"^unknown venue 'binanse'"):
        adapter("binanse")


async def test_symbol_forms_resolve_to_the_venue_symbol(live_sim):
    async with adapter("kucoin", urls=live_sim.urls["kucoin"]) as feed:
        assert feed.resolve(["BTC/USDT:USDT", "btc/usdt", "XBTUSDTM", "SOL/USDT:USDT"]) == ["XBTUSDTM", "SOLUSDTM"]
    async with adapter("lighter", urls=live_sim.urls["lighter"]) as feed:
        assert feed.resolve("ETH/USDC:USDC,1") == ["0", "1"]


async def test_disconnect_leaves_no_task_and_no_socket(live_sim):
    before_tasks = {t for t in asyncio.all_tasks()}
    before_sockets = open_sockets()
    feed = adapter("binance", urls=live_sim.urls["binance"])
    await feed.subscribe(["BTCUSDT", "ETHUSDT"], ["trades", "bbo", "book", "funding"])
    await feed.subscribe(["SOLUSDT"], ["trades"])
    items = await _collect(await feed.stream(), {Trade, BBO}, 5.0)
    assert items and len(feed.connections) == 2  # the /market and /public routes
    assert len(live_sim.hub.conns) == 2
    await feed.disconnect()
    queue = await feed.stream()
    rest = [x async for x in queue]  # what was queued is still delivered, then the queue ends
    assert queue.closed and all(x.venue == "binance" for x in rest)
    await asyncio.sleep(0.1)
    left = {t for t in asyncio.all_tasks() if not t.done()} - before_tasks - {asyncio.current_task()}
    assert not left, [t.get_name() for t in left]
    assert open_sockets() <= before_sockets
    for _ in range(50):  # the server sees the close a moment later
        if not live_sim.hub.conns:
            break
        await asyncio.sleep(0.02)
    assert not live_sim.hub.conns


async def test_unsubscribe_stops_a_channel_and_keeps_the_others(live_sim):
    async with adapter("bybit", urls=live_sim.urls["bybit"]) as feed:
        await feed.subscribe(["BTCUSDT"], ["trades", "bbo", "funding"])
        await _collect(await feed.stream(), {Trade, BBO}, 5.0)
        await feed.unsubscribe(["BTCUSDT"], ["trades"])
        await asyncio.sleep(0.3)
        (await feed.stream()).drain()
        later = await _collect(await feed.stream(), {BBO}, 3.0)
        assert later and not [x for x in later if isinstance(x, Trade)]
        assert {type(x) for x in later} & {BBO}
        assert feed.wants == {"BTCUSDT": {"bbo", "funding"}}


async def test_funding_items_are_exact_and_only_for_wanted_symbols(live_sim):
    async with adapter("aster", urls=live_sim.urls["aster"]) as feed:
        await feed.subscribe(["ETHUSDT"], ["funding"])
        from perpwire.market.events import FundingRate

        items = await _collect(await feed.stream(), {FundingRate}, 4.0)
    funding = [x for x in items if isinstance(x, FundingRate)]
    assert funding and {x.symbol for x in funding} == {"ETHUSDT"}
    assert all(isinstance(x.rate, Decimal) and x.interval_hours == 8 for x in funding)


async def test_block_holds_the_reader_back_and_loses_nothing_from_the_queue(live_sim):
    async with adapter("binance", urls=live_sim.urls["binance"], queue_size=20, overflow={"trades": "block"}) as feed:
        await feed.subscribe(["BTCUSDT", "ETHUSDT", "SOLUSDT"], ["trades"])
        queue = await feed.stream()
        await asyncio.sleep(2.0)  # nobody reads: the queue fills and the connection stops reading
        full = queue.stats()
        assert full.size == 20 and full.blocked >= 1 and full.dropped == {}
        ids: dict[str, list[int]] = {}
        for _ in range(40):
            for t in await queue.get_batch(100, timeout=0.2):
                ids.setdefault(t.symbol, []).append(int(t.trade_id))
        assert ids and all(b > a for v in ids.values() for a, b in itertools.pairwise(v))  # in order
        st = queue.stats()
        assert st.dropped == {} and st.blocked_s > 0.3
        assert all(c.counters["reconnects"] == 0 for c in feed.connections)
