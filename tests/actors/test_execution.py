"""Two-leg execution on paper against stub facades: pre-flight, hedging, unwinding, pausing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpwire.actors.trading.broker import PaperBroker
from perpwire.actors.trading.execution import Executor
from perpwire.actors.trading.facade import DepthAnswer
from perpwire.market.book import OrderBook
from perpwire.market.events import BookSnapshot, Instrument, Side
from perpwire.market.ledger import Ledger
from perpwire.market.sequence import UNCHECKED
from perpwire.strategies.base import Leg, Open

D = Decimal


class StubFacade:
    """Stands in for a VenueFacade: one fixed book per symbol, counts resumes and pauses."""

    def __init__(self, venue, bids, asks):
        self.venue = venue
        self.calls: list[str] = []
        book = OrderBook(venue, "X", UNCHECKED)
        book.apply(BookSnapshot(venue=venue, symbol="X", bids=tuple(bids), asks=tuple(asks), seq=1), recv_ts=1)
        self.view = book.view(100, now_ms=1)

    async def resume_market_data_streams(self, symbol, timeout_s=None):
        self.calls.append(f"resume:{symbol}")
        return []

    async def pause_market_data_streams(self):
        self.calls.append("pause")
        return []

    async def get_order_book_depth(self, symbol, levels=20):
        self.calls.append(f"depth:{symbol}")
        return DepthAnswer(view=self.view, source="ws")


def _setup(long_asks=(("100", "50"),), short_bids=(("101", "50"),), balances=None, instruments=None):
    facades = {
        "a": StubFacade("a", [("99", "50")], list(long_asks)),
        "b": StubFacade("b", list(short_bids), [("102", "50")]),
    }
    broker = PaperBroker(facades, taker_fees={"a": D("0.0005"), "b": D("0.0004")}, balances=balances)
    ledger = Ledger()
    return facades, broker, ledger, Executor(facades, broker, ledger, instruments=instruments or {}, clock=lambda: 5)


def _open(notional="1000", leverage=5):
    return Open(asset="X", long=Leg(venue="a", symbol="X"), short=Leg(venue="b", symbol="X"), notional=D(notional),
                leverage=leverage, reason="test")


async def test_open_resumes_both_places_both_and_pauses_after():
    facades, _, ledger, ex = _setup()
    report = await ex.open(_open(), entry_spread_per_hour=D("0.0001"))
    assert report.ok and report.long_filled == report.short_filled > 0
    for f in facades.values():
        assert f.calls[0] == "resume:X" and f.calls[-1] == "pause"
    [pos] = ledger.open_positions()
    assert pos.long.entry_price == D(100) and pos.short.entry_price == D(101)
    assert pos.fees == pos.long.qty * D(100) * D("0.0005") + pos.short.qty * D(101) * D("0.0004")


async def test_open_rejected_leg_is_unwound_and_no_position_remains():
    facades, broker, ledger, ex = _setup()
    broker.reject_next("b")
    report = await ex.open(_open())
    assert not report.ok and report.long_filled > 0 and report.unwound == report.long_filled
    unwind = broker.orders[-1]
    assert (unwind.venue, unwind.side, unwind.filled) == ("a", Side.SELL, report.long_filled)
    assert ledger.open_positions() == []
    assert facades["a"].calls[-1] == "pause" and facades["b"].calls[-1] == "pause"


async def test_open_partial_fill_hedges_the_smaller_leg():
    _, _, ledger, ex = _setup(short_bids=(("101", "3"), ("100.8", "100")))
    report = await ex.open(_open())
    [pos] = ledger.open_positions()
    assert pos.long.qty == pos.short.qty == D(3)
    assert report.unwound == report.long_filled - D(3)


async def test_open_refused_without_margin_places_nothing():
    _, broker, _, ex = _setup(balances={"a": D(10), "b": D(10)})
    report = await ex.open(_open())
    assert not report.ok and "margin" in report.reason and broker.orders == []


async def test_open_caps_leverage_at_the_lower_venue_limit():
    inst = {("b", "X"): Instrument(venue="b", symbol="X", asset="X", quote="USD", max_leverage=D(2),
                                   step_size=D("0.1"))}
    _, _, ledger, ex = _setup(instruments=inst)
    report = await ex.open(_open(leverage=10))
    assert report.leverage == 2
    assert ledger.open_positions()[0].long.qty == D("9.9")


async def test_open_refused_when_book_too_thin_for_size():
    _, broker, _, ex = _setup(long_asks=(("100", "1"),))
    report = await ex.open(_open())
    assert not report.ok and "liquidity" in report.reason and broker.orders == []


async def test_close_takes_both_legs_back_and_books_pnl():
    _, _, ledger, ex = _setup()
    opened = await ex.open(_open())
    pos = ledger.positions[opened.position_id]
    ledger.settle_funding("b", "X", D("0.001"), D(100))  # the short leg receives
    report = await ex.close(pos, "spread converged")
    assert report.ok and not pos.is_open and pos.close_reason == "spread converged"
    pnl = pos.pnl()
    assert pnl["funding"] == D("0.001") * pos.short.qty * 100
    assert pnl["price"] == (D(99) - D(100)) * pos.long.qty + (D(101) - D(102)) * pos.short.qty
    assert pnl["total"] == pnl["price"] + pnl["funding"] + pnl["fees"]


@pytest.mark.parametrize("rate", [D("0.0001"), D("-0.0002")])
def test_ledger_funding_long_pays_positive_rate(rate):
    ledger = Ledger()
    from perpwire.market.ledger import LegState

    ledger.open(asset="X", long=LegState(venue="a", symbol="X", qty=D(2), entry_price=D(10)),
                short=LegState(venue="b", symbol="X", qty=D(2), entry_price=D(10)), opened_ms=0,
                entry_spread_per_hour=D(0), fees=D(0))
    assert ledger.settle_funding("a", "X", rate, D(10)) == -rate * 20
    assert ledger.settle_funding("b", "X", rate, D(10)) == rate * 20
