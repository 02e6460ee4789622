"""Streams: one Ray actor per venue WebSocket connection.

``StreamActor`` (``actor``) wraps ``StreamConnection`` (``connection``), which keeps one socket
alive and subscribed, applies what arrives to books, BBO and funding, and answers by value; its
commands live in ``control``, the wanted-subscription state machine in ``subscriptions``, and
each venue's pre-connect bootstrap (listenKeys, tokens, signatures) in ``sessions``.
"""
