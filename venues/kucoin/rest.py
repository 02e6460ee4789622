"""KuCoin Futures REST: request builders and body decoders, mixed into ``KucoinCodec``.

Builders return ``HttpRequest`` (base URL from the codec's ``rest_url`` option, KuCoin's
request weights); decoders check the envelope's ``code`` first ("200000" is success, anything
else raises ``VenueError``, "429000" ``RateLimited``) and then decode ``data``; anything
unreadable raises ``DecodeError`` (the codec base turns every read failure of a ``decode_*``
method into one). Decoders that see contract facts (contract detail,
active contracts, current funding) teach them to the codec's ``ContractTable``, so call
``decode_instruments`` once before streaming: funding intervals and contract multipliers differ
per contract. Book sizes stay in contracts; see ``ContractTable.contract_size``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar, TypeVar

import msgspec

from perpwire.market.errors import DecodeError, RateLimited, VenueError
from perpwire.market.events import BBO, BookSnapshot, FundingRate, Instrument, Levels, MarkPrice
from perpwire.market.units import ms_from_ns
from perpwire.venues.base import HttpRequest
from perpwire.venues.kucoin.contracts import PERPETUAL, ContractTable
from perpwire.venues.kucoin.schemas import (
    KucoinBulletData,
    KucoinContract,
    KucoinFundingCurrent,
    KucoinFundingHistoryRow,
    KucoinLevel,
    KucoinMarkPrice,
    KucoinResponse,
    KucoinSnapshot,
    KucoinTicker,
)

REST_URL = "https://api-futures.kucoin.com"
OK = "200000"
RATE_LIMITED = "429000"


T = TypeVar("T")

_RESPONSE = msgspec.json.Decoder(KucoinResponse)
_BULLET = msgspec.json.Decoder(KucoinBulletData)
_SNAPSHOT = msgspec.json.Decoder(KucoinSnapshot)
_FUNDING = msgspec.json.Decoder(KucoinFundingCurrent | list[KucoinContract])
_HISTORY = msgspec.json.Decoder(list[KucoinFundingHistoryRow])
_CONTRACTS = msgspec.json.Decoder(list[KucoinContract] | KucoinContract)
_MARK = msgspec.json.Decoder(KucoinMarkPrice)
_TICKER = msgspec.json.Decoder(KucoinTicker)


class Bullet(msgspec.Struct, frozen=True, kw_only=True):
    """A WebSocket session grant from bullet-public: where to connect, with what, how to ping."""

    endpoint: str
    token: str
    ping_interval_ms: int
    ping_timeout_ms: int


def _text(v: str | int | float) -> str:
    if type(v) is str:
        return v
    if type(v) is int:
        return str(v)
    # a float's shortest repr has the wire text's value (prices carry < 16 significant digits)
    return repr(v)


def levels_text(levels: tuple[KucoinLevel, ...]) -> Levels:
    """Book levels as exact text, whether KuCoin sent strings or numbers."""
    return tuple([(_text(p), _text(q)) for p, q in levels])


class KucoinRest:
    """REST half of ``KucoinCodec`` (which sets ``rest_url``, ``contracts`` and ``bullet``)."""

    name: ClassVar[str]
    rest_url: str
    contracts: ContractTable
    bullet: Bullet | None
    heartbeat_interval_s: float | None
    ping_timeout_s: float

    if TYPE_CHECKING:
        def _error(self, reason: str, frame: bytes | str | memoryview | None) -> DecodeError: ...

    # --- requests ------------------------------------------------------------------------------

    def _get(self, path: str, weight: int, params: tuple[tuple[str, str], ...] = ()) -> HttpRequest:
        return HttpRequest(method="GET", url=self.rest_url + path, params=params, weight=weight)

    def bullet_request(self) -> HttpRequest:
        """The public WebSocket token (no auth). Feed the body to ``decode_bullet``."""
        return HttpRequest(method="POST", url=self.rest_url + "/api/v1/bullet-public", weight=10)

    def depth_request(self, symbol: str, limit: int | None = None) -> HttpRequest:
        """The smallest book that covers ``limit`` levels; the full book (what DEPTH sync needs)
        when ``limit`` is None or above 100."""
        if limit is not None and limit <= 20:
            return self._get("/api/v1/level2/depth20", 5, (("symbol", symbol),))
        if limit is not None and limit <= 100:
            return self._get("/api/v1/level2/depth100", 5, (("symbol", symbol),))
        return self._get("/api/v1/level2/snapshot", 3, (("symbol", symbol),))

    def funding_request(self, symbol: str | None = None) -> HttpRequest:
        """Current funding of one contract, or of every contract (active contracts) when None."""
        if symbol is None:
            return self.instruments_request()
        return self._get(f"/api/v1/funding-rate/{symbol}/current", 2)

    def funding_history_request(self, symbol: str, start_ms: int, end_ms: int) -> HttpRequest:
        return self._get(
            "/api/v1/contract/funding-rates", 5, (("symbol", symbol), ("from", str(start_ms)), ("to", str(end_ms)))
        )

    def instruments_request(self) -> HttpRequest:
        return self._get("/api/v1/contracts/active", 3)

    def contract_request(self, symbol: str) -> HttpRequest:
        """One contract's detail; ``decode_instruments`` reads it too."""
        return self._get(f"/api/v1/contracts/{symbol}", 3)

    def mark_price_request(self, symbol: str) -> HttpRequest:
        return self._get(f"/api/v1/mark-price/{symbol}/current", 3)

    def ticker_request(self, symbol: str) -> HttpRequest:
        return self._get("/api/v1/ticker", 2, (("symbol", symbol),))

    # --- decoding ------------------------------------------------------------------------------

    def _data(self, body: bytes, decoder: msgspec.json.Decoder[T]) -> T:
        resp = _RESPONSE.decode(body)
        code = str(resp.code)
        if not (code.isascii() and code.isdigit()):  # KuCoin codes are numbers; anything else is a garbled body
            raise ValueError(f"response code {code!r}")
        if code == RATE_LIMITED:
            raise RateLimited(self.name, 429, None, resp.msg)
        if code != OK:
            raise VenueError(self.name, code, resp.msg)
        return decoder.decode(resp.data)

    def decode_bullet(self, body: bytes) -> Bullet:
        """Read a bullet-public body; the codec keeps it for ``url`` and its heartbeat schedule
        (``heartbeat_interval_s`` from ``pingInterval``, ``ping_timeout_s`` from ``pingTimeout``)."""
        data = self._data(body, _BULLET)
        server = data.instanceServers[0]  # KuCoin offers one; the first is the one to use
        if server.pingInterval <= 0 or server.pingTimeout <= 0:
            raise ValueError(f"ping interval {server.pingInterval} / timeout {server.pingTimeout} ms")
        bullet = Bullet(
            endpoint=server.endpoint, token=data.token,
            ping_interval_ms=server.pingInterval, ping_timeout_ms=server.pingTimeout,
        )
        self.bullet = bullet
        self.heartbeat_interval_s = bullet.ping_interval_ms / 1000
        self.ping_timeout_s = bullet.ping_timeout_ms / 1000
        return bullet

    def decode_snapshot(self, symbol: str, body: bytes) -> BookSnapshot:
        """``level2/snapshot`` (or depth20/100): sizes in contracts, levels as exact text."""
        d = self._data(body, _SNAPSHOT)
        return BookSnapshot(
            venue=self.name, symbol=symbol, bids=levels_text(d.bids), asks=levels_text(d.asks),
            seq=d.sequence, ts=ms_from_ns(d.ts),
        )

    def decode_funding(self, body: bytes, now_ms: int | None = None) -> list[FundingRate]:
        """Current funding: ``funding-rate/{symbol}/current`` (one contract; the rate charged at
        ``fundingTime``, ``ts`` the period's start) or ``contracts/active`` (every perpetual;
        ``next_funding_ts`` only with ``now_ms``, the wire has a countdown)."""
        data = self._data(body, _FUNDING)
        if isinstance(data, KucoinFundingCurrent):
            return [self._funding_current(data)]
        out = []
        for c in data:
            if c.type != PERPETUAL or c.fundingFeeRate is None:
                continue
            self.contracts.learn(c, now_ms)
            out.append(self.contracts.funding(
                self.name, c.symbol, c.fundingFeeRate, 0, mark_price=c.markPrice, index_price=c.indexPrice,
                next_funding_ts=self.contracts.next_funding(c.symbol, now_ms) if now_ms is not None else None,
            ))
        return out

    def _funding_current(self, d: KucoinFundingCurrent) -> FundingRate:
        symbol = self.contracts.contract_symbol(d.symbol)
        hours = self.contracts.set_interval(symbol, d.granularity)  # the endpoint states the interval
        if d.fundingTime is not None:
            self.contracts.note_settlement(symbol, d.fundingTime)
        return self.contracts.funding(
            self.name, symbol, d.value, d.timePoint, interval_hours=hours, next_funding_ts=d.fundingTime,
        )

    def decode_funding_history(self, body: bytes) -> list[FundingRate]:
        """Settled rates, newest first as KuCoin sends them; index symbols map to contracts."""
        rows = self._data(body, _HISTORY)
        out = []
        for row in rows:
            symbol = self.contracts.contract_symbol(row.symbol)
            hours = self.contracts.index_hours(row.symbol) or self.contracts.interval_hours(symbol)
            out.append(self.contracts.funding(
                self.name, symbol, row.fundingRate, row.timepoint, interval_hours=hours, settled=True,
                next_funding_ts=None,
            ))
        return out

    def decode_instruments(self, body: bytes, now_ms: int | None = None) -> list[Instrument]:
        """Perpetuals from ``contracts/active`` or one ``contracts/{symbol}``; dated futures are
        skipped. Every contract read is learned (multiplier, funding interval and index)."""
        data = self._data(body, _CONTRACTS)
        contracts = data if isinstance(data, list) else [data]
        out = []
        for c in contracts:
            self.contracts.learn(c, now_ms)
            if c.type == PERPETUAL:
                out.append(self.contracts.instrument(self.name, c))
        return out

    def decode_mark_price(self, body: bytes) -> MarkPrice:
        d = self._data(body, _MARK)
        return MarkPrice(venue=self.name, symbol=d.symbol, mark_price=d.value, index_price=d.indexPrice, ts=d.timePoint)

    def decode_ticker(self, body: bytes) -> BBO:
        """``/api/v1/ticker`` as a BBO (sizes in contracts)."""
        d = self._data(body, _TICKER)
        return BBO(
            venue=self.name, symbol=d.symbol, bid_price=d.bestBidPrice, bid_size=d.bestBidSize,
            ask_price=d.bestAskPrice, ask_size=d.bestAskSize, ts=ms_from_ns(d.ts), seq=d.sequence,
        )

    def contract_size(self, symbol: str) -> Decimal | None:
        """Base quantity of one contract once learned (multiply book and BBO sizes by it)."""
        return self.contracts.contract_size(symbol)
