"""BinanceCodec.decode over every recorded Binance stream payload, with values checked."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from perpwire.market.errors import DecodeError
from perpwire.market.events import (
    BBO,
    BalanceUpdate,
    BookDelta,
    Fill,
    FundingRate,
    LazyBookSnapshot,
    Liquidation,
    MarkPrice,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    SessionExpired,
    Side,
    Trade,
    VenueRejected,
)
from perpwire.venues.base import Channel, Subscription
from perpwire.venues.binance.codec import BinanceCodec
from tests.conftest import FIXTURES_DIR, fixture_loader

FIX = FIXTURES_DIR / "binance"


load = fixture_loader("binance")


def one(frame: bytes, codec: BinanceCodec | None = None):
    events = (codec or BinanceCodec()).decode(frame)
    assert len(events) == 1
    return events[0]


def test_decode_combined_book_ticker_gives_bbo_with_update_id():
    bbo = one(load("bookTicker.json"))
    assert bbo == BBO(
        venue="binance", symbol="SUSHIUSDT", bid_price=Decimal("7.6110"), bid_size=Decimal("2"),
        ask_price=Decimal("7.6120"), ask_size=Decimal("297"), ts=1626992741017, seq=600859600576,
    )


def test_decode_raw_book_ticker_ignores_2026_fields():
    docs = one(load("bookTicker_docs.json"))
    assert docs.bid_price == Decimal("25.35190000") and docs.ask_size == Decimal("40.66000000")
    assert docs.seq == 400900217 and docs.ts == 1568014460893
    assert one(load("bookTicker_sdk_post_cm_migration.json")) == docs


def test_decode_combined_diff_depth_gives_delta_with_pu_chain():
    d = one(load("depthUpdate.json"))
    assert isinstance(d, BookDelta)
    assert (d.symbol, d.first_seq, d.seq, d.prev_seq, d.ts) == (
        "SUSHIUSDT", 600859599090, 600859600917, 600859598061, 1626992741037)
    assert d.bids == (("7.5040", "813"), ("7.6090", "0"), ("7.6110", "2"))
    assert d.asks == (("7.6150", "1563"), ("7.6220", "3284"))


def test_decode_raw_diff_depth_docs_gives_delta():
    d = one(load("depthUpdate_docs.json"))
    assert (d.first_seq, d.seq, d.prev_seq) == (157, 160, 149)
    assert d.bids == (("0.0024", "10"),) and d.asks == (("0.0026", "100"),)


def test_decode_raw_depth20_with_book_subscribed_is_lazy_and_materializes_top_levels():
    codec = BinanceCodec(combined=False)
    codec.url("public", subs=[Subscription(Channel.BOOK, "BTCUSDT")])
    lazy = one(load("depth20.json"), codec)
    assert isinstance(lazy, LazyBookSnapshot) and lazy.symbol == "BTCUSDT"
    snap = codec.materialize(lazy)
    assert snap.seq == 390497878 and snap.ts == 1571889248277
    assert snap.bids[0] == ("7403.89", "0.002") and snap.bids[-1] == ("7405.43", "2.562")
    assert snap.asks[0] == ("7405.96", "3.340") and len(snap.asks) == 5


def test_decode_raw_depth20_without_book_subscription_is_a_delta():
    # raw frames carry no stream name; an unsubscribed symbol is taken as the diff stream
    assert isinstance(one(load("depth20.json")), BookDelta)


def test_decode_combined_depth20_is_lazy_with_symbol_from_stream_name():
    frame = b'{"stream":"btcusdt@depth20@100ms","data":' + load("depth20.json") + b"}"
    codec = BinanceCodec()
    lazy = one(frame, codec)
    assert isinstance(lazy, LazyBookSnapshot) and lazy.symbol == "BTCUSDT"
    book = codec.book("BTCUSDT")
    assert book.apply(lazy) is None
    bids, asks = book.top(2)
    assert bids == ((Decimal("7405.43"), Decimal("2.562")), (Decimal("7404.85"), Decimal("5.239")))
    assert asks == ((Decimal("7405.96"), Decimal("3.340")), (Decimal("7406.63"), Decimal("4.525")))
    assert book.seq == 390497878


def test_decode_spaced_combined_depth20_takes_general_path_same_result():
    compact = b'{"stream":"btcusdt@depth20@100ms","data":' + load("depth20.json") + b"}"
    spaced = b'{ "stream": "btcusdt@depth20@100ms", "data": ' + load("depth20.json") + b" }\n"
    codec = BinanceCodec()
    a, b = codec.decode(compact)[0], codec.decode(spaced)[0]
    assert a.symbol == b.symbol == "BTCUSDT"
    assert codec.materialize(a) == codec.materialize(b)


def test_materialize_broken_payload_raises_decode_error():
    lazy = LazyBookSnapshot(venue="binance", symbol="BTCUSDT", payload=b'{"stream":"btcusdt@depth20","data":{"e"')
    with pytest.raises(DecodeError):
        BinanceCodec().materialize(lazy)


def test_materialize_diff_depth_stream_raises_decode_error():
    lazy = LazyBookSnapshot(venue="binance", symbol="SUSHIUSDT", payload=load("depthUpdate.json"))
    with pytest.raises(DecodeError, match="not a partial-depth frame"):
        BinanceCodec().materialize(lazy)


@pytest.mark.parametrize(
    ("name", "rate", "per_hour", "mark", "index", "next_ts"),
    [
        ("markPriceUpdate.json", "0.00005383", "0.00000672875", "95209.55336957", "95252.46195652", 1768665600000),
        ("markPriceUpdate_docs.json", "0.00038167", "0.00004770875", "11794.15000000", "11784.62659091", 1562306400000),
    ],
)
def test_decode_mark_price_gives_funding_per_8h_interval(name, rate, per_hour, mark, index, next_ts):
    f = one(load(name))
    assert isinstance(f, FundingRate)
    assert f.rate == Decimal(rate) and f.interval_hours == 8
    # hand check: 0.00005383 / 8 = 0.00000672875; 0.00038167 / 8 = 0.00004770875
    assert f.rate_per_hour == Decimal(per_hour)
    assert (f.mark_price, f.index_price, f.next_funding_ts) == (Decimal(mark), Decimal(index), next_ts)
    assert f.settled is False


def test_decode_mark_price_uses_learned_interval():
    codec = BinanceCodec(funding_intervals={"BTCUSDT": 4})
    assert one(load("markPriceUpdate.json"), codec).rate_per_hour == Decimal("0.0000134575")


@pytest.mark.parametrize("name", ["markPrice_arr.json", "markPrice_arr_sdk_post_cm_migration.json"])
def test_decode_mark_price_array_gives_one_funding_per_symbol(name):
    (f,) = BinanceCodec().decode(load(name))
    assert (f.symbol, f.rate, f.rate_per_hour) == ("BTCUSDT", Decimal("0.00030000"), Decimal("0.0000375"))
    assert f.mark_price == Decimal("11185.87786614") and f.ts == 1562305380000


def test_decode_mark_price_of_delivery_contract_gives_mark_price_only():
    frame = (b'{"stream":"!markPrice@arr@1s","data":[{"e":"markPriceUpdate","E":1,"s":"BTCUSDT_230331",'
             b'"p":"27000.1","P":"27001","i":"26999.5","r":"","T":0}]}')
    assert BinanceCodec().decode(frame) == [
        MarkPrice(venue="binance", symbol="BTCUSDT_230331", mark_price=Decimal("27000.1"),
                  index_price=Decimal("26999.5"), ts=1)
    ]


@pytest.mark.parametrize(
    "name", ["forceOrder.json", "forceOrder_arr.json", "forceOrder_arr_sdk_post_cm_migration.json"]
)
def test_decode_force_order_gives_liquidation(name):
    assert one(load(name)) == Liquidation(
        venue="binance", symbol="BTCUSDT", side=Side.SELL, price=Decimal("9910"), size=Decimal("0.014"),
        ts=1568014460893,
    )


def test_decode_agg_trade_buyer_maker_is_taker_sell():
    assert one(load("aggTrade.json")) == Trade(
        venue="binance", symbol="BTCUSDT", side=Side.SELL, price=Decimal("95208.60"), size=Decimal("0.020"),
        trade_id="3057600382", ts=1768644497374,
    )


def test_decode_order_trade_update_new_gives_order_only():
    (o,) = BinanceCodec().decode(load("ORDER_TRADE_UPDATE.json"))
    assert isinstance(o, OrderUpdate)
    assert (o.symbol, o.order_id) == ("SOLUSDT", "215456450616")
    assert o.client_order_id == "bot-e0536484551311f1b0c42676a180379c"
    assert (o.side, o.status, o.price, o.size, o.filled) == (
        Side.BUY, OrderStatus.NEW, Decimal("85.67"), Decimal("21.26"), Decimal("0"))
    assert o.avg_price is None and o.last_fill_size is None and o.reduce_only is True
    assert o.ts == 1779367929402 and o.order_type == "LIMIT"


def test_decode_order_trade_update_docs_stop_order_has_no_price():
    (o,) = BinanceCodec().decode(load("ORDER_TRADE_UPDATE_docs.json"))
    assert o.price is None and o.order_type == "TRAILING_STOP_MARKET" and o.side is Side.SELL
    assert o.fee == Decimal("0") and o.fee_asset == "USDT"


def test_decode_order_trade_update_trade_gives_order_and_fill():
    order, fill = BinanceCodec().decode(load("ORDER_TRADE_UPDATE_fill.json"))
    assert order.status is OrderStatus.FILLED and order.avg_price == Decimal("1.15830")
    assert order.last_fill_price == Decimal("1.1583") and order.last_fill_size == Decimal("5")
    assert fill == Fill(
        venue="binance", symbol="XRPUSDT", order_id="17803846427", side=Side.SELL, price=Decimal("1.1583"),
        size=Decimal("5"), fee=Decimal("0.00115829"), fee_asset="USDT", trade_id="673747843",
        client_order_id="-gAC6QMAAQAAYIZV_g4X", liquidation=False, maker=True, ts=1634812374567,
    )


def test_decode_order_trade_update_autoclose_fill_is_liquidation():
    frame = load("ORDER_TRADE_UPDATE_fill.json").replace(b'"c":"-gAC6QMAAQAAYIZV_g4X"', b'"c":"autoclose-1634812374"')
    _, fill = BinanceCodec().decode(frame)
    assert fill.liquidation is True


def test_decode_trade_lite_gives_fill_without_fee():
    assert one(load("TRADE_LITE_docs.json")) == Fill(
        venue="binance", symbol="BTCUSDT", order_id="8886774", side=Side.BUY, price=Decimal("64089.20"),
        size=Decimal("0.040"), trade_id="109100866", client_order_id="z8hcUoOsqEdKMeKPSABslD", maker=False,
        ts=1721895408092,
    )


def test_decode_account_update_gives_balance_and_position():
    assert BinanceCodec().decode(load("ACCOUNT_UPDATE.json")) == [
        BalanceUpdate(venue="binance", asset="USDT", balance=Decimal("21.12168460"), reason="ORDER", ts=1634811213707),
        PositionUpdate(venue="binance", symbol="XRPUSDT", size=Decimal("-5"), entry_price=Decimal("1.15540"),
                       unrealized_pnl=Decimal("0.00100000"), ts=1634811213707),
    ]


def test_decode_account_update_docs_gives_every_balance_and_position():
    events = BinanceCodec().decode(load("ACCOUNT_UPDATE_docs.json"))
    balances = [e for e in events if isinstance(e, BalanceUpdate)]
    positions = [e for e in events if isinstance(e, PositionUpdate)]
    assert [(b.asset, b.balance) for b in balances] == [("USDT", Decimal("122624.12345678")), ("BUSD", Decimal("1"))]
    assert [p.size for p in positions] == [Decimal("0"), Decimal("20"), Decimal("-10")]
    assert positions[2].entry_price == Decimal("6563.86000") and positions[2].unrealized_pnl == Decimal("-1423.15600")


def test_decode_listen_key_expired_string_time_gives_session_expired():
    ev = one(load("listenKeyExpired.json"))
    assert ev == SessionExpired(venue="binance", reason="listenKeyExpired", ts=1736996475556)
    assert "WsCMN0" not in repr(ev)  # the expired key is a credential


@pytest.mark.parametrize(
    ("name", "code", "message", "request_id"),
    [
        ("wsapi_error_invalid_json.json", "-1000", "Invalid JSON request.", None),
        ("wsapi_session_logon_error.json", "-1022", "Signature for this request is not valid.",
         "gYQeAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ],
)
def test_decode_ws_api_error_gives_venue_rejected(name, code, message, request_id):
    assert one(load(name)) == VenueRejected(venue="binance", code=code, message=message, request_id=request_id)


def test_decode_ws_api_success_is_counted_not_an_event():
    codec = BinanceCodec()
    assert codec.decode(load("wsapi_session_logon_response.json")) == []
    assert codec.stats.unknown["ws_api_result"] == 1


def test_decode_unknown_event_is_counted():
    codec = BinanceCodec()
    frame = b'{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1,"s":"BTCUSDT","k":{}}}'
    assert codec.decode(frame) == []
    assert codec.stats.unknown["kline"] == 1 and codec.stats.frames == 1 and codec.stats.errors == 0


def test_decode_known_event_missing_field_raises_decode_error():
    frame = b'{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"BTCUSDT","b":"1"}}'
    codec = BinanceCodec()
    with pytest.raises(DecodeError) as err:
        codec.decode(frame)
    assert err.value.venue == "binance" and codec.stats.errors == 1


def test_decode_unknown_order_status_raises_decode_error():
    frame = load("ORDER_TRADE_UPDATE.json").replace(b'"X":"NEW"', b'"X":"SOMETHING_NEW"')
    with pytest.raises(DecodeError, match="SOMETHING_NEW"):
        BinanceCodec().decode(frame)


def test_decode_counts_frames_and_events():
    codec = BinanceCodec()
    codec.decode(load("ORDER_TRADE_UPDATE_fill.json"))
    codec.decode(load("bookTicker.json"))
    assert (codec.stats.frames, codec.stats.events) == (2, 3)


@pytest.mark.parametrize(
    "name",
    ["bookTicker.json", "depthUpdate.json", "aggTrade.json", "ACCOUNT_UPDATE.json", "ORDER_TRADE_UPDATE_fill.json"],
)
def test_decode_text_frame_general_path_gives_same_events_as_bytes(name):
    # bytes of the venue's compact frames take the one-pass shortcuts, text the general path
    assert BinanceCodec().decode(load(name).decode()) == BinanceCodec().decode(load(name))


def test_decode_compact_raw_array_gives_same_events_as_pretty_one():
    pretty = load("markPrice_arr_sdk_post_cm_migration.json")
    compact = json.dumps(json.loads(pretty), separators=(",", ":")).encode()
    assert compact.startswith(b'[{"e":"')
    assert BinanceCodec().decode(compact) == BinanceCodec().decode(pretty)


def test_decode_text_combined_depth20_is_lazy_and_materializes_like_bytes():
    frame = b'{"stream":"btcusdt@depth20@100ms","data":' + load("depth20.json") + b"}"
    codec = BinanceCodec()
    (text,), (raw,) = codec.decode(frame.decode()), codec.decode(frame)
    assert text.symbol == raw.symbol == "BTCUSDT"
    assert codec.materialize(text) == codec.materialize(raw)


def _mark_frames() -> list[bytes]:
    """Every way a markPrice update arrives: raw and combined, one and the whole-venue array, the
    live fixtures compacted, a delivery contract and a symbol on a learned interval among them."""
    live = json.loads(load("markPriceUpdate.json"))
    docs = json.loads(load("markPriceUpdate_docs.json"))
    delivery = {**live, "s": "BTCUSDT_230331", "r": "", "T": 0}
    four_hours = {**docs, "s": "ETHUSDT"}
    rows = [live, docs, delivery, four_hours]

    def compact(obj) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    return [
        compact(live), compact(rows),
        compact({"stream": "btcusdt@markPrice@1s", "data": live}),
        compact({"stream": "btcusdt@markPrice", "data": docs}),
        compact({"stream": "!markPrice@arr@1s", "data": rows}),
        compact({"stream": "!markPrice@arr", "data": rows}),
    ]


@pytest.mark.parametrize("index", range(6))
def test_funding_fast_path_gives_the_general_paths_events(index):
    """The lean one-pass read of markPrice frames is a shortcut: the same events, Decimal for
    Decimal (value and exponent), as the envelope-then-event path every other frame takes."""
    frame = _mark_frames()[index]
    codec = BinanceCodec(funding_intervals={"ETHUSDT": 4})
    fast = codec.decode(frame)
    general = codec._decode(frame)
    assert fast == general and fast
    assert [tuple(map(str, (e.mark_price, getattr(e, "rate", ""), getattr(e, "rate_per_hour", "")))) for e in fast] \
        == [tuple(map(str, (e.mark_price, getattr(e, "rate", ""), getattr(e, "rate_per_hour", "")))) for e in general]
    assert {type(e).__name__ for e in fast} <= {"FundingRate", "MarkPrice"}


def test_funding_fast_path_leaves_a_broken_update_to_the_general_path():
    """A markPrice update that does not fit (a price as a number) fails as the general path fails:
    one DecodeError naming the venue."""
    frame = b'{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":1,"i":"2",' \
            b'"r":"0.0001","T":5}}'
    with pytest.raises(DecodeError, match="binance"):
        BinanceCodec().decode(frame)
