"""Bybit v5 REST market endpoints: request builders and body decoders, mixed into ``BybitCodec``.

Builders return ``HttpRequest`` (base URL from the codec's ``rest_url`` option, ``category``
first as Bybit's docs list it). Every decoder checks the envelope first: ``retCode`` 0 is
success, 10006 ("Too many visits!", the per-UID limit) raises ``RateLimited`` and any other
code ``VenueError``; only then is ``result`` decoded, and anything unreadable raises
``DecodeError`` (the codec base turns every read failure of a ``decode_*`` method into one).
``decode_instruments`` teaches each perpetual's funding interval to the
codec's ``TickerState`` (and keeps ``instruments_cursor`` for the next page), so call it once
before reading funding history: the history rows do not say their interval.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

import msgspec

from perpwire.market.errors import DecodeError, RateLimited, VenueError
from perpwire.market.events import BBO, BookSnapshot, FundingRate, Instrument
from perpwire.market.funding import asset, multiplier, per_hour
from perpwire.market.units import dec
from perpwire.venues.base import HttpRequest
from perpwire.venues.bybit.orderbook import rest_snapshot
from perpwire.venues.bybit.schemas import BybitFundingHistory, BybitInstrumentList, BybitResponse, BybitTickerList
from perpwire.venues.bybit.tickers import TickerState

REST_URL = "https://api.bybit.com"
CATEGORY = "linear"
RATE_LIMITED = 10006
PERPETUALS = frozenset({"LinearPerpetual", "InversePerpetual"})

_RESPONSE = msgspec.json.Decoder(BybitResponse)
_TICKERS = msgspec.json.Decoder(BybitTickerList)
_HISTORY = msgspec.json.Decoder(BybitFundingHistory)
_INSTRUMENTS = msgspec.json.Decoder(BybitInstrumentList)


def _opt(text: str | None) -> Decimal | None:
    return dec(text) if text else None


class BybitRest:
    """REST half of ``BybitCodec`` (which sets ``rest_url``, ``depth`` and ``tickers``)."""

    name: ClassVar[str]
    rest_url: str
    depth: int
    tickers: TickerState
    instruments_cursor: str | None

    if TYPE_CHECKING:
        def _error(self, reason: str, frame: bytes | str | memoryview | None) -> DecodeError: ...

    # --- requests ------------------------------------------------------------------------------

    def _get(self, path: str, *params: tuple[str, str]) -> HttpRequest:
        return HttpRequest(method="GET", url=self.rest_url + path, params=(("category", CATEGORY), *params))

    def depth_request(self, symbol: str, limit: int | None = None) -> HttpRequest:
        """``/v5/market/orderbook``; ``limit`` (1–1000) defaults to the WS depth option so a
        REST snapshot holds the same window the deltas maintain."""
        limit = self.depth if limit is None else limit
        if not 1 <= limit <= 1000:
            raise ValueError(f"bybit orderbook limit must be 1..1000, got {limit}")
        return self._get("/v5/market/orderbook", ("symbol", symbol), ("limit", str(limit)))

    def funding_request(self, symbol: str | None = None) -> HttpRequest:
        """``/v5/market/tickers``: one symbol, or every linear symbol when None."""
        if symbol is None:
            return self._get("/v5/market/tickers")
        return self._get("/v5/market/tickers", ("symbol", symbol))

    def funding_history_request(self, symbol: str, start_ms: int, end_ms: int, limit: int = 200) -> HttpRequest:
        """Settled rates in ``[start_ms, end_ms]`` (Bybit refuses ``startTime`` alone), at most
        ``limit`` (1–200) per page, newest first."""
        return self._get(
            "/v5/market/funding/history", ("symbol", symbol), ("startTime", str(start_ms)),
            ("endTime", str(end_ms)), ("limit", str(limit)),
        )

    def instruments_request(self, cursor: str | None = None) -> HttpRequest:
        """One page (1000 rows) of linear instruments; pass ``instruments_cursor`` for the next."""
        if cursor:
            return self._get("/v5/market/instruments-info", ("limit", "1000"), ("cursor", cursor))
        return self._get("/v5/market/instruments-info", ("limit", "1000"))

    # --- decoding ------------------------------------------------------------------------------

    def _result(self, body: bytes) -> BybitResponse:
        """The envelope of a successful answer; the venue's error as ``VenueError``."""
        resp = _RESPONSE.decode(body)
        if resp.retCode == RATE_LIMITED:
            raise RateLimited(self.name, 429, None, resp.retMsg)
        if resp.retCode != 0:
            raise VenueError(self.name, resp.retCode, resp.retMsg)
        return resp

    def decode_snapshot(self, symbol: str, body: bytes) -> BookSnapshot:
        """``/v5/market/orderbook`` as a snapshot whose ``seq`` is the cross sequence (see
        ``venues.bybit.orderbook``: WS deltas of any depth bridge it)."""
        resp = self._result(body)
        return rest_snapshot(symbol, resp.result)

    def decode_funding(self, body: bytes) -> list[FundingRate]:
        """Current (predicted) funding of every perpetual in a ``/v5/market/tickers`` body;
        rows without a rate (dated futures) are skipped. ``ts`` is the answer's server time."""
        resp = self._result(body)
        rows = _TICKERS.decode(resp.result).list
        out = []
        for t in rows:
            fr = self.tickers.funding(t, resp.time)
            if fr is not None:
                out.append(fr)
        return out

    def decode_bbo(self, body: bytes) -> list[BBO]:
        """Best bid/ask of every row of a ``/v5/market/tickers`` body that has both."""
        resp = self._result(body)
        rows = _TICKERS.decode(resp.result).list
        return [b for t in rows if (b := self.tickers.bbo(t, resp.time)) is not None]

    def decode_funding_history(self, body: bytes) -> list[FundingRate]:
        """Settled rates, newest first as sent; ``ts`` is the settlement time and the interval
        the one learned for the symbol (instruments-info, tickers) or the default."""
        resp = self._result(body)
        out = []
        for row in _HISTORY.decode(resp.result).list:
            rate = dec(row.fundingRate)
            hours = self.tickers.interval_hours(row.symbol)
            out.append(FundingRate(
                venue=self.name, symbol=row.symbol, rate=rate, interval_hours=hours,
                rate_per_hour=per_hour(rate, hours), ts=int(row.fundingRateTimestamp), settled=True,
            ))
        return out

    def decode_instruments(self, body: bytes) -> list[Instrument]:
        """Perpetuals of one instruments-info page (dated futures skipped); their funding
        intervals (minutes on the wire) are learned in whole hours, and ``instruments_cursor``
        names the next page (None on the last)."""
        resp = self._result(body)
        page = _INSTRUMENTS.decode(resp.result)
        out = []
        for i in page.list:
            if i.contractType not in PERPETUALS:
                continue
            hours: int | None = None
            if i.fundingInterval > 0 and i.fundingInterval % 60 == 0:
                hours = i.fundingInterval // 60
                self.tickers.learn_interval(i.symbol, hours)
            lot, price, lev = i.lotSizeFilter, i.priceFilter, i.leverageFilter
            out.append(Instrument(
                venue=self.name, symbol=i.symbol, asset=asset(i.symbol), quote=i.quoteCoin,
                tick_size=_opt(price and price.tickSize), step_size=_opt(lot and lot.qtyStep),
                min_size=_opt(lot and lot.minOrderQty), min_notional=_opt(lot and lot.minNotionalValue),
                # "1000PEPEUSDT" quotes sizes in units of 1000 PEPE
                contract_size=Decimal(multiplier(i.symbol)), funding_interval_hours=hours,
                max_leverage=_opt(lev and lev.maxLeverage), status=i.status or None,
            ))
        self.instruments_cursor = page.nextPageCursor or None
        return out
