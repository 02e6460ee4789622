"""The streaming API for user code: ``perpwire.adapter(venue)`` and ``StreamManager``.

``adapter`` gives one shape for every venue (connect, subscribe, stream, disconnect) over the
same connections the stream actors use, in-process on one asyncio loop or backed by Ray stream
actors; ``docs/streaming.md`` is the guide.
"""
