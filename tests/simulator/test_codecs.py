"""Each shipped venue codec, pointed at the simulator by its base-URL options, subscribes with its
own frames, decodes what comes back without a ``DecodeError``, syncs a book from its own REST
snapshot request and reads funding from its own REST funding request. A venue whose codec is
not importable yet is skipped (codecs are written alongside the simulator)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import websockets

from perpwire.market.book import SyncState
from perpwire.market.errors import DecodeError, SubscriptionError
from perpwire.market.events import (
    BBO,
    BookDelta,
    BookSnapshot,
    Connected,
    FundingRate,
    LazyBookSnapshot,
    MarkPrice,
    Trade,
    VenueRejected,
)
from perpwire.venues.base import Channel, HttpRequest, Subscription
from tests.simulator.helpers import codec_or_none, drain_raw

SYMBOLS = {
    "aster": ("BTCUSDT", "ETHUSDT"),
    "binance": ("BTCUSDT", "ETHUSDT"),
    "backpack": ("BTC_USDC_PERP", "ETH_USDC_PERP"),
    "lighter": ("1", "0"),
    "bybit": ("BTCUSDT", "ETHUSDT"),
    "hyperliquid": ("BTC", "ETH"),
    "kucoin": ("XBTUSDTM", "ETHUSDTM"),
}
ASSET = {"BTCUSDT": "BTC", "BTC_USDC_PERP": "BTC", "1": "BTC", "BTC": "BTC", "XBTUSDTM": "BTC"}


def _options(venue: str, sim: Any) -> dict[str, Any]:
    urls = sim.urls[venue]
    opts: dict[str, Any] = {"rest_url": urls["rest"]}
    if venue != "kucoin":
        opts["ws_url"] = urls["ws"]
    if venue == "hyperliquid":
        opts["coins"] = ("BTC", "ETH", "SOL")
    return opts


async def _http(http: aiohttp.ClientSession, req: HttpRequest) -> bytes:
    async with http.request(req.method, req.url, params=list(req.params), headers=list(req.headers),
                            data=req.body) as r:  # fmt: skip
        return await r.read()


def _decode(codec: Any, frames: list[Any]) -> list[Any]:
    events = []
    for f in frames:
        try:
            events += codec.decode(f)
        except DecodeError as exc:  # the message names the venue and the frame
            raise AssertionError(f"{codec.name} could not decode a simulator frame: {exc}") from exc
    return events


async def _connect(venue: str, sim: Any, http: aiohttp.ClientSession, route: str | None) -> tuple[Any, Any]:
    codec = codec_or_none(venue, **_options(venue, sim))
    if venue == "kucoin":
        codec.decode_bullet(await _http(http, codec.bullet_request()))
        url = codec.url("market", connect_id="sim1")
    else:
        url = codec.url(route or "market")
    ws = await websockets.connect(url)
    if venue in ("kucoin", "lighter"):  # both greet first; KuCoin drops requests sent before
        greeting = _decode(codec, [await asyncio.wait_for(ws.recv(), 5)])
        assert any(isinstance(e, Connected) for e in greeting)
    return codec, ws


def _wanted(codec: Any, venue: str) -> list[Subscription]:
    first, second = SYMBOLS[venue]
    subs = [Subscription(Channel.BBO, first), Subscription(Channel.DEPTH, first), Subscription(Channel.BOOK, second),
            Subscription(Channel.FUNDING, first), Subscription(Channel.TRADES, second)]  # fmt: skip
    ok = []
    for sub in subs:
        try:
            codec.subscribe([sub]) if not hasattr(codec, "route") else codec.topic(sub)
        except SubscriptionError:
            continue  # the venue has no such channel
        ok.append(sub)
    return ok


@pytest.mark.parametrize("venue", list(SYMBOLS))
async def test_codec_round_trip_against_the_simulator(sim, venue):
    probe = codec_or_none(venue, **_options(venue, sim))
    if probe is None:
        pytest.skip(f"the {venue} codec is not shipped yet")
    subs = _wanted(probe, venue)
    groups: dict[str | None, list[Subscription]] = {}
    for sub in subs:
        groups.setdefault(probe.route(sub) if hasattr(probe, "route") else None, []).append(sub)
    events: list[Any] = []
    depth_codec = None
    async with aiohttp.ClientSession() as http:
        conns = []
        for route, group in groups.items():
            codec, ws = await _connect(venue, sim, http, route)
            conns.append((codec, ws))
            for frame in codec.subscribe(group):
                await ws.send(frame)
            if any(s.channel is Channel.DEPTH for s in group):
                depth_codec = codec
        await asyncio.sleep(0.2)  # let the server read the subscriptions (Backpack sends no acks)
        sim.tick(2)
        first = {id(c): _decode(c, await drain_raw(ws)) for c, ws in conns}
        snap_body = None
        if depth_codec is not None:
            try:
                snap_body = await _http(http, depth_codec.depth_request(SYMBOLS[venue][0]))
            except SubscriptionError:  # Lighter: no sequenced REST book, the stream sends a snapshot
                snap_body = None
        sim.tick(30)
        later = {id(c): _decode(c, await drain_raw(ws)) for c, ws in conns}
        funding = probe.decode_funding(await _http(http, probe.funding_request()))
        for _, ws in conns:
            await ws.close()
    for c, _ in conns:
        events += first[id(c)] + later[id(c)]
    kinds = {type(e) for e in events}
    assert not [e for e in events if isinstance(e, VenueRejected)], [e for e in events if isinstance(e, VenueRejected)]
    channels = {s.channel for s in subs}
    if Channel.BBO in channels:
        assert BBO in kinds
    if Channel.BOOK in channels:
        assert kinds & {BookSnapshot, LazyBookSnapshot}
    if Channel.FUNDING in channels:
        assert kinds & {FundingRate, MarkPrice}
    assert Channel.TRADES in channels, f"{venue}: every venue streams trades"
    trades = [e for e in events if isinstance(e, Trade)]
    assert trades and {t.symbol for t in trades} == {SYMBOLS[venue][1]}
    assert all(t.price > 0 and t.size > 0 and t.ts > 0 for t in trades)
    if depth_codec is not None:
        symbol = SYMBOLS[venue][0]
        book = depth_codec.book(symbol)
        mine = (BookDelta, BookSnapshot)
        before = [e for e in first[id(depth_codec)] if isinstance(e, mine) and e.symbol == symbol]
        after = [e for e in later[id(depth_codec)] if isinstance(e, mine) and e.symbol == symbol]
        assert any(isinstance(e, BookDelta) for e in after)
        for e in before:
            assert book.apply(e) is None
        if snap_body is not None:
            assert book.apply(depth_codec.decode_snapshot(symbol, snap_body)) is None
        for e in after:
            assert book.apply(e) is None
        assert book.state is SyncState.SYNCED
        ladder = sim.book(venue, ASSET[symbol])
        assert book.best_bid()[0] == ladder.inst.price_dec(ladder.ladder.best_bid())
    btc = [f for f in funding if f.symbol == SYMBOLS[venue][0]]
    assert btc, f"{venue}: no funding row for {SYMBOLS[venue][0]}"
    expected = Decimal(repr(sim.funding.rate_per_hour(venue, "BTC")))
    assert abs(btc[0].rate_per_hour - expected) < Decimal("0.000002")
