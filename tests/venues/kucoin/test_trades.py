"""KuCoin futures trades: ``/contractMarket/execution`` (subject ``match``) from quoted live pushes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perpwire.market.errors import DecodeError
from perpwire.market.events import Side, Trade
from perpwire.venues.base import Channel, Subscription
from perpwire.venues.kucoin import KucoinCodec
from tests.conftest import fixture_loader

load = fixture_loader("kucoin")


def test_execution_match_gives_the_taker_side_trade_in_contracts_with_ms_ts():
    assert KucoinCodec().decode(load("execution_match.json")) == [Trade(
        venue="kucoin", symbol="XBTUSDTM", side=Side.SELL, price=Decimal("29238"), size=Decimal("3"),
        trade_id="628cc8193c7feb352310767c", ts=1653393433803,
    )]


def test_a_fractional_numeric_price_stays_exact():
    [trade] = KucoinCodec().decode(load("execution_match_ccxt.json"))
    assert str(trade.price) == "0.35904" and trade.size == 2 and trade.symbol == "ADAUSDTM"
    assert trade.ts == 1668143578987


def test_trades_subscribe_to_the_execution_topic_and_its_ack_names_it():
    codec = KucoinCodec()
    sub = Subscription(Channel.TRADES, "XBTUSDTM")
    assert codec.topic(sub) == "/contractMarket/execution:XBTUSDTM" and codec.topic_count(sub) == 1
    [frame] = codec.subscribe([sub])
    assert '"topic":"/contractMarket/execution:XBTUSDTM"' in frame and '"type":"subscribe"' in frame
    assert codec.topic_count(Subscription(Channel.FUNDING, "XBTUSDTM")) == 2


def test_a_match_without_a_side_is_a_decode_error():
    bad = load("execution_match.json").replace(b'"side": "sell"', b'"side": "short"')
    with pytest.raises(DecodeError, match="kucoin"):
        KucoinCodec().decode(bad)
