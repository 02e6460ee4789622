"""Funding arbitrage: long where funding is low, short where it is high, while the spread pays.

Entry: the best pair of an asset nets at least ``entry_net_per_hour`` after fees and, when
``entry_z`` is set, one leg's rate is that many standard deviations from its 30-day mean (an
unusual spread, likely to pay for a while). Exit: the spread converged below
``exit_spread_per_hour`` or flipped, the z-score reverted below ``exit_z``, the position was held
``max_holding_s``, or prices moved against it by ``max_adverse_move``. Funding times matter both
ways: no entry when the leg that pays us settles too soon to be filled in time, and a soft exit
(convergence, reversion) waits for a settlement that is about to pay us.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from perpwire.strategies.base import Close, Command, Leg, Open, PositionView
from perpwire.strategies.scanner import Opportunity


class FundingArbParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    entry_net_per_hour: Decimal = Field(Decimal("0.00005"), gt=0, description="min net spread, fraction/hour")
    entry_z: float | None = Field(2.0, ge=0, description="min |z| of a leg to enter; None: spread alone")
    notional: Decimal = Field(Decimal("1000"), gt=0, description="per leg, in quote currency")
    max_positions: int = Field(3, ge=1)
    leverage: int = Field(3, ge=1, le=50)
    exit_spread_per_hour: Decimal = Field(Decimal("0.00001"), description="close below this spread")
    exit_z: float | None = Field(0.5, ge=0, description="close when |z| fell below this (z entries only)")
    max_holding_s: float = Field(7 * 24 * 3600, gt=0)
    max_adverse_move: Decimal = Field(Decimal("0.02"), gt=0, description="price loss / notional that closes")
    min_lead_to_funding_s: float = Field(30, ge=0, description="no entry this close to the paying settlement")
    hold_for_funding_s: float = Field(600, ge=0, description="soft exits wait for a settlement this close")

    @model_validator(mode="after")
    def _exit_below_entry(self):
        if self.exit_spread_per_hour >= self.entry_net_per_hour:
            raise ValueError("exit_spread_per_hour must be below entry_net_per_hour")
        return self


def _max_abs(*zs: float | None) -> float:
    return max((abs(z) for z in zs if z is not None), default=0.0)


def entered_on_z(op: Opportunity | None, entry_z: float | None) -> bool:
    """Whether a pair opened on ``op`` was entered on its z-score, judged by the strategy's own
    ``entry_z`` (a pair entered on the spread alone, ``entry_z`` None, is not): its z exit applies."""
    return op is not None and entry_z is not None and _max_abs(op.long_z, op.short_z) >= entry_z


class FundingArbitrage:
    name = "funding_arb"
    params_model = FundingArbParams

    def __init__(self, params: FundingArbParams | dict | None = None):
        self.params = params if isinstance(params, FundingArbParams) else FundingArbParams.model_validate(params or {})
        #: why an exit rule was not judged for a position (missing data): position id -> reason.
        #: The caller logs a change; an entry goes away once the data is back.
        self.holds: dict[str, str] = {}

    def _hold(self, position_id: str, reason: str) -> None:
        self.holds[position_id] = reason

    def decide(self, opportunities: Sequence[Opportunity], positions: Sequence[PositionView],
               now_ms: int) -> list[Command]:
        commands: list[Command] = []
        held = set()
        self.holds = {}
        for pos in positions:
            held.add(pos.asset)
            reason = self.exit_reason(pos, now_ms)
            if reason is not None:
                commands.append(Close(position_id=pos.id, reason=reason))
        slots = self.params.max_positions - len(positions)
        for op in sorted(opportunities, key=lambda o: o.net_per_hour, reverse=True):
            if slots <= 0:
                break
            if op.asset in held or not self.should_enter(op, now_ms):
                continue
            held.add(op.asset)
            slots -= 1
            commands.append(Open(
                asset=op.asset, long=Leg(venue=op.long_venue, symbol=op.long_symbol),
                short=Leg(venue=op.short_venue, symbol=op.short_symbol), notional=self.params.notional,
                leverage=self.params.leverage, expected_net_per_hour=op.net_per_hour,
                reason=f"net {op.net_per_hour:.6f}/h, z {_max_abs(op.long_z, op.short_z):.2f}",
            ))
        return commands

    def should_enter(self, op: Opportunity, now_ms: int) -> bool:
        p = self.params
        if op.net_per_hour < p.entry_net_per_hour:
            return False
        if p.entry_z is not None and _max_abs(op.long_z, op.short_z) < p.entry_z:
            return False
        paying = op.short_next_funding_ts if op.short_rate_per_hour > 0 else op.long_next_funding_ts
        return not (paying is not None and 0 <= paying - now_ms < p.min_lead_to_funding_s * 1000)

    def exit_reason(self, pos: PositionView, now_ms: int) -> str | None:
        p = self.params
        if pos.price_pnl_fraction <= -p.max_adverse_move:
            return f"adverse move {pos.price_pnl_fraction:.4f}"
        if (now_ms - pos.opened_ms) / 1000 >= p.max_holding_s:
            return "max holding time"
        spread = pos.current_spread_per_hour
        if spread is not None and spread < 0:
            return "spread flipped"
        soft = None
        if spread is not None and spread < p.exit_spread_per_hour:
            soft = "spread converged"
        elif pos.entered_on_z and p.exit_z is not None:
            if pos.long_z is None or pos.short_z is None:
                self._hold(pos.id, "z-score unknown (no 30-day statistics yet): the z exit waits for data")
            elif _max_abs(pos.long_z, pos.short_z) < p.exit_z:
                soft = "z reverted"
        if soft is None:
            return None
        lead_ms = None if pos.next_funding_ts is None else pos.next_funding_ts - now_ms
        settles_soon = lead_ms is not None and 0 <= lead_ms <= p.hold_for_funding_s * 1000
        if settles_soon and spread is not None and spread > 0:
            return None  # one more payment is about to land on a still-positive spread
        return soft
