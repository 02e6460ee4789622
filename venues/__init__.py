"""Sans-I/O wire protocols, one package per venue, and the codec registry.

``venues.codec("aster")`` builds a fresh codec; ``venues.spec("aster")`` is the venue's facts
(connections, REST budget, default taker fee) without building one; ``venues.names()`` lists the
registered venues. Codec modules are imported on first use so a process only loads the venues it
talks to. A new venue is its package here plus one line in ``_REGISTRY`` (or ``register`` /
``PERPWIRE_EXTRA_CODECS`` from outside the repository): see docs/adding-a-venue.md.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import Any

from perpwire.venues.base import Channel, Codec, HttpRequest, Subscription, VenueSpec

_REGISTRY: dict[str, str] = {
    "aster": "perpwire.venues.aster.codec:AsterCodec",
    "backpack": "perpwire.venues.backpack.codec:BackpackCodec",
    "lighter": "perpwire.venues.lighter.codec:LighterCodec",
    "binance": "perpwire.venues.binance.codec:BinanceCodec",
    "bybit": "perpwire.venues.bybit.codec:BybitCodec",
    "hyperliquid": "perpwire.venues.hyperliquid.codec:HyperliquidCodec",
    "kucoin": "perpwire.venues.kucoin.codec:KucoinCodec",
}


def register(name: str, target: str) -> None:
    """Register a codec as ``"module.path:ClassName"`` (third-party venues, test stubs)."""
    if ":" not in target:
        raise ValueError(f"codec target must look like 'module:Class', got {target!r}")
    _REGISTRY[name] = target


def unregister(name: str) -> None:
    """Forget venue ``name`` (a test stub registered for one test); unknown names are ignored."""
    _REGISTRY.pop(name, None)


# Extra codecs from the environment, so every process of a Ray cluster sees the same registry:
# PERPWIRE_EXTRA_CODECS="name=module:Class,other=module:Class"
for _item in filter(None, os.environ.get("PERPWIRE_EXTRA_CODECS", "").split(",")):
    _name, _, _target = _item.partition("=")
    register(_name.strip(), _target.strip())


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def codec_class(name: str) -> type[Codec]:
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown venue {name!r}; known: {', '.join(_REGISTRY)}") from None
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


def spec(name: str) -> VenueSpec:
    """The ``VenueSpec`` venue ``name``'s codec declares (its module is imported, no codec built)."""
    return codec_class(name).spec


def codec(name: str, **options: Any) -> Codec:
    """A new codec for venue ``name``; ``options`` are the venue's codec options."""
    return codec_class(name)(**options)


__all__ = ["Channel", "Codec", "HttpRequest", "Subscription", "VenueSpec", "codec", "codec_class", "names",
           "register", "spec", "unregister"]
