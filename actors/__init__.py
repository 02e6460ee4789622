"""The only layer that does I/O: Ray actors, sockets, REST, the store and the application.

Rooms, each a subpackage: ``streams`` (one actor per venue connection), ``trading`` (facade,
execution, brokers, reconciliation), ``coordination`` (the coordinator and funding repair),
``store`` (the funding and ledger store), ``app`` (configuration, runtime, CLI, demo). Shared
plumbing beside them: ``rest`` (the REST client), ``pacing`` (backoff, token buckets, clocks),
``topology`` (which connections a venue gets), ``durable`` (state that outlives a process).
"""
