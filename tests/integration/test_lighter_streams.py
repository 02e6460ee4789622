"""Lighter's one socket against the simulator: pausing unsubscribes only the order-book
channels, while account frames (an order placed through ``sendTx``) keep arriving on the same
connection — where the seed design could not pause Lighter at all."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from perpwire.actors.app.config import StreamConfig
from perpwire.actors.streams.connection import StreamConnection
from perpwire.market.events import OrderUpdate
from perpwire.simulator.server import Simulator


async def until(pred, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s")
        await asyncio.sleep(0.02)


def book_bytes(sim) -> int:
    channels = sim.stats("lighter", connections=False)["venues"]["lighter"]["channels"]
    return sum(v["bytes"] for k, v in channels.items() if k.startswith("order_book"))


async def send_order(rest_url: str, account: str, key_index: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{rest_url}/api/v1/nextNonce",
                            params={"account_index": account, "api_key_index": key_index}) as r:
            nonce = (await r.json())["nonce"]
        info = {"AccountIndex": int(account), "ApiKeyIndex": int(key_index), "MarketIndex": 1,
                "ClientOrderIndex": 7, "BaseAmount": 100, "Price": 1, "IsAsk": 0, "Type": 1, "TimeInForce": 0,
                "Nonce": nonce, "Sig": "unchecked-by-the-simulator"}
        async with http.post(f"{rest_url}/api/v1/sendTx", data={"tx_type": "14", "tx_info": json.dumps(info)}) as r:
            assert r.status == 200, await r.text()


async def test_lighter_pause_stops_book_frames_while_account_frames_continue_on_one_socket():
    async with Simulator(seed=9, venues=("lighter",), history_days=1) as sim:
        key = sim.new_api_key("lighter")
        token = f"{int(time.time()) + 3600}:{key.account}:{key.key}:{'ab' * 16}"
        urls = sim.urls["lighter"]
        conn = StreamConnection(StreamConfig(
            venue="lighter", name="unified", pausable=True,
            subscriptions=[{"channel": "depth", "symbol": "1"}, {"channel": "funding_all"}, {"channel": "account"}],
            codec_options={"ws_url": urls["ws"], "rest_url": urls["rest"], "auth_token": token,
                           "account_index": int(key.account)}), resync_by_resubscribe=True)
        await conn.start()
        try:
            await until(lambda: conn.order_book("1") is not None and conn.order_book("1").synced, what="book")
            await conn.pause()
            await asyncio.sleep(0.5)  # frames already in flight
            before = book_bytes(sim)
            funding_before = conn.stats().market_events
            await send_order(urls["rest"], key.account, key.key)
            await until(lambda: any(isinstance(e, OrderUpdate) for e in conn.user_events), what="account frame")
            await asyncio.sleep(1.0)
            assert book_bytes(sim) == before
            assert conn.stats().market_events > funding_before  # market_stats keeps flowing too
            assert conn.stats().reconnects == 0  # the same socket throughout
            open_conns = [c for c in sim.stats("lighter")["connections"] if c["closed_ms"] is None]
            assert len(open_conns) == 1
            result = await conn.resume("1")
            assert result.synced and book_bytes(sim) > before
        finally:
            await conn.stop()
