"""Validation of ticks and bars per stream, with a circuit breaker on price jumps.

A ``Validator`` watches one stream (one venue, symbol and channel) and answers every item with
the ``Violation`` records it broke, an empty tuple when it broke none. It never drops or alters
an item: the caller decides what to do with a flagged one, and every violation is counted per
rule so health reports can read the figures (``counts()``). Rules:

- prices positive (trade, liquidation, bar open/high/low/close/vwap, BBO bid and ask, mark and
  mid prices), sizes and volumes non-negative;
- bars: ``high >= max(open, close)``, ``low <= min(open, close)``, ``low <= high``, and the vwap
  inside ``[low, high]``; a BBO with the bid above the ask is crossed;
- timestamps monotone per stream within ``ts_tolerance_ms`` (an item may be that much older than
  the newest one seen; ``ts == 0``, a venue that sends no time, is not judged);
- the circuit breaker: a price (trade price, bar close, BBO mid, mark or mid price) more than
  ``max_jump`` (a fraction) away from the reference, the last price accepted, trips it; the
  tripping item is flagged ``price_jump`` and every priced item for the next ``cooldown_ms``
  ``breaker_open``. Then it resets and the first price after it is the new reference. Time is
  the item's exchange time unless the caller passes ``now_ms``.

``ValidatorSet`` keeps one ``Validator`` per (venue, symbol, stream) for a whole feed.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from perpwire.market.bars import OHLCVBar
from perpwire.market.errors import ConfigError
from perpwire.market.events import BBO, Liquidation, MarkPrice, MidPrice, Trade


class Rule(StrEnum):
    PRICE_NOT_POSITIVE = "price_not_positive"
    SIZE_NEGATIVE = "size_negative"
    HIGH_BELOW_OPEN_CLOSE = "high_below_open_close"
    LOW_ABOVE_OPEN_CLOSE = "low_above_open_close"
    LOW_ABOVE_HIGH = "low_above_high"
    VWAP_OUTSIDE_RANGE = "vwap_outside_range"
    CROSSED = "crossed"
    TS_BACKWARDS = "ts_backwards"
    PRICE_JUMP = "price_jump"
    BREAKER_OPEN = "breaker_open"


class ValidationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ts_tolerance_ms: int = Field(1_000, ge=0, description="how much older than the newest item an item may be")
    max_jump: Decimal | None = Field(Decimal("0.1"), gt=0, description="relative jump that trips the breaker; "
                                                                        "None: no breaker")
    cooldown_ms: int = Field(60_000, ge=0, description="how long a tripped breaker flags every price")

    @classmethod
    def of(cls, value: ValidationConfig | dict | None) -> ValidationConfig:
        """The config from a model, a mapping or None (defaults); ``ConfigError`` names the field."""
        if isinstance(value, cls):
            return value
        try:
            return cls.model_validate(value or {})
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "validation"
            raise ConfigError(f"validation: {field}: {err['msg']}") from None


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """One broken rule. ``message`` is the one line to log; ``item`` is the item as it came."""

    venue: str
    symbol: str
    stream: str
    rule: Rule
    message: str
    ts: int
    item: Any


_KINDS = {Trade: "trades", OHLCVBar: "bars", BBO: "bbo", Liquidation: "liquidations", MarkPrice: "mark_price",
          MidPrice: "mid"}


def _kind(item: object) -> str:
    return _KINDS.get(type(item)) or type(item).__name__.lower()


class _Check:
    """The violations of one item as they are found."""

    __slots__ = ("bad_price", "item", "out", "stream", "ts", "validator")

    def __init__(self, validator: Validator, item: Any, stream: str, ts: int):
        self.validator, self.item, self.stream, self.ts = validator, item, stream, ts
        self.out: list[Violation] = []
        self.bad_price = False

    def flag(self, rule: Rule, detail: str) -> None:
        self.validator.violations[rule] += 1
        item = self.item
        venue, symbol = getattr(item, "venue", "?"), getattr(item, "symbol", "?")
        tid = getattr(item, "trade_id", "")
        where = f"trade {tid} at {self.ts}" if tid else f"at {self.ts}"
        self.out.append(Violation(venue=venue, symbol=symbol, stream=self.stream, rule=rule, ts=self.ts, item=item,
                                  message=f"{venue} {symbol} {self.stream}: {detail} ({where})"))

    def positive(self, name: str, value: Decimal | None) -> None:
        if value is not None and not value > 0:
            self.bad_price = True
            self.flag(Rule.PRICE_NOT_POSITIVE, f"{name} {value} is not positive")

    def non_negative(self, name: str, value: Decimal) -> None:
        if value < 0:
            self.flag(Rule.SIZE_NEGATIVE, f"{name} {value} is negative")


class Validator:
    """The rules for one stream. ``check(item)`` returns the violations (``()`` when clean)."""

    def __init__(self, stream: str = "", config: ValidationConfig | dict | None = None):
        self.stream = stream
        self.config = ValidationConfig.of(config)
        self.checked = 0
        self.flagged = 0  # items with at least one violation
        self.violations: dict[Rule, int] = dict.fromkeys(Rule, 0)
        self.trips = 0
        self.newest_ts: int | None = None
        self.reference: Decimal | None = None
        self.tripped_at: int | None = None

    @property
    def tripped(self) -> bool:
        return self.tripped_at is not None

    def counts(self) -> dict[str, int]:
        return {"checked": self.checked, "flagged": self.flagged, "trips": self.trips,
                **{rule.value: n for rule, n in self.violations.items()}}

    def reset_breaker(self) -> None:
        """Close the breaker now; the next price is the new reference."""
        self.tripped_at = None
        self.reference = None

    def check(self, item: Any, now_ms: int | None = None) -> tuple[Violation, ...]:
        """The rules ``item`` breaks, in the order checked; ``now_ms`` times the breaker's
        cool-down instead of the item's own timestamp."""
        if type(item) is Trade and self._clean_trade(item):
            return ()
        self.checked += 1
        ts = item.start if isinstance(item, OHLCVBar) else getattr(item, "ts", 0)
        c = _Check(self, item, self.stream or _kind(item), ts)
        price = self._prices(item, c)
        self._timestamp(ts, c)
        if price is not None and not c.bad_price and self.config.max_jump is not None:
            self._breaker(price, ts if now_ms is None else now_ms, c)
        if not c.out:
            return ()
        self.flagged += 1
        return tuple(c.out)

    def _clean_trade(self, t: Trade) -> bool:
        """The common case in one pass: a trade that breaks no rule is counted and True; anything
        else (or a tripped breaker) is False with nothing changed, and ``check`` goes the long way."""
        p, ts, newest = t.price, t.ts, self.newest_ts
        if not (p > 0 and t.size >= 0) or self.tripped_at is not None:
            return False
        if ts and newest is not None and ts < newest - self.config.ts_tolerance_ms:
            return False
        limit, ref = self.config.max_jump, self.reference
        if limit is not None:
            if ref is not None and abs(p - ref) > limit * ref:
                return False
            self.reference = p
        if ts and (newest is None or ts > newest):
            self.newest_ts = ts
        self.checked += 1
        return True

    @staticmethod
    def _prices(item: Any, c: _Check) -> Decimal | None:
        """Checks prices and sizes; returns the price the breaker watches."""
        if isinstance(item, Trade | Liquidation):
            c.positive("price", item.price)
            c.non_negative("size", item.size)
            return item.price
        if isinstance(item, OHLCVBar):
            for name in ("open", "high", "low", "close", "vwap"):
                c.positive(name, getattr(item, name))
            c.non_negative("volume", item.volume)
            o, h, lo, cl = item.open, item.high, item.low, item.close
            if h < max(o, cl):
                c.flag(Rule.HIGH_BELOW_OPEN_CLOSE, f"high {h} is below max(open {o}, close {cl})")
            if lo > min(o, cl):
                c.flag(Rule.LOW_ABOVE_OPEN_CLOSE, f"low {lo} is above min(open {o}, close {cl})")
            if lo > h:
                c.flag(Rule.LOW_ABOVE_HIGH, f"low {lo} is above high {h}")
            elif not lo <= item.vwap <= h:
                c.flag(Rule.VWAP_OUTSIDE_RANGE, f"vwap {item.vwap} is outside [low {lo}, high {h}]")
            return cl
        if isinstance(item, BBO):
            c.positive("bid", item.bid_price)
            c.positive("ask", item.ask_price)
            c.non_negative("bid size", item.bid_size)
            c.non_negative("ask size", item.ask_size)
            if item.bid_price > item.ask_price:
                c.flag(Rule.CROSSED, f"bid {item.bid_price} is above ask {item.ask_price}")
            return (item.bid_price + item.ask_price) / 2
        if isinstance(item, MarkPrice):
            c.positive("mark price", item.mark_price)
            c.positive("index price", item.index_price)
            return item.mark_price
        if isinstance(item, MidPrice):
            c.positive("mid price", item.price)
            return item.price
        return None

    def _timestamp(self, ts: int, c: _Check) -> None:
        if not ts:
            return
        newest = self.newest_ts
        if newest is not None and ts < newest - self.config.ts_tolerance_ms:
            c.flag(Rule.TS_BACKWARDS, f"timestamp {ts} is {newest - ts} ms before the newest {newest} "
                                      f"(tolerance {self.config.ts_tolerance_ms} ms)")
        if newest is None or ts > newest:
            self.newest_ts = ts

    def _breaker(self, price: Decimal, now: int, c: _Check) -> None:
        cfg = self.config
        if self.tripped_at is not None:
            if now < self.tripped_at + cfg.cooldown_ms:
                c.flag(Rule.BREAKER_OPEN, f"circuit breaker open since {self.tripped_at} "
                                          f"(cool-down {cfg.cooldown_ms} ms), price {price}")
                return
            self.reset_breaker()
        ref = self.reference
        if ref is None:
            self.reference = price
            return
        limit = cfg.max_jump
        assert limit is not None
        if abs(price - ref) > limit * ref:  # as _clean_trade judges it, never divided
            jump = abs(price - ref) / ref
            self.trips += 1
            self.tripped_at = now
            c.flag(Rule.PRICE_JUMP, f"price {price} jumped {jump:.2%} from {ref} (limit {limit:.2%}); "
                                    f"circuit breaker tripped")
            return
        self.reference = price


class ValidatorSet:
    """One ``Validator`` per (venue, symbol, stream), made on first sight, all with one config.
    ``stream`` defaults to the item's kind: trades, bars, bbo, liquidations, mark_price, mid."""

    def __init__(self, config: ValidationConfig | dict | None = None):
        self.config = ValidationConfig.of(config)
        self.validators: dict[tuple[str, str, str], Validator] = {}

    def get(self, venue: str, symbol: str, stream: str) -> Validator:
        v = self.validators.get((venue, symbol, stream))
        if v is None:
            v = self.validators[(venue, symbol, stream)] = Validator(stream, self.config)
        return v

    def check(self, item: Any, stream: str | None = None, now_ms: int | None = None) -> tuple[Violation, ...]:
        key_stream = stream or _kind(item)
        return self.get(getattr(item, "venue", "?"), getattr(item, "symbol", "?"), key_stream).check(item, now_ms)

    def counts(self) -> dict[tuple[str, str, str], dict[str, int]]:
        return {key: v.counts() for key, v in self.validators.items()}
