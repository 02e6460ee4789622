"""Lighter: one socket, nonce-chained books, bare error frames, auth tokens, transactions, the
server's ping and the drop of clients that never answer."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import ROUND_DOWN, Decimal

import aiohttp
import websockets

from perpwire.market.book import OrderBook, SyncState
from perpwire.market.events import BookDelta, BookSnapshot
from perpwire.market.sequence import PREV_NONCE
from perpwire.simulator import Simulator
from tests.simulator.helpers import assert_shape, drain, fixture, recv_json, recv_until


def _token(account: str, key: str = "3", ttl_s: int = 600) -> str:
    return f"{int(time.time()) + ttl_s}:{account}:{key}:{'ab' * 16}"


def _levels(rows):
    return tuple((r["price"], r["size"]) for r in rows)


async def _connect(sim):
    ws = await websockets.connect(sim.urls["lighter"]["ws"])
    hello = await recv_json(ws)
    assert_shape(hello, fixture("lighter", "connected.json"))
    return ws


async def test_lighter_book_snapshot_then_chained_updates_rebuild_the_book(sim):
    ws = await _connect(sim)
    async with ws:
        sim.tick(2)
        await ws.send(json.dumps({"type": "subscribe", "channel": "order_book/1"}))
        snap = await recv_json(ws)
        sim.tick(12)
        updates = await drain(ws)
    assert_shape(snap, fixture("lighter", "order_book_snapshot.json"))
    assert snap["type"] == "subscribed/order_book" and snap["order_book"]["begin_nonce"] == 0
    for u in updates:
        assert_shape(u, fixture("lighter", "order_book_update.json"))
    chain = [snap["order_book"]["nonce"]] + [u["order_book"]["nonce"] for u in updates]
    assert [u["order_book"]["begin_nonce"] for u in updates] == chain[:-1]
    ob = OrderBook("lighter", "1", PREV_NONCE)
    ob.apply(BookSnapshot(venue="lighter", symbol="1", bids=_levels(snap["order_book"]["bids"]),
                          asks=_levels(snap["order_book"]["asks"]), seq=snap["order_book"]["nonce"]))  # fmt: skip
    for u in updates:
        b = u["order_book"]
        assert (
            ob.apply(
                BookDelta(
                    venue="lighter",
                    symbol="1",
                    bids=_levels(b["bids"]),
                    asks=_levels(b["asks"]),
                    first_seq=b["begin_nonce"],
                    seq=b["nonce"],
                    prev_seq=b["begin_nonce"],
                )
            )
            is None
        )
    book = sim.book("lighter", "BTC")
    assert ob.state is SyncState.SYNCED
    assert [(str(p), str(q)) for p, q in ob.top(10)[1]] == [
        (str(book.inst.price_dec(p)), str(book.inst.size_dec(s))) for p, s in book.ladder.top(False, 10)
    ]


async def test_lighter_errors_acks_and_ping_use_the_recorded_frames(sim):
    ws = await _connect(sim)
    async with ws:
        await ws.send(json.dumps(fixture("lighter", "subscribe_order_book.json")))
        await recv_until(ws, lambda m: m.get("type") == "subscribed/order_book")
        await ws.send(json.dumps(fixture("lighter", "subscribe_order_book.json")))
        assert await recv_json(ws) == fixture("lighter", "error_already_subscribed.json")
        await ws.send(json.dumps({"type": "subscribe", "channel": "ticker/99999"}))
        assert_shape(await recv_json(ws), fixture("lighter", "error_invalid_channel.json"))
        await ws.send(json.dumps({"type": "subscribe", "channel": "account_all_orders/1"}))
        assert await recv_json(ws) == fixture("lighter", "error_auth_required.json")
        await ws.send(json.dumps(fixture("lighter", "unsubscribe.json")))
        raw = await ws.recv()
        assert json.loads(raw) == fixture("lighter", "unsubscribed.json")
        assert raw == (fixture_text := '{"type": "unsubscribed", "channel": "order_book:0"}') and fixture_text in raw
        await ws.send(json.dumps(fixture("lighter", "unsubscribe.json")))
        assert await recv_json(ws) == fixture("lighter", "error_not_subscribed.json")
        await ws.send(json.dumps(fixture("lighter", "ping.json")))
        assert await recv_json(ws) == fixture("lighter", "pong.json")


async def test_lighter_public_channels_match_fixture_shapes(sim):
    ws = await _connect(sim)
    async with ws:
        sim.tick(5)
        for channel in ("market_stats/0", "market_stats/all", "ticker/1", "trade/2", "height"):
            await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
        await recv_until(ws, lambda m: m.get("channel") == "trade:2")
        sim.model.liquidate(sim.book("lighter", "SOL"))
        seen = set()  # Lighter's text of ETH's rate after each tick: percent per hour, 4 dp truncated
        for _ in range(20):
            sim.tick()
            pct = Decimal(repr(sim.funding.rate_per_hour("lighter", "ETH"))) * 100
            seen.add(str(pct.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)))
        frames: dict = {}
        received = await drain(ws)
        for m in received:
            frames.setdefault((m["channel"], m["type"]), m)
    daily = {"daily_price_high", "daily_price_low"}  # JSON floats that the docs example printed without ".0"
    assert_shape(
        frames[("market_stats:0", "update/market_stats")], fixture("lighter", "market_stats.json"), loose=daily
    )
    assert_shape(frames[("market_stats:0", "update/market_stats")], fixture("lighter", "market_stats_ccxt.json"),
                 extra={"symbol"})  # fmt: skip
    assert_shape(frames[("market_stats:all", "update/market_stats")], fixture("lighter", "market_stats_all.json"),
                 maps={"market_stats"}, extra={"symbol"})  # fmt: skip
    assert_shape(frames[("ticker:1", "update/ticker")], fixture("lighter", "ticker_update.json"))
    trades = next(
        m for (c, t), m in frames.items() if c == "trade:2" and t == "update/trade" and m["liquidation_trades"]
    )
    assert_shape(
        trades,
        fixture("lighter", "trade_subscribed_trimmed.json"),
        missing={"taker_fee", "maker_position_sign_changed"},
    )
    assert_shape(frames[("height", "update/height")], fixture("lighter", "height_update.json"))
    # the rate moves with every tick and market_stats goes out once a second: every frame sent
    # during the ticks carries the rate of one of them
    sent = [m["market_stats"]["current_funding_rate"] for m in received
            if m["channel"] == "market_stats:0" and m["type"] == "update/market_stats"]  # fmt: skip
    assert sent and set(sent) <= seen, (sent, seen)


async def test_lighter_auth_token_account_channels_and_sendtx(sim):
    key = sim.new_api_key("lighter")
    book = sim.book("lighter", "ETH")
    ws = await _connect(sim)
    async with ws:
        for kind in ("account_all_orders", "account_all_trades", "account_all_positions", "account_all"):
            await ws.send(
                json.dumps({"type": "subscribe", "channel": f"{kind}/{key.account}", "auth": _token(key.account)})
            )
        snaps = {m["type"]: m for m in [await recv_json(ws) for _ in range(4)]}
        ask, size = book.ladder.top(False, 1)[0]
        tx = {"AccountIndex": int(key.account), "ApiKeyIndex": 3, "MarketIndex": 0, "ClientOrderIndex": 424242,
              "BaseAmount": size + 5, "Price": ask, "IsAsk": 0, "Type": 0, "TimeInForce": 1, "ReduceOnly": 0,
              "TriggerPrice": 0, "OrderExpiry": 0, "Nonce": 0, "Sig": "c2ln"}  # fmt: skip
        await ws.send(
            json.dumps({"type": "jsonapi/sendtx", "data": {"id": "1786459718284", "tx_type": 14, "tx_info": tx}})
        )
        reply = await recv_until(ws, lambda m: m.get("type") == "jsonapi/sendtx")
        updates = {m["type"]: m for m in await drain(ws)}
        await ws.send(json.dumps({"type": "jsonapi/sendtx", "data": {"id": "2", "tx_type": 14, "tx_info": tx}}))
        stale = await recv_until(ws, lambda m: m.get("type") == "jsonapi/sendtx")
    assert snaps["subscribed/account_all_orders"] == {**fixture("lighter", "account_all_orders_snapshot_empty.json"),
                                                      "channel": f"account_all_orders:{key.account}"}  # fmt: skip
    assert_shape(snaps["subscribed/account_all_trades"], fixture("lighter", "account_all_trades_snapshot_empty.json"))
    assert_shape(reply, fixture("lighter", "sendtx_response.json"))
    assert stale["code"] != 200 and "nonce" in stale["message"]
    orders = updates["update/account_all_orders"]
    assert_shape(orders, fixture("lighter", "account_all_orders_snapshot.json"), maps={"orders"})
    assert_shape(orders, fixture("lighter", "account_all_orders_update_canceled.json"), maps={"orders"})
    assert orders["orders"]["0"][-1]["status"] == "open" and orders["orders"]["0"][-1]["client_order_index"] == 424242
    assert_shape(updates["update/account_all_positions"], fixture("lighter", "account_all_positions_update.json"),
                 maps={"positions"})  # fmt: skip
    assert updates["update/account_all_positions"]["positions"]["0"]["position"] == book.inst.size_text(size)
    wire_trade_fields = {
        "trade_id_str",
        "ask_id_str",
        "bid_id_str",
        "ask_client_id",
        "ask_client_id_str",
        "bid_client_id",
        "bid_client_id_str",
        "maker_fee",
        "transaction_time",
    }  # the docs example omits
    assert_shape(updates["update/account_all"], fixture("lighter", "account_all_docs.json"),
                 maps={"positions", "trades", "assets", "funding_histories"}, extra=wire_trade_fields)  # fmt: skip


async def test_lighter_token_too_long_lived_is_refused(sim):
    key = sim.new_api_key("lighter")
    ws = await _connect(sim)
    async with ws:
        token = _token(key.account, ttl_s=9 * 3600)
        await ws.send(json.dumps({"type": "subscribe", "channel": f"account_all/{key.account}", "auth": token}))
        err = await recv_json(ws)
    assert err == {"error": fixture("lighter", "rest_error_invalid_deadline.json")}


async def test_lighter_rest_endpoints_match_fixture_shapes(sim):
    key = sim.new_api_key("lighter")
    base = sim.urls["lighter"]["rest"] + "/api/v1"
    async with aiohttp.ClientSession() as http:

        async def get(path, **params):
            async with http.get(base + path, params=params) as r:
                return await r.json()

        assert_shape(await get("/orderBooks"), fixture("lighter", "rest_orderBooks.json"))
        assert_shape(
            await get("/orderBookDetails", market_id="0"),
            fixture("lighter", "rest_orderBookDetails.json"),
            loose={"daily_price_high", "daily_price_low"},
        )  # floats the capture printed without ".0"
        assert_shape(
            await get("/orderBookOrders", market_id="2", limit="3"), fixture("lighter", "rest_orderBookOrders.json")
        )
        fundings = await get("/fundings", market_id="1", resolution="1h", count_back="4")
        assert_shape(fundings, fixture("lighter", "rest_fundings.json"))
        assert len(fundings["fundings"]) == 4 and all(f["timestamp"] % 3600 == 0 for f in fundings["fundings"])
        assert_shape(await get("/funding-rates"), fixture("lighter", "rest_funding_rates.json"))
        assert (await get("/nextNonce", account_index=key.account, api_key_index="3")) == {"code": 200, "nonce": 0}
        form = {"tx_type": "14", "tx_info": json.dumps({"AccountIndex": int(key.account), "ApiKeyIndex": 3,
                                                          "MarketIndex": 1, "BaseAmount": 1, "Price": 1, "IsAsk": 1,
                                                          "Type": 1, "Nonce": 0, "Sig": "c2ln"})}  # fmt: skip
        async with http.post(base + "/sendTx", data=form) as r:
            sent = await r.json()
        assert sent["code"] == 200 and len(sent["tx_hash"]) == 80
        assert (await get("/nextNonce", account_index=key.account, api_key_index="3"))["nonce"] == 1


async def test_lighter_drops_a_client_that_ignores_pings():
    options = {"lighter": {"heartbeat": {"ping_s": 0.05, "pong_timeout_s": 0.2, "silence_s": 0.3}}}
    async with (
        Simulator(seed=2, run_clock=False, venues=["lighter"], venue_options=options, history_days=1) as sim,
        websockets.connect(sim.urls["lighter"]["ws"]) as ws,
    ):
        seen = []
        try:
            while len(seen) < 500:
                seen.append(await recv_json(ws))
        except websockets.ConnectionClosed as exc:
            closed = exc
    assert seen[0]["type"] == "connected" and {"type": "ping"} in seen
    assert closed.rcvd is not None and closed.rcvd.code == 1000


async def test_lighter_token_expiry_ends_a_live_subscription_until_resubscribed(sim):
    key = sim.new_api_key("lighter")
    server = sim.venues["lighter"]
    channel = f"account_all_orders/{key.account}"
    ws = await _connect(sim)
    async with ws:
        short = server.issue_token(key.account, key.key, 1.2)
        await ws.send(json.dumps({"type": "subscribe", "channel": channel, "auth": short}))
        snap = await recv_json(ws)
        # a bare re-subscribe with a fresh token is refused and keeps the old token
        await ws.send(json.dumps({"type": "subscribe", "channel": channel, "auth": _token(key.account, key.key)}))
        dup = await recv_json(ws)
        sim.tick(1)
        assert await drain(ws) == []  # still live before expiry
        await asyncio.sleep(int(short.split(":")[0]) + 0.05 - time.time())  # past the token's expiry second
        sim.tick(1)
        ended = await recv_json(ws)
        sim.tick(1)
        assert await drain(ws) == []  # once per ended subscription
        assert server.expired_subs == 1 and f"account_all_orders:{key.account}" not in server.subs
        # a new token on a fresh subscribe brings a new snapshot and keeps it live
        await ws.send(json.dumps({"type": "subscribe", "channel": channel, "auth": _token(key.account, key.key)}))
        again = await recv_json(ws)
        await ws.send(json.dumps({"type": "unsubscribe", "channel": channel}))
        gone = await recv_json(ws)
    assert snap["type"] == again["type"] == "subscribed/account_all_orders"
    assert dup == {"error": {"code": 30003, "message": f"Already Subscribed to : account_all_orders:{key.account}"}}
    assert ended == {"error": {"code": 20013, "message": "invalid auth: invalid deadline"}}
    assert gone == {"type": "unsubscribed", "channel": f"account_all_orders:{key.account}"}
    assert server.token_expiry == {}
