"""Backpack ED25519 signing: the private-stream subscribe signature and signed REST headers.

Pure functions: the caller passes the secret (base64 of the 32-byte ED25519 seed; a 64-byte
seed+public keypair is cut to its seed, as ccxt does) and the timestamp in ms, because codecs never
read the clock. The venue checks that the timestamp lies within ``window`` ms of its own clock
(default 5000, at most 60000), so a signature is only good for that long. The message is
``instruction=<name>&<params sorted by key as k=v>&timestamp=<ms>&window=<ms>``; for a WebSocket
subscribe the instruction is ``subscribe`` and the streams are not part of it. Nothing here logs,
returns or puts into an exception text any part of the secret.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from nacl.signing import SigningKey

DEFAULT_WINDOW_MS = 5000
MAX_WINDOW_MS = 60_000
SUBSCRIBE = "subscribe"


def signing_key(secret_b64: str) -> SigningKey:
    """The ED25519 key of a base64 secret (32-byte seed, or 64-byte seed + public key)."""
    try:
        raw = base64.b64decode(secret_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("Backpack secret is not base64") from None
    if len(raw) not in (32, 64):
        raise ValueError("Backpack secret must be a base64 32-byte ED25519 seed")
    return SigningKey(raw[:32])


def verifying_key_b64(key: SigningKey) -> str:
    """The API key: base64 of the 32-byte public key."""
    return base64.b64encode(bytes(key.verify_key)).decode()


def _check_window(window_ms: int) -> None:
    if not 0 < window_ms <= MAX_WINDOW_MS:
        raise ValueError(f"Backpack window must be in 1..{MAX_WINDOW_MS} ms, got {window_ms}")


def _text(value: object) -> str:
    # JSON booleans are signed the way the venue prints them
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def signing_string(instruction: str, params: Mapping[str, object], timestamp_ms: int,
                   window_ms: int = DEFAULT_WINDOW_MS) -> str:
    """``instruction=<i>&<params sorted by key>&timestamp=<ms>&window=<ms>``."""
    parts = [f"instruction={instruction}", *(f"{k}={_text(v)}" for k, v in sorted(params.items()))]
    parts.append(f"timestamp={int(timestamp_ms)}")
    parts.append(f"window={int(window_ms)}")
    return "&".join(parts)


def sign(key: SigningKey, message: str) -> str:
    """Base64 ED25519 signature of the UTF-8 bytes of ``message``."""
    return base64.b64encode(key.sign(message.encode()).signature).decode()


def subscribe_signature(secret_b64: str, timestamp_ms: int, window_ms: int = DEFAULT_WINDOW_MS) -> list[str]:
    """The ``signature`` array of a private SUBSCRIBE: ``[verifying key, signature, timestamp,
    window]``, all strings, over ``instruction=subscribe&timestamp=<ms>&window=<ms>``."""
    _check_window(window_ms)
    key = signing_key(secret_b64)
    message = signing_string(SUBSCRIBE, {}, timestamp_ms, window_ms)
    return [verifying_key_b64(key), sign(key, message), str(int(timestamp_ms)), str(int(window_ms))]


def request_headers(secret_b64: str, instruction: str, params: Mapping[str, object], timestamp_ms: int,
                    window_ms: int = DEFAULT_WINDOW_MS) -> tuple[tuple[str, str], ...]:
    """Headers of a signed REST request whose body (or query) is ``params``."""
    _check_window(window_ms)
    key = signing_key(secret_b64)
    signature = sign(key, signing_string(instruction, params, timestamp_ms, window_ms))
    return (
        ("X-API-Key", verifying_key_b64(key)),
        ("X-Signature", signature),
        ("X-Timestamp", str(int(timestamp_ms))),
        ("X-Window", str(int(window_ms))),
        ("Content-Type", "application/json; charset=utf-8"),
    )
