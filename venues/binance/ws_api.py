"""Binance WS-API (``wss://ws-fapi.binance.com/ws-fapi/v1``) request frames.

The WS-API is request/response over its own connection: ``{"id","method","params"}`` in,
``{"id","status","result"|"error","rateLimits"}`` out (read with ``codec.decode_ws_api`` and
``codec.decode_listen_key``). Signed methods carry ``apiKey``, ``timestamp`` and a signature
over every param sorted by name (``auth.ws_api_signed_params``); the request id is the caller's
(a string or an unsigned int) so it can match responses. User data still arrives on the
``/private`` stream connection, not here.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from perpwire.market.events import Side
from perpwire.venues.binance import auth

_encode = msgspec.json.Encoder()


def request(method: str, params: dict[str, str | int], request_id: str | int) -> str:
    """One WS-API request frame."""
    return _encode.encode({"id": request_id, "method": method, "params": params}).decode()


def user_data_stream_start(api_key: str, request_id: str | int) -> str:
    """``userDataStream.start``: answers with the listenKey (``decode_listen_key``)."""
    return request("userDataStream.start", {"apiKey": api_key}, request_id)


def order_place(
    credentials: auth.Credentials,
    request_id: str | int,
    *,
    symbol: str,
    side: Side | str,
    quantity: Decimal,
    timestamp_ms: int,
    price: Decimal | None = None,
    time_in_force: str = "GTC",
    recv_window_ms: int | None = auth.DEFAULT_RECV_WINDOW_MS,
) -> str:
    """Signed ``order.place``: LIMIT when ``price`` is given, else MARKET. DECIMAL params are
    JSON strings, INT params JSON ints, as the WS-API expects."""
    params: dict[str, str | int] = {
        "symbol": symbol.upper(), "side": Side(side).value.upper(), "quantity": format(Decimal(quantity), "f"),
    }
    if price is None:
        params["type"] = "MARKET"
    else:
        params.update(type="LIMIT", price=format(Decimal(price), "f"), timeInForce=time_in_force)
    signed = auth.ws_api_signed_params(credentials, params, timestamp_ms, recv_window_ms)
    return request("order.place", signed, request_id)
