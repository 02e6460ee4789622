"""Backpack signed account requests of the live broker: order answers and ``balanceQuery``."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from nacl.signing import VerifyKey

from perpwire import venues
from perpwire.market.errors import DecodeError, VenueError
from perpwire.market.events import OrderStatus, Side
from perpwire.venues.backpack import auth
from tests.venues.backpack.helpers import SECRET, fx

D = Decimal
TS = 1700000000000


@pytest.fixture
def codec():
    return venues.codec("backpack", rest_url="http://127.0.0.1:9/bp/")


def test_balance_request_is_a_signed_get_of_capital(codec):
    req = codec.balance_request(SECRET, timestamp_ms=TS)
    assert (req.method, req.url, req.params, req.body) == ("GET", "http://127.0.0.1:9/bp/api/v1/capital", (), None)
    h = dict(req.headers)
    assert (h["X-Timestamp"], h["X-Window"]) == (str(TS), "5000")
    assert h["X-API-Key"] == auth.verifying_key_b64(auth.signing_key(SECRET))
    VerifyKey(base64.b64decode(h["X-API-Key"])).verify(
        f"instruction=balanceQuery&timestamp={TS}&window=5000".encode(), base64.b64decode(h["X-Signature"]))
    assert SECRET not in repr(req)


# an order object as the docs show it (POST /api/v1/order answers with the order after matching)
ORDER = {"orderType": "Limit", "id": "11327243417", "clientId": 42, "createdAt": 1700000000123,
         "executedQuantity": "0.00300", "executedQuoteQuantity": "180.015", "postOnly": False, "price": "60010.0",
         "quantity": "0.00500", "reduceOnly": None, "selfTradePrevention": "RejectTaker", "status": "Expired",
         "side": "Bid", "symbol": "BTC_USDC_PERP", "timeInForce": "IOC", "triggerPrice": None,
         "triggerQuantity": None, "relatedOrderId": None}


def test_decode_order_answer(codec):
    o = codec.decode_order(json.dumps(ORDER).encode())
    assert (o.venue, o.symbol, o.order_id, o.client_order_id, o.side) == ("backpack", "BTC_USDC_PERP", "11327243417",
                                                                          "42", Side.BUY)
    assert (o.status, o.size, o.filled, o.price, o.ts) == (OrderStatus.EXPIRED, D("0.005"), D("0.003"),
                                                           D("60010.0"), 1700000000123)
    assert o.avg_price == D("180.015") / D("0.003") and not o.reduce_only
    filled = codec.decode_order(json.dumps({**ORDER, "status": "Filled", "id": 7}).encode())  # ids as numbers too
    assert (filled.status, filled.order_id) == (OrderStatus.FILLED, "7")


def test_decode_order_error_body_raises_the_venues_code(codec):
    with pytest.raises(VenueError) as err:
        codec.decode_order(fx("rest_error_invalid_symbol.json"))
    assert (err.value.code, err.value.message) == ("INVALID_CLIENT_REQUEST", "Invalid market symbol")
    with pytest.raises(DecodeError):
        codec.decode_order(b"quantity: invalid digit")  # parameter errors are plain text


def test_decode_balances(codec):
    body = b'{"USDC":{"available":"1250.5","locked":"10","staked":"0.5"},"SOL":{"available":"2","locked":"0",' \
           b'"staked":"0"}}'
    got = {b.asset: b for b in codec.decode_balances(body)}
    assert (got["USDC"].available, got["USDC"].balance) == (D("1250.5"), D("1261.0"))
    assert got["SOL"].balance == D(2)
