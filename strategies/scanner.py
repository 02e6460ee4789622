"""Cross-venue funding opportunity scanner: match contracts by asset, rank spreads net of fees.

For every canonical asset (``market.funding.asset``; the caller supplies the venue market tables
that symbols like Lighter's market indices need) the scanner picks the cross-venue pair with the
best expected funding income per hour: short the contract paying the higher rate, long the one
paying the lower, net of taker fees to open and close both legs amortised over the expected
holding period. Figures are exact ``Decimal`` fractions of notional per hour. Two paths keep it
cheap: ``rescan`` rebuilds everything from the current quotes (1,260 contracts in 2–3 ms),
``update`` re-evaluates only the asset of one changed quote (about 20 µs). A quote is anything
with ``venue``, ``symbol``, ``rate_per_hour``, ``z`` and ``next_funding_ts`` — a
``market.stats.SymbolStats`` or a ``Quote``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Protocol

import msgspec

from perpwire.market.funding import annualise, asset

_TWO = Decimal(2)
_ZERO = Decimal(0)


class QuoteLike(Protocol):
    venue: str
    symbol: str
    rate_per_hour: Decimal | None  # fraction per hour; None before the first rate
    next_funding_ts: int | None

    @property
    def z(self) -> float | None: ...


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """A funding rate as the scanner needs it, for callers without ``market.stats``."""

    venue: str
    symbol: str
    rate_per_hour: Decimal
    z: float | None = None
    next_funding_ts: int | None = None


class Opportunity(msgspec.Struct, frozen=True, kw_only=True):
    """The best cross-venue pair for one asset. Rates are fractions of notional per hour.

    ``spread_per_hour`` = short rate − long rate (what funding pays the pair); ``fees_per_hour``
    is the round-trip taker fees of both legs spread over the holding period; ``net_per_hour``
    = spread − fees, and ``annualised`` is the simple yearly figure of the net.
    """

    asset: str
    long_venue: str
    long_symbol: str
    short_venue: str
    short_symbol: str
    long_rate_per_hour: Decimal
    short_rate_per_hour: Decimal
    spread_per_hour: Decimal
    fees_per_hour: Decimal
    net_per_hour: Decimal
    annualised: Decimal
    long_z: float | None = None
    short_z: float | None = None
    long_next_funding_ts: int | None = None
    short_next_funding_ts: int | None = None


class FundingScanner:
    """Ranks cross-venue funding spreads per asset.

    ``taker_fees`` maps venue → taker fee as a fraction of notional (``Decimal("0.0005")``);
    a quote from a venue without a fee is left out and its venue listed in ``unpriced``
    (unless ``default_taker_fee`` is given). ``holding_hours`` is the expected holding period
    the four taker fills are amortised over. ``markets`` maps venue → its market table for
    ``market.funding.asset`` (Lighter: index → name); ``assets`` overrides the asset of a
    (venue, symbol). Symbols whose asset cannot be told are listed in ``unmapped``.
    """

    def __init__(
        self,
        taker_fees: Mapping[str, Decimal],
        *,
        holding_hours: Decimal | int = 24,
        default_taker_fee: Decimal | None = None,
        markets: Mapping[str, Mapping[str, str]] | None = None,
        assets: Mapping[tuple[str, str], str] | None = None,
    ):
        if Decimal(holding_hours) <= 0:
            raise ValueError(f"holding_hours must be positive, got {holding_hours}")
        self.holding_hours = Decimal(holding_hours)
        self.default_taker_fee = default_taker_fee
        self._cost: dict[str, Decimal] = {v: self._amortised(f) for v, f in taker_fees.items()}
        self._markets = {v: dict(m) for v, m in (markets or {}).items()}
        self._asset_of: dict[tuple[str, str], str | None] = dict(assets or {})
        self._legs: dict[str, dict[tuple[str, str], QuoteLike]] = {}
        self._best: dict[str, Opportunity] = {}
        self.unmapped: set[tuple[str, str]] = set()
        self.unpriced: set[str] = set()

    def _amortised(self, fee: Decimal) -> Decimal:
        # open and close each leg once, both as taker
        return _TWO * Decimal(fee) / self.holding_hours

    def cost_per_hour(self, venue: str) -> Decimal | None:
        """One leg's round-trip taker fees per hour of holding on ``venue`` (None: no fee known)."""
        cost = self._cost.get(venue)
        if cost is None and self.default_taker_fee is not None:
            cost = self._cost[venue] = self._amortised(self.default_taker_fee)
        return cost

    def asset_of(self, venue: str, symbol: str) -> str | None:
        """Canonical asset of a venue symbol (cached), or None when it cannot be told."""
        key = (venue, symbol)
        try:
            return self._asset_of[key]
        except KeyError:
            pass
        try:
            found: str | None = asset(symbol, self._markets.get(venue))
        except KeyError:
            found = None
            self.unmapped.add(key)
        self._asset_of[key] = found
        return found

    # --- building -----------------------------------------------------------------------------

    def rescan(self, quotes: Iterable[QuoteLike]) -> list[Opportunity]:
        """Forget everything, take ``quotes`` as the whole market and return the ranking."""
        self._legs = {}
        self._best = {}
        legs = self._legs
        known = self._asset_of
        for q in quotes:
            if q.rate_per_hour is None:
                continue
            key = (q.venue, q.symbol)
            name = known[key] if key in known else self.asset_of(*key)
            if name is None:
                continue
            group = legs.get(name)
            if group is None:
                group = legs[name] = {}
            group[key] = q
        for name, group in legs.items():
            if len(group) > 1:
                opp = self._evaluate(name, group)
                if opp is not None:
                    self._best[name] = opp
        return self.ranked()

    def update(self, quote: QuoteLike) -> Opportunity | None:
        """Take one changed quote; returns its asset's best opportunity now (None if none)."""
        name = self.asset_of(quote.venue, quote.symbol)
        if name is None:
            return None
        group = self._legs.setdefault(name, {})
        if quote.rate_per_hour is None:
            group.pop((quote.venue, quote.symbol), None)
        else:
            group[(quote.venue, quote.symbol)] = quote
        return self._refresh(name, group)

    def update_many(self, quotes: Iterable[QuoteLike]) -> None:
        """Take many changed quotes, then re-evaluate each asset they touch once (``update`` per
        quote would evaluate an asset once per venue quoting it)."""
        touched: dict[str, dict[tuple[str, str], QuoteLike]] = {}
        legs = self._legs
        known = self._asset_of
        for q in quotes:
            key = (q.venue, q.symbol)
            name = known[key] if key in known else self.asset_of(*key)
            if name is None:
                continue
            group = legs.get(name)
            if group is None:
                group = legs[name] = {}
            if q.rate_per_hour is None:
                group.pop(key, None)
            else:
                group[key] = q
            touched[name] = group
        for name, group in touched.items():
            self._refresh(name, group)

    def remove(self, venue: str, symbol: str) -> Opportunity | None:
        """Drop a contract (delisted, gone silent); returns its asset's best opportunity now."""
        name = self.asset_of(venue, symbol)
        group = self._legs.get(name) if name is not None else None
        if group is None or group.pop((venue, symbol), None) is None:
            return None
        return self._refresh(name, group)

    def _refresh(self, name: str, group: dict[tuple[str, str], QuoteLike]) -> Opportunity | None:
        opp = self._evaluate(name, group) if len(group) > 1 else None
        if opp is None:
            self._best.pop(name, None)
        else:
            self._best[name] = opp
        return opp

    def _evaluate(self, name: str, group: dict[tuple[str, str], QuoteLike]) -> Opportunity | None:
        """The best (short, long) pair on different venues, in one pass.

        A short leg scores ``rate - cost`` and a long leg ``rate + cost``; the net is their
        difference. The best pair is the best short with the best long, unless both sit on one
        venue: then it is one of them with the runner-up from another venue.
        """
        costs = self._cost
        # best short / runner-up short from another venue, same for long: quote, score, cost
        bs = bs2 = bl = bl2 = None
        bs_s = bs2_s = bl_s = bl2_s = bs_c = bs2_c = bl_c = bl2_c = _ZERO
        for q in group.values():
            venue = q.venue
            cost = costs.get(venue)
            if cost is None:
                cost = self.cost_per_hour(venue)
                if cost is None:
                    self.unpriced.add(venue)
                    continue
            r = q.rate_per_hour
            s = r - cost
            if bs is None or s > bs_s:
                if bs is not None and bs.venue != venue:
                    bs2, bs2_s, bs2_c = bs, bs_s, bs_c
                bs, bs_s, bs_c = q, s, cost
            elif venue != bs.venue and (bs2 is None or s > bs2_s):
                bs2, bs2_s, bs2_c = q, s, cost
            s = r + cost
            if bl is None or s < bl_s:
                if bl is not None and bl.venue != venue:
                    bl2, bl2_s, bl2_c = bl, bl_s, bl_c
                bl, bl_s, bl_c = q, s, cost
            elif venue != bl.venue and (bl2 is None or s < bl2_s):
                bl2, bl2_s, bl2_c = q, s, cost
        if bs is None or bl is None:
            return None
        if bs.venue != bl.venue:
            sq, s_s, s_c, lq, l_s, l_c = bs, bs_s, bs_c, bl, bl_s, bl_c
        elif bs2 is None and bl2 is None:
            return None
        elif bl2 is None or (bs2 is not None and bs2_s - bl_s > bs_s - bl2_s):
            sq, s_s, s_c, lq, l_s, l_c = bs2, bs2_s, bs2_c, bl, bl_s, bl_c
        else:
            sq, s_s, s_c, lq, l_s, l_c = bs, bs_s, bs_c, bl2, bl2_s, bl2_c
        net = s_s - l_s
        return Opportunity(
            asset=name,
            long_venue=lq.venue,
            long_symbol=lq.symbol,
            short_venue=sq.venue,
            short_symbol=sq.symbol,
            long_rate_per_hour=lq.rate_per_hour,
            short_rate_per_hour=sq.rate_per_hour,
            spread_per_hour=sq.rate_per_hour - lq.rate_per_hour,
            fees_per_hour=s_c + l_c,
            net_per_hour=net,
            annualised=annualise(net),
            long_z=lq.z,
            short_z=sq.z,
            long_next_funding_ts=lq.next_funding_ts,
            short_next_funding_ts=sq.next_funding_ts,
        )

    # --- reads --------------------------------------------------------------------------------

    def ranked(self, *, min_net_per_hour: Decimal | None = None, top: int | None = None) -> list[Opportunity]:
        """Best opportunity per asset, highest net income per hour first."""
        opps = self._best.values()
        if min_net_per_hour is not None:
            opps = [o for o in opps if o.net_per_hour >= min_net_per_hour]
        ranked = sorted(opps, key=_net, reverse=True)
        return ranked if top is None else ranked[:top]

    def best(self, asset_name: str) -> Opportunity | None:
        return self._best.get(asset_name)

    def __len__(self) -> int:
        return len(self._best)


def _net(opp: Opportunity) -> Decimal:
    return opp.net_per_hour
