"""LighterCodec WebSocket side: control frames, subscriptions, market data and private frames."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from perpwire.market.errors import DecodeError, SubscriptionError
from perpwire.market.events import (
    BBO,
    BalanceUpdate,
    BookDelta,
    Connected,
    Fill,
    FundingPayment,
    FundingRate,
    Liquidation,
    OrderStatus,
    OrderUpdate,
    Ping,
    Pong,
    PositionUpdate,
    Side,
    Subscribed,
    Trade,
    Unsubscribed,
    VenueRejected,
)
from perpwire.market.sequence import PREV_NONCE
from perpwire.venues.base import Channel, Subscription
from perpwire.venues.lighter.codec import LighterCodec
from tests.conftest import FIXTURES_DIR, fixture_loader

FIX = FIXTURES_DIR / "lighter"
TOKEN = "1999999999:516:3:deadbeef"


_raw = fixture_loader("lighter")


def _decode(name: str, **options) -> list:
    return LighterCodec(**options).decode(_raw(name))


def test_codec_class_attributes_match_contract():
    assert LighterCodec.name == "lighter"
    assert LighterCodec.sequence_rule is PREV_NONCE
    assert LighterCodec.example_symbol == "1"
    assert LighterCodec.heartbeat_interval_s == 30.0


def test_connected_frame_session_id_connected():
    assert _decode("connected.json") == [Connected(venue="lighter", session_id="b23c70b2-9ef8-4080-8f02-4edf34138329")]


def test_ping_frame_ping_event_pong_reply():
    codec = LighterCodec()
    (ping,) = codec.decode(_raw("ping.json"))
    assert isinstance(ping, Ping)
    assert json.loads(codec.pong(ping)) == {"type": "pong"}
    assert json.loads(codec.heartbeat()) == {"type": "ping"}
    assert _decode("pong.json") == [Pong(venue="lighter")]


@pytest.mark.parametrize(("name", "code", "channel"), [
    ("error_already_subscribed.json", "30003", "order_book/0"),
    ("error_not_subscribed.json", "30002", "order_book/0"),
    ("error_invalid_channel.json", "30005", None),
    ("error_auth_required.json", "20001", None),
])
def test_error_frame_venue_rejected_with_code(name, code, channel):
    (ev,) = _decode(name)
    assert isinstance(ev, VenueRejected)
    assert ev.code == code and ev.channel == channel
    assert ev.message == json.loads(_raw(name))["error"]["message"]


def test_unsubscribed_frame_outbound_channel():
    assert _decode("unsubscribed.json") == [Unsubscribed(venue="lighter", channels=("order_book/0",))]


def test_subscribe_frames_match_docs_fixtures():
    codec = LighterCodec()
    sub = [Subscription(Channel.DEPTH, "0")]
    assert [json.loads(f) for f in codec.subscribe(sub)] == [json.loads(_raw("subscribe_order_book.json"))]
    assert [json.loads(f) for f in codec.unsubscribe(sub)] == [json.loads(_raw("unsubscribe.json"))]


def test_subscribe_topics_per_channel():
    codec = LighterCodec(account_index=516)
    assert codec.topic(Subscription(Channel.FUNDING, "1")) == "market_stats/1"
    assert codec.topic(Subscription(Channel.FUNDING_ALL)) == "market_stats/all"
    assert codec.topic(Subscription(Channel.TRADES, "36")) == "trade/36"
    assert codec.topic(Subscription(Channel.BBO, "1")) == "ticker/1"
    assert codec.topics(Subscription(Channel.ACCOUNT)) == ("account_all/516", "account_all_orders/516")
    with pytest.raises(SubscriptionError):
        codec.topic(Subscription(Channel.DEPTH, "BTC"))


def test_subscribe_private_carries_auth_like_fixture():
    codec = LighterCodec(auth_token=TOKEN, account_index=516)
    frames = [json.loads(f) for f in codec.subscribe([Subscription(Channel.ACCOUNT)])]
    shape = json.loads(_raw("subscribe_private_constructed.json"))
    assert frames[1].keys() == shape.keys()
    assert frames[1] == {"type": "subscribe", "channel": "account_all_orders/516", "auth": TOKEN}
    assert frames[0]["channel"] == "account_all/516"


def test_subscribe_private_without_token_raises_without_secret():
    with pytest.raises(SubscriptionError):
        LighterCodec(account_index=516).subscribe([Subscription(Channel.ACCOUNT)])
    assert TOKEN not in repr(LighterCodec(auth_token=TOKEN))


def test_order_book_update_delta_chains_begin_nonce():
    (d,) = _decode("order_book_update.json")
    assert d == BookDelta(venue="lighter", symbol="36", bids=(("0.20351", "0.0"), ("0.20308", "0.0"),
                          ("0.20302", "25775.2")), asks=(("0.20416", "25374.8"), ("0.20421", "0.0")),
                          first_seq=18032383898, prev_seq=18032383898, seq=18032384006, ts=1785358812058)
    (docs,) = _decode("order_book_update_docs.json")
    assert (docs.prev_seq, docs.seq, docs.bids, docs.asks) == (4037957034, 4037957053, (("3338.80", "10.2898"),),
                                                                (("3327.46", "29.0915"),))


def test_order_book_update_without_begin_nonce_prev_seq_unknown():
    (d,) = _decode("order_book_update_ccxt.json")
    assert (d.prev_seq, d.seq, d.symbol) == (-1, 3107818665, "0")
    assert d.bids == (("2979.36", "0.0000"),)


def test_order_book_without_nonce_decode_error():
    frame = json.loads(_raw("order_book_update_docs.json"))
    del frame["order_book"]["nonce"]
    with pytest.raises(DecodeError):
        LighterCodec().decode(json.dumps(frame))


def test_ticker_update_bbo_with_nonce():
    assert _decode("ticker_update.json") == [BBO(venue="lighter", symbol="1", bid_price=D("63777.2"),
                                                 bid_size=D("2.49220"), ask_price=D("63777.3"), ask_size=D("0.00020"),
                                                 ts=1785252530836, seq=17926043680)]


def test_market_stats_percent_per_hour_to_fraction():
    codec = LighterCodec()
    (fr,) = codec.decode(_raw("market_stats.json"))
    # "-0.0005" percent per hour = -0.000005 per hour; 1 h interval
    assert fr == FundingRate(venue="lighter", symbol="0", rate=D("-0.000005"), interval_hours=1,
                             rate_per_hour=D("-0.000005"), mark_price=D("2963.63"), index_price=D("2965.30"),
                             next_funding_ts=1769191200000)
    assert codec.markets == {"0": "ETH"}


def test_market_stats_ccxt_baseline_rate_per_hour_hand_checked():
    (fr,) = _decode("market_stats_ccxt.json")
    # 0.0012 % / h (0.01 % per 8 h, truncated) -> 0.0012 / 100 = 0.000012 per hour
    assert fr.rate_per_hour == D("0.000012")
    assert fr.next_funding_ts == 1763532000004 - 4 + 3_600_000


def test_market_stats_all_map_per_market():
    (fr,) = _decode("market_stats_all.json")
    assert (fr.symbol, fr.rate, fr.mark_price, fr.index_price) == ("96", D("0"), D("1.15954"), D("1.15901"))


def test_trade_update_taker_buys_when_maker_ask():
    assert _decode("trade_update.json") == [Trade(venue="lighter", symbol="36", side=Side.BUY, price=D("0.20382"),
                                                  size=D("0.7"), trade_id="26412422124", ts=1785358835916)]


def test_trade_docs_seconds_timestamp_to_ms():
    (t,) = _decode("trade_update_docs.json")
    assert (t.side, t.ts, t.trade_id, t.size) == (Side.SELL, 1722339648000, "14035051", D("0.1187"))


def test_trade_subscribed_replay_ack_trades_and_liquidation():
    ack, *events = _decode("trade_subscribed_trimmed.json")
    assert ack == Subscribed(venue="lighter", channels=("trade/36",))
    trades = [e for e in events if type(e) is Trade]
    (liq,) = [e for e in events if type(e) is Liquidation]
    assert [t.trade_id for t in trades] == ["26412385647", "26412344671", "26218621834"]
    assert liq == Liquidation(venue="lighter", symbol="36", side=Side.SELL, price=D("0.20039"), size=D("8215.3"),
                              ts=1785193205747)


def test_account_orders_snapshot_order_update():
    ack, order = _decode("account_all_orders_snapshot.json")
    assert ack.channels == ("account_all_orders/516",)
    assert order == OrderUpdate(venue="lighter", symbol="1", order_id="844424914280027",
                                client_order_id="424242424242", side=Side.BUY, status=OrderStatus.NEW,
                                price=D("58300.0"), size=D("0.00100"), filled=D("0.00000"), ts=1785431774184,
                                order_type="limit")


def test_account_orders_update_canceled():
    (order,) = _decode("account_all_orders_update_canceled.json")
    assert (order.status, order.order_id, order.ts) == (OrderStatus.CANCELED, "844424914280027", 1785431906364)


def test_account_empty_snapshots_only_ack():
    assert _decode("account_all_orders_snapshot_empty.json") == [
        Subscribed(venue="lighter", channels=("account_all_orders/516",))]
    assert _decode("account_all_trades_snapshot_empty.json") == [
        Subscribed(venue="lighter", channels=("account_all_trades/516",))]


def test_account_positions_update_signed_size():
    (p,) = _decode("account_all_positions_update.json")
    assert p == PositionUpdate(venue="lighter", symbol="1", size=D("0.00000"), entry_price=D("0.0"),
                               unrealized_pnl=D("0.000000"))


def test_account_all_docs_position_funding_balance():
    pos, pay, bal = _decode("account_all_docs.json")
    assert pos == PositionUpdate(venue="lighter", symbol="101", size=D("0.5"), entry_price=D("20000.00"),
                                 unrealized_pnl=D("500.00"))
    assert pay == FundingPayment(venue="lighter", symbol="101", amount=D("0.001"), rate=D("0.000001"),
                                 ts=1700000000000)
    assert bal == BalanceUpdate(venue="lighter", asset="ETH", balance=D("1"), available=D("1"))


def test_account_trade_big_order_id_exact():
    trade = json.loads(_raw("trade_update.json"))["trades"][0]
    # an account_all frame for the ask side's account, carrying the recorded print
    frame = ('{"channel":"account_all:314233","trades":{"36":[' + json.dumps(trade) + ']},"type":"update/account_all"}')
    (f,) = LighterCodec().decode(frame.encode())
    assert f == Fill(venue="lighter", symbol="36", order_id="10414574259102759", side=Side.SELL, price=D("0.20382"),
                     size=D("0.7"), trade_id="26412422124", client_order_id="69016212847", maker=True,
                     ts=1785358835916)
    assert int(f.order_id) > 2**53
    assert int(f.order_id) != int(float(f.order_id))  # a float would have changed it


def test_user_stats_balance_update():
    assert _decode("user_stats_docs.json") == [BalanceUpdate(venue="lighter", asset="USDC", balance=D("5000.00"),
                                                             available=D("2000.00"), reason="user_stats")]


@pytest.mark.parametrize("name", ["height_update.json", "notification_docs.json", "sendtx_response.json"])
def test_unmodelled_frames_counted_unknown(name):
    codec = LighterCodec()
    assert codec.decode(_raw(name)) == []
    assert sum(codec.stats.unknown.values()) == 1
    assert codec.stats.frames == 1


@pytest.mark.parametrize("hours", [1, 8])
@pytest.mark.parametrize("name", ["market_stats.json", "market_stats_ccxt.json", "market_stats_all.json"])
def test_market_stats_fast_loop_gives_what_pct_rate_gives(name, hours):
    """The inlined conversion is pct_rate's, Decimal for Decimal (value and exponent), at any interval."""
    from perpwire.venues.lighter.rest import next_funding_ms, pct_rate

    codec = LighterCodec(funding_interval_hours=hours)
    raw = json.loads(_raw(name))
    stats = raw["market_stats"]
    rows = stats.values() if "market_id" not in stats else [stats]
    want = {}
    for row in rows:
        if row.get("current_funding_rate"):
            rate, hourly = pct_rate(row["current_funding_rate"], hours)
            want[str(row["market_id"])] = (str(rate), str(hourly), row["mark_price"], row["index_price"],
                                           next_funding_ms(row["funding_timestamp"], hours))
    got = {fr.symbol: (str(fr.rate), str(fr.rate_per_hour), str(fr.mark_price), str(fr.index_price),
                       fr.next_funding_ts) for fr in codec.decode(_raw(name)) if isinstance(fr, FundingRate)}
    assert got == want and got


def test_market_stats_bad_number_names_the_market():
    frame = _raw("market_stats.json").replace(b'"2963.63"', b'"abc"')
    with pytest.raises(DecodeError, match="market_stats 0: not a decimal"):
        LighterCodec().decode(frame)
