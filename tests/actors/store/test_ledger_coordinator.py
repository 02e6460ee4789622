"""The coordinator keeps its ledger in the store: saved after commands and settlements, restored on
attach. The actor class is driven directly (no Ray) with an SQLite store as a plain object."""

from __future__ import annotations

import time
from decimal import Decimal

from perpwire.actors.coordination.coordinator import Coordinator
from perpwire.actors.store.sqlite import SqliteStore
from perpwire.market.events import FundingRate
from perpwire.market.ledger import Closed, FundingPaid, LegState, Opened
from perpwire.strategies.base import Pause

D = Decimal
H = 3_600_000
CoordinatorClass = Coordinator.__ray_actor_class__


def _rate(ts: int, nft: int, rate: str, mark: str) -> FundingRate:
    return FundingRate(venue="aster", symbol="BTCUSDT", rate=D(rate), interval_hours=8, rate_per_hour=D(rate) / 8,
                       mark_price=D(mark), next_funding_ts=nft, ts=ts)


async def _coordinator(store) -> CoordinatorClass:
    c = CoordinatorClass({"gap_check_s": 3600})
    await c.attach({}, store=store)
    return c


async def _shutdown(c) -> None:
    c._maintenance.cancel()
    await c.repair.close()


async def test_coordinator_saves_opens_settlements_and_closes_and_restores_them(tmp_path):
    store = SqliteStore(tmp_path / "ledger.db")
    await store.open()
    first = await _coordinator(store)
    ledger = first.desk.ledger
    pos = ledger.open(asset="BTC", opened_ms=1, entry_spread_per_hour=D("0.00002"), fees=D("1.25"),
                      long=LegState(venue="aster", symbol="BTCUSDT", qty=D("0.01"), entry_price=D("64000.5")),
                      short=LegState(venue="lighter", symbol="1", qty=D("0.01"), entry_price=D("64020")))
    other = ledger.open(asset="BTC", opened_ms=2, entry_spread_per_hour=D("0.00002"), fees=D("1"),
                        long=LegState(venue="aster", symbol="BTCUSDT", qty=D("0.02"), entry_price=D("64001")),
                        short=LegState(venue="lighter", symbol="1", qty=D("0.02"), entry_price=D("64021")))
    await first._execute(Pause(venue="nowhere"), [])  # the executor's opens, saved after the command
    assert [type(e) for e in await store.ledger_journal()] == [Opened, Opened]

    now = int(time.time() * 1000)
    await first.on_funding([_rate(now - 2_000, now - 1_000, "0.0001", "64100")])
    await first.on_funding([_rate(now - 500, now + 8 * H, "0.0002", "64110")])  # the funding time rolled over
    journal = await store.ledger_journal()
    assert [e.amount for e in journal if isinstance(e, FundingPaid)] == [D("-0.064100"), D("-0.128200")]

    ledger.close(pos.id, long_exit=D("64200"), short_exit=D("64150"), fees=D("1.3"), closed_ms=3, reason="done")
    await first._execute(Pause(venue="nowhere"), [])
    assert isinstance((await store.ledger_journal())[-1], Closed)
    await _shutdown(first)  # the actor dies; whatever it had in memory is gone

    second = await _coordinator(store)
    restored = second.desk.ledger
    assert list(restored.positions) == [other.id]  # open positions only
    assert restored.positions[other.id].pnl() == other.pnl()
    assert restored.positions[other.id].payments == 1
    assert restored.track_changes and restored.seq == ledger.seq
    assert restored.open(asset="ETH", opened_ms=4, entry_spread_per_hour=D(0), fees=D(0),
                         long=LegState(venue="aster", symbol="ETHUSDT", qty=D(1), entry_price=D(3000)),
                         short=LegState(venue="lighter", symbol="2", qty=D(1), entry_price=D(3001))).id == "P3"
    await _shutdown(second)
    await store.close()


async def test_coordinator_keeps_unsaved_changes_when_the_store_fails(tmp_path):
    store = SqliteStore(tmp_path / "ledger.db")
    await store.open()
    c = await _coordinator(store)
    real_save = store.save_ledger

    async def failing(changes, now_ms=None):
        raise OSError("disk went away")

    store.save_ledger = failing
    c.desk.ledger.open(asset="BTC", opened_ms=1, entry_spread_per_hour=D(0), fees=D(0),
                       long=LegState(venue="aster", symbol="BTCUSDT", qty=D(1), entry_price=D(1)),
                       short=LegState(venue="lighter", symbol="1", qty=D(1), entry_price=D(1)))
    await c._execute(Pause(venue="nowhere"), [])
    assert c.desk.ledger.pending_changes == 1 and await store.load_positions() == []
    store.save_ledger = real_save
    await c._execute(Pause(venue="nowhere"), [])
    assert [p.id for p in await store.load_positions()] == ["P1"] and c.desk.ledger.pending_changes == 0
    await _shutdown(c)
    await store.close()
