"""AsterCodec.decode over every recorded Aster stream payload, with values checked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpwire.market.events import (
    BBO,
    BalanceUpdate,
    BookDelta,
    FundingRate,
    LazyBookSnapshot,
    Liquidation,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    SessionExpired,
    Side,
    Subscribed,
    Trade,
    VenueRejected,
)
from perpwire.venues.aster.codec import AsterCodec
from perpwire.venues.base import Channel, Subscription
from tests.conftest import FIXTURES_DIR, fixture_loader

FIX = FIXTURES_DIR / "aster"


load = fixture_loader("aster")


LIVE_BBO = BBO(
    venue="aster", symbol="BTCUSDT", bid_price=Decimal("122231.0"), bid_size=Decimal("216.922"),
    ask_price=Decimal("122231.1"), ask_size=Decimal("64.312"), ts=1759572306716, seq=183508045590,
)


@pytest.mark.parametrize("name", ["bookTicker.json", "combined_bookTicker.json"])
def test_decode_book_ticker_raw_or_combined_gives_same_bbo(name):
    assert AsterCodec().decode(load(name)) == [LIVE_BBO]


def test_decode_book_ticker_docs_gives_bbo():
    (bbo,) = AsterCodec().decode(load("bookTicker_docs.json"))
    assert (bbo.symbol, bbo.bid_price, bbo.ask_price, bbo.seq) == (
        "BNBUSDT", Decimal("25.35190000"), Decimal("25.36520000"), 400900217)


def test_decode_live_diff_depth_gives_delta_with_zero_sizes_kept():
    (d,) = AsterCodec().decode(load("depthUpdate.json"))
    assert isinstance(d, BookDelta)
    assert (d.symbol, d.first_seq, d.seq, d.prev_seq, d.ts) == (
        "ETHUSDT", 183522157812, 183522159625, 183522154799, 1759573242499)
    assert d.bids[2] == ("4497.00", "0.000") and d.asks[0] == ("4497.00", "774.371") and len(d.asks) == 4


def test_decode_diff_depth_docs_gives_delta():
    (d,) = AsterCodec().decode(load("depthUpdate_docs.json"))
    assert (d.first_seq, d.seq, d.prev_seq) == (157, 160, 149)
    assert (d.bids, d.asks) == ((("0.0024", "10"),), (("0.0026", "100"),))


def test_decode_depth20_on_raw_book_connection_is_lazy_and_materializes():
    codec = AsterCodec(combined=False)
    assert codec.url("market", subs=[Subscription(Channel.BOOK, "BTCUSDT")]) == (
        "wss://fstream.asterdex.com/ws/btcusdt@depth20@100ms"
    )
    (lazy,) = codec.decode(load("depth20.json"))
    assert isinstance(lazy, LazyBookSnapshot) and lazy.symbol == "BTCUSDT"
    book = codec.book("BTCUSDT")
    book.apply(lazy)
    view = book.view(levels=1)
    # the docs example lists bids worst first; the book sorts them
    assert view.bids == ((Decimal("7405.43"), Decimal("2.562")),)
    assert view.asks == ((Decimal("7405.96"), Decimal("3.340")),)
    assert (view.seq, view.ts, view.state) == (390497878, 1571889248277, "SYNCED")


def test_decode_combined_depth20_is_lazy():
    frame = b'{"stream":"btcusdt@depth20@100ms","data":' + load("depth20.json") + b"}"
    codec = AsterCodec()
    (lazy,) = codec.decode(frame)
    snap = codec.materialize(lazy)
    assert (snap.venue, snap.symbol, snap.seq) == ("aster", "BTCUSDT", 390497878)
    assert snap.asks[-1] == ("7407.20", "0.175")


def test_decode_live_mark_price_rate_per_hour_by_hand():
    (f,) = AsterCodec().decode(load("markPriceUpdate.json"))
    assert isinstance(f, FundingRate)
    # r = 0.00010000 per 8 h interval: 0.0001 / 8 = 0.0000125 per hour
    assert (f.rate, f.interval_hours, f.rate_per_hour) == (Decimal("0.00010000"), 8, Decimal("0.0000125"))
    assert (f.mark_price, f.index_price, f.next_funding_ts, f.ts) == (
        Decimal("121740.47017397"), Decimal("121754.39043484"), 1759564800000, 1759543094000)


def test_decode_mark_price_after_funding_info_uses_4h_interval():
    codec = AsterCodec()
    codec.decode_funding_info(load("rest_fundingInfo.json"))
    frame = load("markPriceUpdate.json").replace(b"BTCUSDT", b"ZORAUSDT")
    (f,) = codec.decode(frame)
    assert (f.interval_hours, f.rate_per_hour) == (4, Decimal("0.000025"))


def test_decode_mark_price_docs_and_array():
    (single,) = AsterCodec().decode(load("markPriceUpdate_docs.json"))
    assert single.rate == Decimal("0.00038167") and single.mark_price == Decimal("11794.15000000")
    (item,) = AsterCodec().decode(load("markPrice_arr.json"))
    assert (item.symbol, item.rate_per_hour) == ("BTCUSDT", Decimal("0.0000375"))


@pytest.mark.parametrize("name", ["forceOrder.json", "forceOrder_arr.json"])
def test_decode_force_order_gives_liquidation(name):
    assert AsterCodec().decode(load(name)) == [Liquidation(
        venue="aster", symbol="BTCUSDT", side=Side.SELL, price=Decimal("9910"), size=Decimal("0.014"),
        ts=1568014460893,
    )]


def test_decode_live_agg_trade_gives_taker_sell():
    assert AsterCodec().decode(load("aggTrade.json")) == [Trade(
        venue="aster", symbol="BTCUSDT", side=Side.SELL, price=Decimal("122056.3"), size=Decimal("0.050"),
        trade_id="37632973", ts=1759537956702,
    )]


def test_decode_ticker_is_counted_as_unknown():
    codec = AsterCodec()
    assert codec.decode(load("ticker24hr.json")) == []
    assert codec.stats.unknown == {"24hrTicker": 1}


def test_decode_order_trade_update_docs():
    (o,) = AsterCodec().decode(load("ORDER_TRADE_UPDATE.json"))
    assert isinstance(o, OrderUpdate)
    assert (o.symbol, o.order_id, o.client_order_id, o.side, o.status) == (
        "BTCUSDT", "8886774", "TEST", Side.SELL, OrderStatus.NEW)
    assert (o.price, o.size, o.order_type, o.ts) == (None, Decimal("0.001"), "TRAILING_STOP_MARKET", 1568879465651)


def test_decode_account_update_docs_gives_balances_and_hedge_positions():
    events = AsterCodec().decode(load("ACCOUNT_UPDATE.json"))
    assert [type(e) for e in events] == [BalanceUpdate] * 2 + [PositionUpdate] * 3
    assert events[1] == BalanceUpdate(venue="aster", asset="BUSD", balance=Decimal("1.00000000"), reason="ORDER",
                                      ts=1564745798939)
    assert [(p.size, p.entry_price) for p in events[2:]] == [
        (Decimal("0"), Decimal("0")), (Decimal("20"), Decimal("6563.66500")), (Decimal("-10"), Decimal("6563.86000"))]


def test_decode_margin_call_gives_position_with_mark():
    assert AsterCodec().decode(load("MARGIN_CALL.json")) == [PositionUpdate(
        venue="aster", symbol="ETHUSDT", size=Decimal("1.327"), mark_price=Decimal("187.17127"),
        unrealized_pnl=Decimal("-1.166074"), ts=1587727187525,
    )]


def test_decode_listen_key_expired_numeric_time():
    assert AsterCodec().decode(load("listenKeyExpired.json")) == [
        SessionExpired(venue="aster", reason="listenKeyExpired", ts=1576653824250)
    ]


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [("ws_error_invalid_request_id.json", "2", "Invalid request: request ID must be an unsigned integer"),
     ("rest_error.json", "-1121", "Invalid symbol.")],
)
def test_decode_error_frame_gives_venue_rejected(name, code, message):
    assert AsterCodec().decode(load(name)) == [VenueRejected(venue="aster", code=code, message=message)]


def test_decode_list_subscriptions_reply():
    assert AsterCodec().decode(load("list_subscriptions_response.json")) == [
        Subscribed(venue="aster", channels=("btcusdt@aggTrade",), request_id="3")
    ]
