"""Backpack ED25519 signing: the WebSocket subscribe signature and REST request headers.

Pure functions: the caller passes the secret (base64 32-byte seed; a 64-byte keypair is cut to
its seed as ccxt does) and the timestamp. Nothing here logs or echoes a key.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from nacl.signing import SigningKey

DEFAULT_WINDOW_MS = 5000


def signing_key(secret_b64: str) -> SigningKey:
    raw = base64.b64decode(secret_b64)
    if len(raw) not in (32, 64):
        raise ValueError("Backpack secret must be a base64 32-byte ED25519 seed")
    return SigningKey(raw[:32])


def verifying_key_b64(secret_b64: str) -> str:
    return base64.b64encode(bytes(signing_key(secret_b64).verify_key)).decode()


def sign(secret_b64: str, message: str) -> str:
    return base64.b64encode(signing_key(secret_b64).sign(message.encode()).signature).decode()


def subscribe_signature(secret_b64: str, timestamp_ms: int, window_ms: int = DEFAULT_WINDOW_MS) -> list[str]:
    """The ``signature`` array of a private SUBSCRIBE (streams are not part of the message)."""
    message = f"instruction=subscribe&timestamp={timestamp_ms}&window={window_ms}"
    return [verifying_key_b64(secret_b64), sign(secret_b64, message), str(timestamp_ms), str(window_ms)]


def _text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def signing_string(instruction: str, params: Mapping[str, object], timestamp_ms: int,
                   window_ms: int = DEFAULT_WINDOW_MS) -> str:
    """``instruction=<i>&<params sorted by key>&timestamp=<ms>&window=<ms>``."""
    parts = [f"instruction={instruction}", *(f"{k}={_text(v)}" for k, v in sorted(params.items()))]
    parts += [f"timestamp={timestamp_ms}", f"window={window_ms}"]
    return "&".join(parts)


def request_headers(secret_b64: str, instruction: str, params: Mapping[str, object], timestamp_ms: int,
                    window_ms: int = DEFAULT_WINDOW_MS) -> tuple[tuple[str, str], ...]:
    sig = sign(secret_b64, signing_string(instruction, params, timestamp_ms, window_ms))
    return (("X-API-Key", verifying_key_b64(secret_b64)), ("X-Signature", sig),
            ("X-Timestamp", str(timestamp_ms)), ("X-Window", str(window_ms)),
            ("Content-Type", "application/json; charset=utf-8"))
