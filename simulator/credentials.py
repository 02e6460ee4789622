"""API credentials the simulator accepts, and throwaway ones it can mint for demos and tests.

One ``ApiKey`` per venue key: Aster/Binance use ``key`` (the ``X-MBX-APIKEY`` value) and an HMAC
``secret``; Backpack uses ``key`` = the base64 ED25519 verifying key (the client keeps the
signing seed, returned by ``generate`` as ``secret``); Lighter uses ``key`` = the API key index
and ``account`` = the account index (tokens and transactions are checked for format, expiry and
nonce, not for the native Schnorr signature, which no Python library here can verify).
Minted credentials are random per simulator; they are only ever valid against it.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from nacl.signing import SigningKey


@dataclass(frozen=True, slots=True)
class ApiKey:
    venue: str
    key: str
    secret: str = ""
    account: str = ""

    def account_id(self) -> str:
        return self.account or self.key[:12]


def generate(venue: str, account: str | None = None) -> ApiKey:
    """A fresh credential for ``venue`` (secrets drawn from ``secrets``, never logged)."""
    if venue in ("aster", "binance", "bybit", "kucoin"):
        return ApiKey(venue, secrets.token_hex(32), secrets.token_hex(32), account or secrets.token_hex(4))
    if venue == "backpack":
        signing = SigningKey.generate()
        public = base64.b64encode(bytes(signing.verify_key)).decode()
        seed = base64.b64encode(bytes(signing)).decode()
        return ApiKey(venue, public, seed, account or secrets.token_hex(4))
    if venue == "lighter":
        return ApiKey(venue, "3", "", account or str(100_000 + secrets.randbelow(900_000)))
    if venue == "hyperliquid":
        return ApiKey(venue, "0x" + secrets.token_hex(20), "", "")
    raise KeyError(venue)
