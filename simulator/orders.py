"""Accounts and the matching engine behind every venue's signed order endpoints.

``Exchange.place`` matches a client order against the simulated book: a taker walks the
opposite side level by level (``MarketModel.take`` removes that liquidity, so the trade shows in
the public depth and trade streams), up to its limit price; what is left of a GTC limit order
rests off-book and fills in full, as maker, once the opposite touch reaches its price; IOC and
market remainders expire; FOK expires unless the book can fill it whole; post-only (GTX) expires
if it would take. Fills move the account's position (average entry, realised PnL) and its quote
balance (fees: taker 5 bp, maker 2 bp); funding settlements pay ``-position × mark × rate``.

Every change is reported to the venue's listener as a list of ``OrderEvent``/``FundingEvent``;
the venue protocol module turns them into its own user-data frames. Each order keeps its fills
(``Order.fills``) for the venues' fill-history endpoints. Sizes and prices are the
instrument's integers (lots, ticks); money is Decimal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from perpwire.simulator.model import Book, MarketModel

TAKER_FEE = Decimal("0.0005")
MAKER_FEE = Decimal("0.0002")
_ZERO = Decimal(0)


class OrderReject(Exception):
    """A request the venue would refuse; ``reason`` is one of the keys venues map to their codes."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason  # precision | quantity | unknown_order | unknown_symbol | side | type
        self.detail = detail


@dataclass(slots=True)
class Position:
    qty: Decimal = _ZERO  # signed base units, + long
    entry: Decimal = _ZERO
    realized: Decimal = _ZERO


@dataclass(slots=True, eq=False)
class Account:
    venue: str
    account_id: str
    quote: str
    balances: dict[str, Decimal]
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)

    def position(self, symbol: str) -> Position:
        return self.positions.setdefault(symbol, Position())


@dataclass(slots=True, eq=False)
class Order:
    order_id: int
    client_id: str
    account: Account
    book: Book
    buy: bool
    kind: str  # LIMIT | MARKET
    tif: str  # GTC | IOC | FOK | GTX
    lots: int
    px: int | None
    created_ms: int
    filled: int = 0
    quote: Decimal = _ZERO  # cumulative filled notional
    status: str = "NEW"  # NEW | PARTIALLY_FILLED | FILLED | CANCELED | EXPIRED
    updated_ms: int = 0
    reduce_only: bool = False
    fills: list[Fill] = field(default_factory=list)  # every fill, oldest first (fill history endpoints)

    @property
    def open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    def avg_price(self) -> Decimal:
        if not self.filled:
            return _ZERO
        return self.quote / self.book.inst.base_qty(self.filled)


@dataclass(frozen=True, slots=True)
class Fill:
    px: int
    lots: int
    maker: bool
    trade_id: int
    fee: Decimal
    realized: Decimal
    ts: int = 0


@dataclass(frozen=True, slots=True)
class OrderEvent:
    kind: str  # NEW | TRADE | CANCELED | EXPIRED (Binance's execution types)
    order: Order
    status: str  # the order status right after this event
    filled: int
    quote: Decimal
    ts: int
    fill: Fill | None = None


@dataclass(frozen=True, slots=True)
class FundingEvent:
    account: Account
    symbol: str
    asset: str
    amount: Decimal  # + received, - paid, in the quote asset
    rate: float
    ts: int


Listener = Callable[[Account, list[OrderEvent | FundingEvent]], None]


class Exchange:
    def __init__(self, model: MarketModel, now_ms: Callable[[], int]) -> None:
        self.model = model
        self.now_ms = now_ms
        self.accounts: dict[tuple[str, str], Account] = {}
        self.listeners: dict[str, Listener] = {}
        self._next_id = 8_886_774_000

    def account(
        self, venue: str, account_id: str, *, quote: str = "USDT", balance: Decimal = Decimal(100_000)
    ) -> Account:
        key = (venue, account_id)
        acct = self.accounts.get(key)
        if acct is None:
            acct = Account(venue, account_id, quote, {quote: balance})
            self.accounts[key] = acct
        return acct

    def _emit(self, acct: Account, events: list[OrderEvent | FundingEvent]) -> None:
        listener = self.listeners.get(acct.venue)
        if listener is not None and events:
            listener(acct, events)

    def _event(self, kind: str, order: Order, fill: Fill | None = None) -> OrderEvent:
        return OrderEvent(kind, order, order.status, order.filled, order.quote, order.updated_ms, fill)

    # --- order entry --------------------------------------------------------------------------

    def place(
        self,
        acct: Account,
        book: Book,
        *,
        buy: bool,
        kind: str,
        lots: int,
        px: int | None,
        tif: str = "GTC",
        client_id: str = "",
        reduce_only: bool = False,
    ) -> Order:
        if lots <= 0:
            raise OrderReject("quantity", "quantity must be positive")
        if kind == "LIMIT" and (px is None or px <= 0):
            raise OrderReject("precision", "a limit order needs a positive price on the tick grid")
        # a market order's px, when given, is its worst acceptable price (Lighter's slippage bound)
        if kind not in ("LIMIT", "MARKET"):
            raise OrderReject("type", kind)
        now = self.now_ms()
        self._next_id += 1
        order = Order(
            self._next_id,
            client_id or f"sim-{self._next_id}",
            acct,
            book,
            buy,
            kind,
            tif,
            lots,
            px,
            now,
            updated_ms=now,
            reduce_only=reduce_only,
        )
        acct.orders[order.order_id] = order
        events: list[OrderEvent | FundingEvent] = [self._event("NEW", order)]
        limit = order.px
        lad = book.ladder
        touch = lad.best_ask() if buy else lad.best_bid()
        crosses = touch is not None and (limit is None or (touch <= limit if buy else touch >= limit))
        if tif == "GTX" and crosses:
            order.status = "EXPIRED"
            events.append(self._event("EXPIRED", order))
            self._emit(acct, events)
            return order
        if tif == "FOK" and self._available(book, buy, limit) < lots:
            order.status = "EXPIRED"
            events.append(self._event("EXPIRED", order))
            self._emit(acct, events)
            return order
        for px_i, n, trade_id in self.model.take(book, buy, lots, limit):
            events.append(self._fill(order, px_i, n, maker=False, trade_id=trade_id))
        if order.filled < order.lots and (kind == "MARKET" or tif in ("IOC", "FOK")):
            order.status = "EXPIRED"
            events.append(self._event("EXPIRED", order))
        self._emit(acct, events)
        return order

    def _available(self, book: Book, buy: bool, limit: int | None) -> int:
        total = 0
        for px, size in book.ladder.top(not buy, None):
            if limit is not None and (px > limit if buy else px < limit):
                break
            total += size
        return total

    def cancel(self, acct: Account, *, order_id: int | None = None, client_id: str | None = None) -> Order:
        order = acct.orders.get(order_id) if order_id is not None else None
        if order is None and client_id is not None:
            order = next((o for o in acct.orders.values() if o.client_id == client_id), None)
        if order is None or not order.open:
            raise OrderReject("unknown_order", "Unknown order sent.")
        order.status = "CANCELED"
        order.updated_ms = self.now_ms()
        self._emit(acct, [self._event("CANCELED", order)])
        return order

    def open_orders(self, acct: Account) -> list[Order]:
        return [o for o in acct.orders.values() if o.open]

    # --- fills --------------------------------------------------------------------------------

    def _fill(self, order: Order, px: int, lots: int, *, maker: bool, trade_id: int | None = None) -> OrderEvent:
        inst = order.book.inst
        price = inst.price_dec(px)
        qty = inst.base_qty(lots)
        notional = price * qty
        fee = notional * (MAKER_FEE if maker else TAKER_FEE)
        acct = order.account
        pos = acct.position(inst.symbol)
        signed = qty if order.buy else -qty
        realized = _ZERO
        if pos.qty == 0 or (pos.qty > 0) == order.buy:
            total = abs(pos.qty) + qty
            pos.entry = (pos.entry * abs(pos.qty) + price * qty) / total
        else:
            closing = min(abs(pos.qty), qty)
            realized = closing * (price - pos.entry) * (1 if pos.qty > 0 else -1)
            if qty > abs(pos.qty):
                pos.entry = price
        pos.qty += signed
        if pos.qty == 0:
            pos.entry = _ZERO
        pos.realized += realized
        acct.balances[acct.quote] = acct.balances.get(acct.quote, _ZERO) + realized - fee
        order.filled += lots
        order.quote += notional
        order.status = "FILLED" if order.filled >= order.lots else "PARTIALLY_FILLED"
        order.updated_ms = self.now_ms()
        if trade_id is None:  # a resting order filled by the market: the print is new
            trade_id = self.model.record_trade(order.book, px, lots, not order.buy).trade_id
        fill = Fill(px, lots, maker, trade_id, fee, realized, order.updated_ms)
        order.fills.append(fill)
        return self._event("TRADE", order, fill)

    def on_tick(self) -> None:
        """Fill resting orders the opposite touch has reached."""
        for acct in self.accounts.values():
            for order in list(acct.orders.values()):
                if not order.open or order.px is None or order.kind != "LIMIT":
                    continue
                lad = order.book.ladder
                touch = lad.best_ask() if order.buy else lad.best_bid()
                if touch is not None and (touch <= order.px if order.buy else touch >= order.px):
                    event = self._fill(order, order.px, order.lots - order.filled, maker=True)
                    self._emit(acct, [event])

    def settle_funding(self, venue: str, asset: str, rate: float, mark: Decimal, ts: int) -> None:
        for (v, _), acct in self.accounts.items():
            if v != venue:
                continue
            for symbol, pos in acct.positions.items():
                book = self.model.books[(venue, asset)]
                if symbol != book.inst.symbol or pos.qty == 0:
                    continue
                amount = (-pos.qty * mark * Decimal(repr(rate))).quantize(Decimal("0.00000001"))
                acct.balances[acct.quote] = acct.balances.get(acct.quote, _ZERO) + amount
                self._emit(acct, [FundingEvent(acct, symbol, asset, amount, rate, ts)])
