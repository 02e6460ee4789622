"""The funding desk: what the coordinator knows, as a pure object.

It ingests conflated funding batches (ordered by exchange time; stale and duplicate rates are
dropped by ``market.stats``), keeps z-scores current, re-ranks the asset of a rate whose trigger
is immediate (|z| > 2, a crossing of ±2/±3, a change above 10 %) and the rest every batch
period, books funding settlements on open positions when a venue's next funding time rolls
over, marks positions to the mark price, and builds the ``PositionView`` each strategy sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from perpwire.market.events import FundingRate
from perpwire.market.ledger import Ledger, PairPosition
from perpwire.market.stats import IMMEDIATE, REJECTED, FundingStats, Trigger, WindowStats
from perpwire.strategies.base import Leg, PositionView
from perpwire.strategies.scanner import FundingScanner, Opportunity

_REJECTED, _IMMEDIATE, _NEW = int(REJECTED), int(IMMEDIATE), int(Trigger.NEW)


def _by_ts(ev: FundingRate) -> int:
    return ev.ts


class FundingDesk:
    def __init__(self, *, taker_fees: Mapping[str, Decimal], holding_hours: Decimal | int = 24,
                 markets: Mapping[str, Mapping[str, str]] | None = None, ledger: Ledger | None = None,
                 stats: FundingStats | None = None):
        self.stats = stats or FundingStats()
        self.scanner = FundingScanner(taker_fees, holding_hours=holding_hours, markets=markets)
        self.ledger = ledger or Ledger()
        self.latest: dict[tuple[str, str], FundingRate] = {}
        self.received_ms: dict[tuple[str, str], int] = {}  # when each latest rate was taken (local clock)
        self.last_urgent: list[FundingRate] = []  # the rates of the last batch that were handled at once
        self.settlements = 0
        self.ingested = 0
        self.immediate = 0

    def load(self, windows: Iterable[WindowStats]) -> int:
        return self.stats.load(windows)

    def ingest(self, batch: Iterable[FundingRate], now_ms: int) -> bool:
        """Take a batch; True when something immediate happened (strategies should decide now).

        Every rate is taken in exchange-time order; the scanner then re-ranks each asset touched
        (immediate and first-seen rates, and the batch period's others when it is due) once, at
        the end: nothing reads the ranking in between, so the result is the same as ranking after
        every rate, at a seventh of the cost with seven venues quoting an asset.
        """
        self.last_urgent = urgent = []
        stats = self.stats
        update = stats.update_bits
        latest = self.latest
        received = self.received_ms
        mark = self.ledger.mark
        changed: dict[tuple[str, str], object] = {}
        ingested = 0
        for ev in sorted(batch, key=_by_ts):
            bits = update(ev, now_ms)
            if bits & _REJECTED:
                continue
            ingested += 1
            key = (ev.venue, ev.symbol)
            prev = latest.get(key)
            latest[key] = ev
            received[key] = now_ms
            if prev is not None and prev.next_funding_ts is not None:
                self._settle(prev, ev, now_ms)
            if ev.mark_price is not None:
                mark(ev.venue, ev.symbol, ev.mark_price)
            if bits & _IMMEDIATE:
                urgent.append(ev)
                changed[key] = None
            elif bits & _NEW:  # a first sighting joins the ranking now: an urgent rate elsewhere needs its pair
                changed[key] = None
        self.ingested += ingested
        self.immediate += len(urgent)
        quotes = [stats[k] for k in changed]
        quotes.extend(s for s in stats.take_batch(now_ms) if (s.venue, s.symbol) not in changed)
        if quotes:
            self.scanner.update_many(quotes)
        return bool(urgent)

    def _settle(self, prev: FundingRate | None, ev: FundingRate, now_ms: int) -> None:
        """The next funding time moved on: the previous estimate was settled at that time."""
        if prev is None or prev.next_funding_ts is None or ev.next_funding_ts is None:
            return
        # the venue's clock decides; a venue that sends no time (Lighter market_stats) only moves
        # its next funding time on after settling, so the move is the evidence
        settled = ev.ts >= prev.next_funding_ts if ev.ts else True
        if ev.next_funding_ts > prev.next_funding_ts and settled:
            mark = prev.mark_price or ev.mark_price
            if mark is not None and any(True for _ in self.ledger.legs_on(ev.venue, ev.symbol)):
                self.ledger.settle_funding(ev.venue, ev.symbol, prev.rate, mark)
                self.settlements += 1

    def opportunities(self, top: int | None = 20, min_net_per_hour: Decimal | None = None) -> list[Opportunity]:
        return self.scanner.ranked(top=top, min_net_per_hour=min_net_per_hour)

    def _rate(self, leg: Leg) -> tuple[Decimal | None, float | None, int | None]:
        s = self.stats.get(leg.venue, leg.symbol)
        if s is None:
            return None, None, None
        return s.rate_per_hour, s.z, s.next_funding_ts

    def view(self, pos: PairPosition) -> PositionView:
        long, short = Leg(venue=pos.long.venue, symbol=pos.long.symbol), Leg(venue=pos.short.venue,
                                                                               symbol=pos.short.symbol)
        lr, lz, ln = self._rate(long)
        sr, sz, sn = self._rate(short)
        spread = None if lr is None or sr is None else sr - lr
        nexts = [t for t in (ln, sn) if t is not None]
        notional = pos.notional
        return PositionView(
            id=pos.id, asset=pos.asset, long=long, short=short, notional=notional, opened_ms=pos.opened_ms,
            entry_spread_per_hour=pos.entry_spread_per_hour, current_spread_per_hour=spread, long_z=lz, short_z=sz,
            price_pnl_fraction=pos.price_pnl() / notional if notional else Decimal(0), funding_pnl=pos.funding,
            next_funding_ts=min(nexts) if nexts else None, entered_on_z=pos.entered_on_z,
        )

    def position_views(self) -> list[PositionView]:
        return [self.view(p) for p in self.ledger.open_positions()]
