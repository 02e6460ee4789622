"""The position ledger in the store, on both backends: save, restore, replay, migrate."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from perpwire.actors.store import migrations
from perpwire.actors.store.migrations import LATEST
from perpwire.market.events import FundingRate
from perpwire.market.ledger import Closed, FundingPaid, Ledger, LedgerChanges, LegState, Marked, Opened, PairPosition

D = Decimal


def _legs(asset: str = "BTC", qty: str = "0.1230", long_px: str = "64000.10", short_px: str = "64012.5"):
    return (LegState(venue="aster", symbol=f"{asset}USDT", qty=D(qty), entry_price=D(long_px)),
            LegState(venue="lighter", symbol="1" if asset == "BTC" else "2", qty=D(qty), entry_price=D(short_px)))


def _open(ledger: Ledger, asset: str = "BTC", opened_ms: int = 1_000, **kw) -> PairPosition:
    long, short = _legs(asset, **kw)
    return ledger.open(asset=asset, long=long, short=short, opened_ms=opened_ms,
                       entry_spread_per_hour=D("0.0000125"), fees=D("3.1496049"), entered_on_z=True)


def _trade(ledger: Ledger) -> tuple[PairPosition, PairPosition]:
    """Two pairs with funding on both legs and marks; the first one closed."""
    a = _open(ledger)
    b = _open(ledger, "ETH", opened_ms=2_000, qty="1.50", long_px="3100.01", short_px="3101.2")
    ledger.settle_funding("aster", "BTCUSDT", D("0.00010000"), D("64010.33"))
    ledger.settle_funding("lighter", "1", D("-0.0000375"), D("64011"))
    ledger.settle_funding("lighter", "2", D("0.0000125"), D("3100.5"))
    ledger.mark("aster", "BTCUSDT", D("64100.7"))
    ledger.mark("lighter", "2", D("3099.95"))
    ledger.close(a.id, long_exit=D("64200.25"), short_exit=D("64190"), fees=D("2.85"), closed_ms=9_000,
                 reason="spread closed")
    return a, b


def _exact(p: PairPosition) -> tuple:
    """Every field, Decimals as their strings (Decimal equality would forgive a lost exponent)."""
    return (p.id, p.asset, p.opened_ms, str(p.entry_spread_per_hour), p.entered_on_z, str(p.fees), str(p.funding),
            p.payments, p.closed_ms, p.close_reason,
            *[(leg.venue, leg.symbol, str(leg.qty), str(leg.entry_price), str(leg.mark_price), str(leg.exit_price))
              for leg in (p.long, p.short)],
            {k: str(v) for k, v in p.pnl().items()})


async def test_ledger_round_trip_restores_positions_and_pnl_exactly(make_store):
    ledger = Ledger(track_changes=True)
    writer = make_store()
    await writer.open()
    a, _ = _trade(ledger)
    changes = ledger.take_changes()
    assert changes.durable and ledger.take_changes() is None
    assert await writer.save_ledger(changes, now_ms=10_000) == len(changes.events)
    await writer._disconnect()  # a crash right after the call returned: nothing may be lost

    reader = make_store()
    await reader.open()
    state = await reader.load_ledger()
    assert [_exact(p) for p in state.positions] == [_exact(p) for p in ledger.positions.values()]
    assert (state.last_seq, state.last_id) == (ledger.seq, 2)
    restored = Ledger()
    assert restored.restore(state.positions, last_seq=state.last_seq, last_id=state.last_id) == 2
    assert restored.summary() == ledger.summary()
    assert restored.summary()["payments"] == 3 and restored.summary()["closed"] == 1
    assert [p.id for p in await reader.load_positions(open_only=True)] == ["P2"]
    assert restored.positions[a.id].pnl() == a.pnl()
    # the journal alone rebuilds the same state
    journal = await reader.ledger_journal()
    assert [type(e) for e in journal[:2]] == [Opened, Opened] and isinstance(journal[-1], Closed)
    assert [e.seq for e in journal] == sorted(e.seq for e in journal)
    rebuilt = Ledger.replay(journal)
    assert [_exact(p) for p in rebuilt.positions.values()] == [_exact(p) for p in ledger.positions.values()]
    per_position = await reader.ledger_journal("P1")
    assert {e.position_id for e in per_position} == {"P1"}
    # longs pay a positive rate, shorts pay a negative one; amounts keep every digit
    assert [str(e.amount) for e in per_position if isinstance(e, FundingPaid)] == ["-0.78732705900000",
                                                                                  "-0.29525073750"]
    await reader.close()


async def test_ledger_changes_saved_in_several_batches_and_a_retried_batch(make_store):
    store = make_store()
    await store.open()
    ledger = Ledger(track_changes=True)
    p = _open(ledger)
    first = ledger.take_changes()
    await store.save_ledger(first, now_ms=1)
    ledger.settle_funding("lighter", "1", D("0.0001"), D("64000"))
    ledger.mark("aster", "BTCUSDT", D("64001"))
    ledger.mark("aster", "BTCUSDT", D("64002.5"))  # coalesced: only the newest mark is kept
    second = ledger.take_changes()
    assert [type(e) for e in second.events] == [FundingPaid, Marked]
    assert await store.save_ledger(second, now_ms=2) == 2
    await store.save_ledger(second, now_ms=3)  # an answer lost on the way: saving again adds nothing
    await store.save_ledger(first, now_ms=4)  # and an old batch never takes the position back
    [saved] = await store.load_positions()
    assert _exact(saved) == _exact(p) and saved.payments == 1 and saved.long.mark_price == D("64002.5")
    journal = await store.ledger_journal()
    assert [e.seq for e in journal] == [1, 2, 4]
    assert _exact(Ledger.replay(journal).positions["P1"]) == _exact(p)
    await store.close()


async def test_restored_ledger_continues_ids_and_seqs_after_closed_positions(make_store):
    store = make_store()
    await store.open()
    ledger = Ledger(track_changes=True)
    _trade(ledger)
    await store.save_ledger(ledger.take_changes(), now_ms=1)
    state = await store.load_ledger(open_only=True)
    assert [p.id for p in state.positions] == ["P2"]
    fresh = Ledger(track_changes=True)
    fresh.restore(state.positions, last_seq=state.last_seq, last_id=state.last_id)
    new = _open(fresh, opened_ms=20_000)
    assert new.id == "P3"  # never P1 again, though P1 is closed and was not restored
    await store.save_ledger(fresh.take_changes(), now_ms=2)
    ids = {p.id: p for p in await store.load_positions()}
    assert sorted(ids) == ["P1", "P2", "P3"] and ids["P1"].close_reason == "spread closed"
    assert [(type(e), e.position_id) for e in await store.ledger_journal(since_seq=state.last_seq)] == [(Opened, "P3")]
    assert (await store.ledger_journal())[-1].seq == fresh.seq > state.last_seq
    await store.close()


async def test_empty_store_loads_an_empty_ledger(store):
    state = await store.load_ledger()
    assert (state.positions, state.last_seq, state.last_id) == ([], 0, 0)
    assert await store.ledger_journal() == []


async def test_migration_from_previous_version_keeps_funding_and_adds_ledger(make_store, monkeypatch):
    # the database as the previous release left it: schema version 2 with funding rows
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:2])
        old = make_store(sample_ms=0)
        await old.open()
        assert await old.schema_version() == 2
        await old.record([FundingRate(venue="aster", symbol="BTCUSDT", rate=D("0.0001"), interval_hours=8,
                                      rate_per_hour=D("0.0000125"), next_funding_ts=28_800_000, ts=1_000)])
        await old.close()
    assert LATEST == 4
    new = make_store()
    await new.open()
    assert await new.schema_version() == LATEST
    [kept] = await new.stream("aster", "BTCUSDT")
    assert kept.rate == D("0.0001")
    ledger = Ledger(track_changes=True)
    _trade(ledger)
    await new.save_ledger(ledger.take_changes(), now_ms=5)
    assert len(await new.load_positions()) == 2
    await new.close()


async def test_failed_ledger_write_changes_nothing_and_can_be_requeued(make_store):
    store = make_store()
    await store.open()
    ledger = Ledger(track_changes=True)
    _open(ledger)
    changes = ledger.take_changes()
    ledger.mark("aster", "BTCUSDT", D("64500"))  # newer than anything in the failed batch
    # the journal row goes in first, then the position row breaks NOT NULL: the whole batch rolls back
    broken = msgspec.structs.replace(changes.positions[0], asset=None)
    with pytest.raises(Exception, match=r"(?i)null"):
        await store.save_ledger(LedgerChanges(events=changes.events, positions=[broken]), now_ms=1)
    assert await store.ledger_journal() == [] and await store.load_positions() == []
    ledger.requeue(changes)
    again = ledger.take_changes()
    assert [type(e) for e in again.events] == [Opened, Marked]
    await store.save_ledger(again, now_ms=2)
    [saved] = await store.load_positions()
    assert saved.long.mark_price == D("64500")
    await store.close()


async def test_intents_and_paper_fills_round_trip_with_the_ledger_in_one_transaction(make_store):
    from perpwire.market.ledger import Intent, IntentLeg, IntentOrder, PaperFill

    store = make_store()
    await store.open()
    leg = IntentLeg(venue="aster", symbol="BTCUSDT")
    intent = Intent(id="18c0ffee42a1b2c3", action="open", asset="BTC", long=leg, short=leg, size=D("0.0100"),
                    created_ms=7, rev=1)
    intent = intent.with_order(IntentOrder(client_id=intent.client_id(1), role="long", venue="aster",
                                           symbol="BTCUSDT", side="buy", size=D("0.0100"), limit_price=D("64000.1")))
    await store.save_intent(intent, now_ms=8)
    assert await store.load_intents() == [intent]
    ledger = Ledger(track_changes=True)
    pos = _open(ledger)
    done = msgspec.structs.replace(intent.with_result(intent.client_id(1), status="filled", filled=D("0.0100")),
                                   state="done", position_id=pos.id, rev=2)
    await store.save_intent(done, ledger.take_changes(), now_ms=9)
    await store.save_intent(intent, now_ms=10)  # an older copy arriving late changes nothing
    assert await store.load_intents() == [] and await store.load_intents(open_only=False) == [done]
    assert [p.id for p in await store.load_positions()] == [pos.id]
    fill = PaperFill(client_id=intent.client_id(1), venue="aster", symbol="BTCUSDT", side="sell", status="filled",
                     requested=D("0.0100"), filled=D("0.0100"), avg_price=D("64000.10"), fee=D("0.224"))
    assert await store.record_paper_fill(fill, now_ms=11) and not await store.record_paper_fill(fill, now_ms=12)
    assert await store.paper_fills([fill.client_id]) == [fill]
    assert await store.paper_positions() == {("aster", "BTCUSDT"): D("-0.0100")}
    await store.close()
