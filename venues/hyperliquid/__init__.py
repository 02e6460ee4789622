"""Hyperliquid perps: ``codec.HyperliquidCodec`` (WebSocket + ``POST /info``), wire types in ``schemas``."""
