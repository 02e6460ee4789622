"""What the simulated venues list: assets, each venue's instruments and how their numbers print.

The market model works in integers — prices in ticks, sizes in lots — and only the venue
protocol modules turn them into text. An ``Instrument`` carries everything that turns an integer
into the venue's exact decimal text (``price_text``/``size_text``), the venue's own symbol
spelling, its funding interval and, for Lighter and KuCoin, the market id and contract size.
The numbers mimic each venue's real BTC/ETH/SOL perpetuals (tick, step, decimals, interval) so
that frames look like the recorded fixtures.

The catalogue has ``n`` assets (``assets(n)``, default 3): BTC, ETH and SOL first, then made-up
tickers (``QA``, ``QB``, ..., ``QAA``, ...), each with a starting price
drawn once from its name (log-uniform between a thousandth of a dollar and a few thousand), so the
same ``n`` always lists the same assets at the same prices. Ticks and steps of the assets beyond
the three follow the price the way the venues' do: a tick near a hundred-thousandth of the price,
a lot of about a dollar (KuCoin: a contract of about a dollar).
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    price: float  # starting fair price in USD
    vol_per_sqrt_hour: float  # fractional volatility of the fair price random walk


ASSETS: tuple[Asset, ...] = (
    Asset("BTC", 100_000.0, 0.006),
    Asset("ETH", 3_500.0, 0.008),
    Asset("SOL", 150.0, 0.010),
)
#: the most assets a catalogue lists
MAX_ASSETS = 2000
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _made_up(k: int) -> str:
    """The ``k``-th made-up ticker: QA..QZ, QAA..QZZ, ... (all start with Q: none is a real listing)."""
    out = ""
    k += 1
    while k > 0:
        k, r = divmod(k - 1, 26)
        out = _LETTERS[r] + out
    return "Q" + out


def _drawn(name: str) -> Asset:
    """An asset whose price and volatility are drawn once from its name (the same on every run)."""
    rng = random.Random(f"perpwire-sim-asset:{name}")
    price = 10 ** rng.uniform(-3.0, 3.6)
    digits = max(2, 3 - math.floor(math.log10(price)))  # three or four significant digits
    return Asset(name, round(price, digits), round(rng.uniform(0.008, 0.02), 4))


@functools.cache
def assets(n: int = len(ASSETS)) -> tuple[Asset, ...]:
    """The first ``n`` assets of the catalogue (BTC, ETH, SOL, then made-up tickers)."""
    if not 1 <= n <= MAX_ASSETS:
        raise ValueError(f"symbols must be between 1 and {MAX_ASSETS}, got {n}")
    return (ASSETS + tuple(_drawn(_made_up(k)) for k in range(max(0, n - len(ASSETS)))))[:n]


def fixed(n: int, dp: int) -> str:
    """The integer ``n`` in units of 10**-dp as decimal text with exactly ``dp`` decimals."""
    if dp == 0:
        return str(n)
    sign = "-" if n < 0 else ""
    digits = str(-n if n < 0 else n).rjust(dp + 1, "0")
    return f"{sign}{digits[:-dp]}.{digits[-dp:]}"


def stripped(text: str) -> str:
    """Decimal text without trailing fractional zeros (KuCoin prints ``"89721"``, not ``"89721.0"``)."""
    if "." not in text:
        return text
    text = text.rstrip("0")
    return text[:-1] if text.endswith(".") else text


@dataclass(slots=True)
class Instrument:
    """One perpetual on one venue. Prices are ticks (``tick_units`` × 10**-price_dp), sizes lots."""

    venue: str
    asset: str
    symbol: str  # the venue's own spelling; Lighter uses the bare base, keyed by market_id
    quote: str
    price_dp: int
    tick_units: int
    size_dp: int
    step_units: int
    interval_h: int  # funding interval in hours
    market_id: int = 0  # Lighter market index (also used as a stable numeric id elsewhere)
    contract: Decimal = Decimal(1)  # base units per lot-size unit (KuCoin contracts)
    strip_zeros: bool = False
    _px_cache: dict[int, str] = field(default_factory=dict, repr=False)
    _sz_cache: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def tick(self) -> Decimal:
        return Decimal(self.tick_units).scaleb(-self.price_dp)

    @property
    def step(self) -> Decimal:
        return Decimal(self.step_units).scaleb(-self.size_dp)

    @property
    def tick_value(self) -> float:
        return self.tick_units / 10**self.price_dp

    @property
    def lot_base(self) -> float:
        """Base-asset quantity of one lot (KuCoin: one contract)."""
        return float(self.step) * float(self.contract)

    def price_text(self, ticks: int) -> str:
        text = self._px_cache.get(ticks)
        if text is None:
            text = fixed(ticks * self.tick_units, self.price_dp)
            if self.strip_zeros:
                text = stripped(text)
            if len(self._px_cache) > 50_000:  # prices wander; keep the cache bounded
                self._px_cache.clear()
            self._px_cache[ticks] = text
        return text

    def size_text(self, lots: int) -> str:
        text = self._sz_cache.get(lots)
        if text is None:
            text = fixed(lots * self.step_units, self.size_dp)
            if len(self._sz_cache) > 50_000:
                self._sz_cache.clear()
            self._sz_cache[lots] = text
        return text

    def ticks_of(self, price: Decimal) -> int | None:
        """Ticks of an exact price, or None when it is not on the tick grid."""
        q, r = divmod(price, self.tick)
        return int(q) if r == 0 else None

    def lots_of(self, size: Decimal) -> int | None:
        q, r = divmod(size, self.step)
        return int(q) if r == 0 else None

    def price_dec(self, ticks: int) -> Decimal:
        return Decimal(ticks * self.tick_units).scaleb(-self.price_dp)

    def size_dec(self, lots: int) -> Decimal:
        return Decimal(lots * self.step_units).scaleb(-self.size_dp)

    def base_qty(self, lots: int) -> Decimal:
        return self.size_dec(lots) * self.contract


# (price_dp, tick_units, size_dp, step_units) per asset, per venue, chosen to print like the venue
_SPECS: dict[str, dict[str, tuple[int, int, int, int]]] = {
    "aster": {"BTC": (1, 1, 3, 1), "ETH": (2, 1, 3, 1), "SOL": (2, 1, 2, 1)},
    "binance": {"BTC": (1, 1, 3, 1), "ETH": (2, 1, 3, 1), "SOL": (2, 1, 2, 1)},
    "backpack": {"BTC": (1, 1, 5, 1), "ETH": (2, 1, 4, 1), "SOL": (2, 1, 2, 1)},
    "lighter": {"BTC": (1, 1, 5, 1), "ETH": (2, 1, 4, 1), "SOL": (3, 1, 3, 1)},
    "bybit": {"BTC": (2, 10, 3, 1), "ETH": (2, 1, 2, 1), "SOL": (3, 10, 1, 1)},
    "hyperliquid": {"BTC": (1, 10, 5, 1), "ETH": (1, 1, 4, 1), "SOL": (2, 1, 2, 1)},
    "kucoin": {"BTC": (1, 1, 0, 1), "ETH": (2, 1, 0, 1), "SOL": (3, 1, 0, 1)},
}

INTERVAL_HOURS: dict[str, int] = {
    "aster": 8,
    "binance": 8,
    "backpack": 1,
    "lighter": 1,
    "bybit": 8,
    "hyperliquid": 1,
    "kucoin": 8,
}

_LIGHTER_IDS = {"ETH": 0, "BTC": 1, "SOL": 2}
_KUCOIN_CONTRACT = {"BTC": Decimal("0.001"), "ETH": Decimal("0.01"), "SOL": Decimal("0.1")}


def _scaled(venue: str, price: float) -> tuple[int, int, int, int, Decimal]:
    """(price_dp, tick_units, size_dp, step_units, KuCoin contract) for an asset priced ``price``:
    a tick near 1e-5 of the price, a lot (KuCoin: a contract) worth about a dollar."""
    mag = math.floor(math.log10(price))  # price = x * 10**mag, 1 <= x < 10
    price_dp = min(8, max(0, 4 - mag))
    lot_exp = -mag  # a lot of 10**lot_exp base units is worth 1..10 dollars
    if venue == "kucoin":  # whole contracts; the contract multiplier carries the scale
        return price_dp, 1, 0, 1, Decimal(1).scaleb(lot_exp)
    if lot_exp <= 0:
        return price_dp, 1, -lot_exp, 1, Decimal(1)
    return price_dp, 1, 0, 10**lot_exp, Decimal(1)

VENUES: tuple[str, ...] = tuple(_SPECS)


def _symbol(venue: str, asset: str) -> str:
    if venue in ("aster", "binance", "bybit"):
        return f"{asset}USDT"
    if venue == "backpack":
        return f"{asset}_USDC_PERP"
    if venue in ("lighter", "hyperliquid"):
        return asset
    if venue == "kucoin":
        return f"{'XBT' if asset == 'BTC' else asset}USDTM"
    raise KeyError(venue)


def instruments(venue: str, n: int = len(ASSETS)) -> list[Instrument]:
    """Fresh Instrument objects for ``venue``, one per asset of ``assets(n)``, in catalogue order."""
    out = []
    quote = "USDC" if venue in ("backpack", "lighter", "hyperliquid") else "USDT"
    for i, asset in enumerate(assets(n)):
        if asset.name in _SPECS[venue]:
            price_dp, tick_units, size_dp, step_units = _SPECS[venue][asset.name]
            contract = _KUCOIN_CONTRACT[asset.name] if venue == "kucoin" else Decimal(1)
        else:
            price_dp, tick_units, size_dp, step_units, contract = _scaled(venue, asset.price)
        out.append(
            Instrument(
                venue=venue,
                asset=asset.name,
                symbol=_symbol(venue, asset.name),
                quote=quote,
                price_dp=price_dp,
                tick_units=tick_units,
                size_dp=size_dp,
                step_units=step_units,
                interval_h=INTERVAL_HOURS[venue],
                market_id=_LIGHTER_IDS.get(asset.name, i) if venue == "lighter" else i,
                contract=contract,
                strip_zeros=venue == "kucoin",
            )
        )
    return out
