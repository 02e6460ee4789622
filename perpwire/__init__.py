"""perpwire: streaming crypto perpetual-futures market data and funding-rate spreads on Ray.

Everything is importable under this one root: ``perpwire.market`` (events, order books, funding
maths), ``perpwire.venues`` (sans-I/O codecs of every venue), ``perpwire.strategies``,
``perpwire.actors`` (Ray actors and all I/O) and ``perpwire.simulator`` (every venue on loopback).
The names below are the entry points a user needs first; see the README's "Library" section.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module holding it; imported on first use so `import perpwire` stays light (no Ray)
_PUBLIC = {
    # configuration and running a deployment
    "AppConfig": "perpwire.actors.app.config",
    "StreamConfig": "perpwire.actors.app.config",
    "load_config": "perpwire.actors.app.config",
    "parse_config": "perpwire.actors.app.config",
    "Runtime": "perpwire.actors.app.runtime",
    "StreamActor": "perpwire.actors.streams.actor",
    "StreamConnection": "perpwire.actors.streams.connection",
    "VenueFacade": "perpwire.actors.trading.facade",
    "Coordinator": "perpwire.actors.coordination.coordinator",
    # the data a user receives
    "OrderBook": "perpwire.market.book",
    "BookView": "perpwire.market.book",
    "SyncState": "perpwire.market.book",
    "BBO": "perpwire.market.events",
    "BookDelta": "perpwire.market.events",
    "BookSnapshot": "perpwire.market.events",
    "FundingRate": "perpwire.market.events",
    "Trade": "perpwire.market.events",
    "Liquidation": "perpwire.market.events",
    "OrderUpdate": "perpwire.market.events",
    "DecodeError": "perpwire.market.errors",
    "PerpwireError": "perpwire.market.errors",
    # venues
    "codec": "perpwire.venues",
    "venue_names": "perpwire.venues",
    "Channel": "perpwire.venues.base",
    "Subscription": "perpwire.venues.base",
    # streaming data into your own code (docs/streaming.md)
    "adapter": "perpwire.actors.feeds.adapter",
    "Adapter": "perpwire.actors.feeds.adapter",
    "FeedItem": "perpwire.actors.feeds.adapter",
    "StreamManager": "perpwire.actors.feeds.manager",
    "FeedQueue": "perpwire.actors.feeds.queues",
    "Overflow": "perpwire.actors.feeds.queues",
    "FeedHealth": "perpwire.actors.feeds.health",
    "FeedError": "perpwire.actors.feeds.channels",
    "OHLCVBar": "perpwire.market.bars",
    # the exchange simulator
    "Simulator": "perpwire.simulator.server",
}
_ALIASES = {"venue_names": "names"}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'perpwire' has no attribute {name!r}")
    value = getattr(import_module(module), _ALIASES.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from perpwire.actors.app.config import AppConfig, StreamConfig, load_config, parse_config
    from perpwire.actors.app.runtime import Runtime
    from perpwire.actors.coordination.coordinator import Coordinator
    from perpwire.actors.feeds.adapter import Adapter, FeedItem, adapter
    from perpwire.actors.feeds.channels import FeedError
    from perpwire.actors.feeds.health import FeedHealth
    from perpwire.actors.feeds.manager import StreamManager
    from perpwire.actors.feeds.queues import FeedQueue, Overflow
    from perpwire.actors.streams.actor import StreamActor
    from perpwire.actors.streams.connection import StreamConnection
    from perpwire.actors.trading.facade import VenueFacade
    from perpwire.market.bars import OHLCVBar
    from perpwire.market.book import BookView, OrderBook, SyncState
    from perpwire.market.errors import DecodeError, PerpwireError
    from perpwire.market.events import BBO, BookDelta, BookSnapshot, FundingRate, Liquidation, OrderUpdate, Trade
    from perpwire.simulator.server import Simulator
    from perpwire.venues import codec
    from perpwire.venues import names as venue_names
    from perpwire.venues.base import Channel, Subscription
