"""``FeedConnection``: a ``StreamConnection`` that also hands every market event to user code.

The connection underneath is the one the stream actors run (reconnects with backoff, session
bootstraps, sequenced books with per-symbol repair, the watchdog); this subclass only adds, to its
handler table, the step that turns events into feed items and puts them in the adapter's
``FeedQueue``. Only what the adapter wants reaches the queue (``wants``: venue symbol -> the
feed channels wanted for it), so a venue-wide stream (all-market liquidations or funding) yields
just the wanted symbols. Book items are deferred: the queue holds the symbol's place and the
``BookView`` is cut from the live book when the user takes it, so a book that changes ten times
before it is read is copied once, and what is read is the newest state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from perpwire.actors.app.config import StreamConfig
from perpwire.actors.feeds.channels import FeedChannel
from perpwire.actors.feeds.queues import Deferred, FeedQueue
from perpwire.actors.pacing import TokenBucket, now_ms
from perpwire.actors.streams.connection import StreamConnection
from perpwire.market.book import SyncState
from perpwire.market.events import BBO, BookDelta, BookSnapshot, FundingRate, LazyBookSnapshot, Liquidation, Trade
from perpwire.market.validation import ValidatorSet, Violation

__all__ = ["FeedConnection"]

_SYNCED = SyncState.SYNCED
TradeHook = Callable[[Trade, float], None]


class FeedConnection(StreamConnection):
    """One socket of an adapter. ``queue`` takes the items, ``wants`` is the adapter's (shared by
    all its connections), ``pacer`` paces control frames, ``book_levels`` is the depth of book
    items, ``bbo_from_book`` derives BBO items from the book (venues without a BBO stream) and
    ``on_trade`` receives every wanted trade too (the bars aggregators). With a ``validator``,
    trades, BBOs and liquidations are checked before they are queued: a flagged item is still
    delivered, counted in ``validation_failures`` and handed to ``on_violation``."""

    def __init__(self, config: StreamConfig, queue: FeedQueue, wants: dict[str, set[FeedChannel]], *,
                 pacer: TokenBucket | None = None, book_levels: int = 10, bbo_from_book: bool = False,
                 on_trade: TradeHook | None = None, validator: ValidatorSet | None = None,
                 on_violation: Callable[[tuple[Violation, ...]], None] | None = None, **kwargs: Any) -> None:
        self.queue = queue
        self.validator = validator
        self.on_violation = on_violation
        self.wants = wants
        self.book_levels = book_levels
        self.bbo_from_book = bbo_from_book
        self.on_trade = on_trade
        self._last_top: dict[str, tuple] = {}
        super().__init__(config, **kwargs)
        self._link.pacer = pacer
        if queue.blocks:
            self.read_gate = queue.room

    def _handler_table(self) -> dict[type, Any]:
        table = super()._handler_table()
        table.update({BookDelta: self._feed_book, BookSnapshot: self._feed_book, LazyBookSnapshot: self._feed_book,
                      BBO: self._feed_bbo, FundingRate: self._feed_funding, Trade: self._feed_trade,
                      Liquidation: self._feed_liquidation})
        return table

    # --- events -> items -------------------------------------------------------------------------

    def _feed_book(self, ev: Any, recv_ts: int, now: float) -> None:
        self._on_book(ev, recv_ts, now)
        symbol = ev.symbol
        want = self.wants.get(symbol)
        if not want:
            return
        book = self.books.get(symbol)
        if book is None or book.state is not _SYNCED:
            return
        if FeedChannel.BOOK in want:
            self.queue.put("book", Deferred(self._book_view, symbol), symbol, self.venue, now)
        if self.bbo_from_book and FeedChannel.BBO in want:
            bids, asks = book.top(1)
            if bids and asks:
                top = (bids[0], asks[0])
                if top != self._last_top.get(symbol):
                    self._last_top[symbol] = top
                    (bp, bs), (ap, as_) = top
                    self.queue.put("bbo", BBO(venue=self.venue, symbol=symbol, bid_price=Decimal(bp),
                                              bid_size=Decimal(bs), ask_price=Decimal(ap), ask_size=Decimal(as_),
                                              ts=book.ts, seq=book.seq), symbol, self.venue, now)

    def _book_view(self, symbol: str) -> Any:
        book = self.books.get(symbol)
        return None if book is None else self._view(symbol, book, self.book_levels, now_ms())

    def _feed_bbo(self, ev: BBO, recv_ts: int, now: float) -> None:
        self._on_bbo(ev, recv_ts, now)
        want = self.wants.get(ev.symbol)
        if want and FeedChannel.BBO in want and not self.bbo_from_book:
            if self.validator is not None:
                self._check(ev, "bbo")
            self.queue.put("bbo", ev, ev.symbol, self.venue, now)

    def _feed_funding(self, ev: FundingRate, recv_ts: int, now: float) -> None:
        self._on_funding(ev, recv_ts, now)
        want = self.wants.get(ev.symbol)
        if want and FeedChannel.FUNDING in want:
            self.queue.put("funding", ev, ev.symbol, self.venue, now)

    def _feed_trade(self, ev: Trade, recv_ts: int, now: float) -> None:
        self._seen[ev.symbol] = now
        self.counters["market_events"] += 1
        want = self.wants.get(ev.symbol)
        if not want:
            return
        if self.validator is not None:
            self._check(ev, "trades")
        if FeedChannel.TRADES in want:
            self.queue.put("trades", ev, ev.symbol, self.venue, now)
        if self.on_trade is not None and FeedChannel.BARS in want:
            self.on_trade(ev, now)

    def _feed_liquidation(self, ev: Liquidation, recv_ts: int, now: float) -> None:
        self.counters["market_events"] += 1
        want = self.wants.get(ev.symbol)
        if want and FeedChannel.LIQUIDATIONS in want:
            if self.validator is not None:
                self._check(ev, "liquidations")
            self.queue.put("liquidations", ev, ev.symbol, self.venue, now)

    def _check(self, item: Any, stream: str) -> None:
        found = self.validator.check(item, stream)  # type: ignore[union-attr]
        if found:
            self.counters["validation_failures"] += 1
            self._log_gate.warn(f"{self._ctx}: {found[0].message}")
            if self.on_violation is not None:
                self.on_violation(found)


async def wait_all_connected(conns: list[FeedConnection], timeout: float) -> None:
    await asyncio.gather(*(c.wait_connected(timeout) for c in conns))
