"""The exception tree of perpwire, split by who is to blame.

::

    PerpwireError
     ├── PeerError                 the venue (or a file) sent something wrong
     │    ├── DecodeError          a frame or body could not be read: venue + first bytes
     │    └── VenueError           the venue answered with an error (code, message)
     │         └── RateLimited     HTTP 429 / 418 with the venue's Retry-After
     └── UsageError                we asked for something the venue cannot do
          ├── SubscriptionError    a stream/URL that the venue would reject or silently drop
          ├── BookError            an order-book operation that breaks its invariants
          └── ConfigError          invalid configuration (names the field)

Codecs raise only ``DecodeError`` from ``decode``; venue error frames come back as
``market.events.VenueRejected`` events instead, because the connection stays usable.
Exception text never contains credentials: callers pass venue, stream and symbol, never keys.
"""

from __future__ import annotations

_PREVIEW = 80


class PerpwireError(Exception):
    """Root of every error perpwire raises on purpose."""


class PeerError(PerpwireError):
    """The other side (venue, simulator, recorded file) sent something we cannot accept."""


def _preview(data: bytes | str | memoryview | None) -> str:
    if data is None:
        return ""
    if isinstance(data, memoryview):
        data = bytes(data)
    if isinstance(data, bytes):
        data = data[:_PREVIEW].decode("utf-8", "replace")
    else:
        data = data[:_PREVIEW]
    return data


class DecodeError(PeerError):
    """A frame or REST body could not be decoded.

    ``venue`` names the codec, ``head`` holds the first bytes of the frame (for the log line),
    ``reason`` is what the decoder said. The caller should count it, skip the frame and go on.
    """

    def __init__(self, venue: str, reason: str, frame: bytes | str | memoryview | None = None):
        self.venue = venue
        self.reason = reason
        self.head = _preview(frame)
        super().__init__(f"{venue}: cannot decode frame ({reason}): {self.head!r}")


class VenueError(PeerError):
    """The venue answered a request with an error code and message."""

    def __init__(self, venue: str, code: int | str | None, message: str, *, status: int | None = None):
        self.venue = venue
        self.code = code
        self.message = message
        self.status = status
        where = f" HTTP {status}" if status is not None else ""
        super().__init__(f"{venue}:{where} error {code}: {message}")


class RateLimited(VenueError):
    """HTTP 429 (slow down) or 418 (banned): wait ``retry_after_s`` seconds before retrying."""

    def __init__(self, venue: str, status: int, retry_after_s: float | None, message: str = ""):
        self.retry_after_s = retry_after_s
        super().__init__(venue, status, message or "rate limited", status=status)


class UsageError(PerpwireError):
    """We asked for something that cannot work; fix the caller or the configuration."""


class SubscriptionError(UsageError):
    """A subscription or URL the venue would reject, ignore, or answer by closing the socket."""


class BookError(UsageError):
    """An order-book operation that would break the book's invariants."""


class ConfigError(UsageError):
    """Configuration is invalid; the message names the field (and the file when there is one)."""
