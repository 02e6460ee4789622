"""Lighter REST (``/api/v1``): request builders and body decoders, mixed into ``LighterCodec``.

Covers the market catalogue (``orderBooks`` / ``orderBookDetails`` → Instrument, and the
market id → name table ``markets``), current funding (``funding-rates``: Lighter's own rows are a
fraction per 8 h as a JSON float, turned back into the 4-dp percent per hour they come from) and
funding history (``fundings``: unsigned percent per hour + ``direction``, timestamps in seconds).
Lighter has no sequenced REST book (``orderBookOrders`` lists single orders and has no nonce), so
``depth_request`` refuses and ``decode_snapshot`` raises: a book is re-seeded by unsubscribing and
subscribing ``order_book/{id}`` again (``resync_frames``). Error bodies (``code`` != 200) raise
``VenueError``.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from perpwire.market.errors import SubscriptionError, VenueError
from perpwire.market.events import BookSnapshot, FundingRate, Instrument
from perpwire.market.funding import per_hour
from perpwire.market.units import ONE_HOUR_MS, dec
from perpwire.venues.base import READ_ERRORS, HttpRequest
from perpwire.venues.lighter.schemas import (
    LighterErrorEnvelope,
    LighterFundingRatesBody,
    LighterFundingsBody,
    LighterMarket,
    LighterMarketsBody,
)

VENUE = "lighter"
REST_URL = "https://mainnet.zklighter.elliot.ai"
DEFAULT_INTERVAL_HOURS = 1  # every Lighter market funds hourly today (a per-market config)
WEIGHT = 300  # most endpoints (per-IP budget: 60 weighted requests/min on standard accounts)
_HUNDRED = Decimal(100)
_PCT_PER_8H_TO_PCT_PER_H = Decimal("12.5")  # fraction/8h -> percent/h: x * 100 / 8
_PCT_QUANTUM = Decimal("0.0001")  # the 4 dp Lighter publishes its percent rates at

_MARKETS = msgspec.json.Decoder(LighterMarketsBody)
_RATES = msgspec.json.Decoder(LighterFundingRatesBody)
_FUNDINGS = msgspec.json.Decoder(LighterFundingsBody)
_ERROR = msgspec.json.Decoder(LighterErrorEnvelope)


def pct_rate(text: str, interval_hours: int) -> tuple[Decimal, Decimal]:
    """(fraction per interval, fraction per hour) from Lighter's percent-per-hour text."""
    per_h = dec(text) / _HUNDRED
    return per_h * interval_hours, per_hour(per_h * interval_hours, interval_hours)


class LighterRest:
    """REST half of the codec; expects ``rest_url``, ``markets``, ``interval_hours`` and ``Codec._error``."""

    rest_url: str
    markets: dict[str, str]
    interval_hours: int
    _history_symbol: str | None

    def _get(self, path: str, params: tuple[tuple[str, str], ...] = (), weight: int = WEIGHT) -> HttpRequest:
        return HttpRequest(method="GET", url=f"{self.rest_url}{path}", params=params, weight=weight)

    def _check(self, body: bytes) -> None:
        """Raise VenueError for an error envelope; the caller decodes the body when this passes."""
        env = _ERROR.decode(body)
        if env.code != 200:
            raise VenueError(VENUE, env.code, env.message)

    # --- instruments ---------------------------------------------------------------------------

    def instruments_request(self, details: bool = False) -> HttpRequest:
        """``orderBooks`` (the id ↔ name catalogue) or, with ``details``, ``orderBookDetails``."""
        return self._get("/api/v1/orderBookDetails" if details else "/api/v1/orderBooks")

    def decode_instruments(self, body: bytes) -> list[Instrument]:
        """Perp markets as Instruments (symbol = market index text); learns ``markets``."""
        try:
            self._check(body)
            b = _MARKETS.decode(body)
            rows = b.order_books if b.order_books is not None else b.order_book_details
            if rows is None:
                raise ValueError("neither order_books nor order_book_details")
            out = [self._instrument(m) for m in rows if m.market_type == "perp"]
        except READ_ERRORS as exc:
            raise self._error(str(exc), body) from None
        for ins in out:
            self.markets[ins.symbol] = ins.asset
        return out

    def _instrument(self, m: LighterMarket) -> Instrument:
        price_dp = m.price_decimals if m.price_decimals is not None else m.supported_price_decimals
        size_dp = m.size_decimals if m.size_decimals is not None else m.supported_size_decimals
        imf = m.min_initial_margin_fraction
        return Instrument(
            venue=VENUE,
            symbol=str(m.market_id),
            asset=m.symbol,
            quote="USDC",  # every Lighter perp settles in USDC
            tick_size=Decimal(1).scaleb(-price_dp) if price_dp is not None else None,
            step_size=Decimal(1).scaleb(-size_dp) if size_dp is not None else None,
            min_size=dec(m.min_base_amount) if m.min_base_amount is not None else None,
            min_notional=dec(m.min_quote_amount) if m.min_quote_amount is not None else None,
            contract_size=dec(m.multiplier) if m.multiplier is not None else Decimal(1),
            funding_interval_hours=self.interval_hours,
            max_leverage=Decimal(10_000) / imf if imf else None,
            market_id=m.market_id,
            status=m.status,
        )

    # --- funding ---------------------------------------------------------------------------------

    def funding_request(self, symbol: str | None = None) -> HttpRequest:
        """``funding-rates`` lists every market at once; ``symbol`` is accepted and ignored."""
        return self._get("/api/v1/funding-rates")

    def decode_funding(self, body: bytes) -> list[FundingRate]:
        """Lighter's own rows of ``funding-rates`` (other exchanges' rows are skipped)."""
        try:
            self._check(body)
            rows = _RATES.decode(body).funding_rates
            if rows is None:
                raise ValueError("no funding_rates")
            out = []
            h = self.interval_hours
            for r in rows:
                if r.exchange != "lighter":
                    continue
                # the float is percent/h x 8 / 100; undo it and round back to the published 4 dp
                pct = (dec(r.rate) * _PCT_PER_8H_TO_PCT_PER_H).quantize(_PCT_QUANTUM)
                rate, hourly = pct_rate(str(pct), h)
                out.append(FundingRate(venue=VENUE, symbol=str(r.market_id), rate=rate, interval_hours=h,
                                       rate_per_hour=hourly))
        except READ_ERRORS as exc:
            raise self._error(str(exc), body) from None
        return out

    def funding_history_request(self, symbol: str, start_ms: int, end_ms: int, count_back: int = 1000) -> HttpRequest:
        """Hourly settled rates of one market; Lighter takes the window in seconds."""
        self._history_symbol = symbol
        params = (
            ("market_id", symbol), ("resolution", "1h"), ("start_timestamp", str(start_ms // 1000)),
            ("end_timestamp", str(end_ms // 1000)), ("count_back", str(count_back)),
        )
        return self._get("/api/v1/fundings", params)

    def decode_funding_history(self, body: bytes, symbol: str | None = None) -> list[FundingRate]:
        """Settled rates, oldest first. The body names no market: ``symbol`` defaults to the one of
        the last ``funding_history_request``."""
        symbol = symbol or self._history_symbol
        try:
            if symbol is None:
                raise ValueError("no symbol: pass it or build the request with funding_history_request")
            self._check(body)
            rows = _FUNDINGS.decode(body).fundings
            if rows is None:
                raise ValueError("no fundings")
            h = self.interval_hours
            out = []
            for r in rows:
                if r.direction not in ("long", "short"):
                    raise ValueError(f"funding direction {r.direction!r}")
                rate, hourly = pct_rate(r.rate, h)
                if r.direction == "short":  # shorts pay: a negative rate
                    rate, hourly = -rate, -hourly
                out.append(FundingRate(venue=VENUE, symbol=symbol, rate=rate, interval_hours=h, rate_per_hour=hourly,
                                       ts=r.timestamp * 1000, settled=True))
        except READ_ERRORS as exc:
            raise self._error(str(exc), body) from None
        return out

    # --- book ----------------------------------------------------------------------------------

    def depth_request(self, symbol: str, limit: int = 100) -> HttpRequest:
        raise SubscriptionError(
            "lighter: no sequenced REST book (orderBookOrders has no nonce); re-seed with resync_frames(symbol)"
        )

    def decode_snapshot(self, symbol: str, body: bytes) -> BookSnapshot:
        raise self._error("lighter has no REST book with a nonce; the WS order_book snapshot is the sync source", body)


def next_funding_ms(last_ms: int, interval_hours: int) -> int:
    """The payment after one made at ``last_ms`` (payments land a few ms after the hour)."""
    return last_ms - last_ms % ONE_HOUR_MS + interval_hours * ONE_HOUR_MS
