"""KuCoin Futures: sans-I/O codec for public market data and funding (``venues.codec("kucoin")``).

``codec.py`` holds the WebSocket session, subscriptions and frame decoding, ``rest.py`` the REST
requests and body decoders, ``contracts.py`` the per-contract facts (multiplier, funding
interval, funding index) learned from REST, ``schemas.py`` the wire types.
"""

from perpwire.venues.kucoin.codec import KucoinCodec

__all__ = ["KucoinCodec"]
