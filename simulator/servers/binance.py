"""Binance USD-M futures: Aster's protocol plus Binance's 2026 routed paths and field drift.

WebSocket paths are routed: ``/public/ws|stream`` carries ``bookTicker``/``depth`` streams,
``/market/ws|stream`` everything else (mark price, liquidations, trades), ``/private/ws|stream
?listenKey=<k>&events=A/B`` user data filtered by event type. A stream subscribed on the wrong
path is acknowledged and never delivered — the silent failure the 2026 notice warns about; the
legacy ``/ws`` and ``/stream`` behave as ``/public``. Payloads carry the post-migration fields
(``ps``/``st`` on book ticker, depth and liquidations, ``ap``/``st`` on mark price, ``nq`` on
aggTrade), ``PUT listenKey`` returns the key, ``listenKeyExpired`` names the key with a string
``E``, and user events use the 2026 field set. Pings every 3 minutes, 10 minutes to answer.
"""

from __future__ import annotations

from typing import Any, ClassVar

from aiohttp import web

from perpwire.simulator.hub import Conn, Heartbeat
from perpwire.simulator.model import Book
from perpwire.simulator.servers.aster import AsterServer
from perpwire.simulator.servers.aster_rest import BinanceRestMixin
from perpwire.simulator.servers.aster_user import ListenKey

_PUBLIC_MARKERS = ("@bookTicker", "@depth", "@rpiDepth")


def route_of(stream: str) -> str:
    if stream == "!bookTicker" or any(m in stream for m in _PUBLIC_MARKERS):
        return "public"
    return "market"


class BinanceServer(AsterServer):
    name = "binance"
    heartbeat: ClassVar[Heartbeat] = Heartbeat(ping_s=180.0, pong_timeout_s=600.0)
    max_streams = 1024
    api_prefixes: ClassVar[tuple[str, ...]] = ("/fapi/v1",)
    put_listen_key_returns_key = True

    def routes(self) -> list[tuple[str, str, Any]]:
        out: list[tuple[str, str, Any]] = []
        for route in ("public", "market"):
            out += [
                ("WS", f"/{route}/ws", self._routed(route, combined=False)),
                ("WS", f"/{route}/ws/{{path:.+}}", self._routed(route, combined=False)),
                ("WS", f"/{route}/stream", self._routed(route, combined=True)),
            ]
        out += [
            ("WS", "/ws", self._routed("public", combined=False)),
            ("WS", "/ws/{path:.+}", self._routed("public", combined=False)),
            ("WS", "/stream", self._routed("public", combined=True)),
            ("WS", "/private/ws", self._private(combined=False)),
            ("WS", "/private/stream", self._private(combined=True)),
            *self.rest_routes(),
            *self.user_routes(),
        ]
        return out

    def _routed(self, route: str, *, combined: bool) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            if combined:
                names = [p for p in request.query.get("streams", "").split("/") if p]
            else:
                names = [p for p in request.match_info.get("path", "").split("/") if p]

            def opened(conn: Conn) -> None:
                conn.state.update(combined=combined, route=route)
                for name in names[: self.max_streams]:
                    self.add_sub(conn, name)

            return await self.serve_ws(request, self.on_text, on_open=opened)

        return handler

    def _private(self, *, combined: bool) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            key = request.query.get("listenKey", "")
            events = request.query.get("events")
            wanted = {e for e in events.split("/") if e} | {"listenKeyExpired"} if events else None
            return await self.ws_user(request, key, combined=combined, events=wanted)

        return handler

    def add_sub(self, conn: Conn, stream: str) -> bool:
        if stream in conn.subs:
            return False
        conn.subs.add(stream)
        if conn.state.get("route", "public") == route_of(stream):  # else: acknowledged, never delivered
            self.subs.setdefault(stream, set()).add(conn)
        return True

    # --- 2026 payload drift -------------------------------------------------------------------

    def extra_depth(self, book: Book) -> dict[str, Any]:
        return {"ps": book.inst.symbol, "st": 1}

    def book_ticker(self, book: Book, bbo: tuple[int, int, int, int], now: int) -> dict[str, Any]:
        out = super().book_ticker(book, bbo, now)
        out.update(ps=book.inst.symbol, st=1)
        return out

    def ticker(self, book: Book, now: int) -> dict[str, Any]:
        out = super().ticker(book, now)
        out.update(ps=book.inst.symbol, st=1)
        return out

    def mini_ticker(self, book: Book, now: int) -> dict[str, Any]:
        out = super().mini_ticker(book, now)
        out.update(ps=book.inst.symbol, st=1)
        return out

    def agg_trade(self, book: Book, t: Any, now: int) -> dict[str, Any]:
        out = super().agg_trade(book, t, now)
        return {**{k: out[k] for k in ("e", "E", "a", "s", "p", "q")}, "nq": out["q"],
                **{k: out[k] for k in ("f", "l", "T", "m")}}  # fmt: skip

    def force_order(self, book: Book, liq: Any, now: int) -> dict[str, Any]:
        out = super().force_order(book, liq, now)
        out.update(ps=book.inst.symbol, st=1)
        return out

    def mark_price(self, book: Book, now: int) -> dict[str, Any]:
        out = super().mark_price(book, now)
        t = out.pop("T")
        out.update(ap=out["p"], T=t, st=1)
        return out

    def symbol_info(self, book: Book) -> dict[str, Any]:
        return BinanceRestMixin.symbol_info(self, book)  # without Aster's own fields

    def funding_row(self, book: Book, ts: int, rate: float) -> dict[str, Any]:
        row = super().funding_row(book, ts, rate)
        row["markPrice"] = self.mark_text(book)
        return row

    def funding_info_row(self, book: Book) -> dict[str, Any]:
        return {
            "symbol": book.inst.symbol,
            "adjustedFundingRateCap": "0.02000000",
            "adjustedFundingRateFloor": "-0.02000000",
            "fundingIntervalHours": book.inst.interval_h,
            "disclaimer": False,
        }

    def listen_key_expired(self, lk: ListenKey) -> dict[str, Any]:
        return {"e": "listenKeyExpired", "E": str(self.now_ms), "listenKey": lk.key}

    def order_trade_update(self, ev: Any) -> dict[str, Any]:
        o = self.order_fields(ev)
        del o["AP"], o["cr"]
        o.update(pP=False, si=0, ss=0, V="EXPIRE_MAKER", pm="NONE", gtd=0, er="0")
        return {"e": "ORDER_TRADE_UPDATE", "T": ev.ts, "E": self.now_ms, "o": o}

    def position_row(self, acct: Any, symbol: str) -> dict[str, Any]:
        row = super().position_row(acct, symbol)
        row["ma"] = acct.quote
        return row

    def account_update(self, acct: Any, reason: str, symbol: str | None) -> dict[str, Any]:
        out = super().account_update(acct, reason, symbol)
        data = out["a"]
        data["m"] = data.pop("m")  # Binance puts the reason last
        return {"e": "ACCOUNT_UPDATE", "T": out["T"], "E": out["E"], "a": data}
