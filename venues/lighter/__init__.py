"""Lighter (zk perp DEX) codec: WebSocket frames, REST /api/v1 bodies, nonce-chained books.

See ``codec`` for the session and channel map, ``rest`` for the REST endpoints, ``account`` for
trades and private frames, ``schemas`` for the raw wire types.
"""
