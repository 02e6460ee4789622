"""Backpack: wrapped frames without acks, documented error frames, a REST snapshot that lags the
contiguous depth stream, ED25519-signed account streams and orders."""

from __future__ import annotations

import base64
import itertools
import json
import time

import aiohttp
import websockets
from nacl.signing import SigningKey

from perpwire.market.book import OrderBook, SyncState
from perpwire.market.events import BookDelta, BookSnapshot
from perpwire.market.sequence import CONTIGUOUS
from tests.simulator.helpers import assert_shape, drain, fixture, recv_json, recv_until

_STRING_ERA = {"E", "T", "a", "b"}  # integers were JSON strings on the 2025 wire, numbers in 2026


async def _subscribe(ws, params, **extra):
    await ws.send(json.dumps({"method": "SUBSCRIBE", "params": params, **extra}))
    await ws.send(json.dumps({"method": "PING"}))  # no acks on Backpack: the parse error is our barrier
    assert await recv_until(ws, lambda m: m.get("error", {}).get("code") == 4002) == fixture(
        "backpack", "error_parse.json"
    )


def _sign(secret_b64: str, message: str) -> str:
    return base64.b64encode(SigningKey(base64.b64decode(secret_b64)).sign(message.encode()).signature).decode()


def _ws_signature(key) -> list[str]:
    ts, window = str(int(time.time() * 1000)), "5000"
    return [key.key, _sign(key.secret, f"instruction=subscribe&timestamp={ts}&window={window}"), ts, window]


async def test_backpack_public_frames_match_fixture_shapes(sim):
    names = ["depth.BTC_USDC_PERP", "depth.200ms.ETH_USDC_PERP", "bookTicker.BTC_USDC_PERP",
             "markPrice.SOL_USDC_PERP", "ticker.BTC_USDC_PERP", "trade.ETH_USDC_PERP", "liquidation"]  # fmt: skip
    async with websockets.connect(sim.urls["backpack"]["ws"]) as ws:
        await _subscribe(ws, names)
        sim.model.liquidate(sim.book("backpack", "SOL"))
        sim.tick(25)
        frames = {}
        for m in await drain(ws):
            frames.setdefault(m["stream"], m)
    assert set(frames) == set(names)
    assert_shape(frames["depth.BTC_USDC_PERP"], fixture("backpack", "depth.json"))
    assert_shape(frames["depth.200ms.ETH_USDC_PERP"], fixture("backpack", "depth_200ms.json"))
    assert_shape(frames["bookTicker.BTC_USDC_PERP"], fixture("backpack", "bookTicker.json"))
    assert_shape(frames["markPrice.SOL_USDC_PERP"], fixture("backpack", "markPrice.json"))
    assert_shape(frames["ticker.BTC_USDC_PERP"], fixture("backpack", "ticker.json"))
    assert_shape(frames["trade.ETH_USDC_PERP"], fixture("backpack", "trade.json"), loose=_STRING_ERA)
    assert_shape(frames["liquidation"]["data"], fixture("backpack", "liquidation_docs.json"))
    mark = frames["markPrice.SOL_USDC_PERP"]["data"]
    assert mark["n"] == sim.funding.next_funding_ms("backpack") and mark["n"] % 3_600_000 == 0


async def test_backpack_errors_are_the_documented_frames_and_unknown_symbols_are_silent(sim):
    async with websockets.connect(sim.urls["backpack"]["ws"]) as ws:
        await ws.send("{oops")
        assert await recv_json(ws) == fixture("backpack", "error_parse.json")
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["candles.BTC_USDC_PERP"]}))
        assert await recv_json(ws) == fixture("backpack", "error_invalid_stream.json")
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["depth.100ms.BTC_USDC_PERP"]}))
        assert await recv_json(ws) == fixture("backpack", "error_invalid_depth_window.json")
        await _subscribe(ws, ["depth.NOPE_USDC_PERP"])
        sim.tick(5)
        assert await drain(ws) == []


async def test_backpack_depth_is_contiguous_and_bridges_the_lagging_rest_snapshot(sim):
    book = sim.book("backpack", "BTC")
    async with websockets.connect(sim.urls["backpack"]["ws"]) as ws, aiohttp.ClientSession() as http:
        await _subscribe(ws, ["depth.BTC_USDC_PERP"])
        sim.tick(3)
        async with http.get(sim.urls["backpack"]["rest"] + "/api/v1/depth", params={"symbol": "BTC_USDC_PERP"}) as r:
            snap = await r.json()
        live_seq = book.ladder.seq
        sim.tick(10)
        deltas = [m["data"] for m in await drain(ws)]
    assert_shape(snap, fixture("backpack", "rest_depth_docs.json"))
    assert int(snap["lastUpdateId"]) < live_seq  # the REST book is behind the stream
    assert float(snap["bids"][-1][0]) > float(snap["bids"][0][0])  # bids ascending, best last
    assert all(d["U"] == p["u"] + 1 for p, d in itertools.pairwise(deltas))
    ob = OrderBook("backpack", "BTC_USDC_PERP", CONTIGUOUS)
    for d in deltas:
        ob.apply(BookDelta(venue="backpack", symbol=d["s"], bids=tuple(map(tuple, d["b"])),
                           asks=tuple(map(tuple, d["a"])), first_seq=d["U"], seq=d["u"]))  # fmt: skip
    assert (
        ob.apply(
            BookSnapshot(
                venue="backpack",
                symbol="BTC_USDC_PERP",
                bids=tuple(map(tuple, snap["bids"])),
                asks=tuple(map(tuple, snap["asks"])),
                seq=int(snap["lastUpdateId"]),
            )
        )
        is None
    )
    assert ob.state is SyncState.SYNCED and ob.seq == book.ladder.seq
    bids, asks = ob.top(5)
    assert [(p, q) for p, q in bids] == [
        (book.inst.price_dec(p), book.inst.size_dec(s)) for p, s in book.ladder.top(True, 5)
    ]
    assert [(p, q) for p, q in asks] == [
        (book.inst.price_dec(p), book.inst.size_dec(s)) for p, s in book.ladder.top(False, 5)
    ]


async def test_backpack_rest_market_data_matches_fixture_shapes(sim):
    base = sim.urls["backpack"]["rest"] + "/api/v1"
    async with aiohttp.ClientSession() as http:

        async def get(path, **params):
            async with http.get(base + path, params=params) as r:
                return r.status, await r.json()

        assert_shape((await get("/markPrices"))[1], fixture("backpack", "rest_markPrices.json"))
        assert_shape(
            (await get("/markPrices", symbol="BTC_USDC_PERP"))[1], fixture("backpack", "rest_markPrices_single.json")
        )
        rates = (await get("/fundingRates", symbol="ETH_USDC_PERP", limit="3"))[1]
        assert_shape(rates, fixture("backpack", "rest_fundingRates.json"))
        assert rates[0]["intervalEndTimestamp"] > rates[1]["intervalEndTimestamp"]  # newest first, current included
        markets = (await get("/markets"))[1]
        perp = next(m for m in fixture("backpack", "rest_markets_2025_01.json") if m["marketType"] == "PERP")
        assert_shape(markets[0], perp)
        assert {m["fundingInterval"] for m in markets} == {"3600000"}
        assert (await get("/status"))[1] == fixture("backpack", "rest_status.json")
        assert_shape(
            (await get("/openInterest", symbol="SOL_USDC_PERP"))[1], fixture("backpack", "rest_openInterest.json")
        )
        status, err = await get("/depth", symbol="NOPE")
        assert status == 400 and err == fixture("backpack", "rest_error_invalid_symbol.json")


async def _order(http, sim, key, body):
    ts, window = str(int(time.time() * 1000)), "5000"
    signed = "&".join(["instruction=orderExecute", *(f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                                                        for k, v in sorted(body.items())), f"timestamp={ts}",
                       f"window={window}"])  # fmt: skip
    headers = {"X-API-Key": key.key, "X-Signature": _sign(key.secret, signed), "X-Timestamp": ts, "X-Window": window}
    async with http.post(sim.urls["backpack"]["rest"] + "/api/v1/order", json=body, headers=headers) as r:
        return r.status, await r.json()


async def test_backpack_signed_order_reaches_the_signed_account_streams(sim):
    key = sim.new_api_key("backpack")
    book = sim.book("backpack", "ETH")
    async with websockets.connect(sim.urls["backpack"]["ws"]) as ws, aiohttp.ClientSession() as http:
        await _subscribe(ws, ["account.orderUpdate.ETH_USDC_PERP", "account.positionUpdate"],
                         signature=_ws_signature(key))  # fmt: skip
        ask = book.ladder.best_ask()
        body = {"symbol": "ETH_USDC_PERP", "side": "Bid", "orderType": "Limit", "quantity": book.inst.size_text(3),
                "price": book.inst.price_text(ask), "timeInForce": "IOC", "clientId": 42}  # fmt: skip
        status, order = await _order(http, sim, key, body)
        frames = [await recv_json(ws) for _ in range(3)]
        async with websockets.connect(sim.urls["backpack"]["ws"]) as late:
            await _subscribe(late, ["account.positionUpdate"], signature=_ws_signature(key))
        assert status == 200 and order["status"] == "Filled" and order["executedQuantity"] == book.inst.size_text(3)
    accepted, fill, position = frames
    assert (accepted["data"]["e"], fill["data"]["e"], position["data"]["e"]) == (
        "orderAccepted",
        "orderFill",
        "positionOpened",
    )
    assert_shape(accepted, fixture("backpack", "account_orderUpdate_accepted.json"), extra={"c", "p"})
    assert_shape(fill["data"], fixture("backpack", "account_orderUpdate_fill_data.json"), extra={"c", "p"})
    assert_shape(position, fixture("backpack", "account_positionUpdate.json"))
    assert position["data"]["q"] == book.inst.size_text(3)


async def test_backpack_private_subscribe_with_a_bad_signature_gets_an_error_and_no_data(sim):
    key = sim.new_api_key("backpack")
    other = sim.new_api_key("backpack")
    sig = _ws_signature(key)
    sig[1] = _ws_signature(other)[1]
    async with websockets.connect(sim.urls["backpack"]["ws"]) as ws, aiohttp.ClientSession() as http:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["account.orderUpdate"], "signature": sig}))
        err = await recv_json(ws)
        body = {"symbol": "SOL_USDC_PERP", "side": "Ask", "orderType": "Market", "quantity": "1.00"}
        status, _ = await _order(http, sim, key, body)
        forged_status, forged = await _order(http, sim, type(key)(key.venue, key.key, other.secret, key.account), body)
        leftover = await drain(ws)
    assert err == {"id": None, "error": {"code": 4001, "message": "Invalid signature"}}
    assert status == 200 and leftover == []
    assert forged_status == 401 and forged["code"] == "INVALID_SIGNATURE"
