"""Hyperliquid ``POST /info``: request builders and reply decoders (a mixin of the codec).

Every info request is ``POST <rest_url>/info`` with a JSON body whose ``type`` names the query
(``Content-Type: application/json`` is required; the venue answers 415 without it). Weights follow
the venue's table: ``l2Book``/``allMids``/``exchangeStatus`` 2, everything else 20, plus one per 20
rows for ``fundingHistory``/``userFunding``. Unknown coins are answered with a JSON ``null``
(HTTP 200 for ``l2Book``, 500 for ``fundingHistory``): decoders turn it into ``VenueError``.

Funding is normalised here as everywhere: ``rate`` is the fraction per interval. Every live
Hyperliquid rate is already per hour (interval 1 h). Settled history before the switch to hourly
funding on 2023-06-08 was paid every 8 h at the 8 h rate, so those rows get interval 8.
``decode_instruments`` and ``decode_funding`` also teach the codec's ``Universe`` the live coin
names, which is what makes subscribing safe.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from perpwire.market.errors import VenueError
from perpwire.market.events import BookSnapshot, FundingPayment, FundingRate, Instrument, MidPrice
from perpwire.market.funding import per_hour
from perpwire.market.units import ONE_HOUR_MS
from perpwire.venues.base import HttpRequest
from perpwire.venues.hyperliquid.schemas import (
    HyperliquidBook,
    HyperliquidExchangeStatus,
    HyperliquidFundingHistoryRow,
    HyperliquidMeta,
    HyperliquidMetaAndCtxs,
    HyperliquidPredictedFundings,
    HyperliquidUserFundingRow,
)
from perpwire.venues.hyperliquid.subscriptions import Universe, coin_asset, coin_multiplier

T = TypeVar("T")

FUNDING_INTERVAL_HOURS = 1
#: settlements before this instant (2023-06-08T00:30Z) were 8-hourly; the last one landed at 00:00
HOURLY_FUNDING_SINCE_MS = 1_686_184_200_000
PRE_HOURLY_INTERVAL_HOURS = 8
#: ``predictedFundings`` venue tags -> (perpwire venue name, interval when the reply omits it)
PREDICTION_VENUES = {"HlPerp": ("hyperliquid", 1), "BinPerp": ("binance", 8), "BybitPerp": ("bybit", 8)}

_JSON = (("Content-Type", "application/json"),)
_ROWS_PER_WEIGHT = 20
_MAX_HISTORY_ROWS = 500

_BOOK = msgspec.json.Decoder(HyperliquidBook | None)
_META_OR_CTXS = msgspec.json.Decoder(HyperliquidMeta | HyperliquidMetaAndCtxs | None)
_META_AND_CTXS = msgspec.json.Decoder(HyperliquidMetaAndCtxs | None)
_HISTORY = msgspec.json.Decoder(list[HyperliquidFundingHistoryRow] | None)
_PREDICTED = msgspec.json.Decoder(HyperliquidPredictedFundings | None)
_USER_FUNDING = msgspec.json.Decoder(list[HyperliquidUserFundingRow] | None)
_MIDS = msgspec.json.Decoder(dict[str, str] | None)
_STATUS = msgspec.json.Decoder(HyperliquidExchangeStatus | None)



def snapshot_from(venue: str, book: HyperliquidBook) -> BookSnapshot:
    """A ``BookSnapshot`` of a whole Hyperliquid book; ``seq`` is the book's ``time`` (no ids exist)."""
    bids, asks = book.levels
    return BookSnapshot(
        venue=venue, symbol=book.coin, bids=tuple([(lv.px, lv.sz) for lv in bids]),
        asks=tuple([(lv.px, lv.sz) for lv in asks]), seq=book.time, ts=book.time,
    )


def funding_interval_hours(settled_ms: int) -> int:
    """Hours between settlements for a settlement at ``settled_ms`` (8 before 2023-06-08, then 1)."""
    return PRE_HOURLY_INTERVAL_HOURS if settled_ms < HOURLY_FUNDING_SINCE_MS else FUNDING_INTERVAL_HOURS


class HyperliquidRest:
    """REST half of ``HyperliquidCodec``; needs ``name``, ``rest_url``, ``universe``, ``stats``."""

    name: str
    rest_url: str
    universe: Universe
    n_sig_figs: int | None
    mantissa: int | None
    spot_mids: bool

    # --- requests -------------------------------------------------------------------------------

    def _info(self, body: dict[str, Any], weight: int) -> HttpRequest:
        return HttpRequest(
            method="POST", url=f"{self.rest_url}/info", headers=_JSON, body=msgspec.json.encode(body), weight=weight,
        )

    def meta_request(self, dex: str | None = None) -> HttpRequest:
        """The perp universe (names, size decimals, leverage) of the first dex or of ``dex``."""
        return self._info({"type": "meta", **({"dex": dex} if dex else {})}, 20)

    def instruments_request(self, dex: str | None = None) -> HttpRequest:
        """``metaAndAssetCtxs``: one weight-20 call answers both ``decode_instruments`` and ``decode_funding``."""
        return self._info({"type": "metaAndAssetCtxs", **({"dex": dex} if dex else {})}, 20)

    def funding_request(self, symbol: str | None = None, dex: str | None = None) -> HttpRequest:
        """Current funding of every coin (the venue has no per-coin query; ``symbol`` is ignored)."""
        return self.instruments_request(dex)

    def depth_request(self, symbol: str, limit: int = 20) -> HttpRequest:
        """The top 20 levels per side (the venue's fixed depth; ``limit`` cannot ask for more)."""
        body = {"type": "l2Book", "coin": symbol, "nSigFigs": self.n_sig_figs, "mantissa": self.mantissa}
        return self._info(body, 2)

    def funding_history_request(self, symbol: str, start_ms: int, end_ms: int | None = None) -> HttpRequest:
        """Settled rates from ``start_ms``; at most 500 rows: page on with the last row's ``time`` + 1."""
        body: dict[str, Any] = {"type": "fundingHistory", "coin": symbol, "startTime": int(start_ms)}
        rows = _MAX_HISTORY_ROWS
        if end_ms is not None:
            body["endTime"] = int(end_ms)
            rows = max(1, min(rows, (int(end_ms) - int(start_ms)) // ONE_HOUR_MS + 1))
        return self._info(body, 20 + rows // _ROWS_PER_WEIGHT)

    def predicted_fundings_request(self) -> HttpRequest:
        return self._info({"type": "predictedFundings"}, 20)

    def user_funding_request(self, user: str, start_ms: int, end_ms: int | None = None) -> HttpRequest:
        body: dict[str, Any] = {"type": "userFunding", "user": user, "startTime": int(start_ms)}
        if end_ms is not None:
            body["endTime"] = int(end_ms)
        return self._info(body, 20 + _MAX_HISTORY_ROWS // _ROWS_PER_WEIGHT)

    def all_mids_request(self) -> HttpRequest:
        return self._info({"type": "allMids"}, 2)

    def exchange_status_request(self) -> HttpRequest:
        """``exchangeStatus``: its ``time`` is the venue's clock (``decode_server_time``)."""
        return self._info({"type": "exchangeStatus"}, 2)

    # --- decoders --------------------------------------------------------------------------------

    def _read(self, decoder: msgspec.json.Decoder, body: bytes, what: str, convert: Callable[[Any], T]) -> T:
        """``convert(decoder.decode(body))``; a JSON ``null`` (unknown coin or user) raises VenueError.
        What cannot be read becomes DecodeError at the codec's read boundary."""
        value = decoder.decode(body)
        if value is None:
            raise VenueError(self.name, None, f"{what}: the venue answered null (unknown coin or user?)")
        return convert(value)

    def decode_snapshot(self, symbol: str, body: bytes) -> BookSnapshot:
        """A REST ``l2Book`` reply for ``symbol``."""

        def convert(book: HyperliquidBook) -> BookSnapshot:
            if book.coin != symbol:
                raise self._error(f"l2Book: asked for {symbol!r}, got {book.coin!r}", body)
            return snapshot_from(self.name, book)

        return self._read(_BOOK, body, "l2Book", convert)

    def decode_funding(self, body: bytes) -> list[FundingRate]:
        """Current (estimated, unsettled) funding of every live coin from ``metaAndAssetCtxs``."""

        def convert(value: HyperliquidMetaAndCtxs) -> list[FundingRate]:
            meta, ctxs = value
            if len(ctxs) != len(meta.universe):
                raise ValueError(f"{len(meta.universe)} coins but {len(ctxs)} contexts")
            infos = self.universe.learn(meta)
            out = []
            for info, ctx in zip(infos, ctxs, strict=True):
                if info.delisted:
                    continue
                rate = Decimal(ctx.funding)
                out.append(FundingRate(
                    venue=self.name, symbol=info.name, rate=rate, interval_hours=FUNDING_INTERVAL_HOURS,
                    rate_per_hour=per_hour(rate, FUNDING_INTERVAL_HOURS), mark_price=Decimal(ctx.markPx),
                    index_price=Decimal(ctx.oraclePx),
                ))
            return out

        return self._read(_META_AND_CTXS, body, "metaAndAssetCtxs", convert)

    def decode_instruments(self, body: bytes) -> list[Instrument]:
        """Every coin of a ``meta`` or ``metaAndAssetCtxs`` reply (delisted ones with status "delisted")."""

        def convert(value: HyperliquidMeta | HyperliquidMetaAndCtxs) -> list[Instrument]:
            meta = value if isinstance(value, HyperliquidMeta) else value[0]
            quote = "USDC" if meta.collateralToken in (None, 0) else f"token:{meta.collateralToken}"
            out = []
            for info in self.universe.learn(meta):
                out.append(Instrument(
                    venue=self.name, symbol=info.name, asset=coin_asset(info.name), quote=quote,
                    step_size=Decimal(1).scaleb(-info.sz_decimals), contract_size=Decimal(coin_multiplier(info.name)),
                    funding_interval_hours=FUNDING_INTERVAL_HOURS, max_leverage=Decimal(info.max_leverage),
                    market_id=None if ":" in info.name else info.index,
                    status="delisted" if info.delisted else "trading",
                ))
            return out

        return self._read(_META_OR_CTXS, body, "meta", convert)

    def decode_funding_history(self, body: bytes) -> list[FundingRate]:
        """Settled rates, oldest first; 8 h interval before 2023-06-08, 1 h since."""

        def convert(rows: list[HyperliquidFundingHistoryRow]) -> list[FundingRate]:
            out = []
            for row in rows:
                rate = Decimal(row.fundingRate)
                hours = funding_interval_hours(row.time)
                out.append(FundingRate(
                    venue=self.name, symbol=row.coin, rate=rate, interval_hours=hours,
                    rate_per_hour=per_hour(rate, hours), ts=row.time, settled=True,
                ))
            return out

        return self._read(_HISTORY, body, "fundingHistory", convert)

    def decode_predicted_fundings(self, body: bytes, now_ms: int | None = None) -> list[FundingRate]:
        """The venue's predictions for itself, Binance and Bybit, per Hyperliquid coin.

        Each rate comes back as a ``FundingRate`` whose ``venue`` is the predicted venue's perpwire
        name ("hyperliquid", "binance", "bybit") and whose ``symbol`` is the *Hyperliquid* coin
        ("kPEPE", not "1000PEPEUSDT"): match it across venues with ``asset``. The rate is per that
        venue's ``fundingIntervalHours`` (8 when an older reply omits it; 1 for Hyperliquid).
        HlPerp's ``nextFundingTime`` has been seen pointing at the hour just settled; with
        ``now_ms`` it is replaced by the next whole hour. Null entries and unknown venue tags
        are skipped (the tags are counted in ``stats.unknown``).
        """

        def convert(coins: HyperliquidPredictedFundings) -> list[FundingRate]:
            out = []
            for coin, predictions in coins:
                for tag, p in predictions:
                    if p is None:
                        continue
                    known = PREDICTION_VENUES.get(tag)
                    if known is None:
                        self.stats.unknown[f"predictedFundings:{tag}"] += 1
                        continue
                    venue, default_hours = known
                    hours = p.fundingIntervalHours or default_hours
                    rate = Decimal(p.fundingRate)
                    next_ts = p.nextFundingTime
                    if venue == self.name and now_ms is not None:
                        next_ts = (int(now_ms) // ONE_HOUR_MS + 1) * ONE_HOUR_MS
                    out.append(FundingRate(
                        venue=venue, symbol=coin, rate=rate, interval_hours=hours,
                        rate_per_hour=per_hour(rate, hours), next_funding_ts=next_ts,
                    ))
            return out

        return self._read(_PREDICTED, body, "predictedFundings", convert)

    def decode_user_funding(self, body: bytes) -> list[FundingPayment]:
        """A REST ``userFunding`` reply: one payment per coin and settlement."""

        def convert(rows: list[HyperliquidUserFundingRow]) -> list[FundingPayment]:
            return [
                FundingPayment(
                    venue=self.name, symbol=r.delta.coin, amount=Decimal(r.delta.usdc),
                    rate=Decimal(r.delta.fundingRate), ts=r.time,
                )
                for r in rows
            ]

        return self._read(_USER_FUNDING, body, "userFunding", convert)

    def decode_all_mids(self, body: bytes) -> list[MidPrice]:
        """A REST ``allMids`` reply (no timestamp on the wire: ``ts`` is 0)."""
        return self._read(_MIDS, body, "allMids", self._mids)

    def decode_server_time(self, body: bytes) -> int:
        """The venue clock (ms) from ``exchangeStatus``."""
        return self._read(_STATUS, body, "exchangeStatus", lambda s: s.time)

    def _mids(self, mids: dict[str, str], ts: int = 0) -> list[MidPrice]:
        """Mid prices of perps; spot keys ("@142", "PURR/USDC") only with the ``spot_mids`` option."""
        out = []
        for coin, px in mids.items():
            if not self.spot_mids and (coin.startswith("@") or "/" in coin):
                continue
            out.append(MidPrice(venue=self.name, symbol=coin, price=Decimal(px), ts=ts))
        return out
