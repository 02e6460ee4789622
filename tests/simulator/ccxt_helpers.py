"""Pointing a ccxt exchange at the simulator, and making sure it never reaches anything else.

``point_at_simulator(exchange, sim)`` (from ``perpwire.actors.feeds.ccxt_adapter``) rewrites every
URL under ``exchange.urls["api"]`` (REST and WebSocket, however deeply ccxt nests them): the scheme
and host become the simulator's, under the venue's prefix, and the path is kept —
``https://fapi.binance.com/fapi/v1`` becomes ``http://127.0.0.1:<port>/binance/fapi/v1``,
``wss://api.hyperliquid.xyz/ws`` becomes ``ws://127.0.0.1:<port>/hyperliquid/ws``. ccxt's
``{hostname}`` placeholders go with the host.

``LoopbackGuard`` wraps the exchange's two doors to the network — ``fetch`` (every REST request)
and ``client`` (every WebSocket) — and fails the call, naming the URL, when it is not loopback;
it also keeps every URL it saw so a test can check them afterwards.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from perpwire.actors.feeds.ccxt_adapter import CCXT_VENUES, point_at_simulator

__all__ = ["CCXT_VENUES", "LoopbackGuard", "all_urls", "is_loopback", "point_at_simulator"]

_URL = re.compile(r"^(https?|wss?)://[^/]+(.*)$")


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def all_urls(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [u for v in obj.values() for u in all_urls(v)]
    if isinstance(obj, list):
        return [u for v in obj for u in all_urls(v)]
    return [obj] if isinstance(obj, str) and _URL.match(obj) else []


class LoopbackGuard:
    """Every REST request and WebSocket of ``exchange`` must go to a loopback address."""

    def __init__(self, exchange: Any) -> None:
        self.exchange = exchange
        self.rest: list[str] = []
        self.ws: list[str] = []
        fetch, client = exchange.fetch, exchange.client

        async def guarded_fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            self.rest.append(url)
            if not is_loopback(url):
                raise AssertionError(f"{exchange.id}: REST request to a non-loopback URL {url}")
            return await fetch(url, method, headers, body)

        def guarded_client(url: str) -> Any:
            if url not in self.ws:
                self.ws.append(url)
            if not is_loopback(url):
                raise AssertionError(f"{exchange.id}: WebSocket to a non-loopback URL {url}")
            return client(url)

        exchange.fetch = guarded_fetch
        exchange.client = guarded_client

    def check(self) -> None:
        bad = [u for u in [*all_urls(self.exchange.urls["api"]), *self.rest, *self.ws] if not is_loopback(u)]
        assert not bad, f"{self.exchange.id}: non-loopback URLs {bad}"
