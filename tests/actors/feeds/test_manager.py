"""StreamManager: several adapters as one feed, health, and a graceful stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from perpwire.actors.feeds.manager import StreamManager
from perpwire.market.events import BBO, Trade
from tests.actors.feeds.conftest import open_sockets


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_drains_the_queue_and_disconnects_everything(live_sim, sig):
    before_tasks = set(asyncio.all_tasks())
    before_sockets = open_sockets()
    previous = signal.getsignal(sig)
    manager = StreamManager(drain_timeout=2.0)
    binance = manager.adapter("binance", urls=live_sim.urls["binance"])
    bybit = manager.adapter("bybit", urls=live_sim.urls["bybit"])
    await manager.start()
    await binance.subscribe(["BTCUSDT", "ETHUSDT"], ["trades", "bbo"])
    await bybit.subscribe(["BTC/USDT:USDT"], ["trades", "bbo"])
    got: list = []

    async def consume():
        async for item in manager:
            got.append(item)
            if len(got) == 40:
                os.kill(os.getpid(), sig)  # as a terminal's Ctrl-C or a supervisor's TERM would
                await asyncio.sleep(0.05)  # the consumer keeps reading while the streams stop

    await asyncio.wait_for(consume(), 20)  # the async for ends by itself once stopped and drained
    await manager.wait_stopped()
    assert manager.stopped_by == sig.name and manager.abandoned == 0
    assert {type(x) for x in got} >= {Trade, BBO} and {x.venue for x in got} == {"binance", "bybit"}
    assert len(manager.queue) == 0 and manager.queue.closed
    health = await manager.health()
    assert {h.venue for h in health} == {"binance", "bybit"} and not any(h.connected for h in health)
    await asyncio.sleep(0.1)
    left = {t for t in asyncio.all_tasks() if not t.done()} - before_tasks - {asyncio.current_task()}
    assert not left, [t.get_name() for t in left]
    assert open_sockets() <= before_sockets
    assert signal.getsignal(sig) == previous  # the handler is handed back


async def test_health_lists_every_stream_while_running(live_sim):
    async with StreamManager(handle_signals=False) as manager:
        feed = manager.adapter("lighter", urls=live_sim.urls["lighter"])
        await feed.subscribe(["BTC/USDC:USDC"], ["trades", "book"])
        await asyncio.sleep(1.0)
        [h] = await manager.health()
        assert h.venue == "lighter" and h.connected and h.messages > 0 and h.reconnects == 0
        assert h.last_message_age_s is not None and h.last_message_age_s < 2 and h.decode_errors == 0
