"""``FeedHealth``: how one stream of an adapter is doing, as a user reads it."""

from __future__ import annotations

import msgspec

__all__ = ["FeedHealth"]


class FeedHealth(msgspec.Struct, frozen=True, kw_only=True):
    """One connection of one adapter: ``connected`` now; ``last_message_age_s`` since its last
    frame (None before the first); ``reconnects``, ``decode_errors`` (frames that did not decode),
    ``validation_failures`` (items flagged by the validator); ``subscribed`` and ``pending``
    subscriptions (sent, no ack yet; venues that never ack, such as Backpack, stay pending);
    ``last_error``: why the last socket ended."""

    venue: str
    stream: str
    connected: bool
    last_message_age_s: float | None
    messages: int
    reconnects: int
    decode_errors: int
    validation_failures: int
    subscribed: int
    pending: int
    last_error: str | None = None


def health_of(conn, validation_failures: int = 0) -> FeedHealth:
    """The FeedHealth of a ``FeedConnection`` (or anything with its ``health()`` and ``counters``)."""
    h = conn.health()
    subs = h.subscriptions
    c = conn.counters
    return FeedHealth(venue=h.venue, stream=h.stream, connected=h.connected, last_message_age_s=h.last_frame_age_s,
                      messages=c["messages"], reconnects=c["reconnects"], decode_errors=c["decode_errors"],
                      validation_failures=validation_failures, subscribed=len(subs.wanted), pending=len(subs.pending),
                      last_error=h.last_error)
