"""HMAC-SHA256 signing (the venues' documented vectors), signed order requests and WS-API frames."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from perpwire.market.errors import UsageError
from perpwire.venues.binance import auth, ws_api
from perpwire.venues.binance.codec import BinanceCodec
from tests.conftest import FIXTURES_DIR

FIX = FIXTURES_DIR / "binance"
# the documented test secret of Binance and Aster (not a real key)
DOC_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
DOC_SIGNATURE = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
ORDER = (("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("quantity", "1"), ("price", "9000"),
         ("timeInForce", "GTC"))


def test_signed_params_doc_vector_gives_doc_signature():
    signed = auth.signed_params(DOC_SECRET, ORDER, timestamp_ms=1591702613943, recv_window_ms=5000)
    assert signed[-3:] == (("recvWindow", "5000"), ("timestamp", "1591702613943"), ("signature", DOC_SIGNATURE))
    assert signed[:6] == ORDER


def test_sign_mixed_query_and_body_example_has_no_separator():
    payload = ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
               "quantity=1&price=9000&recvWindow=5000&timestamp= 1591702613943")
    assert auth.sign(DOC_SECRET, payload) == "f9d0ae5e813ef6ccf15c2b5a434047a0181cb5a342b903b367ca6d27a66e36f2"


def test_signed_params_without_recv_window_and_bad_window_refused():
    signed = dict(auth.signed_params(DOC_SECRET, ORDER, timestamp_ms=1, recv_window_ms=None))
    assert "recvWindow" not in signed and signed["timestamp"] == "1"
    with pytest.raises(ValueError, match="recvWindow"):
        auth.signed_params(DOC_SECRET, ORDER, timestamp_ms=1, recv_window_ms=60_001)


def test_credentials_repr_hides_key_and_secret():
    creds = auth.Credentials("api-key-123", "secret-456")
    assert "api-key-123" not in repr(creds) and "secret-456" not in repr(creds)


def test_new_order_request_signs_the_form_body_it_sends():
    creds = auth.Credentials("my-key", DOC_SECRET)
    req = BinanceCodec().new_order_request(
        creds, symbol="btcusdt", side="buy", quantity=Decimal("1"), price=Decimal("9000"),
        timestamp_ms=1591702613943,
    )
    assert (req.method, req.url) == ("POST", "https://fapi.binance.com/fapi/v1/order")
    assert ("X-MBX-APIKEY", "my-key") in req.headers
    assert req.body == (b"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=9000"
                        b"&recvWindow=5000&timestamp=1591702613943&signature="
                        + auth.sign(DOC_SECRET, "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1"
                                    "&price=9000&recvWindow=5000&timestamp=1591702613943").encode())
    assert DOC_SECRET.encode() not in req.body


def test_new_order_request_market_reduce_only_with_client_id():
    req = BinanceCodec().new_order_request(
        auth.Credentials("k", "s"), symbol="ETHUSDT", side="sell", quantity=Decimal("0.50"), timestamp_ms=5,
        reduce_only=True, client_order_id="arb-1",
    )
    params = dict(parse_qsl(req.body.decode()))
    assert params["type"] == "MARKET" and "price" not in params and "timeInForce" not in params
    assert (params["quantity"], params["reduceOnly"], params["newClientOrderId"]) == ("0.50", "true", "arb-1")
    assert params["signature"] == auth.sign("s", req.body.decode().rsplit("&signature=", 1)[0])


def test_new_order_request_limit_without_price_refused():
    with pytest.raises(UsageError):
        BinanceCodec().new_order_request(auth.Credentials("k", "s"), symbol="X", side="buy", quantity=Decimal(1),
                                         timestamp_ms=1, order_type="LIMIT")


def test_cancel_order_request_by_order_id_or_client_id():
    codec = BinanceCodec()
    creds = auth.Credentials("k", "s")
    req = codec.cancel_order_request(creds, symbol="BTCUSDT", order_id=8886774, timestamp_ms=7)
    assert req.method == "DELETE" and req.url.endswith("/fapi/v1/order")
    assert req.body.startswith(b"symbol=BTCUSDT&orderId=8886774&recvWindow=5000&timestamp=7&signature=")
    req = codec.cancel_order_request(creds, symbol="BTCUSDT", client_order_id="arb-1", timestamp_ms=7)
    assert b"origClientOrderId=arb-1" in req.body
    with pytest.raises(UsageError):
        codec.cancel_order_request(creds, symbol="BTCUSDT", timestamp_ms=7)


def test_ws_api_order_place_matches_docs_request_shape():
    docs = json.loads((FIX / "wsapi_order_place_request.json").read_bytes())
    creds = auth.Credentials(docs["params"]["apiKey"], "test-secret")
    ours = json.loads(ws_api.order_place(
        creds, docs["id"], symbol="BTCUSDT", side="buy", quantity=Decimal("0.1"), price=Decimal("42088.0"),
        timestamp_ms=1705311512994,
    ))
    signature = ours["params"].pop("signature")
    docs["params"].pop("signature")  # signed with the docs' unpublished secret
    assert ours == docs
    payload = "&".join(f"{k}={v}" for k, v in sorted(ours["params"].items()))
    assert signature == auth.sign("test-secret", payload)


def test_ws_api_user_data_stream_start_matches_docs_request():
    docs = json.loads((FIX / "wsapi_userDataStream_start_request.json").read_bytes())
    assert json.loads(ws_api.user_data_stream_start(docs["params"]["apiKey"], docs["id"])) == docs
