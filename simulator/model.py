"""The market model: fair prices, per-venue books, trades and liquidations, tick by tick.

Each asset's fair price is a geometric random walk shared by every venue. Each venue quotes it
with its own basis (a slow mean-reverting fraction, a few basis points) and keeps its own
``Ladder`` per instrument: every tick the ladder's top follows the venue's centre price (levels
that would cross are pulled, new ones appear near the touch), a few random levels change size,
appear or vanish, a random taker trade may eat into the touch, and rarely a liquidation prints.
Levels far from the touch are trimmed and refilled so the book keeps a few hundred levels a
side. ``take`` lets the matching engine consume real liquidity, so a client's order shows up in
the depth streams like anyone else's trade. All randomness comes from one seeded generator.

With ``quiet_books`` (the default for catalogues beyond BTC/ETH/SOL), only watched books move
every tick: a venue server counts the subscribers of each book's streams (``watch``/``unwatch``)
and the others — quiet books — move once every ``quiet_every`` ticks, a slice of them per tick, so
their prices, trades and liquidations stay alive at a fraction of the cost. A book that becomes
watched catches up at once. ``moved[venue]`` lists the books that moved this tick (venue servers
publish only those); mark prices follow the fair price and basis of every book on every tick.
Fair prices may also come from elsewhere: ``fair_source`` (a callable filling ``fair``) replaces
the random walk, so several simulator processes quote one market.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from perpwire.simulator import catalog
from perpwire.simulator.catalog import Instrument
from perpwire.simulator.ladder import Ladder

#: how far apart update ids jump per change (Binance-like venues share the id space with other
#: streams; Lighter nonces advance by tens per batch; the rest are contiguous)
_ID_GAP = {"aster": 3, "binance": 3, "lighter": 40}
_FIRST_ID = {
    "aster": 183_508_045_590,
    "binance": 600_859_605_926,
    "backpack": 6_730_019_258,
    "lighter": 18_032_383_898,
    "bybit": 18_521_288,
    "hyperliquid": 1,
    "kucoin": 1_709_294_490_099,
}
_TOP_NOTIONAL_USD = 15_000.0


@dataclass(slots=True)
class TradeRec:
    trade_id: int
    ts: int
    px: int
    lots: int
    taker_buy: bool


@dataclass(slots=True)
class LiqRec:
    ts: int
    px: int
    lots: int
    sell: bool  # the liquidation order sells (a long was liquidated)


@dataclass(slots=True, eq=False)  # hashed by identity: the model keys its watched books
class Book:
    """One venue's instrument: its ladder plus what the tick printed."""

    inst: Instrument
    ladder: Ladder
    basis: float = 0.0
    base_lots: int = 1
    trade_id: int = 1_000_000
    recent: deque[TradeRec] = field(default_factory=lambda: deque(maxlen=100))
    new_trades: list[TradeRec] = field(default_factory=list)
    new_liqs: list[LiqRec] = field(default_factory=list)
    open_interest: float = 0.0
    day_open: float = 0.0
    day_high: float = 0.0
    day_low: float = 0.0
    day_volume: float = 0.0  # base units traded since the start
    day_quote: float = 0.0  # USD traded since the start (volume × price, for the VWAP)
    watchers: int = 0  # subscriptions to this book's streams (quiet books move rarely)
    last_move: int = 0  # the model tick this book last moved

    @property
    def mid(self) -> float:
        """Venue mid price in USD (the touch average), the basis of its mark price."""
        lad = self.ladder
        bb, ba = lad.best_bid(), lad.best_ask()
        if bb is None or ba is None:
            return 0.0
        return (bb + ba) / 2 * self.inst.tick_value


class MarketModel:
    def __init__(self, rng: random.Random, venues: tuple[str, ...], *, levels: int = 300,
                 symbols: int = len(catalog.ASSETS), quiet_books: bool | None = None, quiet_every: int = 40,
                 basis_every: int = 20) -> None:
        self.rng = rng
        self.levels = levels
        #: level sizes scale a lognormal(0, 0.7) draw; 4,096 of them drawn once, picked at random
        self._lognormal = [rng.lognormvariate(0.0, 0.7) for _ in range(4096)]
        self.assets = {a.name: a for a in catalog.assets(symbols)}
        self.fair: dict[str, float] = {a.name: a.price * math.exp(rng.gauss(0, 0.01)) for a in self.assets.values()}
        self.books: dict[tuple[str, str], Book] = {}
        self.by_venue: dict[str, list[Book]] = {}
        self.quiet_books = symbols > len(catalog.ASSETS) if quiet_books is None else quiet_books
        self.quiet_every = max(1, quiet_every)
        self.basis_every = max(1, basis_every)
        self.fair_source: Callable[[dict[str, float]], None] | None = None
        self.fair_sink: Callable[[dict[str, float]], None] | None = None  # told every new fair price
        #: watched books per venue (insertion order keeps replays deterministic)
        self.watched: dict[str, dict[Book, None]] = {v: {} for v in venues}
        self.moved: dict[str, list[Book]] = {v: [] for v in venues}
        self.ticks = 0
        self._basis_dt = 0.0
        self._printed: dict[Book, None] = {}  # books with trades or liquidations this tick
        self._now_ms = 0
        for venue in venues:
            books = []
            for inst in catalog.instruments(venue, symbols):
                lad = Ladder(
                    seq=_FIRST_ID[venue] + rng.randrange(1_000_000),
                    id_gap=_ID_GAP.get(venue, 1),
                    rng=rng,
                )
                book = Book(inst, lad, basis=rng.gauss(0, 0.0002))
                price = self.fair[inst.asset]
                book.base_lots = max(1, round(_TOP_NOTIONAL_USD / (price * inst.lot_base)))
                book.open_interest = 5_000_000.0 / price * (1 + rng.random())
                book.day_open = book.day_high = book.day_low = price
                self._seed(book)
                lad.drain()  # the initial fill is the starting state, not a change
                books.append(book)
                self.books[(venue, inst.asset)] = book
            self.by_venue[venue] = books

    # --- who is watching ------------------------------------------------------------------------

    def watch(self, book: Book) -> bool:
        """One more subscription to ``book``'s streams; True when it just became watched (it then
        catches up with the market at once)."""
        book.watchers += 1
        if book.watchers > 1:
            return False
        self.watched[book.inst.venue][book] = None
        if self.quiet_books and book.last_move < self.ticks:
            self._move(book)
        return True

    def unwatch(self, book: Book) -> None:
        if book.watchers > 0:
            book.watchers -= 1
            if book.watchers == 0:
                self.watched[book.inst.venue].pop(book, None)

    # --- evolution ----------------------------------------------------------------------------

    def step(self, dt_h: float, now_ms: int) -> None:
        """Advance every price by ``dt_h`` market hours, and the books that move this tick."""
        rng = self.rng
        self._now_ms = now_ms
        self.ticks += 1
        if self.fair_source is not None:
            self.fair_source(self.fair)
        else:
            for name, asset in self.assets.items():
                sd = asset.vol_per_sqrt_hour * math.sqrt(dt_h)
                self.fair[name] *= math.exp(rng.gauss(0.0, sd) - 0.5 * sd * sd)
            if self.fair_sink is not None:
                self.fair_sink(self.fair)
        self._basis_dt += dt_h
        if self.ticks % self.basis_every == 0 or not self.quiet_books:
            dt, self._basis_dt = self._basis_dt, 0.0
            keep = math.exp(-dt / 2.0)  # basis half-life ~1.4 h
            wiggle = 0.0002 * math.sqrt(max(0.0, 1 - keep * keep))
            for book in self.books.values():
                book.basis = book.basis * keep + rng.gauss(0.0, wiggle)
        if not self.quiet_books:
            for venue, books in self.by_venue.items():
                self.moved[venue] = books
                for book in books:
                    self._move(book)
            return
        phase = self.ticks % self.quiet_every
        for venue, books in self.by_venue.items():
            watched = self.watched[venue]
            moved = list(watched)
            moved += [b for b in books[phase :: self.quiet_every] if b not in watched]
            self.moved[venue] = moved
            for book in moved:
                self._move(book)

    def _move(self, book: Book) -> None:
        elapsed = max(1, self.ticks - book.last_move)
        book.last_move = self.ticks
        self._evolve(book, elapsed)

    def end_tick(self) -> None:
        """Forget the tick's prints once every venue has published them."""
        for book in self._printed:
            book.new_trades.clear()
            book.new_liqs.clear()
        self._printed.clear()

    def center_ticks(self, book: Book) -> float:
        return self.fair[book.inst.asset] * (1.0 + book.basis) / book.inst.tick_value

    def _size(self, book: Book, depth: int) -> int:
        return max(1, int(book.base_lots * (1.0 + depth / 15.0) * self._lognormal[self.rng.getrandbits(12)]))

    def _seed(self, book: Book) -> None:
        c = self.center_ticks(book)
        bb, ba = math.floor(c - 0.5), math.floor(c - 0.5) + 1
        px_b, px_a = bb, ba
        bits, uniform, table, base = self.rng.getrandbits, self.rng.random, self._lognormal, book.base_lots
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        for d in range(self.levels):
            scale = base * (1.0 + d / 15.0)
            bids[px_b] = max(1, int(scale * table[bits(12)]))
            asks[px_a] = max(1, int(scale * table[bits(12)]))
            step = 1 if d < 20 else 1 + int(uniform() * 3)
            px_b -= step
            px_a += step
        book.ladder.fill(bids, asks)

    def _evolve(self, book: Book, elapsed: int = 1) -> None:
        rng, lad = self.rng, book.ladder
        c = self.center_ticks(book)
        half = 0.5 + rng.random()
        bb_t = math.floor(c - half)
        ba_t = max(bb_t + 1, math.ceil(c + half))
        # pull what would cross the new touch
        while (px := lad.best_bid()) is not None and px >= ba_t:
            lad.set(True, px, 0)
        while (px := lad.best_ask()) is not None and px <= bb_t:
            lad.set(False, px, 0)
        # quote up to the new touch
        best = lad.best_bid()
        if best is None or best < bb_t:
            start = bb_t - 8 if best is None else max(best + 1, bb_t - 8)
            for px in range(start, bb_t + 1):
                if px == bb_t or rng.random() < 0.5:
                    lad.set(True, px, self._size(book, bb_t - px))
        best = lad.best_ask()
        if best is None or best > ba_t:
            stop = ba_t + 8 if best is None else min(best - 1, ba_t + 8)
            for px in range(stop, ba_t - 1, -1):
                if px == ba_t or rng.random() < 0.5:
                    lad.set(False, px, self._size(book, px - ba_t))
        # noise near the touch
        for _ in range(rng.randint(1, 5)):
            is_bid = rng.random() < 0.5
            depth = min(int(rng.expovariate(1 / 8.0)), 60)
            ref = lad.best_bid() if is_bid else lad.best_ask()
            if ref is None:
                continue
            px = ref - depth if is_bid else ref + depth
            side = lad.bids if is_bid else lad.asks
            if px in side and depth > 0 and rng.random() < 0.2:
                lad.set(is_bid, px, 0)
            else:
                lad.set(is_bid, px, self._size(book, depth))
        if rng.random() < 0.3:
            self._random_trade(book)
        if rng.random() < 0.001 * elapsed:  # a quiet book keeps its rate of liquidations per tick
            self._random_liquidation(book)
        self._trim(book, True)
        self._trim(book, False)

    def _trim(self, book: Book, is_bid: bool) -> None:
        lad = book.ladder
        n = lad.level_count(is_bid)
        while n > self.levels + 50:
            lad.set(is_bid, lad.worst_bid() if is_bid else lad.worst_ask(), 0)  # type: ignore[arg-type]
            n -= 1
        while 0 < n < self.levels - 50:
            worst = lad.worst_bid() if is_bid else lad.worst_ask()
            gap = self.rng.randint(1, 3)
            lad.set(is_bid, worst - gap if is_bid else worst + gap, self._size(book, n))  # type: ignore[operator]
            n += 1

    def _random_trade(self, book: Book) -> None:
        taker_buy = self.rng.random() < 0.5
        lad = book.ladder
        px = lad.best_ask() if taker_buy else lad.best_bid()
        if px is None:
            return
        size = (lad.asks if taker_buy else lad.bids)[px]
        lots = max(1, int(size * self.rng.random() * 0.5))
        lad.set(not taker_buy, px, size - lots)
        self.record_trade(book, px, lots, taker_buy)

    def _random_liquidation(self, book: Book) -> None:
        sell = self.rng.random() < 0.5
        px = book.ladder.best_bid() if sell else book.ladder.best_ask()
        if px is not None:
            book.new_liqs.append(LiqRec(self._now_ms, px, book.base_lots * self.rng.randint(1, 10), sell))
            self._printed[book] = None

    def liquidate(self, book: Book, *, sell: bool = True, lots: int | None = None) -> LiqRec:
        """Print a liquidation at the touch on the next publish (tests and demos)."""
        px = book.ladder.best_bid() if sell else book.ladder.best_ask()
        rec = LiqRec(self._now_ms, px or 1, lots or book.base_lots * 3, sell)
        book.new_liqs.append(rec)
        self._printed[book] = None
        return rec

    def record_trade(self, book: Book, px: int, lots: int, taker_buy: bool) -> TradeRec:
        book.trade_id += 1
        rec = TradeRec(book.trade_id, self._now_ms, px, lots, taker_buy)
        book.recent.append(rec)
        book.new_trades.append(rec)
        self._printed[book] = None
        price = px * book.inst.tick_value
        book.day_high = max(book.day_high, price)
        book.day_low = min(book.day_low, price)
        book.day_volume += lots * book.inst.lot_base
        book.day_quote += lots * book.inst.lot_base * price
        return rec

    # --- liquidity for the matching engine -----------------------------------------------------

    def take(self, book: Book, taker_buy: bool, lots: int, limit_px: int | None) -> list[tuple[int, int, int]]:
        """Consume up to ``lots`` from the opposite side, best first, not beyond ``limit_px``.

        Returns the (price, lots, trade id) pieces taken; the ladder changes flow into the depth
        streams and the trades into the trade streams.
        """
        lad = book.ladder
        out: list[tuple[int, int, int]] = []
        while lots > 0:
            px = lad.best_ask() if taker_buy else lad.best_bid()
            if px is None or (limit_px is not None and (px > limit_px if taker_buy else px < limit_px)):
                break
            side = lad.asks if taker_buy else lad.bids
            n = min(lots, side[px])
            lad.set(not taker_buy, px, side[px] - n)
            out.append((px, n, self.record_trade(book, px, n, taker_buy).trade_id))
            lots -= n
        return out

    def mark_price(self, book: Book) -> float:
        """The venue's mark: its fair price with its basis (smoother than the touch)."""
        return self.fair[book.inst.asset] * (1.0 + book.basis)

    def index_price(self, asset: str) -> float:
        return self.fair[asset]
