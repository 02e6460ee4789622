"""A stub venue for connection tests: a tiny JSON protocol, its codec and a loopback server.

Frames: ``{"op":"sub"|"unsub","topics":[..],"id":n}`` from the client; from the server
``{"t":"ack","id":n,"topics":[..]}``, ``{"t":"book","s":sym,"seq":n,"b":[[p,q]],"a":[[p,q]]}``
(a full snapshot each time, like depth20) and ``{"t":"order","s":sym,"i":id}`` on the account
topic. The server counts what it sends per topic so tests can see a pause take effect.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from decimal import Decimal

import websockets

from perpwire.market.errors import DecodeError
from perpwire.market.events import BookSnapshot, OrderStatus, OrderUpdate, Side, Subscribed, Unsubscribed
from perpwire.market.sequence import UNCHECKED
from perpwire.venues.base import Codec, Subscription


class StubCodec(Codec):
    name = "stub"
    sequence_rule = UNCHECKED
    example_symbol = "AAA"

    def __init__(self, url: str = "ws://127.0.0.1:1"):
        super().__init__()
        self._url = url
        self._id = 0

    def url(self, stream="market", **params):
        return self._url

    def topic(self, sub: Subscription) -> str:
        return f"{sub.channel}:{sub.symbol or '*'}"

    def _frame(self, op, subs):
        self._id += 1
        return [json.dumps({"op": op, "topics": [self.topic(s) for s in subs], "id": self._id})]

    def subscribe(self, subs):
        return self._frame("sub", subs)

    def unsubscribe(self, subs):
        return self._frame("unsub", subs)

    def decode(self, frame):
        try:
            msg = json.loads(frame)
            kind = msg["t"]
            if kind == "book":
                return [BookSnapshot(venue="stub", symbol=msg["s"], bids=tuple(map(tuple, msg["b"])),
                                     asks=tuple(map(tuple, msg["a"])), seq=msg["seq"], ts=msg["seq"])]
            if kind == "ack":
                cls = Subscribed if msg["op"] == "sub" else Unsubscribed
                return [cls(venue="stub", channels=tuple(msg["topics"]), request_id=str(msg["id"]))]
            if kind == "order":
                return [OrderUpdate(venue="stub", symbol=msg["s"], order_id=str(msg["i"]), client_order_id=None,
                                    side=Side.BUY, status=OrderStatus.NEW, price=Decimal(1), size=Decimal(1),
                                    filled=Decimal(0))]
        except (ValueError, KeyError, TypeError) as exc:
            raise DecodeError("stub", str(exc), frame) from None
        return self._unknown(str(kind))

    def decode_snapshot(self, symbol, body):
        raise DecodeError("stub", "no REST", body)

    def decode_funding(self, body):
        raise DecodeError("stub", "no REST", body)


class StubServer:
    def __init__(self, period_s: float = 0.01, levels: int = 1):
        self.period_s = period_s
        self.levels = levels
        self.sent: Counter[str] = Counter()
        self.connections = 0
        self.subscribed: list[set[str]] = []
        self._conns: set = set()
        self._server = None
        self.order_seq = 0
        self.url = ""
        self.frozen = False  # True: keep every socket open but send nothing (a silently stalled venue)

    async def start(self):
        self._server = await websockets.serve(self._handler, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def stop(self):
        self._server.close()
        await self._server.wait_closed()

    async def drop_all(self):
        for ws in list(self._conns):
            await ws.close(code=1011, reason="dropped by test")

    async def send_raw(self, frame: str):
        for ws in list(self._conns):
            await ws.send(frame)

    async def _handler(self, ws):
        self.connections += 1
        topics: set[str] = set()
        self.subscribed.append(topics)
        self._conns.add(ws)
        seq = 0

        async def pump():
            nonlocal seq
            while True:
                await asyncio.sleep(self.period_s)
                if self.frozen:
                    continue
                for topic in sorted(topics):
                    channel, sym = topic.split(":")
                    seq += 1
                    if channel in ("book", "depth"):
                        bids = [[str(100 - i), "1"] for i in range(self.levels)]
                        asks = [[str(101 + i), "2"] for i in range(self.levels)]
                        book = {"t": "book", "s": sym, "seq": seq, "b": bids, "a": asks}
                        frame = json.dumps(book)
                    elif channel == "account":
                        self.order_seq += 1
                        frame = json.dumps({"t": "order", "s": "AAA", "i": self.order_seq})
                    else:
                        continue
                    self.sent[channel] += 1
                    await ws.send(frame)

        task = asyncio.create_task(pump())
        try:
            async for raw in ws:
                msg = json.loads(raw)
                (topics.update if msg["op"] == "sub" else topics.difference_update)(msg["topics"])
                await ws.send(json.dumps({"t": "ack", "op": msg["op"], "id": msg["id"], "topics": msg["topics"]}))
        except websockets.ConnectionClosed:
            pass
        finally:
            task.cancel()
            self._conns.discard(ws)
