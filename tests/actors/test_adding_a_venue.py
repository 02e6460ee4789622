"""Adding a venue touches nothing under ``actors/``: a venue defined here, in a test module — its
codec, its ``VenueSpec`` and a loopback server speaking its protocol — is registered from outside
the repository's venue packages, and the actors layer builds its connections, runs one of them as
a ``StreamActor`` to a SYNCED book with a confirmed subscription, and prices it in the scanner.

The protocol ("fakex") is the smallest one with a sequenced diff-depth stream re-seeded by
resubscribing: the client sends ``{"op":"subscribe"|"unsubscribe","args":["depth:SYM",...],
"req":n}``; the server acks ``{"event":"subscribed"|"unsubscribed","args":[...],"req":n}``,
follows a depth subscribe with ``{"event":"snapshot","arg":"depth:SYM","seq":n,"bids":[..],
"asks":[..]}`` and then ``{"event":"delta",...,"seq":n+1}`` frames, and pushes
``{"event":"funding","arg":"funding:SYM","rate":"...","interval":8,"ts":ms}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from decimal import Decimal
from pathlib import Path

import pytest
import websockets

from perpwire import venues
from perpwire.actors.app.config import AppConfig, CoordinatorConfig
from perpwire.actors.topology import streams_for
from perpwire.market.errors import DecodeError
from perpwire.market.events import BookDelta, BookSnapshot, FundingRate, Subscribed, Unsubscribed
from perpwire.market.funding import per_hour
from perpwire.market.sequence import CONTIGUOUS
from perpwire.strategies.desk import FundingDesk
from perpwire.venues.base import Channel, Codec, Connection, RestBudget, Subscription, VenueSpec

ROOT = Path(__file__).resolve().parents[2]
NAME = "fakex"
TARGET = f"{__name__}:FakexCodec"


class FakexCodec(Codec):
    """The fake venue's codec: subscribe frames, acks by topic, snapshot-then-delta books, funding."""

    name = NAME
    sequence_rule = CONTIGUOUS
    example_symbol = "BTC_PERP"
    spec = VenueSpec(
        connections=(
            Connection(name="book", per_symbol=(Channel.DEPTH,), pausable=True),
            Connection(name="funding", per_symbol=(Channel.FUNDING,)),
        ),
        max_symbols_per_connection=2,
        book_connection="book",
        bbo_connection="book",
        funding_per_symbol=True,
        resync_by_resubscribe=True,  # a subscribe brings a fresh snapshot: no REST book needed
        rest=RestBudget(rate_per_s=5.0, burst=10.0, reason="the test's own figures"),
        taker_fee=Decimal("0.0003"),
        taker_fee_source="the test's own figure",
    )

    def __init__(self, url: str = "ws://127.0.0.1:1"):
        super().__init__()
        self._url = url
        self._req = 0

    def url(self, stream="market", **params):
        return self._url

    def topic(self, sub: Subscription) -> str:
        return f"{sub.channel}:{sub.symbol}"

    def _frames(self, op: str, subs) -> list[str]:
        self._req += 1
        return [json.dumps({"op": op, "args": [self.topic(s) for s in subs], "req": self._req})]

    def subscribe(self, subs):
        return self._frames("subscribe", subs)

    def unsubscribe(self, subs):
        return self._frames("unsubscribe", subs)

    def decode(self, frame):
        msg = json.loads(frame)
        kind = msg["event"]
        if kind in ("subscribed", "unsubscribed"):
            cls = Subscribed if kind == "subscribed" else Unsubscribed
            return [cls(venue=NAME, channels=tuple(msg["args"]), request_id=str(msg["req"]))]
        if kind in ("snapshot", "delta"):
            symbol = msg["arg"].split(":", 1)[1]
            bids, asks = tuple(map(tuple, msg["bids"])), tuple(map(tuple, msg["asks"]))
            if kind == "snapshot":
                return [BookSnapshot(venue=NAME, symbol=symbol, bids=bids, asks=asks, seq=msg["seq"])]
            return [BookDelta(venue=NAME, symbol=symbol, bids=bids, asks=asks, first_seq=msg["seq"], seq=msg["seq"])]
        if kind == "funding":
            rate, hours = Decimal(msg["rate"]), int(msg["interval"])
            return [FundingRate(venue=NAME, symbol=msg["arg"].split(":", 1)[1], rate=rate, interval_hours=hours,
                                rate_per_hour=per_hour(rate, hours), ts=int(msg["ts"]))]
        return self._unknown(str(kind))

    def decode_snapshot(self, symbol, body):
        raise DecodeError(NAME, "no REST book: resubscribing re-seeds it", body)

    def decode_funding(self, body):
        raise DecodeError(NAME, "no REST funding", body)


class FakexServer:
    """The fake venue on 127.0.0.1: acks, a snapshot on every depth subscribe, deltas and funding."""

    def __init__(self, period_s: float = 0.02):
        self.period_s = period_s
        self.requests: list[dict] = []
        self.url = ""
        self._server = None

    async def start(self) -> FakexServer:
        self._server = await websockets.serve(self._handler, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handler(self, ws) -> None:
        topics: dict[str, int] = {}  # topic -> last sequence sent

        async def pump():
            while True:
                await asyncio.sleep(self.period_s)
                for topic in list(topics):
                    if topic.startswith("depth:"):
                        topics[topic] += 1
                        await ws.send(json.dumps({"event": "delta", "arg": topic, "seq": topics[topic],
                                                  "bids": [["100", str(topics[topic] % 5 + 1)]], "asks": []}))
                    else:
                        await ws.send(json.dumps({"event": "funding", "arg": topic, "rate": "0.0004",
                                                  "interval": 8, "ts": int(time.time() * 1000)}))

        task = asyncio.create_task(pump())
        try:
            async for raw in ws:
                msg = json.loads(raw)
                self.requests.append(msg)
                event = "subscribed" if msg["op"] == "subscribe" else "unsubscribed"
                await ws.send(json.dumps({"event": event, "args": msg["args"], "req": msg["req"]}))
                for topic in msg["args"]:
                    if msg["op"] != "subscribe":
                        topics.pop(topic, None)
                        continue
                    topics[topic] = 1000
                    if topic.startswith("depth:"):
                        await ws.send(json.dumps({"event": "snapshot", "arg": topic, "seq": 1000,
                                                  "bids": [["100", "1"], ["99", "2"]], "asks": [["101", "3"]]}))
        except websockets.ConnectionClosed:
            pass
        finally:
            task.cancel()


@pytest.fixture
def fakex():
    """The fake venue in this process's registry, for this test only."""
    venues.register(NAME, TARGET)
    yield NAME
    venues.unregister(NAME)


@pytest.fixture
async def server():
    srv = await FakexServer().start()
    yield srv
    await srv.stop()


def test_the_topology_builds_the_new_venues_connections_from_its_spec(fakex):
    configs = streams_for(NAME, ["ETH_PERP", "BTC_PERP", "SOL_PERP"], codec_options={"url": "ws://127.0.0.1:9"})
    assert [c.name for c in configs] == ["book", "book-1", "funding", "funding-1"]  # 2 symbols a connection
    book = configs[0]
    assert book.pausable and not configs[2].pausable
    books = [sorted(s.symbol for s in c.subscriptions) for c in configs[:2]]
    assert sorted(s for b in books for s in b) == ["BTC_PERP", "ETH_PERP", "SOL_PERP"]
    assert all(len(b) <= 2 for b in books)
    assert {s.to_subscription().channel for c in configs[:2] for s in c.subscriptions} == {Channel.DEPTH}
    assert (book.rest_rate_per_s, book.rest_burst) == (5.0, 10.0)


def test_the_new_venue_gets_its_fee_and_config_accepts_it(fakex):
    assert CoordinatorConfig().taker_fees[NAME] == Decimal("0.0003")
    assert CoordinatorConfig(taker_fees={NAME: "0.0001"}).taker_fees[NAME] == Decimal("0.0001")  # explicit wins
    cfg = AppConfig.model_validate({"venues": {NAME: {"symbols": ["BTC_PERP"], "codec_options": {"url": "ws://x"}}}})
    assert cfg.coordinator.taker_fees[NAME] == Decimal("0.0003")


class _FeelessCodec(FakexCodec):
    name = "feeless"
    spec = VenueSpec(connections=(Connection(name="funding", per_symbol=(Channel.FUNDING,)),))


def test_a_venue_with_no_fee_anywhere_fails_validation_naming_it():
    venues.register("feeless", f"{__name__}:_FeelessCodec")
    try:
        assert "feeless" not in CoordinatorConfig().taker_fees
        with pytest.raises(ValueError, match=r"venues\.feeless: venue 'feeless' has no taker fee.*"
                                             r"coordinator\.taker_fees\.feeless"):
            AppConfig.model_validate({"venues": {"feeless": {"symbols": ["BTC_PERP"]}}})
        with pytest.raises(ValueError, match=r"tradable_venues: venue 'feeless' has no taker fee"):
            CoordinatorConfig(tradable_venues=["feeless"])
        ok = AppConfig.model_validate({"venues": {"feeless": {"symbols": ["BTC_PERP"]}},
                                       "coordinator": {"taker_fees": {"feeless": "0.0002"}}})
        assert ok.coordinator.taker_fees["feeless"] == Decimal("0.0002")
    finally:
        venues.unregister("feeless")


async def _until(fn, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_one_stream_actor_of_the_new_venue_syncs_its_book_and_the_scanner_prices_it(ray_local, fakex, server):
    from perpwire.actors.streams.actor import StreamActor

    book_cfg, funding_cfg = streams_for(NAME, ["BTC_PERP"], codec_options={"url": server.url},
                                        overrides={"backoff_base_s": 0.01, "backoff_cap_s": 0.05})
    extra = ",".join(filter(None, [os.environ.get("PERPWIRE_EXTRA_CODECS", ""), f"{NAME}={TARGET}"]))
    env = {"env_vars": {"PERPWIRE_EXTRA_CODECS": extra, "PYTHONPATH": str(ROOT)}}
    actors = [StreamActor.options(runtime_env=env).remote(c.model_dump(mode="json")) for c in (book_cfg, funding_cfg)]
    try:
        await asyncio.wait_for(asyncio.gather(*(a.wait_connected.remote(10.0) for a in actors)), 30)
        book = actors[0]

        async def synced_and_confirmed():
            health = await book.health.remote()
            return (health.books.get("BTC_PERP") == "SYNCED"
                    and Subscription(Channel.DEPTH, "BTC_PERP") in health.subscriptions.confirmed and health)

        health = await _until(synced_and_confirmed)
        assert health.venue == NAME and health.stream == "book" and health.connected

        async def moved_on():
            view = await book.order_book.remote("BTC_PERP", 5)
            return view.seq > 1001 and view  # deltas applied on top of the snapshot, in sequence

        view = await _until(moved_on)
        assert view.synced and str(view.asks[0][0]) == "101" and str(view.bids[1][0]) == "99"
        assert {"op": "subscribe", "args": ["depth:BTC_PERP"], "req": 1} in server.requests

        funding = await _until(lambda: actors[1].funding.remote())
        desk = FundingDesk(taker_fees=CoordinatorConfig().taker_fees)
        other = FundingRate(venue="binance", symbol="BTCUSDT", rate=Decimal("-0.0001"), interval_hours=8,
                            rate_per_hour=Decimal("-0.0000125"), ts=int(time.time() * 1000))
        desk.ingest([funding["BTC_PERP"], other], int(time.time() * 1000))
        [best] = desk.opportunities(5)
        assert (best.long_venue, best.short_venue) == ("binance", NAME)  # short the venue that is paid
        assert best.fees_per_hour > 0 and NAME not in desk.scanner.unpriced
    finally:
        await asyncio.gather(*(a.stop.remote() for a in actors), return_exceptions=True)
