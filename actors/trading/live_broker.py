"""Live order placement: signed REST orders on Aster (HMAC) and Backpack (ED25519), reconciled
with the venues' user-data streams.

``LiveBroker`` implements the ``Broker`` protocol with the semantics of ``PaperBroker``: an order
with a limit price is an immediate-or-cancel LIMIT order, one without is a MARKET order, and the
answer is an ``OrderResult`` (FILLED / PARTIALLY_FILLED / CANCELED / REJECTED / UNKNOWN, filled size,
average price, fee). One flow serves every venue; what differs per venue (signing, client order
ids, the balance endpoint, the quote asset) lives in a small ``VenueAdapter``.

The flow of ``place``: round the price to the venue's tick (never more aggressive than asked) and
the size down to its step; sign and send the order through the venue's ``RestClient`` (its
request budget; a 429 with a short Retry-After is retried once after the budget's wait); decode
the venue's answer; then wait a bounded time (``stream_timeout_s``) for the user-data stream to
report the order's terminal state with all its fills, which gives the exact fills and fees. If the
stream does not report in time the REST answer is used (fee estimated at the taker rate). Stream
events come in through ``on_user_events(events)`` (push) and, where a venue's stream actor is
known, by polling its ``user_events()`` while waiting (pull), so the broker works whichever way
the events are wired.

Failures never raise into the executor: a venue rejection (HTTP 4xx with the venue's error code
and message, or an error body) is a REJECTED result carrying the venue's reason; a request whose
outcome is unknown (HTTP 5xx, timeout, connection loss) is looked for on the stream and queried
by client order id before it is reported — as ``UNKNOWN`` (never REJECTED) when neither can tell,
for the executor to reconcile. ``query_order`` (by our client id: Aster ``GET /fapi/v1/order``;
Backpack ``orderQuery``, then the fill history for an order no longer on the book) and
``venue_positions`` (Aster ``positionRisk``, Backpack ``positionQuery``) are what reconciliation
asks the venues. Every failure is one log line with
venue and symbol. Secrets are read from their ``SecretRef`` only to sign, and neither they nor
the signed requests are ever logged or put into exception or reason text.

``available(venue)`` asks the venue's balance endpoint (Aster ``GET /fapi/v2/balance``, Backpack
``GET /api/v1/capital``) and falls back to the last ``BalanceUpdate`` the stream delivered.
Venues without an adapter are delegated to a fallback broker (the paper broker).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Any, ClassVar

import aiohttp
import msgspec

from perpwire import venues
from perpwire.actors.app.config import LiveVenueConfig, SecretRef
from perpwire.actors.pacing import now_ms
from perpwire.actors.rest import RestClient
from perpwire.actors.trading.broker import Broker, OrderResult, fill_status
from perpwire.market.errors import DecodeError, PerpwireError, RateLimited, VenueError
from perpwire.market.events import BalanceUpdate, Fill, Instrument, OrderStatus, OrderUpdate, PositionUpdate, Side
from perpwire.venues.base import HttpRequest
from perpwire.venues.binance.auth import Credentials

log = logging.getLogger(__name__)

ZERO = Decimal(0)
TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED})
EventSource = Callable[[], Awaitable[list]]
Fetch = Callable[[HttpRequest], Awaitable[bytes]]
QUERY_ERRORS = (PerpwireError, ValueError, aiohttp.ClientError, TimeoutError, OSError)




# --- per-venue adapters ----------------------------------------------------------------------


class VenueAdapter:
    """Signing, ids and endpoints of one venue; the broker's flow is shared."""

    quote_asset: ClassVar[str]

    def __init__(self, venue: str, codec: Any, api_key: SecretRef, api_secret: SecretRef):
        self.venue = venue
        self.codec = codec
        self._api_key = api_key
        self._api_secret = api_secret

    def next_client_id(self) -> str:
        raise NotImplementedError

    def venue_client_id(self, client_id: str) -> str:
        """The venue's form of our client order id (the same text where the venue takes text)."""
        return client_id

    async def lookup(self, fetch: Fetch, symbol: str, client_id: str) -> tuple[OrderUpdate | None, list[Fill]]:
        """What the venue knows of our order ``client_id`` (venue form): its state and, where the
        venue gives them, its fills; ``(None, [])`` when the venue has no such order."""
        raise NotImplementedError

    def positions_request(self, timestamp_ms: int) -> HttpRequest:
        raise NotImplementedError

    def decode_positions(self, body: bytes) -> list[PositionUpdate]:
        return self.codec.decode_positions(body)

    def order_request(self, *, symbol: str, side: Side, size: Decimal, price: Decimal | None, reduce_only: bool,
                      client_id: str, timestamp_ms: int) -> HttpRequest:
        raise NotImplementedError

    def balance_request(self, timestamp_ms: int) -> HttpRequest:
        raise NotImplementedError

    def query_request(self, symbol: str, client_id: str, timestamp_ms: int) -> HttpRequest | None:
        """A REST query of one order by client id, where the venue has one (else None)."""
        return None

    def decode_order(self, body: bytes) -> OrderUpdate:
        return self.codec.decode_order(body)

    def decode_balances(self, body: bytes) -> list[BalanceUpdate]:
        return self.codec.decode_balances(body)


class AsterAdapter(VenueAdapter):
    """Aster V1 keys: HMAC-SHA256 over the form body, ``newClientOrderId`` of up to 36 characters."""

    quote_asset = "USDT"

    def __init__(self, venue: str, codec: Any, api_key: SecretRef, api_secret: SecretRef):
        super().__init__(venue, codec, api_key, api_secret)
        self._prefix = f"pw{secrets.token_hex(4)}"
        self._ids = itertools.count(1)

    def _credentials(self) -> Credentials:
        return Credentials(api_key=self._api_key.read(), secret=self._api_secret.read())

    def next_client_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    def order_request(self, *, symbol, side, size, price, reduce_only, client_id, timestamp_ms) -> HttpRequest:
        return self.codec.new_order_request(
            self._credentials(), symbol=symbol, side=side, quantity=size, price=price, timestamp_ms=timestamp_ms,
            time_in_force="IOC", reduce_only=reduce_only, client_order_id=client_id)

    def balance_request(self, timestamp_ms: int) -> HttpRequest:
        return self.codec.balance_request(self._credentials(), timestamp_ms=timestamp_ms)

    def query_request(self, symbol: str, client_id: str, timestamp_ms: int) -> HttpRequest | None:
        return self.codec.query_order_request(self._credentials(), symbol=symbol, client_order_id=client_id,
                                              timestamp_ms=timestamp_ms)

    async def lookup(self, fetch: Fetch, symbol: str, client_id: str) -> tuple[OrderUpdate | None, list[Fill]]:
        """``GET /fapi/v1/order`` by ``origClientOrderId``; -2013 (order does not exist) is "none"."""
        try:
            body = await fetch(self.query_request(symbol, client_id, now_ms()))
        except VenueError as exc:
            if _venue_code(self, exc) == -2013:
                return None, []
            raise
        return self.decode_order(body), []

    def positions_request(self, timestamp_ms: int) -> HttpRequest:
        return self.codec.position_risk_request(self._credentials(), timestamp_ms=timestamp_ms)


class BackpackAdapter(VenueAdapter):
    """Backpack: ED25519 over ``instruction=orderExecute&<body sorted>&timestamp&window``; the API
    key is derived from the secret, the client id is the venue's uint32 ``clientId``."""

    quote_asset = "USDC"

    def __init__(self, venue: str, codec: Any, api_key: SecretRef, api_secret: SecretRef):
        super().__init__(venue, codec, api_key, api_secret)
        self._ids = itertools.count(secrets.randbelow(2**31) + 1)

    def next_client_id(self) -> str:
        return str(next(self._ids) % 2**32)

    def venue_client_id(self, client_id: str) -> str:
        """A uint32 derived from our client order id (a hash: the same id gives the same number
        after a restart; ids differ by a random part, so numbers collide with odds of 1 in 2^32)."""
        if client_id.isdigit() and int(client_id) < 2**32:
            return client_id
        return str(int.from_bytes(hashlib.blake2b(client_id.encode(), digest_size=4).digest(), "big"))

    async def lookup(self, fetch: Fetch, symbol: str, client_id: str) -> tuple[OrderUpdate | None, list[Fill]]:
        """``orderQuery`` answers only for an order still on the book; a filled or expired one is a
        404, so its fills are looked up in the fill history (``fillHistoryQueryAll``) by client id."""
        secret = self._api_secret.read()
        try:
            body = await fetch(self.codec.order_query_request(secret, symbol=symbol, client_id=int(client_id),
                                                              timestamp_ms=now_ms()))
            return self.decode_order(body), []
        except VenueError as exc:
            if exc.status != 404:
                raise
        body = await fetch(self.codec.fill_history_request(secret, symbol=symbol, timestamp_ms=now_ms()))
        fills = [f for f in self.codec.decode_fills(body) if f.client_order_id == client_id]
        return None, fills

    def positions_request(self, timestamp_ms: int) -> HttpRequest:
        return self.codec.positions_request(self._api_secret.read(), timestamp_ms=timestamp_ms)

    def order_request(self, *, symbol, side, size, price, reduce_only, client_id, timestamp_ms) -> HttpRequest:
        return self.codec.new_order_request(
            self._api_secret.read(), symbol=symbol, side=side, quantity=size, price=price, timestamp_ms=timestamp_ms,
            time_in_force="IOC", reduce_only=reduce_only, client_id=int(client_id))

    def balance_request(self, timestamp_ms: int) -> HttpRequest:
        return self.codec.balance_request(self._api_secret.read(), timestamp_ms=timestamp_ms)


ADAPTERS: dict[str, type[VenueAdapter]] = {"aster": AsterAdapter, "backpack": BackpackAdapter}
LIVE_VENUES: tuple[str, ...] = tuple(ADAPTERS)


# --- order tracking --------------------------------------------------------------------------


class _Track:
    """What the stream said about one of our orders: its best state and its fills."""

    def __init__(self, venue: str, symbol: str, client_id: str):
        self.venue = venue
        self.symbol = symbol
        self.client_id = client_id
        self.order_id: str | None = None
        self.update: OrderUpdate | None = None
        self.fills: dict[tuple, Fill] = {}
        self.changed = asyncio.Event()

    def add(self, ev: OrderUpdate | Fill) -> None:
        if isinstance(ev, Fill):
            key = (ev.trade_id,) if ev.trade_id else (ev.price, ev.size, ev.ts)
            if key in self.fills:
                return
            self.fills[key] = ev
        else:
            cur = self.update
            if cur is not None and cur.status in TERMINAL and (ev.status not in TERMINAL or ev.filled < cur.filled):
                return  # a terminal state is final; a late NEW/PARTIAL never replaces it
            if cur is not None and ev.status not in TERMINAL and ev.filled < cur.filled:
                return  # out of order
            self.update = ev
            self.order_id = self.order_id or ev.order_id
        self.changed.set()

    def fill_size(self) -> Decimal:
        return sum((f.size for f in self.fills.values()), ZERO)

    def terminal(self) -> bool:
        u = self.update
        return u is not None and u.status in TERMINAL and self.fill_size() >= u.filled


# --- the broker ------------------------------------------------------------------------------


class LiveBroker:
    """Signed IOC orders on the venues of ``adapters``; every other venue goes to ``fallback``."""

    def __init__(self, adapters: dict[str, VenueAdapter], *, taker_fees: dict[str, Decimal] | None = None,
                 quote_assets: dict[str, str] | None = None, fallback: Broker | None = None,
                 stream_timeout_s: float | dict[str, float] = 2.0, unknown_timeout_s: float = 3.0,
                 poll_interval_s: float = 0.05, rate_limit_retries: int = 1, max_rate_limit_wait_s: float = 2.0,
                 event_sources: dict[str, EventSource] | None = None,
                 rest: dict[str, RestClient] | None = None):
        self.adapters = adapters
        self.taker_fees = dict(taker_fees or {})
        self.quote_assets = {v: (quote_assets or {}).get(v) or a.quote_asset for v, a in adapters.items()}
        self.fallback = fallback
        self._stream_timeout = stream_timeout_s
        self.unknown_timeout_s = unknown_timeout_s
        self.poll_interval_s = poll_interval_s
        self.rate_limit_retries = rate_limit_retries
        self.max_rate_limit_wait_s = max_rate_limit_wait_s
        self.event_sources = dict(event_sources or {})
        self.rest = dict(rest or {})
        for venue in adapters:
            if venue not in self.rest:
                self.rest[venue] = RestClient.for_venue(venue)
        self.balances: dict[tuple[str, str], BalanceUpdate] = {}
        self.instruments: dict[str, dict[str, Instrument]] = {}
        self.orders: list[OrderResult] = []
        self.counters: dict[str, int] = {"placed": 0, "rejected": 0, "from_stream": 0, "from_rest": 0,
                                         "unknown": 0, "rate_limited": 0}
        self._tracks: dict[tuple[str, str], _Track] = {}  # (venue, client id)
        self._by_order: dict[tuple[str, str], _Track] = {}  # (venue, order id)
        self._orphans: deque[OrderUpdate | Fill] = deque(maxlen=500)  # events seen before their order id
        self._rejects: dict[str, list[str]] = {}

    @classmethod
    def from_config(cls, live: dict[str, LiveVenueConfig], codec_options: dict[str, dict] | None = None,
                    **kwargs: Any) -> LiveBroker:
        """Adapters for the venues of ``live`` (each must be one of ``LIVE_VENUES``)."""
        adapters, quotes, timeouts = {}, {}, {}
        for venue, cfg in live.items():
            if venue not in ADAPTERS:
                raise ValueError(f"live trading is implemented for {', '.join(LIVE_VENUES)}, not {venue!r}")
            codec = venues.codec(venue, **((codec_options or {}).get(venue) or {}))
            adapters[venue] = ADAPTERS[venue](venue, codec, cfg.api_key, cfg.api_secret)
            if cfg.quote_asset:
                quotes[venue] = cfg.quote_asset
            timeouts[venue] = cfg.stream_timeout_s
        return cls(adapters, quote_assets=quotes, stream_timeout_s=timeouts, **kwargs)

    def stream_timeout_s(self, venue: str) -> float:
        t = self._stream_timeout
        return t.get(venue, 2.0) if isinstance(t, dict) else t

    def reject_next(self, venue: str, reason: str = "rejected by venue") -> None:
        """Refuse the next order on ``venue`` without sending it (drills, as on the paper broker)."""
        if venue in self.adapters:
            self._rejects.setdefault(venue, []).append(reason)
        elif self.fallback is not None and hasattr(self.fallback, "reject_next"):
            self.fallback.reject_next(venue, reason)

    async def close(self) -> None:
        for rest in self.rest.values():
            await rest.close()

    # --- user-data events --------------------------------------------------------------------

    async def on_user_events(self, events: list) -> None:
        """Feed user-stream events (OrderUpdate, Fill, BalanceUpdate, ...); others are ignored."""
        self.ingest(events)

    def ingest(self, events: list) -> None:
        for ev in events:
            if ev.venue not in self.adapters:
                continue
            if isinstance(ev, BalanceUpdate):
                key = (ev.venue, ev.asset)
                old = self.balances.get(key)
                if old is None or ev.ts >= old.ts:
                    self.balances[key] = ev
            elif isinstance(ev, OrderUpdate | Fill):
                track = None
                if ev.client_order_id is not None:
                    track = self._tracks.get((ev.venue, ev.client_order_id))
                if track is None:
                    track = self._by_order.get((ev.venue, ev.order_id))
                if track is not None:
                    if track.order_id is None:
                        self._bind(track, ev.order_id)
                    track.add(ev)
                elif ev.client_order_id is None:
                    self._orphans.append(ev)

    def _bind(self, track: _Track, order_id: str) -> None:
        track.order_id = order_id
        self._by_order[(track.venue, order_id)] = track
        for ev in [e for e in self._orphans if e.venue == track.venue and e.order_id == order_id]:
            self._orphans.remove(ev)
            track.add(ev)

    async def _pull(self, venue: str) -> None:
        source = self.event_sources.get(venue)
        if source is None:
            return
        try:
            self.ingest(await source())
        except Exception as exc:  # the push path or the REST answer still stand
            log.warning("%s: reading user events from the stream failed: %s", venue, exc)

    async def _await_terminal(self, track: _Track, timeout_s: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        polling = track.venue in self.event_sources
        while True:
            track.changed.clear()
            if track.terminal():
                return True
            if polling:
                await self._pull(track.venue)
                if track.terminal():
                    return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(track.changed.wait(), min(left, self.poll_interval_s) if polling else left)

    # --- balance -----------------------------------------------------------------------------

    async def available(self, venue: str) -> Decimal:
        adapter = self.adapters.get(venue)
        if adapter is None:
            if self.fallback is None:
                log.error("%s: not a live venue and no fallback broker; available is 0", venue)
                return ZERO
            return await self.fallback.available(venue)
        quote = self.quote_assets[venue]
        try:
            body = await self.rest[venue].fetch(adapter.balance_request(now_ms()))
            self.ingest(adapter.decode_balances(body))
        except (PerpwireError, ValueError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("%s: balance request failed (%s: %s); using the last balance update", venue,
                        type(exc).__name__, exc)
        bal = self.balances.get((venue, quote))
        if bal is None:
            log.error("%s: no %s balance known (REST failed, no stream update yet); available is 0", venue, quote)
            return ZERO
        return bal.available if bal.available is not None else bal.balance

    # --- instruments -------------------------------------------------------------------------

    async def _instrument(self, venue: str, symbol: str) -> Instrument | None:
        known = self.instruments.get(venue)
        if known is None:
            adapter = self.adapters[venue]
            try:
                body = await self.rest[venue].fetch(adapter.codec.instruments_request())
                known = {i.symbol: i for i in adapter.codec.decode_instruments(body)}
            except (PerpwireError, ValueError, aiohttp.ClientError, TimeoutError, OSError) as exc:
                log.warning("%s %s: instruments unavailable (%s); price and size are sent unrounded", venue, symbol,
                            exc)
                return None
            self.instruments[venue] = known
        return known.get(symbol)

    @staticmethod
    def _round(inst: Instrument | None, side: Side, size: Decimal, price: Decimal | None
               ) -> tuple[Decimal, Decimal | None]:
        """Size down to the step; a buy's price down and a sell's up to the tick (never more
        aggressive than asked)."""
        if inst is None:
            return size, price
        if inst.step_size:
            size = (size / inst.step_size).to_integral_value(rounding=ROUND_DOWN) * inst.step_size
        if price is not None and inst.tick_size:
            mode = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
            price = (price / inst.tick_size).to_integral_value(rounding=mode) * inst.tick_size
        return size.normalize() if size else size, None if price is None else price.normalize()

    # --- orders ------------------------------------------------------------------------------

    async def place(self, venue: str, symbol: str, side: Side, size: Decimal, limit_price: Decimal | None, *,
                    reduce_only: bool = False, client_id: str | None = None) -> OrderResult:
        """``client_id``: our client order id (the executor derives it from the journaled intent);
        sent in the venue's form (``VenueAdapter.venue_client_id``). Without one a fresh id is used."""
        result = await self._route(venue, symbol, Side(side), Decimal(size), limit_price, reduce_only, client_id)
        self.orders.append(result)
        return result

    async def _route(self, venue: str, symbol: str, side: Side, size: Decimal, limit_price: Decimal | None,
                     reduce_only: bool, our_id: str | None = None) -> OrderResult:
        adapter = self.adapters.get(venue)
        if adapter is None:
            if self.fallback is None:
                return self._rejected(venue, symbol, side, size, "venue is not enabled for live trading")
            return await self.fallback.place(venue, symbol, side, size, limit_price, reduce_only=reduce_only,
                                             client_id=our_id)
        if self._rejects.get(venue):
            return self._rejected(venue, symbol, side, size, self._rejects[venue].pop(0))
        inst = await self._instrument(venue, symbol)
        size, price = self._round(inst, side, size, limit_price)
        if size <= 0:
            return self._rejected(venue, symbol, side, size, "size rounds to zero at the venue's step")
        client_id = adapter.next_client_id() if our_id is None else adapter.venue_client_id(our_id)
        track = _Track(venue, symbol, client_id)
        self._tracks[(venue, client_id)] = track
        try:
            return await self._place(adapter, track, side, size, price, reduce_only)
        except Exception as exc:  # never into the executor: a bug here must not lose a leg's account
            log.exception("%s %s: order %s failed unexpectedly", venue, symbol, client_id)
            return self._result(venue, symbol, side, size, track.update, track, status=OrderStatus.UNKNOWN,
                                reason=f"internal error: {type(exc).__name__}; outcome unknown")
        finally:
            self._tracks.pop((venue, client_id), None)
            if track.order_id is not None:
                self._by_order.pop((venue, track.order_id), None)

    async def _place(self, adapter: VenueAdapter, track: _Track, side: Side, size: Decimal, price: Decimal | None,
                     reduce_only: bool) -> OrderResult:
        venue, symbol = track.venue, track.symbol
        self.counters["placed"] += 1
        ack: OrderUpdate | None = None
        unknown: str | None = None
        for attempt in range(self.rate_limit_retries + 1):
            try:
                req = adapter.order_request(symbol=symbol, side=side, size=size, price=price, reduce_only=reduce_only,
                                            client_id=track.client_id, timestamp_ms=now_ms())
            except (PerpwireError, ValueError) as exc:  # a missing or malformed secret; never its value
                return self._rejected(venue, symbol, side, size, f"cannot sign the order: {exc}")
            try:
                body = await self.rest[venue].fetch(req)
            except RateLimited as exc:
                self.counters["rate_limited"] += 1
                wait = exc.retry_after_s
                if attempt < self.rate_limit_retries and wait is not None and wait <= self.max_rate_limit_wait_s:
                    log.warning("%s %s: order rate limited (HTTP %s); retrying after %s s", venue, symbol,
                                exc.status, wait)
                    continue  # the budget holds the retry until Retry-After has passed
                return self._rejected(venue, symbol, side, size, f"rate limited (HTTP {exc.status})")
            except VenueError as exc:
                if exc.status is not None and 400 <= exc.status < 500:
                    return self._rejected(venue, symbol, side, size, self._reason(adapter, exc))
                unknown = f"HTTP {exc.status}"  # 5xx: the venue may or may not have executed it
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                unknown = f"{type(exc).__name__}: {exc}"
            else:
                try:
                    ack = adapter.decode_order(body)
                except VenueError as exc:  # an error object with HTTP 200
                    return self._rejected(venue, symbol, side, size, _venue_reason(exc))
                except DecodeError as exc:
                    unknown = f"unreadable order answer ({exc.reason})"
            break
        if ack is None:
            return await self._resolve_unknown(adapter, track, side, size, unknown or "no answer")
        self._bind(track, ack.order_id)  # the REST answer stays apart from what the stream reports
        if ack.status is OrderStatus.REJECTED:
            return self._result(venue, symbol, side, size, ack, None, reason="rejected by the venue")
        if await self._await_terminal(track, self.stream_timeout_s(venue)):
            return self._from_stream(track, side, size, ack)
        log.warning("%s %s: order %s: the user stream did not report its final state within %.1f s; using the "
                    "REST answer (%s, filled %s)", venue, symbol, ack.order_id, self.stream_timeout_s(venue),
                    ack.status.value, ack.filled)
        if ack.status not in TERMINAL:
            queried = await self._query(adapter, track)
            if queried is not None:
                ack = queried
        self.counters["from_rest"] += 1
        return self._result(venue, symbol, side, size, ack, None)

    async def _query(self, adapter: VenueAdapter, track: _Track) -> OrderUpdate | None:
        """The order's state from the venue's REST query, its fills added to ``track``; None when
        the query failed or the venue does not know the order."""
        try:
            update, fills = await adapter.lookup(self.rest[track.venue].fetch, track.symbol, track.client_id)
        except QUERY_ERRORS as exc:
            log.warning("%s %s: order %s: status query failed: %s", track.venue, track.symbol, track.client_id,
                        _venue_reason(exc) if isinstance(exc, VenueError) else exc)
            return None
        for f in fills:
            track.add(f)
        if update is None and fills:
            f0 = fills[0]
            qty = sum((f.size for f in fills), ZERO)
            update = OrderUpdate(venue=track.venue, symbol=track.symbol, order_id=f0.order_id,
                                 client_order_id=track.client_id, side=f0.side, status=OrderStatus.EXPIRED,
                                 price=None, size=qty, filled=qty)
        return update

    async def query_order(self, venue: str, symbol: str, side: Side, size: Decimal, client_id: str
                          ) -> OrderResult | None:
        """Reconciliation: what became of our order ``client_id`` (as given to ``place``). None
        when the venue has no such order (it never arrived, or an IOC took nothing and left no
        trace); raises when the venue cannot be asked (the caller retries)."""
        adapter = self.adapters.get(venue)
        if adapter is None:
            if self.fallback is None or not hasattr(self.fallback, "query_order"):
                raise VenueError(venue, None, "no broker can look up orders on this venue")
            return await self.fallback.query_order(venue, symbol, side, size, client_id)
        track = _Track(venue, symbol, adapter.venue_client_id(client_id))
        update, fills = await adapter.lookup(self.rest[venue].fetch, symbol, track.client_id)
        if update is None and not fills:
            return None
        for f in fills:
            track.add(f)
        if update is not None:
            track.add(update)
        final = update if update is not None and update.filled >= track.fill_size() else None
        if final is None:
            qty = track.fill_size()
            final = OrderUpdate(venue=venue, symbol=symbol, order_id=fills[0].order_id, client_order_id=track.client_id,
                                side=Side(side), status=OrderStatus.EXPIRED, price=None, size=size, filled=qty)
        status = None if final.status in TERMINAL else OrderStatus.UNKNOWN  # still working: not settled yet
        return self._result(venue, symbol, Side(side), Decimal(size), final, track if fills else None, status=status)

    async def venue_positions(self, venue: str) -> dict[str, PositionUpdate]:
        """The venue's own open positions by symbol (signed size); raises when it cannot be asked."""
        adapter = self.adapters.get(venue)
        if adapter is None:
            if self.fallback is None or not hasattr(self.fallback, "venue_positions"):
                raise VenueError(venue, None, "no broker can read positions on this venue")
            return await self.fallback.venue_positions(venue)
        body = await self.rest[venue].fetch(adapter.positions_request(now_ms()))
        out: dict[str, PositionUpdate] = {}
        for p in adapter.decode_positions(body):
            prev = out.get(p.symbol)
            out[p.symbol] = p if prev is None else msgspec.structs.replace(prev, size=prev.size + p.size)
        return {s: p for s, p in out.items() if p.size != 0}

    async def _resolve_unknown(self, adapter: VenueAdapter, track: _Track, side: Side, size: Decimal,
                               why: str) -> OrderResult:
        """The request may have executed: believe the stream, then a status query, else report it."""
        venue, symbol = track.venue, track.symbol
        log.warning("%s %s: order %s: outcome unknown (%s); waiting for the user stream", venue, symbol,
                    track.client_id, why)
        if await self._await_terminal(track, self.unknown_timeout_s):
            return self._from_stream(track, side, size, None)
        queried = await self._query(adapter, track)
        if queried is not None:
            self.counters["from_rest"] += 1
            return self._result(venue, symbol, side, size, queried, None)
        self.counters["unknown"] += 1
        reason = f"execution status unknown ({why}); to be reconciled by client id"
        log.error("%s %s: order %s: %s", venue, symbol, track.client_id, reason)
        return self._result(venue, symbol, side, size, track.update, track, reason=reason, status=OrderStatus.UNKNOWN)

    def _from_stream(self, track: _Track, side: Side, size: Decimal, ack: OrderUpdate | None) -> OrderResult:
        self.counters["from_stream"] += 1
        final = track.update
        if ack is not None and final is not None and ack.status in TERMINAL and ack.filled != final.filled:
            log.warning("%s %s: order %s: REST said filled %s, the stream %s; trusting the stream", track.venue,
                        track.symbol, final.order_id, ack.filled, final.filled)
        return self._result(track.venue, track.symbol, side, size, final, track)

    def _result(self, venue: str, symbol: str, side: Side, size: Decimal, update: OrderUpdate | None,
                track: _Track | None, *, reason: str | None = None, status: OrderStatus | None = None
                ) -> OrderResult:
        """The OrderResult of an order from its final state and (when the stream gave them) its fills."""
        fills = list(track.fills.values()) if track is not None else []
        filled = update.filled if update is not None else ZERO
        avg: Decimal | None = None
        if fills:
            qty = sum((f.size for f in fills), ZERO)
            filled = max(filled, qty)
            avg = sum((f.price * f.size for f in fills), ZERO) / qty
        if avg is None and update is not None and filled:
            avg = update.avg_price or update.price
        if fills and all(f.fee is not None for f in fills):
            fee = sum((f.fee for f in fills), ZERO)
        else:  # REST answers carry no fee: estimate it at the venue's taker rate
            fee = filled * avg * self.taker_fees.get(venue, ZERO) if avg is not None else ZERO
        if status is None:
            if update is not None and update.status is OrderStatus.REJECTED:
                status = OrderStatus.REJECTED
            else:
                status = fill_status(filled, size)
        if reason is None and status is not OrderStatus.FILLED:
            reason = {OrderStatus.CANCELED: "nothing filled at the limit price (IOC remainder cancelled)",
                      OrderStatus.PARTIALLY_FILLED: f"filled {filled} of {size} (IOC remainder cancelled)",
                      }.get(status, "rejected by the venue")
        order_id = update.order_id if update is not None else (track.order_id or track.client_id if track else "")
        return OrderResult(venue=venue, symbol=symbol, side=side, order_id=order_id, status=status, requested=size,
                           filled=filled, avg_price=avg if filled else None, fee=fee, reason=reason)

    def _rejected(self, venue: str, symbol: str, side: Side, size: Decimal, reason: str) -> OrderResult:
        self.counters["rejected"] += 1
        log.warning("%s %s: order rejected: %s", venue, symbol, reason)
        return OrderResult(venue=venue, symbol=symbol, side=side, order_id="", status=OrderStatus.REJECTED,
                           requested=size, filled=ZERO, avg_price=None, fee=ZERO, reason=reason)

    def _reason(self, adapter: VenueAdapter, exc: VenueError) -> str:
        """The venue's code and message from a 4xx answer's body (``RestClient`` keeps its head)."""
        try:
            adapter.decode_order(exc.message.encode())
        except VenueError as parsed:
            return f"HTTP {exc.status}: {_venue_reason(parsed)}"
        except (DecodeError, ValueError):
            pass
        return f"HTTP {exc.status}: {exc.message[:120]}"


def _venue_reason(exc: VenueError) -> str:
    return f"{exc.code}: {exc.message}"


def _venue_code(adapter: VenueAdapter, exc: VenueError) -> object:
    """The venue's error code of a failed request (read from the body ``RestClient`` kept)."""
    if exc.code is not None:
        return exc.code
    try:
        adapter.decode_order(exc.message.encode())
    except VenueError as parsed:
        return parsed.code
    except (DecodeError, ValueError):
        pass
    return None
