"""Hyperliquid user channels (``orderUpdates``, ``userFills``, ``userFundings``, ``user``) to events.

User subscriptions name an address and need no signature. Two things need care here:

* Streaming user feeds open with ``isSnapshot: true`` — recent history the caller may already
  have processed, and resent after every reconnect. ``SnapshotFilter`` drops snapshot rows this
  codec has already emitted (fills by trade and order id, fundings by coin and time), so a
  resubscribe never books a fill or a payment twice; live rows always pass.
* A fill that is part of a liquidation carries ``liquidation`` (older frames:
  ``liquidationMarkPx``). It becomes a ``Fill`` with ``liquidation=True`` and also a
  ``Liquidation`` whose side is the side of the liquidated account's order: ours when we are the
  liquidated user, the opposite one when we were the counterparty.

Order statuses are an open-ended list: any ``...Canceled``/``...Cancel`` status is terminal
CANCELED and any ``...Rejected`` is REJECTED; other unknown statuses return None (the codec counts
them) rather than guessing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable
from decimal import Decimal

from perpwire.market.events import Event, Fill, FundingPayment, Liquidation, OrderStatus, OrderUpdate, Side
from perpwire.venues.base import CodecStats
from perpwire.venues.hyperliquid.schemas import (
    HyperliquidFill,
    HyperliquidOrderUpdatesMsg,
    HyperliquidUserEventsMsg,
    HyperliquidUserFillsMsg,
    HyperliquidUserFunding,
    HyperliquidUserFundingsMsg,
    HyperliquidWsOrder,
)

SIDES = {"B": Side.BUY, "A": Side.SELL}
_OPPOSITE = {Side.BUY: Side.SELL, Side.SELL: Side.BUY}
_STATUSES = {"open": OrderStatus.NEW, "filled": OrderStatus.FILLED, "triggered": OrderStatus.TRIGGERED}


def order_status(status: str, remaining: Decimal, original: Decimal) -> OrderStatus | None:
    """Normalised status, or None for a status we do not know how to read."""
    known = _STATUSES.get(status)
    if known is OrderStatus.NEW and remaining < original:
        return OrderStatus.PARTIALLY_FILLED
    if known is not None:
        return known
    low = status.lower()
    if low.endswith("rejected"):
        return OrderStatus.REJECTED
    if low.endswith(("canceled", "cancel")):
        return OrderStatus.CANCELED
    return None


def order_update(venue: str, msg: HyperliquidWsOrder) -> OrderUpdate | None:
    o = msg.order
    remaining = Decimal(o.sz)
    original = Decimal(o.origSz)
    status = order_status(msg.status, remaining, original)
    if status is None:
        return None
    return OrderUpdate(
        venue=venue, symbol=o.coin, order_id=str(o.oid), client_order_id=o.cloid, side=SIDES[o.side],
        status=status, price=Decimal(o.limitPx), size=original, filled=original - remaining,
        ts=msg.statusTimestamp,
    )


def fill_events(venue: str, f: HyperliquidFill, me: str | None) -> list[Event]:
    """A ``Fill``, plus a ``Liquidation`` when the fill is part of one.

    ``me`` is the subscribed address (lower case) when known: it tells whether we were the
    liquidated account or its counterparty. A ``liquidation`` without ``liquidatedUser``, or an
    old-style ``liquidationMarkPx``, is read as our own liquidation.
    """
    side = SIDES[f.side]
    price = Decimal(f.px)
    size = Decimal(f.sz)
    liq = f.liquidation
    liquidated = liq is not None or f.liquidationMarkPx is not None
    fill = Fill(
        venue=venue, symbol=f.coin, order_id=str(f.oid), side=side, price=price, size=size,
        fee=Decimal(f.fee), fee_asset=f.feeToken, trade_id=str(f.tid), client_order_id=f.cloid,
        liquidation=liquidated, maker=not f.crossed, ts=f.time,
    )
    if not liquidated:
        return [fill]
    ours = liq is None or liq.liquidatedUser is None or (me is not None and liq.liquidatedUser.lower() == me)
    liq_side = side if ours else _OPPOSITE[side]
    return [fill, Liquidation(venue=venue, symbol=f.coin, side=liq_side, price=price, size=size, ts=f.time)]


def funding_payment(venue: str, f: HyperliquidUserFunding) -> FundingPayment:
    return FundingPayment(venue=venue, symbol=f.coin, amount=Decimal(f.usdc), rate=Decimal(f.fundingRate), ts=f.time)


class SnapshotFilter:
    """Remembers the newest ``capacity`` user rows emitted, to drop them from later snapshots."""

    __slots__ = ("_order", "_seen")

    def __init__(self, capacity: int = 20_000):
        self._seen: set[Hashable] = set()
        self._order: deque[Hashable] = deque(maxlen=capacity)

    def _remember(self, key: Hashable) -> None:
        if key in self._seen:
            return
        if len(self._order) == self._order.maxlen:
            self._seen.discard(self._order[0])
        self._order.append(key)
        self._seen.add(key)

    def fills(self, fills: Iterable[HyperliquidFill], snapshot: bool) -> list[HyperliquidFill]:
        out = []
        for f in fills:
            key = ("fill", f.tid, f.oid)
            if snapshot and key in self._seen:
                continue
            self._remember(key)
            out.append(f)
        return out

    def fundings(self, fundings: Iterable[HyperliquidUserFunding], snapshot: bool) -> list[HyperliquidUserFunding]:
        out = []
        for f in fundings:
            key = ("funding", f.coin, f.time)
            if snapshot and key in self._seen:
                continue
            self._remember(key)
            out.append(f)
        return out


class AccountFeed:
    """User-channel frames to events for one codec: the subscribed ``user`` and the snapshot filter.

    Unknown order statuses and user events with nothing to build an event from (``user``
    ``liquidation`` and ``nonUserCancel`` carry no coin, side or size) are counted in
    ``stats.unknown``.
    """

    def __init__(self, venue: str, user: str | None, stats: CodecStats):
        self.venue = venue
        self.user = user.lower() if user else None
        self.stats = stats
        self.snapshots = SnapshotFilter()

    def orders(self, msg: HyperliquidOrderUpdatesMsg) -> list[Event]:
        out: list[Event] = []
        for o in msg.data:
            update = order_update(self.venue, o)
            if update is None:
                self.stats.unknown[f"orderUpdates:{o.status}"] += 1
            else:
                out.append(update)
        return out

    def user_fills(self, msg: HyperliquidUserFillsMsg) -> list[Event]:
        d = msg.data
        me = d.user.lower() if d.user else self.user
        fills = self.snapshots.fills(d.fills, d.isSnapshot)
        return [e for f in fills for e in fill_events(self.venue, f, me)]

    def user_fundings(self, msg: HyperliquidUserFundingsMsg) -> list[Event]:
        d = msg.data
        return [funding_payment(self.venue, f) for f in self.snapshots.fundings(d.fundings, d.isSnapshot)]

    def user_events(self, msg: HyperliquidUserEventsMsg) -> list[Event]:
        d = msg.data
        if d.fills is not None:
            return [e for f in self.snapshots.fills(d.fills, False) for e in fill_events(self.venue, f, self.user)]
        if d.funding is not None:
            return [funding_payment(self.venue, f) for f in self.snapshots.fundings([d.funding], False)]
        kind = "user:liquidation" if d.liquidation is not None else "user:other"
        self.stats.unknown[kind] += 1
        return []
