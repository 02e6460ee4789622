"""Streams: one Ray actor per venue WebSocket connection.

``StreamActor`` (``actor``) wraps ``StreamConnection`` (``connection``), which keeps one socket
alive and subscribed, applies what arrives to books, BBO and funding, and answers by value (the
answers are in ``answers``). Its collaborators each own their state: ``control`` (pause, resume,
prepare; the wanted state that outlives the process), ``watchdog`` (freshness), ``resync``
(per-symbol book repair), ``funding`` (latest rates, conflated push), ``link`` (the open socket),
``subscriptions`` (the wanted-subscription state machine) and ``sessions`` (each venue's
pre-connect bootstrap: listenKeys, tokens, signatures).
"""
