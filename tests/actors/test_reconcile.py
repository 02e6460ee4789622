"""Reconciliation on paper (no Ray): the paper broker is the venue and its fills live in an SQLite
store, so a "crash" (an exception escaping the executor at a checkpoint) followed by a fresh
executor, broker and ledger on the same store is a restart. Also: unknown outcomes are neither
booked nor unwound, orphan venue positions are adopted or unwound, opens wait for reconciliation,
and the Backpack reconciliation bodies decode."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from perpwire.actors.coordination.coordinator import Coordinator
from perpwire.actors.store.sqlite import SqliteStore
from perpwire.actors.trading.broker import OrderResult, PaperBroker
from perpwire.actors.trading.execution import Executor
from perpwire.actors.trading.reconcile import Reconciler, StoreJournal
from perpwire.market.events import OrderStatus, Side
from perpwire.market.ledger import Ledger, PaperFill
from perpwire.strategies.base import Open
from tests.actors.test_execution import StubFacade, _open
from tests.conftest import FIXTURES_DIR

D = Decimal
FIXTURES = FIXTURES_DIR / "backpack"


class Crash(BaseException):
    """Stands in for the process dying: nothing catches it."""


class Life:
    """One life of the trading side on a shared store: ledger restored, broker, executor, journal."""

    def __init__(self, store):
        self.store = store
        self.facades = {"a": StubFacade("a", [("99", "50")], [("100", "50")]),
                        "b": StubFacade("b", [("101", "50")], [("102", "50")])}
        self.ledger = Ledger(track_changes=True)
        self.broker = PaperBroker(self.facades, taker_fees={"a": D("0.0005"), "b": D("0.0004")},
                                  record=store.record_paper_fill, recorded=store.paper_fills)
        self.journal = StoreJournal(store, self.ledger, asyncio.Lock())
        self.executor = Executor(self.facades, self.broker, self.ledger, clock=lambda: 5, journal=self.journal,
                                 resolve_backoff_s=0.01)

    async def start(self):
        state = await self.store.load_ledger(True)
        self.ledger.restore(state.positions, last_seq=state.last_seq, last_id=state.last_id)
        return await Reconciler(self.executor, self.ledger, self.journal, ["a", "b"], backoff_s=0.01).run()

    def crash_at(self, step):
        def hook(name):
            if name == step:
                raise Crash(step)
        self.executor.fault_hook, self.executor.armed = hook, step

    async def venue(self):
        return {(v, s): p.size for v in ("a", "b") for s, p in (await self.broker.venue_positions(v)).items()}

    def booked(self):
        return {(leg.venue, leg.symbol): sign * leg.qty for p in self.ledger.open_positions()
                for leg, sign in ((p.long, 1), (p.short, -1))}


@pytest.fixture
async def store(tmp_path):
    s = SqliteStore(tmp_path / "r.db")
    await s.open()
    yield s
    await s.close()


@pytest.mark.parametrize("step", ["open.orders", "open.between_legs", "open.filled", "open.book"])
async def test_an_open_killed_at_any_step_is_completed_from_the_paper_venues_record(store, step):
    first = Life(store)
    await first.start()
    first.crash_at(step)
    with pytest.raises(Crash):
        await first.executor.open(_open())
    [left] = await store.load_intents(True)  # journaled before the first order
    assert left.action == "open" and [o.client_id for o in left.orders][:2] == [left.client_id(1), left.client_id(2)]
    second = Life(store)
    report = await second.start()
    assert [i["id"] for i in report.intents] == [left.id] and await store.load_intents(True) == []
    assert second.booked() == {k: v for k, v in (await second.venue()).items() if v}
    if step in ("open.filled", "open.book"):  # both legs filled before the crash: adopted
        [pos] = second.ledger.open_positions()
        assert pos.long.qty == left.size and pos.long.entry_price == D(100) and pos.short.entry_price == D(101)
    else:  # one leg or none: nothing booked, the lone leg taken back reduce-only
        assert second.ledger.open_positions() == []
    fills = await store.paper_fills()
    assert len({f.client_id for f in fills}) == len(fills)  # no order placed twice
    if step == "open.between_legs":
        assert [(f.venue, f.side, f.reduce_only) for f in fills] == [("a", "buy", False), ("a", "sell", True)]


async def test_a_close_killed_before_its_ledger_write_closes_the_position_after_the_restart(store):
    first = Life(store)
    await first.start()
    opened = await first.executor.open(_open())
    first.crash_at("close.book")
    with pytest.raises(Crash):
        await first.executor.close(first.ledger.positions[opened.position_id], "converged")
    second = Life(store)
    await second.start()
    pos = second.ledger.positions[opened.position_id]
    assert not pos.is_open and pos.close_reason == "converged" and await second.venue() == {}


async def test_orphan_positions_are_adopted_when_they_pair_up_and_unwound_otherwise(store):
    for cid, venue, side, qty, px in (("x1", "a", "buy", "1.5", "100"), ("x2", "b", "sell", "1", "101")):
        await store.record_paper_fill(PaperFill(client_id=cid, venue=venue, symbol="X", side=side, status="filled",
                                                requested=D(qty), filled=D(qty), avg_price=D(px), fee=D(0)))
    life = Life(store)
    report = await life.start()
    [pos] = life.ledger.open_positions()
    assert (pos.long.venue, pos.short.venue, pos.long.qty) == ("a", "b", D(1))
    assert sorted(f.action for f in report.findings) == ["adopted", "adopted", "unwound"]
    assert await life.venue() == {("a", "X"): D(1), ("b", "X"): D(-1)} == life.booked()
    restored = Life(store)  # the adoption was saved: a second restart finds nothing to do
    again = await restored.start()
    assert again.findings == [] and len(restored.ledger.open_positions()) == 1


class UnknownLegBroker(PaperBroker):
    """Venue b answers nothing (timeout) and cannot be queried either."""

    async def place(self, venue, symbol, side, size, limit_price, *, reduce_only=False, client_id=None):
        if venue != "b":
            return await super().place(venue, symbol, side, size, limit_price, reduce_only=reduce_only,
                                       client_id=client_id)
        return OrderResult(venue=venue, symbol=symbol, side=side, order_id=client_id, status=OrderStatus.UNKNOWN,
                           requested=size, filled=D(0), avg_price=None, fee=D(0), reason="timeout")

    async def query_order(self, venue, symbol, side, size, client_id):
        if venue == "b":
            raise TimeoutError("venue b does not answer")
        return await super().query_order(venue, symbol, side, size, client_id)


async def test_an_unknown_outcome_is_neither_booked_nor_unwound_and_the_intent_stays_open(store, caplog):
    life = Life(store)
    life.broker = life.executor.broker = UnknownLegBroker(
        life.facades, taker_fees={}, record=store.record_paper_fill, recorded=store.paper_fills)
    report = await life.executor.open(_open())
    assert not report.ok and "left open for reconciliation" in report.reason
    assert life.ledger.open_positions() == [] and [o.side for o in life.broker.orders] == [Side.BUY]  # no unwind
    [left] = await store.load_intents(True)
    assert [o.status for o in left.orders] == ["filled", "unknown"]
    assert any("outcome still unknown after 4 queries" in r.getMessage() for r in caplog.records)


async def test_the_coordinator_refuses_opens_until_reconciled(caplog):
    caplog.set_level(logging.WARNING)
    coord = Coordinator.__ray_actor_class__({"gap_check_s": 3600})
    await coord._execute(Open(asset="X", long=_open().long, short=_open().short, notional=D(1), leverage=1,
                              reason="t"), [])
    assert any("open X refused: the ledger is not reconciled" in r.getMessage() for r in caplog.records)
    assert not await coord.reconciled()


def test_backpack_fill_history_and_positions_decode():
    from perpwire import venues
    codec = venues.codec("backpack")
    [mine, other] = codec.decode_fills((FIXTURES / "rest_fills_constructed.json").read_bytes())
    assert (mine.client_order_id, mine.side, mine.price, mine.size, mine.fee) == (
        "3735928559", Side.BUY, D("2345.70"), D("0.1"), D("0.117285"))
    assert mine.ts == 1790136001123 and other.client_order_id is None and other.maker is True
    [pos] = codec.decode_positions((FIXTURES / "rest_position_constructed.json").read_bytes())
    assert (pos.symbol, pos.size, pos.entry_price) == ("ETH_USDC_PERP", D("-0.5"), D("2345.7"))
