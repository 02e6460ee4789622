"""Lighter's authenticated surface: auth tokens, account channels and transactions.

Account channels (``account_all``, ``account_all_orders``, ``account_all_positions``,
``account_all_trades``, each ``/{ACCOUNT}``) need ``"auth"`` in the subscribe frame: a token
``{expiry_unix}:{account}:{api_key_index}:{hex}`` (or read-only ``ro:{account}:{single|all}:
{expiry}:{hex}``) whose account matches the channel and whose key is registered. No token →
``20001``; expired or further than 8 h ahead → ``20013 invalid auth: invalid deadline``. The
token's signature is not checked (Lighter signs with a native Schnorr/Poseidon2 signer no Python
package here verifies). Each sends its snapshot (``subscribed/...``; the trades one is always
empty) then ``update/...`` frames on order events and fills.

Expiry of a token on a live subscription: the venue's documents say a token is refused at use
once expired, not what happens to a subscription that outlives it. This server's model, so
clients must renew: when the token a subscription was made with expires, the subscription ends —
no more updates on it — and the client gets ``{"error":{"code":20013,"message":"invalid auth:
invalid deadline"}}`` once per ended subscription; it may subscribe again (a fresh snapshot) with
a new token. A re-subscribe of a live channel is refused with 30003 and keeps the old token, so a
client renews with unsubscribe + subscribe. ``issue_token`` mints short-lived tokens for drills.

Transactions: ``POST /api/v1/sendTx`` (form ``tx_type``, ``tx_info``) and WebSocket
``{"type":"jsonapi/sendtx","data":{"id","tx_type","tx_info"}}``. ``tx_info`` is the SDK's JSON:
type 14 (create order: ``AccountIndex, ApiKeyIndex, MarketIndex, ClientOrderIndex, BaseAmount``
in size units, ``Price`` in price units, ``IsAsk``, ``Type`` 0 limit / 1 market,
``TimeInForce`` 0 IOC / 1 GTT / 2 post-only, ``Nonce``, ``Sig``) and 15 (cancel: ``Index``).
``Nonce`` must equal ``GET /api/v1/nextNonce``; ``Sig`` must be present (not verified).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from aiohttp import web

from perpwire.simulator.hub import Conn
from perpwire.simulator.orders import Account, Order, OrderEvent, OrderReject
from perpwire.simulator.servers.base import decode, dtext, encode

log = logging.getLogger(__name__)

_PRIVATE = ("account_all", "account_all_orders", "account_all_positions", "account_all_trades")
_MAX_TOKEN_S = 8 * 3600
_TIF = {0: "IOC", 1: "GTC", 2: "GTX"}
_TIF_TEXT = {"IOC": "immediate-or-cancel", "GTC": "good-till-time", "GTX": "post-only", "FOK": "immediate-or-cancel"}
_STATUS = {"NEW": "open", "PARTIALLY_FILLED": "open", "FILLED": "filled", "CANCELED": "canceled",
           "EXPIRED": "canceled-expired"}  # fmt: skip


class TxError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LighterAccountMixin:
    def init_account(self: Any) -> None:
        self.nonces: dict[tuple[str, str], int] = {}
        self.token_expiry: dict[tuple[Conn, str], int] = {}  # (connection, "account_all:516") -> unix s
        self.expired_subs = 0

    def issue_token(self: Any, account: str, key_index: str, lifetime_s: float) -> str:
        """A signed-format token for a registered key that expires ``lifetime_s`` from now (a drill:
        the real venue's tokens come from its signer; this server checks only their fields)."""
        expiry = int(self.clock.wall_ms() / 1000 + lifetime_s)
        return f"{expiry}:{account}:{key_index}:{secrets.token_hex(16)}"

    def expire_tokens(self: Any) -> None:
        """End every account subscription whose token has expired (see the module notes)."""
        if not self.token_expiry:
            return
        now_s = self.clock.wall_ms() // 1000
        for (conn, name), expiry in list(self.token_expiry.items()):
            if conn.closed:
                del self.token_expiry[(conn, name)]
            elif expiry <= now_s:
                del self.token_expiry[(conn, name)]
                self.remove_sub(conn, name)
                self.expired_subs += 1
                conn.reply(encode({"error": {"code": 20013, "message": "invalid auth: invalid deadline"}}))

    def forget_token(self: Any, conn: Conn, name: str) -> None:
        self.token_expiry.pop((conn, name), None)

    def private_kinds(self: Any) -> tuple[str, ...]:
        return _PRIVATE

    def private_name(self: Any, conn: Conn, name: str) -> str:
        return name

    def _registered(self: Any, account: str, key_index: str) -> bool:
        cred = self.sim.credentials.get(self.name, {}).get(key_index)
        return cred is not None and cred.account == account

    def token_deadline(self: Any, token: str) -> int:
        parts = token.split(":")
        return int(parts[3]) if parts[0] == "ro" else int(parts[0])

    def check_token(self: Any, token: Any, account: str) -> tuple[int, str] | None:
        if not isinstance(token, str) or not token:
            return 20013, "invalid auth: malformed token"
        parts = token.split(":")
        now_s = self.clock.wall_ms() // 1000
        try:
            if parts[0] == "ro" and len(parts) == 5:
                acct, expiry, key = parts[1], int(parts[3]), None
            elif len(parts) == 4:
                expiry, acct, key = int(parts[0]), parts[1], parts[2]
            else:
                return 20013, "invalid auth: malformed token"
        except ValueError:
            return 20013, "invalid auth: malformed token"
        if key is not None and (expiry <= now_s or expiry - now_s > _MAX_TOKEN_S):
            return 20013, "invalid auth: invalid deadline"
        if key is None and expiry <= now_s:
            return 20013, "invalid auth: invalid deadline"
        if acct != account or (key is not None and not self._registered(acct, key)):
            return 20013, "invalid auth: account mismatch"
        return None

    def _account(self: Any, account: str) -> Account:
        return self.exchange.account(self.name, account, quote="USDC", balance=self.sim.balance)

    def subscribe_private(self: Any, conn: Conn, kind: str, args: list[str], name: str, auth: Any) -> None:
        account = args[-1]
        if not auth:
            conn.reply(encode({"error": {"code": 20001, "message": f"invalid param : auth field is required: {name}"}}))
            return
        problem = self.check_token(auth, account)
        if problem is not None:
            conn.reply(encode({"error": {"code": problem[0], "message": problem[1]}}))
            return
        acct = self._account(account)
        self.add_sub(conn, name)
        self.token_expiry[(conn, name)] = self.token_deadline(auth)
        conn.push(self.private_frame(kind, acct, f"subscribed/{kind}", snapshot=True), name)

    # --- frames -------------------------------------------------------------------------------

    def order_row(self: Any, o: Order, status: str, filled: int, quote: Any) -> dict[str, Any]:
        inst, now = o.book.inst, self.now_ms
        remaining = o.lots - filled if status in ("NEW", "PARTIALLY_FILLED") else 0
        px = o.px if o.px is not None else 0
        client = int(o.client_id) if o.client_id.isdigit() else 0
        return {
            "order_index": o.order_id, "client_order_index": client, "order_id": str(o.order_id),
            "client_order_id": str(client), "market_index": inst.market_id,
            "owner_account_index": int(o.account.account_id),
            "initial_base_amount": inst.size_text(o.lots), "price": inst.price_text(px), "nonce": o.order_id,
            "remaining_base_amount": inst.size_text(remaining), "is_ask": not o.buy, "base_size": remaining,
            "base_price": px, "filled_base_amount": inst.size_text(filled), "filled_quote_amount": dtext(quote, 6),
            "side": "", "type": o.kind.lower(), "time_in_force": _TIF_TEXT[o.tif], "reduce_only": o.reduce_only,
            "trigger_price": inst.price_text(0), "order_expiry": o.created_ms + 2_419_200_000,
            "status": _STATUS[status], "trigger_status": "na", "trigger_time": 0, "parent_order_index": 0,
            "parent_order_id": "0", "to_trigger_order_id_0": "0", "to_trigger_order_id_1": "0",
            "to_cancel_order_id_0": "0", "integrator_fee_collector_index": "0", "integrator_taker_fee": "0",
            "integrator_maker_fee": "0", "order_flags": 0, "block_height": self.height, "timestamp": now // 1000,
            "created_at": o.created_ms // 1000, "updated_at": now // 1000, "transaction_time": now * 1000,
        }  # fmt: skip

    def position_row(self: Any, acct: Account, book: Any, *, full: bool) -> dict[str, Any]:
        inst = book.inst
        pos = acct.position(inst.symbol)
        mark = self.model.mark_price(book)
        value = abs(pos.qty) * pos.entry
        row = {
            "market_id": inst.market_id, "symbol": inst.symbol, "initial_margin_fraction": "5.00",
            "open_order_count": sum(o.open and o.book is book for o in acct.orders.values()), "pending_order_count": 0,
            "position_tied_order_count": 0, "sign": -1 if pos.qty < 0 else 1,
            "position": inst.size_text(inst.lots_of(abs(pos.qty)) or 0),
            "avg_entry_price": dtext(pos.entry, inst.price_dp),
            "position_value": dtext(value, 6), "unrealized_pnl": f"{float(pos.qty) * (mark - float(pos.entry)):.6f}",
            "realized_pnl": dtext(pos.realized, 6), "liquidation_price": "0", "margin_mode": 0,
        }  # fmt: skip
        if full:
            row.update(margin_set_flag=1, allocated_margin="0.000000")
        else:
            row.update(total_funding_paid_out="0", allocated_margin="0.000000")
        return row

    def private_frame(
        self: Any, kind: str, acct: Account, ftype: str, *, snapshot: bool = False, events: list[OrderEvent] = ()
    ) -> bytes:  # type: ignore[assignment]
        channel = f"{kind}:{acct.account_id}"
        fills = [ev for ev in events if ev.fill is not None]
        trades: dict[str, list[Any]] = {}
        for ev in fills:
            book, f = ev.order.book, ev.fill
            trade = _Print(f.trade_id, ev.ts, f.px, f.lots, ev.order.buy)
            trades.setdefault(str(book.inst.market_id), []).append(self.trade_row(book, trade))
        if kind == "account_all_orders":
            orders: dict[str, list[Any]] = {}
            if snapshot:
                for o in self.exchange.open_orders(acct):
                    orders.setdefault(str(o.book.inst.market_id), []).append(
                        self.order_row(o, o.status, o.filled, o.quote)
                    )
            for ev in events:
                row = self.order_row(ev.order, ev.status, ev.filled, ev.quote)
                orders.setdefault(str(ev.order.book.inst.market_id), []).append(row)
            return encode({"channel": channel, "orders": orders, "type": ftype})
        if kind == "account_all_trades":
            return encode({"channel": channel, "daily_volume": 0, "monthly_volume": 0, "total_volume": 0,
                           "trades": {} if snapshot else trades, "type": ftype, "weekly_volume": 0})  # fmt: skip
        held = [b for b in self.books if acct.position(b.inst.symbol).qty != 0 or not snapshot]
        if kind == "account_all_positions":
            positions = {str(b.inst.market_id): self.position_row(acct, b, full=True) for b in held}
            return encode({"channel": channel, "positions": positions, "shares": [], "type": ftype})
        bal = acct.balances.get(acct.quote)
        positions = {str(b.inst.market_id): self.position_row(acct, b, full=False) for b in held}
        return encode({
            "account": int(acct.account_id), "assets": {"0": {"symbol": "USDC", "asset_id": 0, "balance": dtext(bal, 6),
                                                              "locked_balance": "0.00000000"}},
            "channel": channel, "daily_trades_count": 0, "daily_volume": 0, "weekly_trades_count": 0,
            "weekly_volume": 0, "monthly_trades_count": 0, "monthly_volume": 0, "total_trades_count": 0,
            "total_volume": 0, "funding_histories": {}, "positions": positions, "shares": [], "trades": trades,
            "type": ftype,
        })  # fmt: skip

    def on_account_events(self: Any, acct: Account, events: list[Any]) -> None:
        order_events = [ev for ev in events if isinstance(ev, OrderEvent)]
        if not order_events:
            return
        kinds = ["account_all_orders"]
        if any(ev.fill is not None for ev in order_events):
            kinds += ["account_all", "account_all_positions", "account_all_trades"]
        for kind in kinds:
            name = f"{kind}:{acct.account_id}"
            if self.wanted(name):
                self.publish(name, self.private_frame(kind, acct, f"update/{kind}", events=order_events))

    # --- transactions -------------------------------------------------------------------------

    def account_routes(self: Any) -> list[tuple[str, str, Any]]:
        return [
            ("POST", "/api/v1/sendTx", self.rest(self.post_send_tx)),
            ("GET", "/api/v1/nextNonce", self.rest(self.get_next_nonce)),
        ]

    def process_tx(self: Any, tx_type: Any, tx_info: Any) -> str:
        """Validate a transaction, spend its nonce and schedule it; returns its hash.

        Like the real venue it executes after the reply (``call_soon``): the sender sees
        ``jsonapi/sendtx`` first, then the account updates.
        """
        try:
            info = decode(tx_info) if isinstance(tx_info, (str, bytes)) else tx_info
            account, key = str(int(info["AccountIndex"])), str(int(info["ApiKeyIndex"]))
            nonce = int(info["Nonce"])
            tx_type = int(tx_type)
        except Exception as exc:
            raise TxError(21100, f"invalid tx info: {exc.__class__.__name__}") from None
        if not self._registered(account, key):
            raise TxError(21109, "api key not found")
        expected = self.nonces.get((account, key), 0)
        if nonce != expected:
            raise TxError(21104, f"invalid nonce, expected {expected}")
        if not isinstance(info.get("Sig"), str) or not info["Sig"]:
            raise TxError(21120, "invalid signature")
        book = self.by_id.get(str(info.get("MarketIndex")))
        if book is None:
            raise TxError(21100, "market not found")
        acct = self._account(account)
        try:
            if tx_type == 14:
                kind = "MARKET" if int(info.get("Type", 0)) == 1 else "LIMIT"
                args = {"buy": not bool(info["IsAsk"]), "kind": kind, "lots": int(info["BaseAmount"]),
                        "px": int(info["Price"]), "client_id": str(info.get("ClientOrderIndex", "")),
                        "tif": "IOC" if kind == "MARKET" else _TIF.get(int(info.get("TimeInForce", 1)), "GTC"),
                        "reduce_only": bool(info.get("ReduceOnly", 0))}  # fmt: skip
                if args["lots"] <= 0 or args["px"] <= 0:
                    raise TxError(21700, "BaseAmount and Price must be positive")
                action = lambda: self.exchange.place(acct, book, **args)  # noqa: E731
            elif tx_type == 15:
                index = int(info["Index"])
                action = lambda: self.exchange.cancel(acct, order_id=index)  # noqa: E731
            else:
                raise TxError(21500, f"unsupported tx type {tx_type}")
        except (KeyError, ValueError, TypeError) as exc:
            raise TxError(21100, f"invalid tx info: {exc}") from None
        self.nonces[(account, key)] = expected + 1
        asyncio.get_running_loop().call_soon(self._execute, action)
        return secrets.token_hex(40)

    def _execute(self: Any, action: Any) -> None:
        try:
            action()
        except OrderReject as exc:  # e.g. cancelling an order that already filled: no state change
            log.info("lighter: transaction rejected after acceptance: %s", exc.reason)

    def ws_sendtx(self: Any, conn: Conn, msg: dict[str, Any]) -> None:
        data = msg.get("data") if isinstance(msg.get("data"), dict) else {}
        rid = data.get("id", "")
        try:
            tx_hash = self.process_tx(data.get("tx_type"), data.get("tx_info"))
        except TxError as exc:
            conn.reply(encode({"code": exc.code, "id": rid, "message": exc.message, "type": "jsonapi/sendtx"}))
            return
        conn.reply(encode({"code": 200, "id": rid, "predicted_execution_time_ms": self.now_ms + 1378,
                           "tx_hash": tx_hash, "type": "jsonapi/sendtx"}))  # fmt: skip

    async def post_send_tx(self: Any, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        try:
            tx_hash = self.process_tx(form.get("tx_type"), form.get("tx_info"))
        except TxError as exc:
            return self.bad(exc.code, exc.message)
        return self.json({"code": 200, "message": '{"ratelimit": "didn\'t use volume quota"}', "tx_hash": tx_hash,
                          "predicted_execution_time_ms": self.now_ms + 1378})  # fmt: skip

    async def get_next_nonce(self: Any, request: web.Request) -> web.StreamResponse:
        account, key = request.query.get("account_index", ""), request.query.get("api_key_index", "")
        if not self._registered(account, key):
            return self.bad(21109, "api key not found")
        return self.json({"code": 200, "nonce": self.nonces.get((account, key), 0)})


class _Print:
    __slots__ = ("lots", "px", "taker_buy", "trade_id", "ts")

    def __init__(self, trade_id: int, ts: int, px: int, lots: int, taker_buy: bool) -> None:
        self.trade_id, self.ts, self.px, self.lots, self.taker_buy = trade_id, ts, px, lots, taker_buy
