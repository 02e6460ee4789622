"""Binance USD-M futures: the Binance-compatible codec that Aster (``venues.aster``) reuses.

``codec`` (decoding, options), ``streams`` (routed URLs, stream names, subscription tracker),
``rest`` (REST builders/decoders, HTTP errors), ``normalise`` (wire → events), ``auth`` (HMAC
signing) and ``schemas`` (wire Structs).
"""
