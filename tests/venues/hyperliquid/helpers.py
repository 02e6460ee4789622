"""Shared test drivers for the Hyperliquid codec: fixture bytes and a codec that knows some coins."""

from __future__ import annotations

from perpwire.venues.hyperliquid.codec import HyperliquidCodec
from tests.conftest import FIXTURES_DIR, fixture_loader

FIXTURES = FIXTURES_DIR / "hyperliquid"
USER = "0x15f43d1f2dee81424afd891943262aa90f22cc2a"


fixture = fixture_loader("hyperliquid")


def codec(**options) -> HyperliquidCodec:
    options.setdefault("coins", ("BTC", "ETH", "SOL", "kPEPE", "xyz:SP500"))
    return HyperliquidCodec(**options)


def one(c: HyperliquidCodec, name: str):
    events = c.decode(fixture(name))
    assert len(events) == 1, events
    return events[0]
