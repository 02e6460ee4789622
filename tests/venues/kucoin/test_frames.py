"""KuCoin data frames: tickerV2, level2 increments, depth snapshots, instrument and announcement funding."""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec
import pytest

from perpwire.market.errors import DecodeError
from perpwire.market.events import BBO, BookDelta, BookSnapshot, FundingRate, LazyBookSnapshot, MarkPrice
from perpwire.venues.kucoin import KucoinCodec
from tests.conftest import FIXTURES_DIR, fixture_loader

FIXTURES = FIXTURES_DIR / "kucoin"
D = Decimal


load = fixture_loader("kucoin")


def test_decode_ticker_v2_live_gives_bbo_in_contracts_with_ms_ts():
    assert KucoinCodec().decode(load("tickerV2.json")) == [BBO(
        venue="kucoin", symbol="XBTUSDTM", bid_price=D("110212"), bid_size=D("685"), ask_price=D("110212.1"),
        ask_size=D("1941"), ts=1756199639879, seq=1720845437465,
    )]


def test_decode_ticker_v2_sdk_example_gives_bbo():
    [bbo] = KucoinCodec().decode(load("tickerV2_sdk.json"))
    assert (bbo.bid_price, bbo.bid_size, bbo.ask_price, bbo.ask_size) == (D("88987.4"), 713, D("88987.5"), 1037)
    assert (bbo.ts, bbo.seq) == (1731665526461, 1709284589209)


def test_decode_ticker_v2_docs_numeric_prices_stay_exact():
    [bbo] = KucoinCodec().decode(load("tickerV2_docs.json"))
    assert str(bbo.bid_price) == "3200.00" and str(bbo.ask_price) == "3600.00"
    assert (bbo.symbol, bbo.ts, bbo.seq) == ("XBTUSDM", 1553846081210, None)


def test_decode_level2_increment_sell_size_zero_deletes_ask():
    assert KucoinCodec().decode(load("level2_increment.json")) == [BookDelta(
        venue="kucoin", symbol="XBTUSDTM", bids=(), asks=(("110224.7", "0"),), first_seq=1720848028237,
        seq=1720848028237, ts=1756205427835,
    )]


def test_decode_level2_increment_sdk_example_sets_ask_size():
    [d] = KucoinCodec().decode(load("level2_increment_sdk.json"))
    assert (d.asks, d.bids, d.first_seq, d.seq, d.ts) == ((("90631.2", "2"),), (), 1709400450243, 1709400450243,
                                                          1731897467182)


def test_decode_level2_increment_buy_goes_to_bids():
    frame = load("level2_increment.json").replace(b"110224.7,sell,0", b"110224.5,buy,12")
    [d] = KucoinCodec().decode(frame)
    assert (d.bids, d.asks) == ((("110224.5", "12"),), ())


@pytest.mark.parametrize("change", [b"110224.7,hold,0", b"110224.7,sell", b"110224.7,sell,0,9"])
def test_decode_level2_increment_bad_change_raises_decode_error(change):
    frame = load("level2_increment.json").replace(b"110224.7,sell,0", change)
    with pytest.raises(DecodeError):
        KucoinCodec().decode(frame)


def test_decode_depth50_gives_lazy_snapshot_that_materializes_exact_levels():
    codec = KucoinCodec()
    [lazy] = codec.decode(load("level2Depth50.json"))
    assert type(lazy) is LazyBookSnapshot
    assert lazy.symbol == "XBTUSDTM"
    assert lazy.payload == load("level2Depth50.json")  # kept whole: the venue time is read with the levels
    assert codec.materialize(lazy) == BookSnapshot(
        venue="kucoin", symbol="XBTUSDTM", bids=(("89778.6", "1534"), ("89778.2", "54")),
        asks=(("89778.7", "854"), ("89779.2", "4")), seq=1709294490099, ts=1731680249700,
    )


def test_depth_frame_in_another_key_order_takes_the_parsed_path():
    """The unparsed shortcut needs the topic first; any other order is read in full, same result."""
    frame = msgspec.json.decode(load("level2Depth50.json"))
    reordered = msgspec.json.encode({"type": frame["type"], **frame})
    [lazy] = KucoinCodec().decode(reordered)
    assert (lazy.symbol, lazy.ts) == ("XBTUSDTM", 1731680249700)
    assert KucoinCodec().materialize(lazy).bids[0] == ("89778.6", "1534")


def test_depth_shortcut_refuses_other_topics_and_hands_errors_to_the_read():
    codec = KucoinCodec()
    garbled = b'{"topic":"/contractMarket/level2Depth50:XBTUSDTM","data":{"bids":[[true,1]]}}'
    [lazy] = codec.decode(garbled)
    with pytest.raises(DecodeError):
        codec.materialize(lazy)
    # level2Depth7 is no topic of the venue: read in full and counted as unknown, not a book
    assert codec.decode(b'{"topic":"/contractMarket/level2Depth7:XBTUSDTM","type":"message","data":{}}') == []
    assert sum(codec.stats.unknown.values()) == 1


def test_decode_depth5_eager_option_gives_book_snapshot():
    [snap] = KucoinCodec(lazy_books=False).decode(load("level2Depth5_sdk.json"))
    assert type(snap) is BookSnapshot
    assert (snap.seq, snap.ts, len(snap.bids), len(snap.asks)) == (1709294294670, 1731680019100, 5, 5)
    assert snap.bids[0] == ("89720.9", "513") and snap.asks[0] == ("89721", "906")
    assert snap.asks[-1] == ("89725.4", "113")


def test_materialize_garbled_payload_raises_decode_error():
    with pytest.raises(DecodeError):
        KucoinCodec().materialize(LazyBookSnapshot(venue="kucoin", symbol="X", payload=b'{"bids":[[true,1]]}'))


def test_decode_funding_rate_live_is_estimate_per_default_8h_interval():
    [fr] = KucoinCodec().decode(load("instrument_funding_rate.json"))
    # hand check: 0.000077 per 8 h = 0.000009625 per hour
    assert fr == FundingRate(
        venue="kucoin", symbol="XBTUSDCM", rate=D("0.000077"), interval_hours=8, rate_per_hour=D("0.000009625"),
        ts=1756201920000, settled=False,
    )


def test_decode_funding_rate_docs_negative_rate_per_hour():
    [fr] = KucoinCodec().decode(load("instrument_funding_rate_docs.json"))
    # hand check: -0.002966 / 8 = -0.00037075
    assert (fr.symbol, fr.rate, fr.rate_per_hour, fr.ts) == ("XBTUSDM", D("-0.002966"), D("-0.00037075"),
                                                             1551770400000)


def test_decode_funding_rate_with_8h_granularity_is_settled():
    frame = load("instrument_funding_rate.json").replace(b'"granularity":60000', b'"granularity":28800000')
    [fr] = KucoinCodec(funding_interval_hours=4).decode(frame)
    assert (fr.settled, fr.interval_hours, fr.rate_per_hour) == (True, 8, D("0.000009625"))


def test_decode_funding_rate_uses_learned_interval_of_the_contract():
    detail = json.loads(load("rest_contract_detail.json"))
    detail["data"].update(symbol="XBTUSDCM", fundingRateGranularity=14_400_000)
    codec = KucoinCodec()
    codec.decode_instruments(json.dumps(detail).encode())
    [fr] = codec.decode(load("instrument_funding_rate.json"))
    # hand check: 0.000077 per 4 h = 0.00001925 per hour
    assert (fr.interval_hours, fr.rate_per_hour) == (4, D("0.00001925"))


@pytest.mark.parametrize(("name", "mark", "index", "ts"), [
    ("instrument_mark_index_price.json", "110110.10", "110109.61", 1756201897000),
    ("instrument_mark_index_price_sdk.json", "90445.02", "90445.02", 1731899129000),
])
def test_decode_mark_index_price_keeps_number_text(name, mark, index, ts):
    [mp] = KucoinCodec().decode(load(name))
    assert mp == MarkPrice(venue="kucoin", symbol="XBTUSDTM", mark_price=D(mark), index_price=D(index), ts=ts)
    assert str(mp.mark_price) == mark


@pytest.mark.parametrize(("name", "symbol"), [
    ("funding_begin.json", "XBTUSDTM"), ("funding_begin_docs.json", "XBTUSDM"), ("funding_end.json", "XBTUSDM"),
])
def test_decode_announcement_gives_settled_rate_at_funding_time(name, symbol):
    [fr] = KucoinCodec().decode(load(name))
    assert fr == FundingRate(
        venue="kucoin", symbol=symbol, rate=D("-0.002966"), interval_hours=8, rate_per_hour=D("-0.00037075"),
        next_funding_ts=1551770400000 + 8 * 3_600_000, ts=1551770400000, settled=True,
    )


def test_decode_announcement_begin_and_end_give_the_same_event():
    codec = KucoinCodec()
    begin = load("funding_begin_docs.json")
    assert codec.decode(begin) == codec.decode(load("funding_end.json"))


def test_decode_funding_rate_after_announcement_carries_next_settlement():
    codec = KucoinCodec()
    codec.decode(load("funding_begin.json"))  # settled at 1551770400000 -> next 1551799200000
    frame = load("instrument_funding_rate.json").replace(b"XBTUSDCM", b"XBTUSDTM")
    frame = frame.replace(b"1756201920000", b"1551800000000")  # past the next one: rolls forward
    [fr] = codec.decode(frame)
    assert fr.next_funding_ts == 1551770400000 + 16 * 3_600_000


def test_decode_unknown_topic_and_subject_are_counted():
    codec = KucoinCodec()
    assert codec.decode(b'{"type":"message","topic":"/contractMarket/level3v2:XBTUSDTM","data":{}}') == []
    assert codec.decode(b'{"type":"message","topic":"/contract/instrument:X","subject":"new","data":{}}') == []
    assert codec.decode(b'{"id":"1","type":"notice"}') == []
    assert codec.stats.unknown == {"topic /contractMarket/level3v2": 1, "subject new": 1, "notice": 1}
    assert (codec.stats.frames, codec.stats.events) == (3, 0)


def test_decode_message_without_data_raises_decode_error():
    codec = KucoinCodec()
    with pytest.raises(DecodeError) as info:
        codec.decode(b'{"type":"message","topic":"/contractMarket/level2:XBTUSDTM","subject":"level2"}')
    assert info.value.venue == "kucoin"
    assert codec.stats.errors == 1


def test_decode_text_frame_depth_keeps_utf8_payload():
    codec = KucoinCodec()
    [lazy] = codec.decode(load("level2Depth50.json").decode())
    assert lazy.payload == load("level2Depth50.json")
    assert codec.materialize(lazy).bids[0] == ("89778.6", "1534")


def test_decode_data_topic_without_symbol_raises_decode_error():
    frame = load("level2_increment.json").replace(b"/contractMarket/level2:XBTUSDTM", b"/contractMarket/level2")
    with pytest.raises(DecodeError, match="without a symbol"):
        KucoinCodec().decode(frame)


def test_decode_same_topic_twice_uses_cached_route_with_same_result():
    codec = KucoinCodec()
    first = codec.decode(load("tickerV2.json"))
    assert codec.decode(load("tickerV2.json")) == first
    assert codec.decode(load("tickerV2.json").replace(b'"type":"message"', b'"type":"notice"')) == []
    assert codec.stats.unknown == {"notice": 1}


@pytest.mark.parametrize("granularity", [b"60000", b"28800000", b"14400000"])
def test_funding_rate_inline_event_is_the_one_the_contract_table_builds(granularity):
    """The funding feed's inline event equals ``ContractTable.funding``'s, estimate or settled."""
    codec = KucoinCodec()
    frame = load("instrument_funding_rate.json").replace(b"60000", granularity)
    [fr] = codec.decode(frame)
    data = json.loads(frame)["data"]
    settled = int(granularity) >= 3_600_000
    want = codec.contracts.funding("kucoin", "XBTUSDCM", Decimal(str(data["fundingRate"])), data["timestamp"],
                                   interval_hours=int(granularity) // 3_600_000 if settled else None,
                                   settled=settled)
    assert fr == want and str(fr.rate_per_hour) == str(want.rate_per_hour)
