"""Funding-arbitrage decisions: pure functions of opportunities, positions and time."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from perpwire.strategies.base import Close, Leg, Open, PositionView, Strategy
from perpwire.strategies.funding_arb import FundingArbitrage, FundingArbParams
from perpwire.strategies.scanner import Opportunity

D = Decimal
NOW = 1_700_000_000_000


def opp(asset="BTC", net="0.0001", long_z=0.0, short_z=2.5, short_rate="0.00012", short_next=None):
    return Opportunity(
        asset=asset, long_venue="aster", long_symbol=f"{asset}USDT", short_venue="backpack",
        short_symbol=f"{asset}_USDC_PERP", long_rate_per_hour=D("0.00001"), short_rate_per_hour=D(short_rate),
        spread_per_hour=D(net) + D("0.00001"), fees_per_hour=D("0.00001"), net_per_hour=D(net),
        annualised=D(net) * 8760, long_z=long_z, short_z=short_z, short_next_funding_ts=short_next,
    )


def pos(spread="0.00008", opened=NOW - 3600_000, pnl="0", z=2.0, next_funding=None, on_z=True, long_z=0.0):
    return PositionView(id="p1", asset="BTC", long=Leg(venue="aster", symbol="BTCUSDT"),
                        short=Leg(venue="backpack", symbol="BTC_USDC_PERP"), notional=D(1000), opened_ms=opened,
                        entry_spread_per_hour=D("0.0001"), current_spread_per_hour=D(spread), short_z=z, long_z=long_z,
                        price_pnl_fraction=D(pnl), next_funding_ts=next_funding, entered_on_z=on_z)


def test_funding_arb_is_a_strategy():
    assert isinstance(FundingArbitrage(), Strategy)


def test_entry_on_unusual_spread_opens_long_low_short_high():
    [cmd] = FundingArbitrage().decide([opp()], [], NOW)
    assert isinstance(cmd, Open)
    assert (cmd.long.venue, cmd.short.venue, cmd.notional, cmd.leverage) == ("aster", "backpack", D(1000), 3)


def test_entry_refused_below_net_threshold_or_z():
    s = FundingArbitrage()
    assert s.decide([opp(net="0.00001")], [], NOW) == []
    assert s.decide([opp(short_z=1.0)], [], NOW) == []
    assert len(FundingArbitrage({"entry_z": None}).decide([opp(short_z=1.0)], [], NOW)) == 1


def test_entry_refused_when_paying_settlement_is_too_close():
    assert FundingArbitrage().decide([opp(short_next=NOW + 10_000)], [], NOW) == []
    assert len(FundingArbitrage().decide([opp(short_next=NOW + 600_000)], [], NOW)) == 1


def test_entry_respects_max_positions_and_held_assets():
    s = FundingArbitrage({"max_positions": 2})
    cmds = s.decide([opp("BTC", "0.0003"), opp("ETH", "0.0002"), opp("SOL", "0.0001")], [], NOW)
    assert [c.asset for c in cmds] == ["BTC", "ETH"]
    cmds = s.decide([opp("BTC", "0.0003"), opp("ETH", "0.0002")], [pos()], NOW)
    assert [c.asset for c in cmds] == ["ETH"]


@pytest.mark.parametrize(
    ("position", "reason"),
    [
        (pos(spread="0.000005"), "spread converged"),
        (pos(spread="-0.00001"), "spread flipped"),
        (pos(z=0.1), "z reverted"),
        (pos(opened=NOW - 8 * 24 * 3600_000), "max holding time"),
        (pos(pnl="-0.05"), "adverse move -0.0500"),
    ],
)
def test_exit_reasons(position, reason):
    [cmd] = FundingArbitrage().decide([], [position], NOW)
    assert cmd == Close(position_id="p1", reason=reason)


@pytest.mark.parametrize(("long_z", "short_z"), [(None, None), (0.0, None), (None, 0.1)])
def test_z_entered_pair_is_held_not_closed_while_a_z_score_is_unknown(long_z, short_z):
    """A restarted coordinator has no statistics for a while: a missing z is no reason to exit."""
    s = FundingArbitrage()
    assert s.decide([], [pos(z=short_z, long_z=long_z)], NOW) == []
    assert "z-score unknown" in s.holds["p1"]
    assert s.decide([], [pos(z=0.1, long_z=0.0)], NOW) == [Close(position_id="p1", reason="z reverted")]
    assert s.holds == {}


def test_soft_exit_waits_for_imminent_settlement_but_hard_exit_does_not():
    s = FundingArbitrage()
    assert s.decide([], [pos(spread="0.000005", next_funding=NOW + 60_000)], NOW) == []
    [cmd] = s.decide([], [pos(pnl="-0.05", next_funding=NOW + 60_000)], NOW)
    assert cmd.reason.startswith("adverse")


def test_params_validation_names_the_field():
    with pytest.raises(ValidationError, match="exit_spread_per_hour"):
        FundingArbParams(entry_net_per_hour=D("0.00001"), exit_spread_per_hour=D("0.00002"))
    with pytest.raises(ValidationError, match="leverage"):
        FundingArbParams(leverage=0)


@pytest.mark.parametrize(("z", "entry_z", "on_z"), [(2.5, 2.0, True), (2.5, 3.0, False), (3.2, 3.0, True),
                                                    (-3.2, 3.0, True), (None, 2.0, False), (5.0, None, False)])
def test_entered_on_z_is_judged_by_the_strategys_own_entry_z(z, entry_z, on_z):
    from perpwire.strategies.funding_arb import entered_on_z

    assert entered_on_z(opp(short_z=z), entry_z) is on_z
    assert entered_on_z(None, entry_z) is False
