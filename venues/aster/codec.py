"""The Aster codec: ``BinanceCodec`` with Aster's hosts, one route and slower heartbeats.

Aster's futures API is Binance USD-M as it was before the 2026 routed paths: the same stream
names, event shapes, ``U/u/pu`` chain, control frames and listenKey lifecycle, so everything is
inherited. What differs is declared here: the hosts; a single route with no path prefix
(``/ws/<stream>``, ``/stream?streams=``, user data at ``/ws/<listenKey>``); the server pings
every 5 min and waits 15 min for the pong (Binance: 3 / 10); a few REST weights; PUT listenKey
answers ``{}`` (``decode_listen_key`` gives None); and there is no WS-API host. Only V1 (HMAC)
keys are supported; V3 EIP-712 agent signing is not implemented.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar
from urllib.parse import quote

import msgspec

from perpwire.market.errors import SubscriptionError
from perpwire.venues.base import Channel, Connection, VenueLimits, VenueSpec
from perpwire.venues.binance.codec import BinanceCodec


class AsterCodec(BinanceCodec):
    """Aster futures (V1 API). Same options as ``BinanceCodec`` (``user_events`` is unused)."""

    name: ClassVar[str] = "aster"
    ROUTES: ClassVar[dict[Channel, str]] = dict.fromkeys(Channel, "market")
    USER_ROUTE: ClassVar[str] = "market"
    server_ping_interval_s: ClassVar[float] = 300.0
    pong_timeout_s: ClassVar[float] = 900.0
    default_rest_url: ClassVar[str] = "https://fapi.asterdex.com"
    default_ws_url: ClassVar[str] = "wss://fstream.asterdex.com"
    default_ws_api_url: ClassVar[str | None] = None
    premium_index_all_weight: ClassVar[int] = 1
    funding_info_weight: ClassVar[int] = 1
    book_ticker_weights: ClassVar[tuple[int, int]] = (1, 2)
    #: Binance's REST budget (the same 2,400 weight a minute); a traded venue: user data (always on),
    #: bookTicker and diff depth each on their own pausable connection, funding and liquidations
    spec: ClassVar[VenueSpec] = msgspec.structs.replace(
        BinanceCodec.spec,
        connections=(
            Connection(name="user", whole_venue=(Channel.ACCOUNT,), account=True),
            Connection(name="bookticker", per_symbol=(Channel.BBO,), pausable=True),
            Connection(name="depth", per_symbol=(Channel.DEPTH,), pausable=True),
            Connection(name="funding", whole_venue=(Channel.FUNDING_ALL, Channel.LIQUIDATIONS)),
        ),
        max_symbols_per_connection=200,  # the venue's 200 streams per connection
        bbo_connection="bookticker",
        limits=VenueLimits(
            streams_per_connection=200, control_messages=10, control_window_s=1.0,
            connections=300, connections_window_s=300.0, rest_weight=2400, rest_window_s=60.0,
            max_connections_per_ip=None,
            source="github.com/asterdex/api-docs aster-finance-futures-api.md, Websocket Market Streams (10 "
                   "incoming messages a second per connection, 200 streams a connection; connections per IP "
                   "as Binance's 300 per 5 minutes) and LIMITS (REQUEST_WEIGHT 2,400 a minute per IP; 429, "
                   "then 418)"),
        taker_fee=Decimal("0.00035"),
        taker_fee_source="Aster Pro fees (docs.asterdex.com/product/asterex-pro/pro-fees), base-tier taker",
    )

    def _path(self, route: str) -> str:
        return ""  # no routed paths

    def _user_url(self, base: str, route: str, listen_key: str, topics: list[str]) -> str:
        """``/ws/<listenKey>``; with market streams too, the key is one more combined stream."""
        key = quote(listen_key, safe="")
        if not topics:
            return f"{base}/ws/{key}"
        if not self.combined:
            raise SubscriptionError(f"{self.name}: user data plus market streams need a combined connection")
        return f"{base}/stream?streams={'/'.join([key, *topics])}"
