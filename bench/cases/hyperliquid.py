"""Hyperliquid bench cases: the l2Book snapshot stream (lazy), activeAssetCtx funding and bbo.

The recorded WebSocket l2Book frames were cut to 3 levels a side by their source; live default
frames carry 20. ``l2Book_20_levels`` wraps the real 20-a-side REST book (rest_l2Book_2023.json)
in the WebSocket envelope, so the figure reflects the frame size the venue actually sends.
"""

from __future__ import annotations

from harness import Case, fixture

VENUE = "hyperliquid"


def _ws_book_from_rest(name: str) -> bytes:
    return b'{"channel":"l2Book","data":' + fixture(VENUE, name).strip() + b"}"


def cases() -> list[Case]:
    books = [fixture(VENUE, "l2Book.json"), fixture(VENUE, "l2Book_kPEPE.json"), fixture(VENUE, "l2Book_hip3.json")]
    return [
        # every l2Book frame is a whole book: decoded lazily and applied (that is its whole handling)
        Case(VENUE, "l2Book", books, apply=True, target=15.0),
        Case(VENUE, "l2Book_20_levels", [_ws_book_from_rest("rest_l2Book_2023.json")], apply=True, target=15.0),
        Case(VENUE, "activeAssetCtx", [fixture(VENUE, "activeAssetCtx.json")], target=8.0),
        Case(VENUE, "bbo", [fixture(VENUE, "bbo.json"), fixture(VENUE, "bbo_captured_kotlin.json")], target=3.0),
    ]
