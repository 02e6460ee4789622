"""Bybit v5 linear perpetuals: sans-I/O codec for public market data (``venues.codec("bybit")``).

``codec.py`` holds the WebSocket subscriptions, heartbeat and frame decoding, ``orderbook.py``
the book chain (``u`` contiguity folded into a cross-sequence pointer chain), ``tickers.py`` the
per-symbol ticker merge and funding/BBO events, ``rest.py`` the REST requests and decoders,
``schemas.py`` the wire types.
"""

from perpwire.venues.bybit.codec import BybitCodec

__all__ = ["BybitCodec"]
