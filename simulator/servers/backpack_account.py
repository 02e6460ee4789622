"""Backpack's signed surface: ED25519-authenticated account streams and order endpoints.

WebSocket: a SUBSCRIBE to ``account.*`` must carry ``signature: [verifying key b64, signature
b64, timestamp ms, window ms]`` over ``instruction=subscribe&timestamp=<ts>&window=<w>``; the key
must be registered and the timestamp within its window of the wall clock, else an error frame
(code 4001 — a simulator choice, the real code is not documented). On ``positionUpdate`` the
open positions are pushed first without an ``e`` field, as documented. REST: headers
``X-API-Key``, ``X-Signature``, ``X-Timestamp``, ``X-Window``; the signed string is
``instruction=<instr>&<params sorted, k=v joined by &>&timestamp=<ts>&window=<w>`` with
``orderExecute`` (POST ``/api/v1/order``), ``orderCancel`` (DELETE), ``orderQueryAll`` (GET
``/api/v1/orders``), ``orderQuery`` (GET ``/api/v1/order`` by ``orderId`` or ``clientId``: resting
orders only, as documented — anything else is a 404), ``fillHistoryQueryAll`` (GET
``/wapi/v1/history/fills``, filters ``orderId``/``symbol``/``from``/``to``, ``limit``/``offset``,
``sortDirection``) and ``positionQuery`` (GET ``/api/v1/position``: open positions only).
Order events become ``orderAccepted``/``orderFill``/``orderCancelled``/
``orderExpired`` frames shaped like the recorded ones (times as strings, keys alphabetical).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from perpwire.simulator.hub import Conn
from perpwire.simulator.orders import Account, OrderEvent, OrderReject
from perpwire.simulator.servers.base import decode, dtext, encode

_KIND = {"NEW": "orderAccepted", "TRADE": "orderFill", "CANCELED": "orderCancelled", "EXPIRED": "orderExpired"}
_STATUS = {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled", "CANCELED": "Cancelled",
           "EXPIRED": "Expired"}  # fmt: skip


def _text(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _verify(verifying_key_b64: str, message: str, signature_b64: str) -> bool:
    try:
        VerifyKey(base64.b64decode(verifying_key_b64, validate=True)).verify(
            message.encode(), base64.b64decode(signature_b64, validate=True)
        )
    except (BadSignatureError, binascii.Error, ValueError, TypeError):
        return False
    return True


class BackpackAccountMixin:
    def _account(self: Any, key: str) -> Account | None:
        cred = self.sim.credentials.get(self.name, {}).get(key)
        if cred is None:
            return None
        return self.exchange.account(self.name, cred.account_id(), quote="USDC", balance=self.sim.balance)

    # --- WebSocket ----------------------------------------------------------------------------

    def authorize(self: Any, conn: Conn, signature: Any) -> bool:
        if not (isinstance(signature, list) and len(signature) == 4 and all(isinstance(s, str) for s in signature)):
            self.error(conn, 4001, "Signature required")
            return False
        key, sig, ts, window = signature
        acct = self._account(key)
        if acct is None or not _verify(key, f"instruction=subscribe&timestamp={ts}&window={window}", sig):
            self.error(conn, 4001, "Invalid signature")
            return False
        if not (ts.isdigit() and window.isdigit()) or abs(self.clock.wall_ms() - int(ts)) > int(window):
            self.error(conn, 4001, "Request has expired")
            return False
        conn.state["account"] = acct
        return True

    def private_key(self: Any, conn: Conn, name: str) -> str:
        acct = conn.state.get("account")
        return f"{acct.account_id if acct else '-'}|{name}"

    def subscribe_private(self: Any, conn: Conn, name: str) -> None:
        if not self.add_sub(conn, self.private_key(conn, name)):
            return
        if name.startswith("account.positionUpdate"):
            acct: Account = conn.state["account"]
            for book in self.books:
                pos = acct.positions.get(book.inst.symbol)
                if (
                    pos is not None
                    and pos.qty != 0
                    and name in ("account.positionUpdate", f"account.positionUpdate.{book.inst.symbol}")
                ):
                    data = self.position_data(acct, book, None)
                    conn.push(encode({"data": data, "stream": name}), name)

    def _push_private(self: Any, acct: Account, names: tuple[str, ...], data: dict[str, Any]) -> None:
        for name in names:
            subs = self.subs.get(f"{acct.account_id}|{name}")
            if subs:
                frame = encode({"data": data, "stream": name})
                for conn in tuple(subs):
                    conn.push(frame, name)

    def on_account_events(self: Any, acct: Account, events: list[Any]) -> None:
        for ev in events:
            if not isinstance(ev, OrderEvent):
                continue
            sym = ev.order.book.inst.symbol
            self._push_private(acct, ("account.orderUpdate", f"account.orderUpdate.{sym}"), self.order_update(ev))
            if ev.fill is not None:
                pos = acct.position(sym)
                qty = ev.order.book.inst.base_qty(ev.fill.lots)
                before = pos.qty - (qty if ev.order.buy else -qty)
                kind = "positionOpened" if before == 0 else "positionClosed" if pos.qty == 0 else "positionAdjusted"
                data = self.position_data(acct, ev.order.book, kind)
                self._push_private(acct, ("account.positionUpdate", f"account.positionUpdate.{sym}"), data)

    def order_update(self: Any, ev: OrderEvent) -> dict[str, Any]:
        o, f = ev.order, ev.fill
        inst = o.book.inst
        now_us = str(self.clock.now_us)
        touch = o.px if o.px is not None else (o.book.ladder.best_ask() if o.buy else o.book.ladder.best_bid()) or 0
        data: dict[str, Any] = {
            "E": now_us, "O": "USER", "Q": dtext(inst.price_dec(touch) * inst.base_qty(o.lots), 2),
            "S": "Bid" if o.buy else "Ask", "T": now_us, "V": "RejectTaker", "X": _STATUS[ev.status],
            "Z": dtext(ev.quote, 6), "e": _KIND[ev.kind], "f": "GTC" if o.tif == "GTX" else o.tif,
            "i": str(o.order_id), "o": o.kind, "q": inst.size_text(o.lots), "r": o.reduce_only, "s": inst.symbol,
            "t": f.trade_id if f else None, "z": inst.size_text(ev.filled),
        }  # fmt: skip
        if o.client_id.isdigit():
            data["c"] = int(o.client_id)
        if o.px is not None:
            data["p"] = inst.price_text(o.px)
        if f is not None:
            data.update(
                L=inst.price_text(f.px), N=o.account.quote, l=inst.size_text(f.lots), m=f.maker, n=dtext(f.fee, 6)
            )
        return dict(sorted(data.items()))

    def position_data(self: Any, acct: Account, book: Any, kind: str | None) -> dict[str, Any]:
        pos = acct.position(book.inst.symbol)
        mark = Decimal(self.mark_text(book, book.inst.price_dp))
        now_us = str(self.clock.now_us)
        data: dict[str, Any] = {
            "B": dtext(pos.entry, book.inst.price_dp), "E": now_us, "M": str(mark),
            "P": dtext(pos.qty * (mark - pos.entry), 6), "Q": f"{abs(pos.qty):f}", "T": now_us,
            "b": dtext(pos.entry, book.inst.price_dp + 1), "f": "0.02", "i": book.inst.market_id + 5_411_399_049,
            "l": "0", "m": "0.0125", "n": dtext(pos.qty * mark, 6), "p": dtext(pos.realized, 6),
            "q": f"{pos.qty:f}", "s": book.inst.symbol,
        }  # fmt: skip
        if kind is not None:
            data["e"] = kind
        return dict(sorted(data.items()))

    # --- REST ---------------------------------------------------------------------------------

    def account_routes(self: Any) -> list[tuple[str, str, Any]]:
        r = self.rest
        return [
            ("POST", "/api/v1/order", r(self.post_order)),
            ("DELETE", "/api/v1/order", r(self.delete_order)),
            ("GET", "/api/v1/orders", r(self.get_orders)),
            ("GET", "/api/v1/capital", r(self.get_capital)),
            ("GET", "/api/v1/order", r(self.get_order)),
            ("GET", "/wapi/v1/history/fills", r(self.get_fills)),
            ("GET", "/api/v1/position", r(self.get_positions)),
        ]

    async def _signed(
        self: Any, request: web.Request, instruction: str
    ) -> tuple[Account, dict[str, Any]] | web.Response:
        h = request.headers
        key, sig, ts, window = h.get("X-API-Key"), h.get("X-Signature"), h.get("X-Timestamp"), h.get("X-Window", "5000")
        if not key or not sig or not ts:
            return self.bad("Missing authentication headers", status=401, code="UNAUTHORIZED")
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            try:
                body = decode(await request.read())
            except Exception:
                return self.bad("Invalid JSON body")
            if not isinstance(body, dict):
                return self.bad("Invalid JSON body")
            params.update(body)
        signed = "&".join([f"instruction={instruction}", *(f"{k}={_text(v)}" for k, v in sorted(params.items())),
                           f"timestamp={ts}", f"window={window}"])  # fmt: skip
        acct = self._account(key)
        if acct is None or not _verify(key, signed, sig):
            return self.bad("Invalid signature", status=401, code="INVALID_SIGNATURE")
        if not (ts.isdigit() and window.isdigit()) or abs(self.clock.wall_ms() - int(ts)) > min(int(window), 60_000):
            return self.bad("Request has expired", status=401, code="INVALID_CLIENT_REQUEST")
        return acct, params

    def order_object(self: Any, o: Any) -> dict[str, Any]:
        inst = o.book.inst
        return {
            "clientId": int(o.client_id) if o.client_id.isdigit() else None, "createdAt": o.created_ms,
            "executedQuantity": inst.size_text(o.filled), "executedQuoteQuantity": dtext(o.quote, 6),
            "id": str(o.order_id), "orderType": o.kind.title(), "postOnly": o.tif == "GTX",
            "price": inst.price_text(o.px) if o.px is not None else None, "quantity": inst.size_text(o.lots),
            "reduceOnly": o.reduce_only, "relatedOrderId": None, "selfTradePrevention": "RejectTaker",
            "side": "Bid" if o.buy else "Ask", "status": _STATUS[o.status], "symbol": inst.symbol,
            "timeInForce": "GTC" if o.tif == "GTX" else o.tif, "triggerPrice": None, "triggerQuantity": None,
        }  # fmt: skip

    async def post_order(self: Any, request: web.Request) -> web.StreamResponse:
        auth = await self._signed(request, "orderExecute")
        if isinstance(auth, web.Response):
            return auth
        acct, p = auth
        book = self.book_or_none(p.get("symbol"))
        if book is None:
            return self.bad("Invalid market symbol")
        side, kind = p.get("side"), str(p.get("orderType", "")).upper()
        if side not in ("Bid", "Ask") or kind not in ("LIMIT", "MARKET"):
            return self.bad("Invalid side or orderType")
        try:
            lots = book.inst.lots_of(Decimal(str(p["quantity"])))
            ticks = book.inst.ticks_of(Decimal(str(p["price"]))) if kind == "LIMIT" else None
        except (KeyError, InvalidOperation):
            return self.bad("Missing or invalid quantity or price")
        if lots is None or (kind == "LIMIT" and ticks is None):
            return self.bad("Quantity or price does not match the step or tick size")
        tif = "GTX" if p.get("postOnly") is True else str(p.get("timeInForce", "GTC"))
        client = p.get("clientId")
        try:
            order = self.exchange.place(
                acct,
                book,
                buy=side == "Bid",
                kind=kind,
                lots=lots,
                px=ticks,
                tif=tif,
                client_id=str(client) if client is not None else "",
                reduce_only=p.get("reduceOnly") is True,
            )
        except OrderReject as exc:
            return self.bad(exc.detail or exc.reason, code="INVALID_ORDER")
        return self.json(self.order_object(order))

    async def delete_order(self: Any, request: web.Request) -> web.StreamResponse:
        auth = await self._signed(request, "orderCancel")
        if isinstance(auth, web.Response):
            return auth
        acct, p = auth
        try:
            oid = int(p["orderId"]) if "orderId" in p else None
            order = self.exchange.cancel(acct, order_id=oid, client_id=str(p["clientId"]) if "clientId" in p else None)
        except (OrderReject, ValueError):
            return self.bad("Order not found", status=404, code="RESOURCE_NOT_FOUND")
        return self.json(self.order_object(order))

    async def get_orders(self: Any, request: web.Request) -> web.StreamResponse:
        auth = await self._signed(request, "orderQueryAll")
        if isinstance(auth, web.Response):
            return auth
        acct, p = auth
        return self.json([self.order_object(o) for o in self.exchange.open_orders(acct)
                          if "symbol" not in p or o.book.inst.symbol == p["symbol"]])  # fmt: skip

    async def get_order(self: Any, request: web.Request) -> web.StreamResponse:
        """``orderQuery``: one order still resting on the book, by ``orderId`` or ``clientId`` (not both)."""
        auth = await self._signed(request, "orderQuery")
        if isinstance(auth, web.Response):
            return auth
        acct, p = auth
        if ("orderId" in p) == ("clientId" in p):
            return self.bad("One of orderId or clientId must be specified")
        found = [o for o in acct.orders.values() if o.open and o.book.inst.symbol == p.get("symbol")
                 and (str(o.order_id) == p.get("orderId") or ("clientId" in p and o.client_id == p["clientId"]))]
        if not found:
            return self.bad("Order not found", status=404, code="RESOURCE_NOT_FOUND")
        return self.json(self.order_object(found[-1]))

    async def get_fills(self: Any, request: web.Request) -> web.StreamResponse:
        """``fillHistoryQueryAll``: the account's fills as ``OrderFill`` rows, newest first by default."""
        auth = await self._signed(request, "fillHistoryQueryAll")
        if isinstance(auth, web.Response):
            return auth
        acct, p = auth
        try:
            start, end = int(p.get("from", 0)), int(p.get("to", 2**62))
            limit, offset = min(int(p.get("limit", 100)), 1000), int(p.get("offset", 0))
        except ValueError:
            return self.bad("Invalid from, to, limit or offset")
        rows = [(f, o) for o in acct.orders.values() for f in o.fills
                if ("orderId" not in p or str(o.order_id) == p["orderId"])
                and ("symbol" not in p or o.book.inst.symbol == p["symbol"]) and start <= f.ts <= end]
        rows.sort(key=lambda fo: (fo[0].ts, fo[0].trade_id), reverse=p.get("sortDirection", "Desc") != "Asc")
        return self.json([self.fill_row(f, o) for f, o in rows[offset: offset + limit]])

    def fill_row(self: Any, f: Any, o: Any) -> dict[str, Any]:
        inst = o.book.inst
        stamp = datetime.fromtimestamp(f.ts / 1000, UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")
        row: dict[str, Any] = {
            "fee": dtext(f.fee, 6), "feeSymbol": o.account.quote, "isMaker": f.maker, "orderId": str(o.order_id),
            "price": inst.price_text(f.px), "quantity": inst.size_text(f.lots), "side": "Bid" if o.buy else "Ask",
            "symbol": inst.symbol, "timestamp": stamp, "tradeId": f.trade_id,
        }  # fmt: skip
        if o.client_id.isdigit():
            row["clientId"] = o.client_id  # a string here, unlike the order object's integer
        return dict(sorted(row.items()))

    async def get_positions(self: Any, request: web.Request) -> web.StreamResponse:
        """``positionQuery``: every open futures position (``FuturePositionWithMargin``), or one symbol's."""
        auth = await self._signed(request, "positionQuery")
        if isinstance(auth, web.Response):
            return auth
        acct, p = auth
        out = []
        for book in self.books:
            pos = acct.positions.get(book.inst.symbol)
            if pos is None or pos.qty == 0 or p.get("symbol", book.inst.symbol) != book.inst.symbol:
                continue
            dp = book.inst.price_dp
            mark = Decimal(self.mark_text(book, dp))
            out.append({
                "breakEvenPrice": dtext(pos.entry, dp), "cumulativeFundingPayment": "0", "cumulativeInterest": "0",
                "entryPrice": dtext(pos.entry, dp), "estLiquidationPrice": "0", "imf": "0.02",
                "imfFunction": {"base": "0.02", "factor": "0.0000935", "type": "sqrt"}, "markPrice": str(mark),
                "mmf": "0.0125", "mmfFunction": {"base": "0.0125", "factor": "0.0000561", "type": "sqrt"},
                "netCost": dtext(pos.qty * pos.entry, 6), "netExposureNotional": dtext(abs(pos.qty) * mark, 6),
                "netExposureQuantity": f"{abs(pos.qty):f}", "netQuantity": f"{pos.qty:f}",
                "pnlRealized": dtext(pos.realized, 6), "pnlUnrealized": dtext(pos.qty * (mark - pos.entry), 6),
                "positionId": str(book.inst.market_id + 5_411_399_049), "subaccountId": None,
                "symbol": book.inst.symbol,
                "userId": int(acct.account_id) if acct.account_id.isdigit() else 0,
            })  # fmt: skip
        return self.json(out)

    async def get_capital(self: Any, request: web.Request) -> web.StreamResponse:
        """``balanceQuery``: ``{asset: {available, locked, staked}}`` (nothing is locked or staked here)."""
        auth = await self._signed(request, "balanceQuery")
        if isinstance(auth, web.Response):
            return auth
        acct, _ = auth
        return self.json({a: {"available": dtext(v, 8), "locked": "0", "staked": "0"}
                          for a, v in acct.balances.items()})  # fmt: skip
