"""One protocol server per venue; ``SERVERS`` maps a venue name to its ``VenueServer`` class."""

from __future__ import annotations

from perpwire.simulator.servers.aster import AsterServer
from perpwire.simulator.servers.backpack import BackpackServer
from perpwire.simulator.servers.base import VenueServer
from perpwire.simulator.servers.binance import BinanceServer
from perpwire.simulator.servers.bybit import BybitServer
from perpwire.simulator.servers.hyperliquid import HyperliquidServer
from perpwire.simulator.servers.kucoin import KucoinServer
from perpwire.simulator.servers.lighter import LighterServer

SERVERS: dict[str, type[VenueServer]] = {
    "aster": AsterServer,
    "backpack": BackpackServer,
    "lighter": LighterServer,
    "binance": BinanceServer,
    "bybit": BybitServer,
    "hyperliquid": HyperliquidServer,
    "kucoin": KucoinServer,
}

__all__ = ["SERVERS", "VenueServer"]
