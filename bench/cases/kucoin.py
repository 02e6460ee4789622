"""KuCoin Futures benchmark cases: one per book and funding message kind.

``level2Depth50`` pushes carry 50 levels a side; KuCoin's published example (the fixture) was cut
to 2, so the targeted case widens it to the real 50 (same fields and number types) and the
fixture as recorded runs beside it without a target.
"""

from __future__ import annotations

import json

from harness import Case, fixture

SYMBOL = "XBTUSDTM"


def _depth50_full() -> bytes:
    frame = json.loads(fixture("kucoin", "level2Depth50.json"))
    data = frame["data"]
    data["bids"] = [[f"{89778.6 - i / 10:.1f}", 1534 + 7 * i] for i in range(50)]
    data["asks"] = [[f"{89778.7 + i / 10:.1f}", 854 + 5 * i] for i in range(50)]
    return json.dumps(frame, separators=(",", ":")).encode()


def cases() -> list[Case]:
    return [
        Case(
            venue="kucoin",
            kind="level2 increment",
            apply=True,
            symbol=SYMBOL,
            target=3,
            frames=[fixture("kucoin", "level2_increment.json"), fixture("kucoin", "level2_increment_sdk.json")],
            # the recorded snapshot is XBTUSDCM's; decode_snapshot names it after the case's symbol
            snapshot=fixture("kucoin", "rest_level2_snapshot.json"),
        ),
        Case(venue="kucoin", kind="level2Depth50 (50 levels, lazy)", apply=True, target=15, frames=[_depth50_full()]),
        Case(
            venue="kucoin",
            kind="level2Depth50 (fixture, 2 levels, lazy)",
            apply=True,
            frames=[fixture("kucoin", "level2Depth50.json")],
        ),
        Case(venue="kucoin", kind="tickerV2", target=3, frames=[fixture("kucoin", "tickerV2.json")]),
        Case(
            venue="kucoin",
            kind="instrument funding.rate",
            frames=[fixture("kucoin", "instrument_funding_rate.json")],
            target=8,
        ),
        Case(
            venue="kucoin",
            kind="instrument mark.index.price",
            frames=[fixture("kucoin", "instrument_mark_index_price.json")],
            target=8,
        ),
        Case(venue="kucoin", kind="announcement funding.begin", frames=[fixture("kucoin", "funding_begin.json")]),
    ]
