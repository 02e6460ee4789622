"""The strategy contract: views in, commands out — no Ray, no I/O, no clock of its own.

A strategy is a plain object with a ``name`` and ``decide(opportunities, positions, now_ms)``
returning commands. The coordinator runs it (strategies are submitted to it as actor tasks) and
the execution engine carries the commands out: ``Open``/``Close`` come with a pre-flight
(resume both venues' books, check them, place both legs, pause again), ``Resume`` and
``Pause`` let a strategy warm a venue's books ahead of time or let them go.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

import msgspec

from perpwire.strategies.scanner import Opportunity


class Leg(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    symbol: str


class Open(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Open a hedged pair: buy ``long``, sell ``short``, each worth ``notional`` in quote."""

    asset: str
    long: Leg
    short: Leg
    notional: Decimal
    leverage: int
    reason: str
    expected_net_per_hour: Decimal | None = None


class Close(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    position_id: str
    reason: str


class Resume(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    venue: str
    symbol: str


class Pause(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    venue: str


Command = Open | Close | Resume | Pause


class PositionView(msgspec.Struct, frozen=True, kw_only=True):
    """What a strategy knows of one open pair, refreshed by the coordinator on every decision.

    ``current_spread_per_hour`` is short rate − long rate of *these* legs now;
    ``price_pnl_fraction`` the unrealised price PnL of both legs over the notional.
    """

    id: str
    asset: str
    long: Leg
    short: Leg
    notional: Decimal
    opened_ms: int
    entry_spread_per_hour: Decimal
    current_spread_per_hour: Decimal | None = None
    long_z: float | None = None
    short_z: float | None = None
    price_pnl_fraction: Decimal = Decimal(0)
    funding_pnl: Decimal = Decimal(0)
    next_funding_ts: int | None = None  # the earliest settlement of the two legs
    entered_on_z: bool = False


@runtime_checkable
class Strategy(Protocol):
    name: str

    def decide(self, opportunities: Sequence[Opportunity], positions: Sequence[PositionView],
               now_ms: int) -> list[Command]: ...
