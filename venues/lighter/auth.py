"""Lighter auth tokens: what a token says about itself, whether it can be used, when to renew it.

A signed token is ``{expiry_unix}:{account_index}:{api_key_index}:{random_hex}`` (made by the
venue's native signer, valid at most 8 h ahead: a longer one is refused at use with ``20013
invalid auth: invalid deadline``). A read-only token is ``ro:{account_index}:{single|all}:
{expiry_unix}:{random_hex}`` (1 day to 10 years, made once through the venue). The session that
keeps account channels authorised parses a token with ``parse_token``, refuses it early with
``token_problem`` and schedules its renewal with ``renew_after_s``. No message here ever holds
the token itself.
"""

from __future__ import annotations

import msgspec

MAX_SIGNED_LIFETIME_S = 8 * 3600  # the venue refuses signed tokens that expire further ahead
RENEW_LEAD_S = 15 * 60.0  # renew this long before expiry
MIN_LIFETIME_FRACTION = 0.5  # ... but a short token is used for at least this part of its life


class TokenInfo(msgspec.Struct, frozen=True):
    """The public part of a token: whose it is and until when it is good."""

    expiry_s: int  # unix seconds
    account_index: int
    api_key_index: int | None  # None for a read-only token
    read_only: bool = False


def parse_token(token: str) -> TokenInfo:
    """The expiry, account and key of a token; ``ValueError`` (without the token) when malformed."""
    parts = token.strip().split(":")
    try:
        if parts[0] == "ro" and len(parts) == 5 and parts[2] in ("single", "all"):
            return TokenInfo(expiry_s=int(parts[3]), account_index=int(parts[1]), api_key_index=None,
                             read_only=True)
        if len(parts) == 4 and parts[3]:
            return TokenInfo(expiry_s=int(parts[0]), account_index=int(parts[1]), api_key_index=int(parts[2]))
    except ValueError:
        pass
    raise ValueError("not a Lighter auth token ({expiry}:{account}:{key}:{hex} or ro:{account}:{scope}:{expiry}:{hex})")


def token_problem(info: TokenInfo, now_s: float, account_index: int | None) -> str | None:
    """Why the venue would refuse this token now (None when it would take it)."""
    if account_index is not None and info.account_index != account_index:
        return f"token is for account {info.account_index}, not {account_index}"
    left = info.expiry_s - now_s
    if left <= 0:
        return f"token expired {-left:.0f} s ago"
    if not info.read_only and left > MAX_SIGNED_LIFETIME_S:
        return f"token expires in {left / 3600:.1f} h, more than the venue's 8 h"
    return None


def renew_after_s(info: TokenInfo, now_s: float, lead_s: float = RENEW_LEAD_S,
                  min_fraction: float = MIN_LIFETIME_FRACTION) -> float:
    """Seconds from ``now_s`` until the token should be replaced: ``lead_s`` before expiry, but
    not before ``min_fraction`` of its remaining life has passed (a 4 s token renews after 2 s)."""
    left = max(0.0, info.expiry_s - now_s)
    return max(left - lead_s, left * min_fraction)
