"""User data of the Binance-style venues: listenKeys, HMAC-signed orders, user-stream events.

``POST/PUT/DELETE /fapi/v1/listenKey`` (``X-MBX-APIKEY`` only): POST returns the account's
active key, extended, or a new one; keys live 60 market minutes unless kept alive, then the
user stream gets ``listenKeyExpired`` and nothing more. Signed endpoints (``order`` new/cancel/
query, ``openOrders``, ``/fapi/v2/balance``, ``positionRisk``) check the HMAC-SHA256 signature
over ``queryString + body`` with the key's secret and the timestamp against ``recvWindow`` on
the wall clock, answering the documented ``-2014/-2015/-1022/-1021/-1102`` errors. Orders match
against the simulated book (``simulator.orders``) and every order event becomes an
``ORDER_TRADE_UPDATE``, every fill and funding payment an ``ACCOUNT_UPDATE``, on each socket
attached to the account's key. Responses report the order state after matching (``RESULT``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from perpwire.simulator.hub import Conn
from perpwire.simulator.orders import Account, FundingEvent, OrderEvent, OrderReject
from perpwire.simulator.servers.base import dtext, encode

LISTEN_KEY_TTL_MS = 60 * 60 * 1000
_REJECTS = {
    "precision": (-1111, "Precision is over the maximum defined for this asset."),
    "quantity": (-4003, "Quantity less than or equal to zero."),
    "unknown_order": (-2011, "Unknown order sent."),
    "type": (-1116, "Invalid orderType."),
}


@dataclass(slots=True)
class ListenKey:
    key: str
    account: Account
    expires_ms: int
    expired: bool = False
    conns: set[Conn] = field(default_factory=set)


def _strip_signature(s: str) -> tuple[str, str | None]:
    if "signature=" not in s:
        return s, None
    parts, sig = [], None
    for piece in s.split("&"):
        if piece.startswith("signature="):
            sig = piece[len("signature=") :]
        else:
            parts.append(piece)
    return "&".join(parts), sig


class BinanceUserMixin:
    """Mixed into a VenueServer subclass (``self.json``, ``self.exchange``, ``self.sim`` ...)."""

    put_listen_key_returns_key = False

    def init_user(self: Any) -> None:
        self.listen_keys: dict[str, ListenKey] = {}
        self.key_of_account: dict[str, str] = {}

    def user_routes(self: Any) -> list[tuple[str, str, Any]]:
        out = []
        for p in self.api_prefixes:
            out += [
                ("POST", f"{p}/listenKey", self.rest(self.post_listen_key)),
                ("PUT", f"{p}/listenKey", self.rest(self.put_listen_key)),
                ("DELETE", f"{p}/listenKey", self.rest(self.delete_listen_key)),
                ("POST", f"{p}/order", self.rest(self.post_order)),
                ("DELETE", f"{p}/order", self.rest(self.delete_order)),
                ("GET", f"{p}/order", self.rest(self.get_order)),
                ("GET", f"{p}/openOrders", self.rest(self.get_open_orders)),
            ]
        out += [
            ("GET", "/fapi/v2/balance", self.rest(self.get_balance)),
            ("GET", "/fapi/v2/positionRisk", self.rest(self.get_position_risk)),
        ]
        return out

    # --- authentication -----------------------------------------------------------------------

    def _api_key(self: Any, request: web.Request) -> Any:
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            return self.bad(-2014, "API-key format invalid.", status=401)
        cred = self.sim.credentials.get(self.name, {}).get(key)
        if cred is None:
            return self.bad(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
        return cred

    async def _signed(self: Any, request: web.Request) -> tuple[Account, dict[str, str]] | web.Response:
        cred = self._api_key(request)
        if isinstance(cred, web.Response):
            return cred
        query = request.query_string
        body = await request.text() if request.can_read_body else ""
        q_payload, q_sig = _strip_signature(query)
        b_payload, b_sig = _strip_signature(body)
        sig = q_sig or b_sig
        if not sig:
            return self.bad(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        expected = hmac.new(cred.secret.encode(), (q_payload + b_payload).encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sig.lower()):
            return self.bad(-1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(q_payload, keep_blank_values=True))
        params.update(parse_qsl(b_payload, keep_blank_values=True))
        try:
            ts = int(params["timestamp"])
            window = int(params.get("recvWindow", "5000"))
        except (KeyError, ValueError):
            return self.bad(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        wall = self.clock.wall_ms()
        if ts >= wall + 1000 or wall - ts > min(window, 60_000):
            return self.bad(-1021, "Timestamp for this request is outside of the recvWindow.")
        return self.account_for(cred), params

    def account_for(self: Any, cred: Any) -> Account:
        quote = self.books[0].inst.quote
        return self.exchange.account(self.name, cred.account_id(), quote=quote, balance=self.sim.balance)

    # --- listenKey ----------------------------------------------------------------------------

    async def post_listen_key(self: Any, request: web.Request) -> web.Response:
        cred = self._api_key(request)
        if isinstance(cred, web.Response):
            return cred
        acct = self.account_for(cred)
        key = self.key_of_account.get(acct.account_id)
        lk = self.listen_keys.get(key) if key else None
        if lk is None or lk.expired:
            key = secrets.token_urlsafe(48)[:64]
            lk = ListenKey(key, acct, 0)
            self.listen_keys[key] = lk
            self.key_of_account[acct.account_id] = key
        lk.expires_ms = self.now_ms + LISTEN_KEY_TTL_MS
        return self.json({"listenKey": lk.key})

    def _active_key(self: Any, acct: Account) -> ListenKey | None:
        key = self.key_of_account.get(acct.account_id)
        lk = self.listen_keys.get(key) if key else None
        return None if lk is None or lk.expired else lk

    async def put_listen_key(self: Any, request: web.Request) -> web.Response:
        cred = self._api_key(request)
        if isinstance(cred, web.Response):
            return cred
        lk = self._active_key(self.account_for(cred))
        if lk is None:
            return self.bad(-1125, "This listenKey does not exist.")
        lk.expires_ms = self.now_ms + LISTEN_KEY_TTL_MS
        return self.json({"listenKey": lk.key} if self.put_listen_key_returns_key else {})

    async def delete_listen_key(self: Any, request: web.Request) -> web.Response:
        cred = self._api_key(request)
        if isinstance(cred, web.Response):
            return cred
        lk = self._active_key(self.account_for(cred))
        if lk is not None:
            lk.expired = True
            self.key_of_account.pop(lk.account.account_id, None)
        return self.json({})

    async def ws_user(
        self: Any, request: web.Request, key: str, *, combined: bool = False, events: set[str] | None = None
    ) -> web.StreamResponse:
        lk = self.listen_keys.get(key)
        if lk is None or lk.expired:
            return self.bad(-1125, "This listenKey does not exist.")

        def opened(conn: Conn) -> None:
            conn.state.update(combined=combined, listen_key=key, events=events)
            lk.conns.add(conn)

        return await self.serve_ws(request, self.on_text, on_open=opened, on_close=lk.conns.discard)

    def expire_listen_key(self: Any, key: str | None = None) -> int:
        """Expire ``key`` (every active key when None) now: ``listenKeyExpired``, then silence."""
        victims = [lk for lk in self.listen_keys.values() if not lk.expired and (key is None or lk.key == key)]
        for lk in victims:
            self._user_push(lk, "listenKeyExpired", self.listen_key_expired(lk))
            lk.expired = True
            self.key_of_account.pop(lk.account.account_id, None)
        return len(victims)

    def listen_key_expired(self: Any, lk: ListenKey) -> dict[str, Any]:
        return {"e": "listenKeyExpired", "E": self.now_ms}

    def user_tick(self: Any) -> None:
        now = self.now_ms
        for lk in list(self.listen_keys.values()):
            if not lk.expired and lk.expires_ms <= now:
                self.expire_listen_key(lk.key)

    def _user_push(self: Any, lk: ListenKey, event: str, obj: Any) -> None:
        if lk.expired or not lk.conns:
            return
        raw, wrapped = encode(obj), None
        for conn in tuple(lk.conns):
            wanted = conn.state.get("events")
            if wanted is not None and event not in wanted:
                continue
            if conn.state.get("combined"):
                if wrapped is None:
                    wrapped = b'{"stream":"' + lk.key.encode() + b'","data":' + raw + b"}"
                conn.push(wrapped, event)
            else:
                conn.push(raw, event)

    # --- orders -------------------------------------------------------------------------------

    def _reject(self: Any, exc: OrderReject) -> web.Response:
        code, msg = _REJECTS.get(exc.reason, (-1102, exc.detail))
        return self.bad(code, msg)

    async def post_order(self: Any, request: web.Request) -> web.Response:
        auth = await self._signed(request)
        if isinstance(auth, web.Response):
            return auth
        acct, p = auth
        book = self.by_symbol.get(p.get("symbol", ""))
        if book is None:
            return self.bad(-1121, "Invalid symbol.")
        side, kind = p.get("side"), p.get("type")
        if side not in ("BUY", "SELL"):
            return self.bad(-1117, "Invalid side.")
        if kind not in ("LIMIT", "MARKET"):
            return self.bad(-1116, "Invalid orderType.")
        for name in ("quantity",) + (("price", "timeInForce") if kind == "LIMIT" else ()):
            if not p.get(name):
                return self.bad(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        try:
            qty = Decimal(p["quantity"])
            price = Decimal(p["price"]) if kind == "LIMIT" else None
        except InvalidOperation:
            return self.bad(-1102, "Illegal characters found in parameter 'quantity' or 'price'.")
        lots = book.inst.lots_of(qty)
        ticks = book.inst.ticks_of(price) if price is not None else None
        if lots is None or (price is not None and ticks is None):
            return self.bad(-1111, "Precision is over the maximum defined for this asset.")
        tif = p.get("timeInForce", "GTC")
        if tif not in ("GTC", "IOC", "FOK", "GTX"):
            return self.bad(-1115, "Invalid timeInForce.")
        try:
            order = self.exchange.place(
                acct,
                book,
                buy=side == "BUY",
                kind=kind,
                lots=lots,
                px=ticks,
                tif=tif,
                client_id=p.get("newClientOrderId", ""),
                reduce_only=p.get("reduceOnly") == "true",
            )
        except OrderReject as exc:
            return self._reject(exc)
        return self.json(self.order_response(order))

    async def delete_order(self: Any, request: web.Request) -> web.Response:
        auth = await self._signed(request)
        if isinstance(auth, web.Response):
            return auth
        acct, p = auth
        try:
            oid = int(p["orderId"]) if "orderId" in p else None
            order = self.exchange.cancel(acct, order_id=oid, client_id=p.get("origClientOrderId"))
        except (OrderReject, ValueError):
            return self.bad(-2011, "Unknown order sent.")
        return self.json(self.order_response(order))

    async def get_order(self: Any, request: web.Request) -> web.Response:
        auth = await self._signed(request)
        if isinstance(auth, web.Response):
            return auth
        acct, p = auth
        order = acct.orders.get(int(p["orderId"])) if p.get("orderId", "").isdigit() else None
        if order is None and "origClientOrderId" in p:
            order = next((o for o in acct.orders.values() if o.client_id == p["origClientOrderId"]), None)
        if order is None:
            return self.bad(-2013, "Order does not exist.")
        return self.json(self.order_response(order))

    async def get_open_orders(self: Any, request: web.Request) -> web.Response:
        auth = await self._signed(request)
        if isinstance(auth, web.Response):
            return auth
        acct, p = auth
        orders = [o for o in self.exchange.open_orders(acct) if "symbol" not in p or o.book.inst.symbol == p["symbol"]]
        return self.json([self.order_response(o) for o in orders])

    async def get_balance(self: Any, request: web.Request) -> web.Response:
        auth = await self._signed(request)
        if isinstance(auth, web.Response):
            return auth
        acct, _ = auth
        return self.json([
            {"accountAlias": "SgsR", "asset": a, "balance": dtext(v, 8), "crossWalletBalance": dtext(v, 8),
             "crossUnPnl": "0.00000000", "availableBalance": dtext(v, 8), "maxWithdrawAmount": dtext(v, 8),
             "marginAvailable": True, "updateTime": self.now_ms}
            for a, v in acct.balances.items()
        ])  # fmt: skip

    async def get_position_risk(self: Any, request: web.Request) -> web.Response:
        auth = await self._signed(request)
        if isinstance(auth, web.Response):
            return auth
        acct, _ = auth
        rows = []
        for book in self.books:
            pos = acct.position(book.inst.symbol)
            mark = Decimal(self.mark_text(book))
            rows.append({
                "symbol": book.inst.symbol, "positionAmt": f"{pos.qty:f}", "entryPrice": dtext(pos.entry, 8),
                "markPrice": self.mark_text(book), "unRealizedProfit": dtext(pos.qty * (mark - pos.entry), 8),
                "liquidationPrice": "0", "leverage": "20", "marginType": "cross", "positionSide": "BOTH",
                "notional": dtext(pos.qty * mark, 8), "updateTime": self.now_ms,
            })  # fmt: skip
        return self.json(rows)

    def order_response(self: Any, o: Any) -> dict[str, Any]:
        inst = o.book.inst
        return {
            "orderId": o.order_id, "symbol": inst.symbol, "status": o.status, "clientOrderId": o.client_id,
            "price": inst.price_text(o.px) if o.px is not None else "0",
            "avgPrice": dtext(o.avg_price(), inst.price_dp + 4), "origQty": inst.size_text(o.lots),
            "executedQty": inst.size_text(o.filled), "cumQty": inst.size_text(o.filled),
            "cumQuote": dtext(o.quote, 8), "timeInForce": o.tif, "type": o.kind, "reduceOnly": o.reduce_only,
            "closePosition": False, "side": "BUY" if o.buy else "SELL", "positionSide": "BOTH", "stopPrice": "0",
            "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": o.kind, "updateTime": o.updated_ms,
        }  # fmt: skip

    # --- user-stream events -------------------------------------------------------------------

    def on_account_events(self: Any, acct: Account, events: list[Any]) -> None:
        lk = self._active_key(acct)
        if lk is None:
            return
        traded: set[str] = set()
        for ev in events:
            if isinstance(ev, OrderEvent):
                self._user_push(lk, "ORDER_TRADE_UPDATE", self.order_trade_update(ev))
                if ev.fill is not None:
                    traded.add(ev.order.book.inst.symbol)
            elif isinstance(ev, FundingEvent):
                self._user_push(lk, "ACCOUNT_UPDATE", self.account_update(acct, "FUNDING_FEE", None))
        for symbol in sorted(traded):
            self._user_push(lk, "ACCOUNT_UPDATE", self.account_update(acct, "ORDER", symbol))

    def order_fields(self: Any, ev: OrderEvent) -> dict[str, Any]:
        o, f = ev.order, ev.fill
        inst = o.book.inst
        open_orders = [x for x in o.account.orders.values() if x.open and x.px is not None and x.book is o.book]
        bids = sum((inst.price_dec(x.px) * inst.base_qty(x.lots - x.filled) for x in open_orders if x.buy), Decimal(0))
        asks = sum(
            (inst.price_dec(x.px) * inst.base_qty(x.lots - x.filled) for x in open_orders if not x.buy), Decimal(0)
        )
        avg = ev.quote / inst.base_qty(ev.filled) if ev.filled else Decimal(0)
        return {
            "s": inst.symbol, "c": o.client_id, "S": "BUY" if o.buy else "SELL", "o": o.kind, "f": o.tif,
            "q": inst.size_text(o.lots), "p": inst.price_text(o.px) if o.px is not None else "0",
            "ap": dtext(avg, inst.price_dp + 4) if ev.filled else "0", "sp": "0", "x": ev.kind, "X": ev.status,
            "i": o.order_id, "l": inst.size_text(f.lots) if f else "0", "z": inst.size_text(ev.filled),
            "L": inst.price_text(f.px) if f else "0", "N": o.account.quote, "n": dtext(f.fee, 8) if f else "0",
            "T": ev.ts, "t": f.trade_id if f else 0, "b": dtext(bids, 5), "a": dtext(asks, 5),
            "m": f.maker if f else False, "R": o.reduce_only, "wt": "CONTRACT_PRICE", "ot": o.kind, "ps": "BOTH",
            "cp": False, "AP": "0", "cr": "0", "rp": dtext(f.realized, 8) if f else "0",
        }  # fmt: skip

    def order_trade_update(self: Any, ev: OrderEvent) -> dict[str, Any]:
        return {"e": "ORDER_TRADE_UPDATE", "E": self.now_ms, "T": ev.ts, "o": self.order_fields(ev)}

    def position_row(self: Any, acct: Account, symbol: str) -> dict[str, Any]:
        book = self.by_symbol[symbol]
        pos = acct.position(symbol)
        mark = Decimal(self.mark_text(book))
        return {
            "s": symbol, "pa": f"{pos.qty:f}", "ep": dtext(pos.entry, 5), "cr": dtext(pos.realized, 8),
            "up": dtext(pos.qty * (mark - pos.entry), 8), "mt": "cross", "iw": "0", "ps": "BOTH",
        }  # fmt: skip

    def account_update(self: Any, acct: Account, reason: str, symbol: str | None) -> dict[str, Any]:
        bal = dtext(acct.balances.get(acct.quote, Decimal(0)), 8)
        data: dict[str, Any] = {"m": reason, "B": [{"a": acct.quote, "wb": bal, "cw": bal, "bc": "0"}]}
        if symbol is not None:
            data["P"] = [self.position_row(acct, symbol)]
        now = self.now_ms
        return {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": data}
