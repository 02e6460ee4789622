"""HMAC-SHA256 request signing for Binance USD-M and Aster V1 keys, as pure functions.

``SIGNED`` endpoints take ``timestamp`` (ms, passed in by the caller: codecs never read the
clock) and an optional ``recvWindow``; the signature is the hex HMAC-SHA256 of the exact query
string (or form body) that is sent, keyed with the API secret, and is appended last. The WS-API
(``ws-fapi``) signs its params sorted by name instead. The secret only ever enters ``sign``;
``Credentials`` hides it from ``repr`` so it cannot leak into a log line or an exception.

Aster V3 keys (EIP-712 agent signatures) are a different scheme and are not implemented here.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

Params = tuple[tuple[str, str], ...]

#: Binance's default receive window; the venue accepts at most 60000 ms.
DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60_000


@dataclass(frozen=True)
class Credentials:
    """An API key and its secret. ``repr`` shows neither."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.api_key or not self.secret:
            raise ValueError("api_key and secret must both be set")


def sign(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload`` keyed with ``secret`` (the venue's ``signature``)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def encode(params: Iterable[tuple[str, str]]) -> str:
    """The query string / form body exactly as sent, in the caller's order."""
    return urlencode(list(params))


def signed_params(
    secret: str,
    params: Iterable[tuple[str, str]],
    timestamp_ms: int,
    recv_window_ms: int | None = DEFAULT_RECV_WINDOW_MS,
) -> Params:
    """``params`` + ``recvWindow`` + ``timestamp`` + ``signature``, in that order.

    The signature covers ``encode`` of everything before it, so the I/O layer must send the
    params in this order with this encoding (``signed_body`` does it for a form body).
    """
    out = [(str(k), str(v)) for k, v in params]
    if recv_window_ms is not None:
        if not 0 < recv_window_ms <= MAX_RECV_WINDOW_MS:
            raise ValueError(f"recvWindow must be in 1..{MAX_RECV_WINDOW_MS} ms, got {recv_window_ms}")
        out.append(("recvWindow", str(recv_window_ms)))
    out.append(("timestamp", str(int(timestamp_ms))))
    out.append(("signature", sign(secret, encode(out))))
    return tuple(out)


def signed_body(
    secret: str,
    params: Iterable[tuple[str, str]],
    timestamp_ms: int,
    recv_window_ms: int | None = DEFAULT_RECV_WINDOW_MS,
) -> bytes:
    """``signed_params`` as an ``application/x-www-form-urlencoded`` body.

    Sending signed params in the body (Binance accepts this for POST, PUT and DELETE) keeps the
    HTTP client from re-encoding them and breaking the signature.
    """
    return encode(signed_params(secret, params, timestamp_ms, recv_window_ms)).encode()


def ws_api_signed_params(
    credentials: Credentials,
    params: dict[str, str | int],
    timestamp_ms: int,
    recv_window_ms: int | None = DEFAULT_RECV_WINDOW_MS,
) -> dict[str, str | int]:
    """WS-API params with ``apiKey``, ``timestamp`` and a signature over all of them sorted by name.

    INT params stay JSON ints and DECIMAL params JSON strings, as the WS-API expects.
    """
    out: dict[str, str | int] = {**params, "apiKey": credentials.api_key, "timestamp": int(timestamp_ms)}
    if recv_window_ms is not None:
        out["recvWindow"] = recv_window_ms
    payload = "&".join(f"{k}={out[k]}" for k in sorted(out))
    out["signature"] = sign(credentials.secret, payload)
    return dict(sorted(out.items()))
