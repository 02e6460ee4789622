"""Hyperliquid WebSocket decoding: market channels, control frames and lazy l2Book snapshots."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from perpwire.market.book import SyncState
from perpwire.market.errors import DecodeError
from perpwire.market.events import (
    BBO,
    BookSnapshot,
    Connected,
    FundingRate,
    LazyBookSnapshot,
    MidPrice,
    Pong,
    Side,
    Subscribed,
    Trade,
    Unsubscribed,
    VenueRejected,
)
from perpwire.market.funding import per_hour
from tests.venues.hyperliquid.helpers import codec, fixture, one

D = Decimal


def test_decode_l2book_is_lazy_and_materializes_top_levels():
    c = codec()
    lazy = one(c, "l2Book.json")
    assert isinstance(lazy, LazyBookSnapshot)
    assert lazy.symbol == "BTC"  # the venue time is read with the levels, on materialize
    snap = c.materialize(lazy)
    assert snap.bids == (("84143.0", "10.25923"), ("84142.0", "1.65875"), ("84141.0", "1.12923"))
    assert snap.asks == (("84144.0", "50.66449"), ("84150.0", "0.00711"), ("84151.0", "0.01782"))
    assert (snap.seq, snap.ts) == (1790232236546, 1790232236546)


def test_l2book_in_another_key_order_takes_the_parsed_path():
    """The unparsed shortcut needs channel then coin first; any other order is read in full."""
    frame = msgspec.json.decode(fixture("l2Book.json"))
    data = frame["data"]
    reordered = msgspec.json.encode({"channel": "l2Book", "data": {"time": data["time"], **data}})
    lazy = codec().decode(reordered)[0]
    assert (lazy.symbol, lazy.ts) == ("BTC", 1790232236546)
    assert codec().materialize(lazy).bids[0] == ("84143.0", "10.25923")


def test_l2book_shortcut_leaves_a_broken_book_to_the_read():
    c = codec()
    [lazy] = c.decode(b'{"channel":"l2Book","data":{"coin":"BTC","levels":[[{"px":true}]]}}')
    with pytest.raises(DecodeError):
        c.materialize(lazy)


def test_decode_l2book_applied_to_book_reads_best_levels():
    c = codec()
    book = c.book("BTC")
    book.apply(one(c, "l2Book.json"))
    assert book.state is SyncState.SYNCED
    assert book.best_bid() == (D("84143.0"), D("10.25923"))
    assert book.best_ask() == (D("84144.0"), D("50.66449"))
    assert book.seq == 1790232236546


def test_decode_l2book_next_frame_replaces_whole_book():
    c = codec()
    book = c.book("BTC")
    book.apply(one(c, "l2Book.json"))
    book.apply(one(c, "l2Book_ccxt.json"))
    bids, asks = book.top(None)
    assert bids == ((D("68674.0"), D("0.97139")),)
    assert asks == ((D("68675.0"), D("0.04396")),)


def test_decode_l2book_kpepe_keeps_exact_text_levels():
    snap = codec().materialize(one(codec(), "l2Book_kPEPE.json"))
    assert snap.symbol == "kPEPE"
    assert snap.bids[1] == ("0.00441", "7447326.0")
    assert snap.asks[0] == ("0.004413", "5803647.0")


def test_decode_l2book_hip3_symbol_is_dex_prefixed_coin():
    c = codec()
    snap = c.materialize(one(c, "l2Book_hip3.json"))
    assert snap.symbol == "xyz:SP500"
    assert snap.bids[0] == ("7673.3", "8.066")
    assert snap.asks[-1] == ("7673.7", "3.692")
    assert c.asset(snap.symbol) == "SP500"


def test_decode_l2book_delisted_materializes_empty_book():
    c = codec()
    snap = c.materialize(one(c, "l2Book_delisted_empty.json"))
    assert (snap.symbol, snap.bids, snap.asks) == ("MATIC", (), ())


def test_decode_l2book_eager_option_returns_book_snapshot():
    c = codec(lazy_books=False)
    snap = one(c, "l2Book_ccxt.json")
    assert isinstance(snap, BookSnapshot)
    assert (snap.bids, snap.asks, snap.ts) == ((("68674.0", "0.97139"),), (("68675.0", "0.04396"),), 1710131872708)


def test_decode_l2book_str_frame_keeps_bytes_payload():
    c = codec()
    [lazy] = c.decode(fixture("l2Book.json").decode())
    assert isinstance(lazy.payload, bytes)
    assert c.materialize(lazy).bids[0] == ("84143.0", "10.25923")


def test_materialize_broken_levels_raises_decode_error():
    c = codec()
    bad = LazyBookSnapshot(venue="hyperliquid", symbol="BTC", payload=b'{"channel":"l2Book","data":{"coin":"BTC"}}')
    with pytest.raises(DecodeError):
        c.materialize(bad)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bbo.json", ("84143.0", "10.25923", "84144.0", "50.66422", 1790232237145)),
        ("bbo_captured_kotlin.json", ("63499.0", "7.49207", "63500.0", "5.19048", 1785216157270)),
    ],
)
def test_decode_bbo_reads_both_sides(name, expected):
    ev = one(codec(), name)
    assert isinstance(ev, BBO)
    assert ev.symbol == "BTC"
    assert (ev.bid_price, ev.bid_size, ev.ask_price, ev.ask_size) == tuple(D(x) for x in expected[:4])
    assert ev.ts == expected[4]


def test_decode_bbo_one_sided_is_counted_not_emitted():
    c = codec()
    frame = b'{"channel":"bbo","data":{"coin":"BTC","time":1,"bbo":[null,{"px":"1.0","sz":"2.0","n":1}]}}'
    assert c.decode(frame) == []
    assert c.stats.unknown["bbo:one-sided"] == 1


def test_decode_active_asset_ctx_funding_is_per_hour():
    ev = one(codec(), "activeAssetCtx.json")
    assert isinstance(ev, FundingRate)
    assert ev.symbol == "BTC"
    assert ev.rate == D("0.0000018952")
    assert ev.interval_hours == 1
    # hand calculation: the wire value is already a fraction per hour, so per hour = rate / 1
    assert ev.rate_per_hour == D("0.0000018952") == per_hour(D("0.0000018952"), 1)
    assert (ev.mark_price, ev.index_price) == (D("84148.0"), D("84198.0"))
    assert ev.settled is False


def test_decode_all_mids_skips_spot_keys_by_default():
    events = codec().decode(fixture("allMids.json"))
    assert all(isinstance(e, MidPrice) for e in events)
    assert {e.symbol: e.price for e in events} == {"BTC": D("80868.5"), "ETH": D("2296.45"), "SOL": D("94.8775")}


def test_decode_all_mids_spot_option_keeps_spot_keys():
    events = codec(spot_mids=True).decode(fixture("allMids.json"))
    assert {e.symbol: e.price for e in events}["@142"] == D("80907.5")
    assert {e.symbol for e in events} >= {"PURR/USDC", "@142"}


def test_decode_trades_side_a_is_sell_aggressor():
    ev = one(codec(), "trades.json")
    assert isinstance(ev, Trade)
    assert (ev.symbol, ev.side, ev.price, ev.size) == ("BTC", Side.SELL, D("84143.0"), D("0.00036"))
    assert (ev.trade_id, ev.ts) == ("1045359869404765", 1790232216193)


def test_decode_candle_is_unknown_and_counted():
    c = codec()
    assert c.decode(fixture("candle.json")) == []
    assert c.stats.unknown["candle"] == 1


def test_decode_subscription_response_names_topic():
    ev = one(codec(), "subscriptionResponse.json")
    assert isinstance(ev, Subscribed)
    assert ev.channels == ("l2Book:BTC",)


def test_decode_unsubscribe_response_names_topic():
    ev = one(codec(), "subscriptionResponse_unsubscribe.json")
    assert isinstance(ev, Unsubscribed)
    assert ev.channels == ("l2Book:BTC",)


def test_decode_error_already_subscribed_is_venue_rejected_with_topic():
    ev = one(codec(), "error_already_subscribed.json")
    assert isinstance(ev, VenueRejected)
    assert (ev.code, ev.channel) == ("already_subscribed", "l2Book:SOL")
    assert ev.message.startswith("Already subscribed: ")


def test_decode_error_parse_is_invalid_request():
    ev = one(codec(), "error_parse.json")
    assert isinstance(ev, VenueRejected)
    assert (ev.code, ev.channel) == ("invalid_request", None)
    assert '"coin":["BTC","ETH"]' in ev.message


def test_decode_pong_is_pong_and_heartbeat_is_recorded_ping():
    c = codec()
    assert one(c, "pong.json") == Pong(venue="hyperliquid")
    assert c.heartbeat() == fixture("ping.json").decode().strip()
    assert c.heartbeat_interval_s < 30


def test_decode_client_frames_have_no_channel_and_are_counted():
    c = codec()
    for name in ("ping.json", "subscribe_l2Book.json", "post_l2Book_request.json"):
        assert c.decode(fixture(name)) == []
    assert c.stats.unknown["no channel"] == 3


def test_decode_post_l2book_reply_is_book_snapshot():
    ev = one(codec(), "post_l2Book_response_docs.json")
    assert isinstance(ev, BookSnapshot)
    assert (ev.symbol, ev.bids, ev.asks) == ("ETH", (("3007.1", "2.7954"),), (("3040.1", "3.9499"),))
    assert ev.ts == 1713825891591


def test_decode_post_null_reply_is_rejected_with_request_id():
    ev = one(codec(), "post_l2Book_unknown_coin.json")
    assert isinstance(ev, VenueRejected)
    assert (ev.code, ev.request_id, ev.channel) == ("no_data", "7", "post")


def test_post_info_matches_recorded_request():
    frame = codec().post_info(1, {"type": "l2Book", "coin": "BTC"})
    assert frame == fixture("post_l2Book_request.json").decode().strip()


def test_decode_greeting_text_is_connected():
    assert codec().decode(b"Websocket connection established.") == [Connected(venue="hyperliquid")]


@pytest.mark.parametrize(
    "frame",
    [b"[]", b"null", b'{"channel":"bbo","data":{"coin":"BTC"}}', b'{"channel":"l2Book","data":[]}', b"{"],
)
def test_decode_malformed_raises_decode_error(frame):
    c = codec()
    with pytest.raises(DecodeError):
        c.decode(frame)
    assert c.stats.errors == 1


def test_decode_counts_frames_and_events():
    c = codec()
    c.decode(fixture("allMids.json"))
    c.decode(fixture("l2Book.json"))
    assert (c.stats.frames, c.stats.events) == (2, 4)
