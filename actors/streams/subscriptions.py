"""Which streams a connection wants, and where each one stands with the venue.

States per subscription: ``pending`` (sent, no ack yet), ``confirmed`` (acked or data seen),
``pending_unsubscribe`` (unsubscribe sent). ``wanted`` is what must be live after any reconnect:
on a new socket every wanted subscription goes back to pending and is sent again, so a
reconnect restores exactly the wanted set — no more (paused channels stay paused), no less.
``paused`` holds market-data subscriptions taken down by ``pause`` to be restored by ``resume``.

A venue's refusal (``VenueRejected``) is counted and logged by the connection, not kept here: the
subscription stays wanted and is sent again on the next socket.
"""

from __future__ import annotations

from collections.abc import Iterable

from perpwire.actors.streams.answers import SubscriptionState
from perpwire.venues.base import Subscription


class SubscriptionTracker:
    """The wanted set and each subscription's standing. Every method returns what the caller must
    send (sorted), or nothing; sending is the caller's, so the tracker is plain state."""

    def __init__(self) -> None:
        self.wanted: set[Subscription] = set()
        self.paused: set[Subscription] = set()
        self.pending: set[Subscription] = set()
        self.confirmed: set[Subscription] = set()
        self.pending_unsubscribe: set[Subscription] = set()

    def want(self, subs: Iterable[Subscription]) -> list[Subscription]:
        """Add to the wanted set; returns the ones that must be sent now."""
        new = [s for s in subs if s not in self.wanted]
        for s in new:
            self.wanted.add(s)
            self.paused.discard(s)
            self.pending.add(s)
            self.pending_unsubscribe.discard(s)
        return sorted(new)

    def drop(self, subs: Iterable[Subscription], *, pause: bool = False) -> list[Subscription]:
        """Remove from the wanted set (into ``paused`` when pausing); returns the ones to unsubscribe."""
        gone = [s for s in subs if s in self.wanted]
        for s in gone:
            self.wanted.discard(s)
            self.pending.discard(s)
            self.confirmed.discard(s)
            self.pending_unsubscribe.add(s)
            if pause:
                self.paused.add(s)
        return sorted(gone)

    def restore(self, wanted: Iterable[Subscription], paused: Iterable[Subscription]) -> None:
        """Start over from a saved state (nothing sent yet): exactly ``wanted`` pending, ``paused`` kept."""
        self.wanted, self.paused = set(), set()
        self.pending, self.confirmed, self.pending_unsubscribe = set(), set(), set()
        self.want(wanted)
        self.paused.update(paused)

    def on_reconnect(self) -> list[Subscription]:
        """A new socket knows nothing: everything wanted is pending again and must be sent."""
        self.pending = set(self.wanted)
        self.confirmed.clear()
        self.pending_unsubscribe.clear()
        return sorted(self.wanted)

    def confirm(self, subs: Iterable[Subscription]) -> None:
        for s in subs:
            if s in self.wanted:
                self.pending.discard(s)
                self.confirmed.add(s)

    def confirm_unsubscribed(self, subs: Iterable[Subscription]) -> None:
        for s in subs:
            self.pending_unsubscribe.discard(s)

    def snapshot(self) -> SubscriptionState:
        return SubscriptionState(
            wanted=tuple(sorted(self.wanted)), paused=tuple(sorted(self.paused)), pending=tuple(sorted(self.pending)),
            confirmed=tuple(sorted(self.confirmed)), pending_unsubscribe=tuple(sorted(self.pending_unsubscribe)))
