"""One protocol server per venue; ``SERVERS`` maps a venue name to its ``VenueServer`` class."""

from __future__ import annotations

from simulator.venues.aster import AsterServer
from simulator.venues.backpack import BackpackServer
from simulator.venues.base import VenueServer
from simulator.venues.binance import BinanceServer
from simulator.venues.bybit import BybitServer
from simulator.venues.hyperliquid import HyperliquidServer
from simulator.venues.kucoin import KucoinServer
from simulator.venues.lighter import LighterServer

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
