"""Hyperliquid user channels: orders, fills (liquidations), funding payments and snapshot replays."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from perpwire.market.events import Fill, FundingPayment, Liquidation, OrderStatus, OrderUpdate, Side
from perpwire.venues.hyperliquid.account import order_status
from tests.venues.hyperliquid.helpers import USER, codec, fixture, one

D = Decimal


def test_decode_order_updates_open_order():
    ev = one(codec(), "orderUpdates.json")
    assert isinstance(ev, OrderUpdate)
    assert (ev.symbol, ev.order_id, ev.client_order_id, ev.side) == ("BTC", "7456484275", None, Side.BUY)
    assert (ev.status, ev.price, ev.size, ev.filled, ev.ts) == (
        OrderStatus.NEW, D("30000.0"), D("0.001"), D("0"), 1710163596492)


def _order(status: str, sz: str = "0.4", orig: str = "1.0") -> bytes:
    order = {"coin": "ETH", "side": "A", "limitPx": "2000.5", "sz": sz, "oid": 9, "timestamp": 1, "origSz": orig,
             "cloid": "0xab"}
    data = [{"order": order, "status": status, "statusTimestamp": 2}]
    return json.dumps({"channel": "orderUpdates", "data": data}).encode()


def test_decode_order_updates_partial_fill_counts_filled_size():
    [ev] = codec().decode(_order("open"))
    assert (ev.status, ev.filled, ev.size, ev.side, ev.client_order_id) == (
        OrderStatus.PARTIALLY_FILLED, D("0.6"), D("1.0"), Side.SELL, "0xab")


@pytest.mark.parametrize(
    ("status", "expected"),
    [("filled", OrderStatus.FILLED), ("canceled", OrderStatus.CANCELED), ("marginCanceled", OrderStatus.CANCELED),
     ("scheduledCancel", OrderStatus.CANCELED), ("triggered", OrderStatus.TRIGGERED),
     ("rejected", OrderStatus.REJECTED), ("iocCancelRejected", OrderStatus.REJECTED),
     ("someNewCanceled", OrderStatus.CANCELED)],
)
def test_order_status_maps_open_ended_statuses(status, expected):
    assert order_status(status, D("0"), D("1")) is expected


def test_decode_order_updates_unknown_status_counted_not_guessed():
    c = codec()
    assert c.decode(_order("weird")) == []
    assert c.stats.unknown["orderUpdates:weird"] == 1


def test_decode_user_fills_snapshot_fill_values():
    ev = one(codec(), "userFills_snapshot.json")
    assert isinstance(ev, Fill)
    assert (ev.symbol, ev.order_id, ev.trade_id, ev.side) == ("BTC", "7484888874", "567547935839686", Side.SELL)
    assert (ev.price, ev.size, ev.fee, ev.fee_asset) == (D("72528.0"), D("0.11693"), D("2.968244"), None)
    assert (ev.maker, ev.liquidation, ev.ts) == (False, False, 1710208712815)


def test_decode_user_fills_snapshot_replay_dropped():
    c = codec()
    assert len(c.decode(fixture("userFills_snapshot.json"))) == 1
    assert c.decode(fixture("userFills_snapshot.json")) == []  # resubscribe after reconnect: already booked


def test_decode_user_fill_liquidation_as_counterparty_is_fill_and_liquidation():
    fill, liq = codec().decode(fixture("user_fill_liquidation.json"))
    assert isinstance(fill, Fill) and isinstance(liq, Liquidation)
    assert (fill.liquidation, fill.maker, fill.fee_asset, fill.client_order_id) == (
        True, True, "USDC", "0xe8d5fd7ebbb4c3cff4d1803472a11463")
    # we sold as maker into the liquidation of a short: the liquidation order was a buy
    assert (liq.symbol, liq.side, liq.price, liq.size) == ("BTC", Side.BUY, D("66653.0"), D("0.001"))
    assert liq.ts == 1781528065899


def test_decode_user_fill_liquidation_of_ourselves_keeps_our_side():
    c = codec(user="0x360878d351f05975e25f1807a27895e1e5e004fb")
    _, liq = c.decode(fixture("user_fill_liquidation.json"))
    assert liq.side is Side.SELL


def test_decode_user_fill_old_liquidation_mark_px_flags_fill():
    frame = fixture("userFills_snapshot.json").replace(b'"liquidationMarkPx": null', b'"liquidationMarkPx": "72000.0"')
    fill, liq = codec(user=USER).decode(frame)
    assert fill.liquidation is True
    assert (liq.side, liq.price) == (Side.SELL, D("72528.0"))


def test_decode_user_fundings_payments_signed():
    pays = codec().decode(fixture("userFundings_fixture.json"))
    assert all(isinstance(p, FundingPayment) for p in pays)
    assert [(p.symbol, p.amount, p.rate, p.ts) for p in pays] == [
        ("ENA", D("-2.38878"), D("0.0000125"), 1791216000037), ("BTC", D("0.238633"), D("0.0000125"), 1791219600012),
    ]


def test_decode_user_fundings_snapshot_replay_dropped_live_kept():
    c = codec()
    c.decode(fixture("userFundings_fixture.json"))
    assert c.decode(fixture("userFundings_fixture.json")) == []
    live = fixture("userFundings_fixture.json").replace(b'"isSnapshot":true', b'"isSnapshot":false')
    assert len(c.decode(live)) == 2


def test_decode_user_events_funding_and_liquidation():
    c = codec()
    funding = (b'{"channel":"user","data":{"funding":{"time":5,"coin":"ETH","usdc":"-1.5","szi":"2.0",'
               b'"fundingRate":"0.00002","nSamples":null}}}')
    [pay] = c.decode(funding)
    assert (pay.symbol, pay.amount, pay.rate, pay.ts) == ("ETH", D("-1.5"), D("0.00002"), 5)
    liquidation = (b'{"channel":"user","data":{"liquidation":{"lid":1,"liquidator":"0x1","liquidated_user":"0x2",'
                   b'"liquidated_ntl_pos":"10.0","liquidated_account_value":"1.0"}}}')
    assert c.decode(liquidation) == []
    assert c.stats.unknown["user:liquidation"] == 1
