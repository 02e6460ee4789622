"""Hyperliquid ``POST /info``: request bodies and weights, reply decoders, funding normalisation."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from perpwire.market.errors import DecodeError, VenueError
from perpwire.venues.hyperliquid.codec import HyperliquidCodec
from tests.venues.hyperliquid.helpers import USER, codec, fixture

D = Decimal


def body(req) -> dict:
    return json.loads(req.body)


def test_requests_post_json_to_info_url_option():
    req = HyperliquidCodec(rest_url="http://127.0.0.1:8080/").instruments_request()
    assert (req.method, req.url) == ("POST", "http://127.0.0.1:8080/info")
    assert ("Content-Type", "application/json") in req.headers
    assert body(req) == {"type": "metaAndAssetCtxs"}
    assert req.weight == 20


def test_depth_request_body_carries_aggregation():
    req = codec(n_sig_figs=5, mantissa=5).depth_request("BTC")
    assert req.body == b'{"type":"l2Book","coin":"BTC","nSigFigs":5,"mantissa":5}'
    assert req.weight == 2


def test_funding_history_request_weight_grows_with_rows():
    req = codec().funding_history_request("BTC", 1_700_000_000_000, 1_700_000_000_000 + 99 * 3_600_000)
    assert body(req) == {"type": "fundingHistory", "coin": "BTC", "startTime": 1_700_000_000_000,
                         "endTime": 1_700_356_400_000}
    assert req.weight == 20 + 100 // 20
    assert "endTime" not in body(codec().funding_history_request("BTC", 1))


def test_other_request_bodies():
    c = codec()
    assert body(c.meta_request("xyz")) == {"type": "meta", "dex": "xyz"}
    assert body(c.funding_request()) == {"type": "metaAndAssetCtxs"}
    assert body(c.predicted_fundings_request()) == {"type": "predictedFundings"}
    expected = {"type": "userFunding", "user": USER, "startTime": 5, "endTime": 6}
    assert body(c.user_funding_request(USER, 5, 6)) == expected
    assert (body(c.all_mids_request()), c.all_mids_request().weight) == ({"type": "allMids"}, 2)
    assert body(c.exchange_status_request()) == {"type": "exchangeStatus"}


def test_decode_snapshot_rest_l2book_full_depth():
    snap = codec().decode_snapshot("DYDX", fixture("rest_l2Book_2023.json"))
    assert (len(snap.bids), len(snap.asks)) == (20, 20)
    assert snap.bids[0] == ("2.111", "134.4") and snap.bids[-1] == ("1.81", "2397.0")
    assert snap.asks[0] == ("2.1124", "352.3") and snap.asks[-1] == ("2.1518", "62.0")
    assert snap.seq == snap.ts == 1689630203930


def test_decode_snapshot_other_coin_raises_decode_error():
    with pytest.raises(DecodeError, match="DYDX"):
        codec().decode_snapshot("BTC", fixture("rest_l2Book_2023.json"))


def test_decode_snapshot_null_reply_is_venue_error():
    with pytest.raises(VenueError, match="null"):
        codec().decode_snapshot("NOPE", b"null")


def test_decode_funding_meta_and_ctxs_per_coin():
    rates = codec().decode_funding(fixture("rest_metaAndAssetCtxs_docs.json"))
    assert [r.symbol for r in rates] == ["BTC", "ETH", "HPOS"]
    btc = rates[0]
    assert (btc.rate, btc.interval_hours, btc.rate_per_hour) == (D("0.0000125"), 1, D("0.0000125"))
    assert (btc.mark_price, btc.index_price) == (D("14.3161"), D("14.32"))
    assert rates[2].mark_price == D("8.4542")
    assert not any(r.settled for r in rates)


def test_decode_funding_skips_delisted_coins():
    meta = {"universe": [{"name": "A", "szDecimals": 0, "maxLeverage": 3, "isDelisted": True},
                         {"name": "B", "szDecimals": 1, "maxLeverage": 3}]}
    ctx = {"funding": "0.0", "openInterest": "0", "prevDayPx": "1", "dayNtlVlm": "0", "oraclePx": "1", "markPx": "1",
           "premium": None, "midPx": None, "impactPxs": None}
    rates = codec().decode_funding(json.dumps([meta, [ctx, ctx]]).encode())
    assert [r.symbol for r in rates] == ["B"]


def test_decode_funding_ctx_count_mismatch_raises_decode_error():
    meta = {"universe": [{"name": "A", "szDecimals": 0, "maxLeverage": 3}]}
    with pytest.raises(DecodeError, match="contexts"):
        codec().decode_funding(json.dumps([meta, []]).encode())


def test_decode_funding_plain_meta_raises_decode_error():
    with pytest.raises(DecodeError):
        codec().decode_funding(fixture("rest_meta.json"))


def test_decode_instruments_meta_step_from_sz_decimals():
    btc, eth, atom = codec().decode_instruments(fixture("rest_meta.json"))
    assert (btc.symbol, btc.asset, btc.quote) == ("BTC", "BTC", "USDC")
    assert (btc.step_size, btc.max_leverage, btc.market_id, btc.funding_interval_hours) == (D("0.00001"), D(40), 0, 1)
    assert (eth.step_size, eth.max_leverage, eth.market_id) == (D("0.0001"), D(25), 1)
    assert (atom.step_size, atom.status, atom.tick_size) == (D("0.01"), "trading", None)


def test_decode_instruments_meta_and_ctxs_and_kpepe_contract_size():
    c = codec()
    insts = c.decode_instruments(fixture("rest_metaAndAssetCtxs_docs.json"))
    assert [(i.symbol, i.step_size, i.max_leverage) for i in insts] == [
        ("BTC", D("0.00001"), D(50)), ("ETH", D("0.0001"), D(50)), ("HPOS", D("1"), D(3)),
    ]
    [kpepe] = c.decode_instruments(b'{"universe":[{"name":"kPEPE","szDecimals":0,"maxLeverage":10}]}')
    assert (kpepe.asset, kpepe.contract_size) == ("PEPE", D(1000))


def test_decode_funding_history_hourly_rows():
    rows = codec().decode_funding_history(fixture("rest_fundingHistory.json"))
    assert [(r.rate, r.interval_hours, r.ts) for r in rows] == [
        (D("0.0000125"), 1, 1769908800000), (D("-0.0000081"), 1, 1769912400000), (D("0.0000033"), 1, 1769916000000),
    ]
    assert all(r.settled and r.symbol == "BTC" for r in rows)


def test_decode_funding_history_2023_switches_from_8h_to_1h():
    rows = codec().decode_funding_history(fixture("rest_fundingHistory_2023_8h_to_1h.json"))
    assert len(rows) == 1038
    last_8h, first_1h = rows[81], rows[82]
    assert (last_8h.ts, last_8h.rate, last_8h.interval_hours) == (1686182400254, D("0.0001"), 8)
    # hand calculation: 0.01 % per 8 h is 0.0001 / 8 = 0.0000125 per hour, the hourly era's baseline
    assert last_8h.rate_per_hour == D("0.0000125")
    assert (first_1h.ts, first_1h.rate, first_1h.interval_hours, first_1h.rate_per_hour) == (
        1686186000054, D("0.0000125"), 1, D("0.0000125"))
    assert {r.interval_hours for r in rows[:82]} == {8} and {r.interval_hours for r in rows[82:]} == {1}
    # the first row: -0.00061334 per 8 h = -0.0000766675 per hour
    assert rows[0].rate_per_hour == D("-0.0000766675")


def test_decode_funding_history_docs_row_is_8h_era():
    [row] = codec().decode_funding_history(fixture("rest_fundingHistory_docs.json"))
    assert (row.symbol, row.rate, row.interval_hours) == ("ETH", D("-0.00022196"), 8)
    assert row.rate_per_hour == D("-0.000027745")  # -0.00022196 / 8


def test_decode_funding_history_null_is_venue_error():
    with pytest.raises(VenueError):
        codec().decode_funding_history(b"null")


def test_decode_predicted_fundings_per_venue_interval():
    rates = codec().decode_predicted_fundings(fixture("rest_predictedFundings_docs.json"))
    by_venue = {r.venue: r for r in rates}
    assert set(by_venue) == {"binance", "hyperliquid", "bybit"}
    assert all(r.symbol == "AVAX" and not r.settled for r in rates)
    # hand calculation: Binance/Bybit 0.0001 per 8 h = 0.0000125 per hour; Hyperliquid is per hour already
    assert (by_venue["binance"].rate, by_venue["binance"].interval_hours) == (D("0.0001"), 8)
    assert by_venue["binance"].rate_per_hour == by_venue["bybit"].rate_per_hour == D("0.0000125")
    hl = by_venue["hyperliquid"]
    assert (hl.rate, hl.interval_hours, hl.rate_per_hour, hl.next_funding_ts) == (
        D("0.0000125"), 1, D("0.0000125"), 1733958000000)


def test_decode_predicted_fundings_interval_field_and_now_fix_next_hour():
    reply = (b'[["BTC",[["BinPerp",{"fundingRate":"0.0004","nextFundingTime":1,"fundingIntervalHours":4}],'
             b'["HlPerp",{"fundingRate":"0.00001","nextFundingTime":1733958000000,"fundingIntervalHours":1}],'
             b'["BybitPerp",null],["OkxPerp",{"fundingRate":"0.1","nextFundingTime":1}]]]]')
    c = codec()
    rates = c.decode_predicted_fundings(reply, now_ms=1733958000000 + 1234)
    assert [(r.venue, r.interval_hours, r.rate_per_hour) for r in rates] == [
        ("binance", 4, D("0.0001")), ("hyperliquid", 1, D("0.00001")),
    ]
    assert rates[1].next_funding_ts == 1733961600000
    assert c.stats.unknown["predictedFundings:OkxPerp"] == 1


def test_decode_user_funding_rest_rows():
    pays = codec().decode_user_funding(fixture("rest_userFunding_2023.json"))
    assert len(pays) == 218
    first = pays[0]
    assert (first.symbol, first.amount, first.rate, first.ts) == ("APE", D("0.145796"), D("-0.00029319"), 1681948800000)
    assert (pays[-1].symbol, pays[-1].amount) == ("SUI", D("-1.357286"))


def test_decode_all_mids_rest_reply():
    mids = {m.symbol: m.price for m in codec().decode_all_mids(fixture("rest_allMids_2023.json"))}
    assert len(mids) == 28
    assert (mids["BTC"], mids["kPEPE"]) == (D("30135.0"), D("0.001565"))


def test_decode_server_time_from_exchange_status():
    assert codec().decode_server_time(fixture("rest_exchangeStatus.json")) == 1790231586439


def test_decoders_cover_every_rest_entry_point():
    names = set(codec().decoders())
    assert names >= {"decode", "decode_snapshot", "decode_funding", "decode_instruments", "decode_funding_history",
                     "decode_predicted_fundings", "decode_user_funding", "decode_all_mids", "decode_server_time",
                     "materialize"}
