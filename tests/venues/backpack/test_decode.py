"""Backpack WebSocket decoding against the recorded frames (tests/fixtures/backpack, SOURCES.md)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from perpwire import venues
from perpwire.market.errors import DecodeError
from perpwire.market.events import (
    BBO,
    BookDelta,
    Fill,
    FundingRate,
    Liquidation,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    Side,
    Trade,
    VenueRejected,
)
from tests.venues.backpack.helpers import fx, fx_json, wrap

D = Decimal


@pytest.fixture
def codec():
    return venues.codec("backpack")


def test_decode_live_depth_frame_is_a_one_id_delta(codec):
    [d] = codec.decode(fx("depth.json"))
    assert isinstance(d, BookDelta) and d.symbol == "BTC_USDC_PERP"
    assert (d.first_seq, d.seq, d.prev_seq) == (6730019258, 6730019258, 6730019257)
    assert d.bids == (("86655.9", "1.94230"),) and d.asks == () and d.ts == 1790134357267
    assert (codec.stats.frames, codec.stats.events) == (1, 1)


def test_decode_depth_window_frame_keeps_exact_text_and_wire_order(codec):
    [d] = codec.decode(fx("depth_200ms.json"))
    assert (d.symbol, d.first_seq, d.seq, d.prev_seq) == ("ETH_USDC_PERP", 7501116422, 7501116464, 7501116421)
    # levels pass through as sent (the book sorts): the zero size deletes 2755.33
    assert d.bids == (("2754.43", "45.0537"), ("2755.33", "0.0000"), ("2763.10", "0.1579"))
    assert d.asks[0] == ("2766.95", "6.9498") and len(d.asks) == 3 and d.ts == 1790134357903


def test_decode_depth_level_delete_of_an_equity_perp(codec):
    [d] = codec.decode(fx("depth_level_delete.json"))
    assert (d.symbol, d.bids, d.asks, d.seq) == ("AAPL.US_USDC_PERP", (("340.32", "0.00"),), (), 6789929)


def test_decode_depth_with_string_times_and_no_wrapper(codec):
    [d] = codec.decode(fx("depth_string_timestamps.json"))
    assert (d.symbol, d.ts, d.first_seq, d.bids) == ("BTC_USDC_PERP", 1759338824897, 1662976171,
                                                     (("117357.0", "0.00000"),))


def test_decode_depth_with_empty_sides_is_still_a_link_of_the_chain(codec):
    [d] = codec.decode(fx("depth_empty_levels.json"))
    assert (d.symbol, d.bids, d.asks, d.seq, d.ts) == ("ETH_USDC", (), (), 1345937436, 1754903057555)


def test_decode_depth_docs_example(codec):
    [d] = codec.decode(fx("depth_docs.json"))
    assert (d.symbol, d.seq, d.ts) == ("SOL_USDC", 94978271, 1694687965941)
    assert d.bids == (("18.67", "0.832"), ("18.68", "0.000")) and d.asks == (("18.70", "0.000"),)


def test_decode_book_ticker_live_has_depth_update_id(codec):
    [b] = codec.decode(fx("bookTicker.json"))
    assert isinstance(b, BBO) and b.symbol == "BTC_USDC_PERP"
    assert (b.bid_price, b.bid_size, b.ask_price, b.ask_size) == (D("86655.9"), D("1.94230"), D("86656.0"),
                                                                  D("2.01178"))
    # the same instant's depth frame (depth.json) ends at this id
    assert (b.seq, b.ts) == (6730019258, 1790134357267)


def test_decode_book_ticker_with_string_times(codec):
    [b] = codec.decode(fx("bookTicker_ccxt.json"))
    assert (b.symbol, b.bid_price, b.ask_size, b.seq, b.ts) == ("ETH_USDC", D("3667.49"), D("0.4087"), 1328288557,
                                                                1754517402450)


def test_decode_mark_price_rate_per_hour_by_hand(codec):
    [f] = codec.decode(fx("markPrice.json"))
    assert isinstance(f, FundingRate) and f.symbol == "AAPL.US_USDC_PERP" and not f.settled
    # hourly funding (default since 2025-08-20): 0.00000625 per 1 h interval = 0.00000625 per hour
    assert (f.rate, f.interval_hours, f.rate_per_hour) == (D("0.00000625"), 1, D("0.00000625"))
    assert (f.mark_price, f.index_price) == (D("340.43"), D("340.52"))
    assert (f.next_funding_ts, f.ts) == (1790136000000, 1790134357847)


def test_decode_mark_price_uses_the_interval_learned_from_markets(codec):
    codec.decode_instruments(fx("rest_markets_2025_01.json"))  # SOL_USDC_PERP: "28800000" ms = 8 h
    frame = fx_json("markPrice_docs.json") | {"s": "SOL_USDC_PERP"}
    [f] = codec.decode(wrap("markPrice.SOL_USDC_PERP", frame))
    # 1.70 per 8 h interval (the docs' placeholder figure) = 0.2125 per hour
    assert (f.interval_hours, f.rate, f.rate_per_hour) == (8, D("1.70"), D("0.2125"))
    assert (f.next_funding_ts, f.ts) == (1694687965941, 1694687965941)


def test_decode_mark_price_docs_example_without_wrapper(codec):
    [f] = codec.decode(fx("markPrice_docs.json"))
    assert (f.symbol, f.interval_hours, f.mark_price, f.index_price) == ("SOL_USDC", 1, D("18.70"), D("19.70"))


def test_decode_trade_buyer_not_maker_is_a_taker_buy(codec):
    [t] = codec.decode(fx("trade.json"))
    assert isinstance(t, Trade) and t.symbol == "ETH_USDC_PERP"
    assert (t.side, t.price, t.size, t.trade_id, t.ts) == (Side.BUY, D("3870.25"), D("0.0008"), "10782547",
                                                           1754601477746)


def test_decode_trade_buyer_maker_is_a_taker_sell(codec):
    frame = fx_json("trade.json")
    frame["data"]["m"] = True
    [t] = codec.decode(json.dumps(frame))
    assert t.side is Side.SELL


def test_decode_liquidation_docs_example(codec):
    [liq] = codec.decode(fx("liquidation_docs.json"))
    assert isinstance(liq, Liquidation)
    assert (liq.symbol, liq.side, liq.price, liq.size, liq.ts) == ("SOL_USDC", Side.BUY, D("18.70"), D(10),
                                                                   1694688638091)


def test_decode_order_accepted_is_a_new_order_update(codec):
    [o] = codec.decode(fx("account_orderUpdate_accepted.json"))
    assert isinstance(o, OrderUpdate)
    assert (o.symbol, o.order_id, o.side, o.status, o.order_type) == ("ETH_USDC", "5406825793", Side.BUY,
                                                                      OrderStatus.NEW, "MARKET")
    assert (o.size, o.filled, o.price, o.avg_price, o.ts) == (D("0.0010"), D(0), None, None, 1754939110175)
    assert o.client_order_id is None and o.reduce_only is False


def test_decode_order_fill_is_an_order_update_and_a_fill(codec):
    upd, fill = codec.decode(fx("account_orderUpdate_fill_data.json"))
    assert upd.status is OrderStatus.FILLED and upd.filled == D("0.0010")
    assert upd.avg_price == D("4299.16") and (upd.last_fill_price, upd.last_fill_size) == (D("4299.16"), D("0.0010"))
    assert isinstance(fill, Fill)
    assert (fill.order_id, fill.side, fill.price, fill.size, fill.fee, fill.fee_asset) == (
        "5406825793", Side.BUY, D("4299.16"), D("0.0010"), D("0.000001"), "ETH")
    assert (fill.trade_id, fill.maker, fill.liquidation, fill.ts) == ("2888471", False, False, 1754939110175)


def test_decode_order_fill_from_a_liquidation_is_flagged(codec):
    data = fx_json("account_orderUpdate_fill_data.json") | {"O": "LIQUIDATION_AUTOCLOSE", "c": 42}
    _, fill = codec.decode(wrap("account.orderUpdate", data))
    assert fill.liquidation is True and fill.client_order_id == "42"


def test_decode_order_by_quote_quantity_takes_the_executed_size(codec):
    data = fx_json("account_orderUpdate_fill_data.json")
    del data["q"]
    upd, _ = codec.decode(wrap("account.orderUpdate", data))
    assert upd.size == D("0.0010")


def test_decode_position_opened_capture(codec):
    [p] = codec.decode(fx("account_positionUpdate.json"))
    assert isinstance(p, PositionUpdate)
    assert (p.symbol, p.size, p.entry_price, p.mark_price, p.unrealized_pnl, p.ts) == (
        "ETH_USDC_PERP", D("0.0010"), D("4236.36"), D("4235.88650933"), D("-0.000473"), 1754943862040)


def test_decode_position_docs_example_with_numbers(codec):
    [p] = codec.decode(fx("account_positionUpdate_docs.json"))
    assert (p.symbol, p.size, p.entry_price, p.mark_price, p.unrealized_pnl, p.ts) == (
        "SOL_USDC_PERP", D(5), D(122), D(122), D(0), 1694687692980)


def test_decode_position_snapshot_without_event_type(codec):
    data = fx_json("account_positionUpdate.json")["data"]
    del data["e"]  # the open positions pushed on subscribe carry no e (docs)
    [p] = codec.decode(wrap("account.positionUpdate", data))
    assert (p.symbol, p.size) == ("ETH_USDC_PERP", D("0.0010"))


@pytest.mark.parametrize(("name", "code", "message"), [
    ("error_parse.json", "4002", "Parse error"),
    ("error_invalid_stream.json", "4006", "Invalid stream"),
    ("error_invalid_depth_window.json", "4008", "Invalid depth window"),
])
def test_decode_error_frames_become_venue_rejected(codec, name, code, message):
    [e] = codec.decode(fx(name))
    assert isinstance(e, VenueRejected) and (e.code, e.message) == (code, message)


@pytest.mark.parametrize(("name", "kind"), [("ticker.json", "ticker"), ("openInterest_docs.json", "openInterest")])
def test_decode_streams_without_an_event_are_counted_not_fatal(codec, name, kind):
    assert codec.decode(fx(name)) == []
    assert dict(codec.stats.unknown) == {kind: 1} and codec.stats.errors == 0


def test_decode_data_without_event_type_on_a_public_stream_is_unknown(codec):
    assert codec.decode(wrap("depth.X", {"s": "X"})) == []
    assert codec.stats.unknown["depth"] == 1


def test_decode_known_event_with_a_bad_field_raises_decode_error(codec):
    frame = fx_json("depth.json")
    frame["data"]["U"] = "not a number"
    with pytest.raises(DecodeError, match="backpack"):
        codec.decode(json.dumps(frame))
    assert codec.stats.errors == 1


def test_decode_liquidation_with_unknown_side_raises_decode_error(codec):
    with pytest.raises(DecodeError):
        codec.decode(fx("liquidation_docs.json").replace(b'"Bid"', b'"Long"'))


@pytest.mark.parametrize("hours", [1, 8])
def test_mark_price_inline_event_is_the_one_funding_builds(codec, hours):
    """The funding feed's inline event equals ``_funding``'s (the REST path's), text for text."""
    codec.intervals["AAPL.US_USDC_PERP"] = hours
    [f] = codec.decode(fx("markPrice.json"))
    raw = fx_json("markPrice.json")["data"]
    want = codec._funding(raw["s"], raw["f"], mark_price=D(raw["p"]), index_price=D(raw["i"]),
                          next_funding_ts=raw["n"], ts=raw["E"] // 1000)
    assert f == want and str(f.rate_per_hour) == str(want.rate_per_hour)
