"""Aster/Binance signed account requests of the live broker: order answers, order query, balances."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import pytest

from perpwire import venues
from perpwire.market.errors import DecodeError, UsageError, VenueError
from perpwire.market.events import OrderStatus, Side
from perpwire.venues.binance import auth

FIX = Path(__file__).resolve().parents[2] / "fixtures"
SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"  # the documented test secret
CREDS = auth.Credentials(api_key="doc-key", secret=SECRET)
TS = 1591702613943
D = Decimal


@pytest.fixture(params=["aster", "binance"])
def codec(request):
    return venues.codec(request.param, rest_url="http://127.0.0.1:9/x")


def _check_signed_query(req):
    *params, (name, sig) = req.params
    assert name == "signature" and sig == auth.sign(SECRET, urlencode(params))
    assert dict(params)["timestamp"] == str(TS) and dict(req.headers)["X-MBX-APIKEY"] == "doc-key"
    assert req.body is None and SECRET not in repr(req)


def test_balance_request_is_a_signed_get_with_weight_5(codec):
    req = codec.balance_request(CREDS, timestamp_ms=TS)
    assert (req.method, req.url, req.weight) == ("GET", "http://127.0.0.1:9/x/fapi/v2/balance", 5)
    assert [k for k, _ in req.params] == ["recvWindow", "timestamp", "signature"]
    _check_signed_query(req)


def test_query_order_by_client_id_or_order_id(codec):
    req = codec.query_order_request(CREDS, symbol="btcusdt", client_order_id="pw-1", timestamp_ms=TS)
    assert (req.method, req.url) == ("GET", "http://127.0.0.1:9/x/fapi/v1/order")
    assert req.params[:2] == (("symbol", "BTCUSDT"), ("origClientOrderId", "pw-1"))
    _check_signed_query(req)
    assert codec.query_order_request(CREDS, symbol="X", order_id=7, timestamp_ms=TS).params[1] == ("orderId", "7")
    with pytest.raises(UsageError):
        codec.query_order_request(CREDS, symbol="X", timestamp_ms=TS)


# the documented answer of POST /fapi/v1/order (newOrderRespType RESULT), values ours
ORDER_ANSWER = {
    "clientOrderId": "pw-1", "cumQty": "0.003", "cumQuote": "180.0150", "executedQty": "0.003",
    "orderId": 22542179, "avgPrice": "60005.0", "origQty": "0.005", "price": "60010.0", "reduceOnly": False,
    "side": "BUY", "positionSide": "BOTH", "status": "EXPIRED", "stopPrice": "0", "closePosition": False,
    "symbol": "BTCUSDT", "timeInForce": "IOC", "type": "LIMIT", "origType": "LIMIT", "updateTime": 1566818724722,
    "workingType": "CONTRACT_PRICE", "priceProtect": False,
}


def test_decode_order_answer(codec):
    o = codec.decode_order(json.dumps(ORDER_ANSWER).encode())
    assert (o.venue, o.symbol, o.order_id, o.client_order_id, o.side) == (codec.name, "BTCUSDT", "22542179", "pw-1",
                                                                          Side.BUY)
    assert (o.status, o.size, o.filled, o.price, o.ts) == (OrderStatus.EXPIRED, D("0.005"), D("0.003"),
                                                           D("60010.0"), 1566818724722)
    assert o.avg_price == D("180.0150") / D("0.003")  # exact, not the rounded avgPrice


def test_decode_order_error_body_raises_the_venues_code(codec):
    with pytest.raises(VenueError) as err:
        codec.decode_order((FIX / "aster" / "rest_error.json").read_bytes())
    assert (err.value.code, err.value.message) == (-1121, "Invalid symbol.")
    with pytest.raises(DecodeError):
        codec.decode_order(b"<html>")


def test_decode_balances(codec):
    body = json.dumps([{"accountAlias": "SgsR", "asset": "USDT", "balance": "122607.35137903",
                        "crossWalletBalance": "23.72469206", "crossUnPnl": "0.00000000",
                        "availableBalance": "23.72469206", "maxWithdrawAmount": "23.72469206",
                        "marginAvailable": True, "updateTime": 1617939110373}]).encode()
    [b] = codec.decode_balances(body)
    assert (b.asset, b.balance, b.available, b.ts) == ("USDT", D("122607.35137903"), D("23.72469206"), 1617939110373)
