"""The position ledger: hedged pairs, their fills, funding payments and PnL split three ways.

A pair is a long leg and a short leg of one asset on two venues. Its PnL is kept as
``price`` (mark or exit against entry), ``funding`` (payments at each venue's settlement:
a positive rate makes longs pay shorts) and ``fees``; ``total`` is their sum. Pure bookkeeping:
the executor records fills, the coordinator records settlements and marks.

Every change is an event (``Opened``, ``FeesCharged``, ``FundingPaid``, ``Marked``, ``Closed``)
numbered by the ledger's ``seq`` and applied by ``apply``, so replaying a position's events
rebuilds it exactly (``Ledger.replay``). With ``track_changes`` the ledger also keeps the events
it has not handed out yet: ``take_changes`` drains them with copies of the positions they touched,
``requeue`` puts back a batch that could not be saved, ``restore`` loads saved positions and
keeps the id and sequence counters ahead of them. Marks are coalesced (the newest per leg).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

import msgspec

ZERO = Decimal(0)


class LegState(msgspec.Struct, kw_only=True):
    venue: str
    symbol: str
    qty: Decimal  # base units, positive; the leg's side gives the sign
    entry_price: Decimal
    mark_price: Decimal | None = None
    exit_price: Decimal | None = None


class PairPosition(msgspec.Struct, kw_only=True):
    id: str
    asset: str
    long: LegState
    short: LegState
    opened_ms: int
    entry_spread_per_hour: Decimal
    entered_on_z: bool = False
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    payments: int = 0
    closed_ms: int | None = None
    close_reason: str | None = None

    @property
    def notional(self) -> Decimal:
        return self.long.qty * self.long.entry_price

    @property
    def is_open(self) -> bool:
        return self.closed_ms is None

    def price_pnl(self) -> Decimal:
        long_px = self.long.exit_price or self.long.mark_price or self.long.entry_price
        short_px = self.short.exit_price or self.short.mark_price or self.short.entry_price
        return (long_px - self.long.entry_price) * self.long.qty + (self.short.entry_price - short_px) * self.short.qty

    def pnl(self) -> dict[str, Decimal]:
        price = self.price_pnl()
        return {"price": price, "funding": self.funding, "fees": -self.fees, "total": price + self.funding - self.fees}


# --- events -----------------------------------------------------------------------------------


class _Event(msgspec.Struct, kw_only=True, frozen=True, tag_field="kind"):
    seq: int  # the ledger's change number: increasing, unique, gaps allowed (coalesced marks)
    position_id: str


class Opened(_Event, tag="open"):
    position: PairPosition  # as opened, entry fees included


class FeesCharged(_Event, tag="fees"):
    amount: Decimal  # a later fill's fees, added to the position's fees


class FundingPaid(_Event, tag="funding"):
    leg: str  # "long" or "short"
    rate: Decimal  # fraction per interval
    mark: Decimal
    amount: Decimal  # received; negative when paid


class Marked(_Event, tag="mark"):
    leg: str
    price: Decimal


class Closed(_Event, tag="close"):
    long_exit: Decimal
    short_exit: Decimal
    fees: Decimal  # the closing fills' fees
    closed_ms: int
    reason: str


LedgerEvent = Opened | FeesCharged | FundingPaid | Marked | Closed
EVENT_KINDS = ("open", "fees", "funding", "mark", "close")


def event_kind(ev: LedgerEvent) -> str:
    """The event's tag: one of ``EVENT_KINDS``."""
    return type(ev).__struct_config__.tag


class LedgerChanges(msgspec.Struct, kw_only=True):
    """A batch to save: events in ``seq`` order and copies of the positions they touched, as they
    stand once every event is applied."""

    events: list[LedgerEvent]
    positions: list[PairPosition]

    @property
    def durable(self) -> bool:
        """Anything beyond marks (money moved or a position opened or closed)."""
        return any(not isinstance(e, Marked) for e in self.events)

    @property
    def last_seq(self) -> int:
        return max((e.seq for e in self.events), default=0)


class LedgerState(msgspec.Struct, kw_only=True):
    """Saved positions and the counters a restored ledger must stay ahead of."""

    positions: list[PairPosition]
    last_seq: int = 0
    last_id: int = 0  # the highest N of the ids "PN" ever given, closed positions included


_ID = re.compile(r"^P(\d+)$")


def position_number(position_id: str) -> int:
    """N of a ledger id "PN"; 0 for an id the ledger did not make."""
    m = _ID.match(position_id)
    return int(m.group(1)) if m else 0


def copy_position(pos: PairPosition) -> PairPosition:
    """A copy that shares nothing mutable with ``pos`` (Decimals are immutable)."""
    return msgspec.structs.replace(pos, long=msgspec.structs.replace(pos.long),
                                   short=msgspec.structs.replace(pos.short))


class Ledger:
    def __init__(self, *, track_changes: bool = False) -> None:
        self.positions: dict[str, PairPosition] = {}
        self._next = 0
        self.seq = 0
        self.track_changes = track_changes
        self._changes: list[LedgerEvent] = []
        self._marks: dict[tuple[str, str], Marked] = {}

    # --- changes ------------------------------------------------------------------------------

    def _record(self, ev: LedgerEvent) -> None:
        self.apply(ev)
        if not self.track_changes:
            return
        if isinstance(ev, Marked):
            self._marks[(ev.position_id, ev.leg)] = ev
        else:
            self._changes.append(ev)

    def _seq(self) -> int:
        self.seq += 1
        return self.seq

    def apply(self, ev: LedgerEvent) -> None:
        """Apply one event (live or replayed); the state after it depends on nothing else."""
        self.seq = max(self.seq, ev.seq)
        if isinstance(ev, Opened):
            pos = copy_position(ev.position)
            self.positions[pos.id] = pos
            self._next = max(self._next, position_number(pos.id))
            return
        pos = self.positions[ev.position_id]
        if isinstance(ev, Marked):
            _leg(pos, ev.leg).mark_price = ev.price
        elif isinstance(ev, FundingPaid):
            pos.funding += ev.amount
            pos.payments += 1
        elif isinstance(ev, FeesCharged):
            pos.fees += ev.amount
        elif isinstance(ev, Closed):
            pos.long.exit_price = ev.long_exit
            pos.short.exit_price = ev.short_exit
            pos.fees += ev.fees
            pos.closed_ms = ev.closed_ms
            pos.close_reason = ev.reason
        else:  # pragma: no cover - the union is closed
            raise TypeError(f"not a ledger event: {ev!r}")

    @classmethod
    def replay(cls, events: Iterable[LedgerEvent]) -> Ledger:
        """A ledger rebuilt from its events (any order: they are applied by ``seq``)."""
        ledger = cls()
        for ev in sorted(events, key=lambda e: e.seq):
            ledger.apply(ev)
        return ledger

    @property
    def pending_changes(self) -> int:
        """Events other than marks not taken yet."""
        return len(self._changes)

    @property
    def pending_marks(self) -> int:
        return len(self._marks)

    def take_changes(self) -> LedgerChanges | None:
        """Drain every change not taken yet, marks included; None when there is nothing."""
        if not self._changes and not self._marks:
            return None
        events = sorted([*self._changes, *self._marks.values()], key=lambda e: e.seq)
        self._changes, self._marks = [], {}
        touched = dict.fromkeys(e.position_id for e in events)
        return LedgerChanges(events=events,
                             positions=[copy_position(self.positions[pid]) for pid in touched if pid in self.positions])

    def requeue(self, changes: LedgerChanges) -> None:
        """Put back a batch that could not be saved (a newer mark of the same leg wins)."""
        self._changes[:0] = [e for e in changes.events if not isinstance(e, Marked)]
        for e in changes.events:
            if isinstance(e, Marked):
                key = (e.position_id, e.leg)
                if key not in self._marks or self._marks[key].seq < e.seq:
                    self._marks[key] = e

    def restore(self, positions: Iterable[PairPosition], *, last_seq: int = 0, last_id: int = 0) -> int:
        """Take saved positions (copies); ids already held are kept as they are (memory is never
        older than the store). New ids and change numbers continue after the highest seen.
        Returns how many positions were added."""
        added = 0
        for pos in positions:
            self._next = max(self._next, position_number(pos.id))
            if pos.id not in self.positions:
                self.positions[pos.id] = copy_position(pos)
                added += 1
        self._next = max(self._next, last_id)
        self.seq = max(self.seq, last_seq)
        return added

    # --- bookkeeping --------------------------------------------------------------------------

    def open(self, *, asset: str, long: LegState, short: LegState, opened_ms: int, entry_spread_per_hour: Decimal,
             fees: Decimal, entered_on_z: bool = False) -> PairPosition:
        self._next += 1
        pos = PairPosition(id=f"P{self._next}", asset=asset, long=long, short=short, opened_ms=opened_ms,
                           entry_spread_per_hour=entry_spread_per_hour, fees=fees, entered_on_z=entered_on_z)
        self._record(Opened(seq=self._seq(), position_id=pos.id, position=copy_position(pos)))
        return self.positions[pos.id]

    def open_positions(self) -> list[PairPosition]:
        return [p for p in self.positions.values() if p.is_open]

    def legs_on(self, venue: str, symbol: str):
        for pos in self.open_positions():
            for leg, sign in ((pos.long, 1), (pos.short, -1)):
                if leg.venue == venue and leg.symbol == symbol:
                    yield pos, leg, sign

    def settle_funding(self, venue: str, symbol: str, rate: Decimal, mark: Decimal) -> Decimal:
        """A settlement of ``rate`` (fraction per interval) at ``mark``: longs pay, shorts receive."""
        total = ZERO
        for pos, leg, sign in self.legs_on(venue, symbol):
            amount = -sign * rate * leg.qty * mark
            self._record(FundingPaid(seq=self._seq(), position_id=pos.id, leg="long" if sign > 0 else "short",
                                     rate=rate, mark=mark, amount=amount))
            total += amount
        return total

    def mark(self, venue: str, symbol: str, price: Decimal) -> None:
        for pos, leg, sign in self.legs_on(venue, symbol):
            if leg.mark_price != price:
                self._record(Marked(seq=self._seq(), position_id=pos.id, leg="long" if sign > 0 else "short",
                                    price=price))

    def charge_fees(self, position_id: str, fees: Decimal) -> PairPosition:
        """Fees of a fill after the open (an unwind, a top-up)."""
        pos = self.positions[position_id]
        self._record(FeesCharged(seq=self._seq(), position_id=pos.id, amount=fees))
        return pos

    def close(self, position_id: str, *, long_exit: Decimal, short_exit: Decimal, fees: Decimal, closed_ms: int,
              reason: str) -> PairPosition:
        pos = self.positions[position_id]
        self._record(Closed(seq=self._seq(), position_id=pos.id, long_exit=long_exit, short_exit=short_exit,
                            fees=fees, closed_ms=closed_ms, reason=reason))
        return pos

    def summary(self) -> dict[str, Decimal | int]:
        pnl = {"price": ZERO, "funding": ZERO, "fees": ZERO, "total": ZERO}
        for pos in self.positions.values():
            for k, v in pos.pnl().items():
                pnl[k] += v
        closed = sum(1 for p in self.positions.values() if not p.is_open)
        return {"opened": len(self.positions), "closed": closed, "open": len(self.positions) - closed,
                "payments": sum(p.payments for p in self.positions.values()), **pnl}


# --- intents ----------------------------------------------------------------------------------
# An intent is written down before any of its orders leaves, so that after a crash the orders can
# be looked up at the venue by their client ids and the ledger completed from what really filled.

INTENT_STATES = ("open", "done", "aborted", "failed")  # open: orders may be out there, not yet settled
ORDER_FINAL = ("filled", "partially_filled", "canceled", "expired", "rejected", "missing")


class IntentOrder(msgspec.Struct, frozen=True, kw_only=True):
    """One order of an intent. ``client_id`` is ours, derived from the intent; ``status`` is
    ``pending`` until the venue answered, then an ``OrderStatus`` value or ``missing`` (the venue
    never saw it)."""

    client_id: str
    role: str  # long | short | unwind | repair
    venue: str
    symbol: str
    side: str  # buy | sell
    size: Decimal
    reduce_only: bool = False
    limit_price: Decimal | None = None
    status: str = "pending"
    filled: Decimal = ZERO
    avg_price: Decimal | None = None
    fee: Decimal = ZERO

    @property
    def settled(self) -> bool:
        """The venue's final word is known: nothing more will fill."""
        return self.status in ORDER_FINAL

    @property
    def signed_fill(self) -> Decimal:
        return self.filled if self.side == "buy" else -self.filled


class IntentLeg(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    symbol: str


class Intent(msgspec.Struct, frozen=True, kw_only=True):
    """An open, a close or a repair, as journaled: what was meant and every order sent for it.
    ``state`` is ``open`` until the result is in the ledger (``done``), nothing came of it
    (``aborted``) or it could not be completed and was reported (``failed``)."""

    id: str
    action: str  # open | close | repair
    asset: str
    long: IntentLeg
    short: IntentLeg
    size: Decimal
    created_ms: int
    orders: tuple[IntentOrder, ...] = ()
    state: str = "open"
    position_id: str | None = None
    entry_spread_per_hour: Decimal = ZERO
    entered_on_z: bool = False
    close_reason: str | None = None
    note: str = ""
    rev: int = 0  # bumped on every save: an older copy never replaces a newer one

    def client_id(self, n: int) -> str:
        """The deterministic client order id of this intent's ``n``-th order."""
        return intent_client_id(self.id, n)

    def with_order(self, order: IntentOrder) -> Intent:
        return msgspec.structs.replace(self, orders=(*self.orders, order))

    def with_result(self, client_id: str, **fields) -> Intent:
        orders = tuple(msgspec.structs.replace(o, **fields) if o.client_id == client_id else o for o in self.orders)
        return msgspec.structs.replace(self, orders=orders)

    def filled(self, role: str) -> Decimal:
        """Signed base units filled by the orders of ``role`` and of every unwind on its leg."""
        leg = self.long if role == "long" else self.short
        return sum((o.signed_fill for o in self.orders if (o.venue, o.symbol) == (leg.venue, leg.symbol)), ZERO)

    def fees(self) -> Decimal:
        return sum((o.fee for o in self.orders), ZERO)

    def avg_price(self, role: str, side: str) -> Decimal | None:
        """Average price of the ``side`` fills on the ``role`` leg (its entry or exit price)."""
        leg = self.long if role == "long" else self.short
        rows = [o for o in self.orders if (o.venue, o.symbol) == (leg.venue, leg.symbol) and o.side == side
                and o.filled and o.avg_price is not None]
        qty = sum((o.filled for o in rows), ZERO)
        return sum((o.filled * o.avg_price for o in rows), ZERO) / qty if qty else None


class PaperFill(msgspec.Struct, frozen=True, kw_only=True):
    """What one paper order did, kept in the store under its client id: the paper venue's record."""

    client_id: str
    venue: str
    symbol: str
    side: str  # buy | sell
    status: str  # an OrderStatus value
    requested: Decimal
    filled: Decimal
    avg_price: Decimal | None
    fee: Decimal
    reduce_only: bool = False


def intent_client_id(intent_id: str, n: int) -> str:
    """``pw-<intent id>-<n>``: unique as long as intent ids are, at most 36 characters of
    ``[A-Za-z0-9-]`` (what Binance-style venues accept as ``newClientOrderId``)."""
    cid = f"pw-{intent_id}-{n}"
    if len(cid) > 36:
        raise ValueError(f"client order id {cid!r} longer than 36 characters")
    return cid


def _leg(pos: PairPosition, name: str) -> LegState:
    if name == "long":
        return pos.long
    if name == "short":
        return pos.short
    raise ValueError(f"a leg is 'long' or 'short', not {name!r}")
