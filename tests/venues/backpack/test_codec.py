"""Backpack codec against the recorded payloads (tests/fixtures/backpack, see SOURCES.md)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path

import pytest
from nacl.signing import SigningKey, VerifyKey

import venues
from market.book import SyncState
from market.errors import DecodeError, SubscriptionError, VenueError
from market.events import (
    BBO,
    BookDelta,
    Fill,
    FundingRate,
    Liquidation,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    Resync,
    Side,
    Trade,
    VenueRejected,
)
from venues.backpack import auth
from venues.base import Channel, Subscription

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "backpack"
D = Decimal


def fx(name: str) -> bytes:
    return (FIX / name).read_bytes()


@pytest.fixture
def codec():
    return venues.codec("backpack")


def test_depth_live_frame_is_a_delta_with_contiguous_ids(codec):
    [d] = codec.decode(fx("depth.json"))
    assert isinstance(d, BookDelta) and d.symbol == "BTC_USDC_PERP"
    assert (d.first_seq, d.seq, d.prev_seq) == (6730019258, 6730019258, 6730019257)
    assert d.bids == (("86655.9", "1.94230"),) and d.asks == () and d.ts == 1790134357267


def test_depth_window_frame_keeps_exact_levels_and_deletes(codec):
    [d] = codec.decode(fx("depth_200ms.json"))
    assert (d.first_seq, d.seq) == (7501116422, 7501116464)
    assert ("2755.33", "0.0000") in d.bids and len(d.asks) == 3


@pytest.mark.parametrize(("name", "symbol", "ts"), [
    ("depth_string_timestamps.json", "BTC_USDC_PERP", 1759338824897),
    ("depth_docs.json", "SOL_USDC", 1694687965941),
    ("depth_empty_levels.json", "ETH_USDC", 1754903057555),
    ("depth_level_delete.json", "AAPL.US_USDC_PERP", 1790134370874),
])
def test_depth_variants_decode_string_or_number_times(codec, name, symbol, ts):
    [d] = codec.decode(fx(name))
    assert d.symbol == symbol and d.ts == ts


def test_book_ticker_live_and_ccxt(codec):
    [b] = codec.decode(fx("bookTicker.json"))
    assert isinstance(b, BBO) and (b.bid_price, b.bid_size, b.ask_price, b.ask_size) == (
        D("86655.9"), D("1.94230"), D("86656.0"), D("2.01178"))
    assert b.seq == 6730019258
    [c] = codec.decode(fx("bookTicker_ccxt.json"))
    assert c.symbol == "ETH_USDC" and c.ts == 1754517402450


def test_mark_price_funding_per_hour_by_hand(codec):
    [f] = codec.decode(fx("markPrice.json"))
    assert isinstance(f, FundingRate) and f.symbol == "AAPL.US_USDC_PERP"
    # hourly interval since 2025-08-20: 0.00000625 per interval = 0.00000625 per hour
    assert (f.rate, f.interval_hours, f.rate_per_hour) == (D("0.00000625"), 1, D("0.00000625"))
    assert (f.mark_price, f.index_price, f.next_funding_ts) == (D("340.43"), D("340.52"), 1790136000000)


def test_mark_price_with_eight_hour_interval_learned_from_markets(codec):
    codec.decode_instruments(fx("rest_markets_2025_01.json"))  # SOL_USDC_PERP: 28800000 ms
    codec.intervals["SOL_USDC"] = 8
    [f] = codec.decode(fx("markPrice_docs.json"))
    assert f.interval_hours == 8 and f.rate_per_hour == D("1.70") / 8 and f.next_funding_ts == 1694687965941


def test_trade_and_liquidation(codec):
    [t] = codec.decode(fx("trade.json"))
    assert isinstance(t, Trade) and t.side is Side.BUY and t.price == D("3870.25") and t.trade_id == "10782547"
    [liq] = codec.decode(fx("liquidation_docs.json"))
    assert isinstance(liq, Liquidation) and liq.side is Side.BUY and liq.size == D(10)


def test_order_updates_accepted_and_fill(codec):
    [o] = codec.decode(fx("account_orderUpdate_accepted.json"))
    assert isinstance(o, OrderUpdate) and o.status is OrderStatus.NEW and o.side is Side.BUY
    assert o.order_id == "5406825793" and o.order_type == "MARKET"
    upd, fill = codec.decode(fx("account_orderUpdate_fill_data.json"))
    assert upd.status is OrderStatus.FILLED and upd.filled == D("0.0010")
    assert isinstance(fill, Fill) and (fill.price, fill.size, fill.fee, fill.fee_asset) == (
        D("4299.16"), D("0.0010"), D("0.000001"), "ETH")
    assert fill.maker is False and not fill.liquidation


def test_position_updates_live_and_docs(codec):
    [p] = codec.decode(fx("account_positionUpdate.json"))
    assert isinstance(p, PositionUpdate) and p.entry_price == D("4236.36")
    [q] = codec.decode(fx("account_positionUpdate_docs.json"))
    assert q.symbol == "SOL_USDC_PERP" and q.size == D(5) and q.ts == 1694687692980


@pytest.mark.parametrize(("name", "code"), [("error_parse.json", "4002"), ("error_invalid_stream.json", "4006"),
                                            ("error_invalid_depth_window.json", "4008")])
def test_error_frames_become_venue_rejected(codec, name, code):
    [e] = codec.decode(fx(name))
    assert isinstance(e, VenueRejected) and e.code == code


@pytest.mark.parametrize("name", ["ticker.json", "openInterest_docs.json"])
def test_streams_we_do_not_use_are_counted_not_fatal(codec, name):
    assert codec.decode(fx(name)) == []
    assert sum(codec.stats.unknown.values()) == 1


def test_rest_snapshot_reverses_ascending_bids(codec):
    snap = codec.decode_snapshot("SOL_USDC", fx("rest_depth_docs.json"))
    assert snap.seq == 1684026955123 and snap.bids[0] == ("20.5", "499.555") and snap.asks[0] == ("21.9", "500.123")


def test_delta_replay_onto_rest_snapshot_syncs_and_gap_resyncs(codec):
    book = codec.book("SOL_USDC")
    assert book.apply(codec.decode_snapshot("SOL_USDC", fx("rest_depth_docs.json"))) is None
    d = BookDelta(venue="backpack", symbol="SOL_USDC", bids=(("20.6", "1"),), asks=(("21.9", "0"),),
                  first_seq=1684026955124, seq=1684026955130, prev_seq=1684026955123)
    assert book.apply(d) is None and book.state is SyncState.SYNCED
    assert book.best_bid() == (D("20.6"), D(1)) and book.best_ask() == (D("22.1"), D("2321.11"))
    gap = BookDelta(venue="backpack", symbol="SOL_USDC", bids=(), asks=(), first_seq=1684026955132,
                    seq=1684026955133, prev_seq=1684026955131)
    assert isinstance(book.apply(gap), Resync)


def test_rest_errors_raise_venue_error(codec):
    for name in ("rest_error_invalid_symbol.json", "rest_error_symbol_not_found.json"):
        with pytest.raises(VenueError, match="INVALID_CLIENT_REQUEST"):
            codec.decode_snapshot("X", fx(name))


def test_rest_mark_prices_and_funding_history(codec):
    rows = codec.decode_funding(fx("rest_markPrices.json"))
    assert rows[0].symbol == "0G_USDC_PERP" and rows[0].rate == D("-0.000179157")
    [one] = codec.decode_funding(fx("rest_markPrices_single.json"))
    assert one.mark_price == D("118343.51853741") and one.next_funding_ts == 1753113600000
    hist = codec.decode_funding_history(fx("rest_fundingRates.json"))
    assert hist[0].settled and hist[0].rate_per_hour == D("0.0000125") and hist[0].ts == 1790136000000
    assert hist[1].ts == 1790136000000 - 3_600_000 and hist[1].rate == D("0.000010077")


def test_rest_markets_are_instruments_with_funding_interval(codec):
    [inst] = codec.decode_instruments(fx("rest_markets_2025_01.json"))
    assert (inst.symbol, inst.asset, inst.funding_interval_hours, inst.tick_size, inst.step_size) == (
        "SOL_USDC_PERP", "SOL", 8, D("0.01"), D("0.01"))
    assert codec.intervals["SOL_USDC_PERP"] == 8


def test_rest_status_and_open_interest_are_not_funding(codec):
    for name in ("rest_status.json", "rest_openInterest.json"):
        with pytest.raises(DecodeError):
            codec.decode_funding(fx(name))


def test_subscribe_public_matches_docs_frame(codec):
    [frame] = codec.subscribe([Subscription(Channel.DEPTH, "SOL_USDC")])
    assert json.loads(frame) == json.loads(fx("subscribe_public.json"))
    [un] = codec.unsubscribe([Subscription(Channel.DEPTH, "SOL_USDC")])
    assert json.loads(un)["method"] == json.loads(fx("unsubscribe.json"))["method"]


def test_subscribe_private_signature_verifies_and_matches_shape(codec):
    seed = base64.b64encode(bytes(range(32))).decode()
    with pytest.raises(SubscriptionError):
        codec.subscribe([Subscription(Channel.ACCOUNT)])
    [frame] = codec.subscribe([Subscription(Channel.ACCOUNT)], secret_b64=seed, timestamp_ms=1614550000000)
    msg = json.loads(frame)
    want = json.loads(fx("subscribe_private_constructed.json"))
    assert msg["params"] == want["params"] and msg["signature"][2:] == want["signature"][2:]
    vk = VerifyKey(base64.b64decode(msg["signature"][0]))
    vk.verify(b"instruction=subscribe&timestamp=1614550000000&window=5000", base64.b64decode(msg["signature"][1]))
    assert msg["signature"][0] == base64.b64encode(bytes(SigningKey(bytes(range(32))).verify_key)).decode()


def test_order_request_headers_sign_sorted_params():
    seed = base64.b64encode(bytes(range(32))).decode()
    codec = venues.codec("backpack", rest_url="http://127.0.0.1:1/backpack")
    req = codec.order_request(seed, symbol="BTC_USDC_PERP", side="buy", quantity=D("0.01"), timestamp_ms=1700000000000)
    headers = dict(req.headers)
    signed = ("instruction=orderExecute&orderType=Market&quantity=0.01&side=Bid&symbol=BTC_USDC_PERP"
              "&timestamp=1700000000000&window=5000")
    assert auth.signing_string("orderExecute", json.loads(req.body), 1700000000000) == signed
    VerifyKey(base64.b64decode(headers["X-API-Key"])).verify(signed.encode(), base64.b64decode(headers["X-Signature"]))
