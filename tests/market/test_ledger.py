"""Ledger events: every change is recorded, replay rebuilds exactly, take/requeue/restore keep order."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from perpwire.market.ledger import (
    Closed,
    FeesCharged,
    FundingPaid,
    Ledger,
    LedgerChanges,
    LedgerEvent,
    LegState,
    Marked,
    Opened,
    PairPosition,
    copy_position,
    event_kind,
    position_number,
)

D = Decimal


def _open(ledger: Ledger, asset: str = "BTC", long_symbol: str = "BTCUSDT") -> PairPosition:
    return ledger.open(asset=asset, opened_ms=10, entry_spread_per_hour=D("0.0000125"), fees=D("0.50"),
                       long=LegState(venue="aster", symbol=long_symbol, qty=D("0.010"), entry_price=D("100.0")),
                       short=LegState(venue="backpack", symbol=f"{asset}_USDC_PERP", qty=D("0.010"),
                                      entry_price=D("100.4")))


def test_untracked_ledger_keeps_no_changes():
    ledger = Ledger()
    _open(ledger)
    ledger.mark("aster", "BTCUSDT", D("101"))
    assert ledger.take_changes() is None and ledger.seq == 2


def test_every_kind_of_change_is_recorded_in_order_and_replays_exactly():
    ledger = Ledger(track_changes=True)
    p = _open(ledger)
    ledger.mark("aster", "BTCUSDT", D("101.5"))
    paid = ledger.settle_funding("backpack", "BTC_USDC_PERP", D("0.00012"), D("100.9"))
    ledger.charge_fees(p.id, D("0.0125"))
    ledger.mark("backpack", "BTC_USDC_PERP", D("101.7"))
    ledger.close(p.id, long_exit=D("102"), short_exit=D("101.9"), fees=D("0.51"), closed_ms=99, reason="exit")
    changes = ledger.take_changes()
    assert [event_kind(e) for e in changes.events] == ["open", "mark", "funding", "fees", "mark", "close"]
    assert [e.seq for e in changes.events] == [1, 2, 3, 4, 5, 6] and changes.last_seq == ledger.seq == 6
    assert changes.durable and paid == D("0.000121080")  # the short receives a positive rate
    # the batch holds a copy: changing the live position afterwards does not touch it
    [snapshot] = changes.positions
    p.long.mark_price = D("1")
    assert snapshot.long.mark_price == D("101.5") and snapshot.closed_ms == 99
    # the events survive JSON with their exact digits and rebuild the same position
    wire = msgspec.json.encode(changes.events)
    events = msgspec.json.decode(wire, type=list[LedgerEvent])
    rebuilt = Ledger.replay(reversed(events)).positions[p.id]
    assert msgspec.json.encode(rebuilt) == msgspec.json.encode(snapshot)
    assert rebuilt.pnl() == snapshot.pnl() and str(rebuilt.fees) == "1.0225"
    # price: (102 - 100.0) * 0.010 + (100.4 - 101.9) * 0.010
    assert rebuilt.pnl()["total"] == D("0.005") + D("0.000121080") - D("1.0225")


def test_marks_are_coalesced_per_leg_and_unchanged_marks_are_not_changes():
    ledger = Ledger(track_changes=True)
    _open(ledger)
    ledger.take_changes()
    for px in ("101", "102", "103"):
        ledger.mark("aster", "BTCUSDT", D(px))
    ledger.mark("backpack", "BTC_USDC_PERP", D("99"))
    assert (ledger.pending_marks, ledger.pending_changes) == (2, 0)
    changes = ledger.take_changes()
    assert not changes.durable
    assert [(e.leg, e.price) for e in changes.events] == [("long", D("103")), ("short", D("99"))]
    ledger.mark("aster", "BTCUSDT", D("103"))  # same price: nothing to save
    assert ledger.take_changes() is None


def test_requeue_puts_a_failed_batch_back_before_newer_changes():
    ledger = Ledger(track_changes=True)
    p = _open(ledger)
    ledger.mark("aster", "BTCUSDT", D("101"))
    failed = ledger.take_changes()
    ledger.mark("aster", "BTCUSDT", D("102"))  # newer than the failed batch's mark
    ledger.settle_funding("aster", "BTCUSDT", D("0.0001"), D("102"))
    ledger.requeue(failed)
    again = ledger.take_changes()
    assert [type(e) for e in again.events] == [Opened, Marked, FundingPaid]
    assert again.events[1].price == D("102")
    assert again.positions[0].funding == p.funding == D("-0.00010200")


def test_restore_keeps_ids_and_seqs_ahead_and_keeps_what_memory_holds():
    ledger = Ledger(track_changes=True)
    mine = _open(ledger)
    saved = copy_position(mine)
    saved.fees = D("999")  # an older copy of the same id: memory wins
    other = msgspec.structs.replace(copy_position(mine), id="P7", asset="ETH")
    assert ledger.restore([saved, other], last_seq=40, last_id=9) == 1
    assert ledger.positions["P1"].fees == D("0.50") and ledger.positions["P7"] is not other
    nxt = _open(ledger, "SOL", "SOLUSDT")
    assert nxt.id == "P10"
    assert ledger.take_changes().events[-1].seq == 41


def test_restore_without_counters_uses_the_restored_ids():
    ledger = Ledger()
    ledger.restore([msgspec.structs.replace(copy_position(_open(Ledger())), id="P12")])
    assert _open(ledger).id == "P13"
    assert position_number("P12") == 12 and position_number("X-1") == 0


def test_events_on_unknown_positions_and_legs_fail_loudly():
    ledger = Ledger()
    with pytest.raises(KeyError):
        ledger.apply(FeesCharged(seq=1, position_id="P1", amount=D(1)))
    _open(ledger)
    with pytest.raises(ValueError):
        ledger.apply(Marked(seq=3, position_id="P1", leg="middle", price=D(1)))


def test_changes_batch_kinds():
    closed = Closed(seq=2, position_id="P1", long_exit=D(1), short_exit=D(1), fees=D(0), closed_ms=1, reason="x")
    mark = Marked(seq=1, position_id="P1", leg="long", price=D(1))
    assert LedgerChanges(events=[mark], positions=[]).durable is False
    assert LedgerChanges(events=[closed], positions=[]).durable is True
    assert event_kind(closed) == "close"
