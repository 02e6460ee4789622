"""Lighter writes an absent price as ``""``: it is decoded as absent per field, never per frame.

The frames are real captures with one value blanked (``*_derived.json``, see SOURCES.md), so the
ack in the same frame and every other field are checked exactly against the capture.
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from perpwire.market.book import SyncState
from perpwire.market.errors import DecodeError
from perpwire.market.events import BBO, BookDelta, BookSnapshot, FundingRate, OrderUpdate, PositionUpdate, Subscribed
from perpwire.venues.lighter.codec import LighterCodec
from tests.conftest import FIXTURES_DIR, fixture_loader

FIX = FIXTURES_DIR / "lighter"


_raw = fixture_loader("lighter")


def _levels(levels: list[dict]) -> tuple:
    return tuple((lv["price"], lv["size"]) for lv in levels)


def test_one_sided_ticker_keeps_the_ack_and_reports_no_bbo():
    codec = LighterCodec()
    events = codec.decode(_raw("ticker_subscribed_one_sided_derived.json"))
    # a BBO needs both sides: a half quote would be read as a two-sided market
    assert events == [Subscribed(venue="lighter", channels=("ticker/1",))]
    assert codec.stats.errors == 0


def test_two_sided_ticker_after_a_one_sided_one_is_exact():
    codec = LighterCodec()
    codec.decode(_raw("ticker_subscribed_one_sided_derived.json"))
    assert codec.decode(_raw("ticker_update.json")) == [BBO(
        venue="lighter", symbol="1", bid_price=D("63777.2"), bid_size=D("2.49220"), ask_price=D("63777.3"),
        ask_size=D("0.00020"), ts=1785252530836, seq=17926043680)]


def test_market_stats_blank_prices_are_none_and_the_rate_is_exact():
    ack, fr = LighterCodec().decode(_raw("market_stats_subscribed_blank_prices_derived.json"))
    assert ack == Subscribed(venue="lighter", channels=("market_stats/0",))
    # "0.0012" percent per hour, unchanged by the blank prices
    assert fr == FundingRate(venue="lighter", symbol="0", rate=D("0.000012"), interval_hours=1,
                             rate_per_hour=D("0.000012"), mark_price=None, index_price=None,
                             next_funding_ts=1763532000000 + 3_600_000)


def test_market_stats_all_market_without_estimate_is_skipped_others_kept():
    codec = LighterCodec()
    ack, *rates = codec.decode(_raw("market_stats_all_blank_derived.json"))
    assert ack == Subscribed(venue="lighter", channels=("market_stats/all",))
    # market 96 publishes no funding estimate: no FundingRate (an absent rate is not a zero rate)
    assert [(r.symbol, r.rate_per_hour, r.mark_price, r.index_price) for r in rates] == [
        ("0", D("0.000012"), D("3013.91"), D("3015.56"))]
    assert codec.stats.errors == 0


def test_book_snapshot_skips_only_the_blank_levels():
    frame = json.loads(_raw("order_book_snapshot_blank_level_derived.json"))
    ack, snap = LighterCodec().decode(_raw("order_book_snapshot_blank_level_derived.json"))
    assert ack == Subscribed(venue="lighter", channels=("order_book/36",))
    assert isinstance(snap, BookSnapshot)
    bids, asks = frame["order_book"]["bids"], frame["order_book"]["asks"]
    assert snap.bids == _levels(bids[1:]) and snap.asks == _levels(asks[:1] + asks[2:])
    assert len(snap.bids) == len(bids) - 1 and len(snap.asks) == len(asks) - 1
    assert snap.seq == frame["order_book"]["nonce"]


def test_book_delta_blank_level_skipped_chain_intact():
    codec = LighterCodec()
    book = codec.book("36")
    (_, snap) = codec.decode(_raw("order_book_snapshot.json"))
    assert book.apply(snap, 0) is None
    (delta,) = codec.decode(_raw("order_book_update_blank_level_derived.json"))
    assert delta == BookDelta(venue="lighter", symbol="36", bids=(("0.20351", "0.0"), ("0.20308", "0.0"),
                              ("0.20302", "25775.2")), asks=(("0.20421", "0.0"),),
                              first_seq=18032383898, prev_seq=18032383898, seq=18032384006, ts=1785358812058)
    assert book.apply(delta, 1) is None and book.state is SyncState.SYNCED
    # the next real delta still chains on this one's nonce
    (nxt,) = codec.decode(_raw("order_book_update_seq2.json"))
    assert book.apply(nxt, 2) is None and book.seq == 18032384057


def test_account_order_blank_price_is_none_position_blank_entry_is_none():
    order = json.loads(_raw("account_all_orders_snapshot.json"))
    order["orders"]["1"][0]["price"] = ""
    _, upd = LighterCodec().decode(json.dumps(order))
    assert isinstance(upd, OrderUpdate) and upd.price is None
    assert (upd.order_id, upd.size, upd.ts) == ("844424914280027", D("0.00100"), 1785431774184)
    pos = json.loads(_raw("account_all_positions_update.json"))
    pos["positions"]["1"]["avg_entry_price"] = ""
    pos["positions"]["1"]["unrealized_pnl"] = ""
    (p,) = LighterCodec().decode(json.dumps(pos))
    assert p == PositionUpdate(venue="lighter", symbol="1", size=D("0.00000"), entry_price=None, unrealized_pnl=None)


def test_trade_without_price_is_still_a_bad_frame():
    # a print's price is never optional: dropping it silently would misstate fills and positions
    trade = json.loads(_raw("trade_update.json"))
    trade["trades"][0]["price"] = ""
    with pytest.raises(DecodeError):
        LighterCodec().decode(json.dumps(trade))
