"""Stream names, routed URLs and the subscription tracker of the Binance-compatible codec.

Binance split its WebSocket host in 2026 into routed paths: ``/public`` (bookTicker, depth),
``/market`` (markPrice, forceOrder, aggTrade, ...) and ``/private`` (user data). A stream on the
wrong path is never delivered and the venue says nothing, so ``url`` and ``subscribe`` refuse
(``SubscriptionError``) to put a stream on a route it does not belong to. Aster keeps the
pre-2026 layout: one route, no path prefix.

One codec serves one connection: ``url`` describes that connection (binding its route and
resetting the per-connection state: streams, pending requests; ids keep increasing), ``subscribe`` /
``unsubscribe`` produce ``{"method","params","id"}`` frames with increasing unsigned ids and
remember each request, so the venue's ``{"result":null,"id":N}`` ack decodes to ``Subscribed``
/ ``Unsubscribed`` carrying the streams of request N. The venue caps a connection at 200 streams
and 10 incoming messages per second (control frames and pongs included); the cap is enforced,
the pacing is the caller's job (``max_messages_per_second``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar
from urllib.parse import quote

import msgspec

from perpwire.market.errors import SubscriptionError
from perpwire.market.events import Event, Subscribed, Unsubscribed, VenueRejected
from perpwire.venues.base import Channel, Subscription
from perpwire.venues.binance.schemas import BinanceFrame

_stream_list = msgspec.json.Decoder(list[str])
_encode = msgspec.json.Encoder()
_PER_SYMBOL = frozenset({Channel.BBO, Channel.BOOK, Channel.DEPTH, Channel.FUNDING, Channel.TRADES})


class BinanceStreams:
    """URLs, stream names and the subscription tracker; mixed into ``BinanceCodec``."""

    name: ClassVar[str]
    #: channel -> routed path (Binance 2026); Aster maps everything to one route
    ROUTES: ClassVar[dict[Channel, str]] = {
        Channel.BBO: "public", Channel.BOOK: "public", Channel.DEPTH: "public",
        Channel.FUNDING: "market", Channel.FUNDING_ALL: "market", Channel.LIQUIDATIONS: "market",
        Channel.TRADES: "market", Channel.ACCOUNT: "private",
    }
    #: the route of the user-data (listenKey) connection; ``url("user", ...)`` is an alias for it
    USER_ROUTE: ClassVar[str] = "private"
    max_streams_per_connection: ClassVar[int] = 200
    max_streams_per_request: ClassVar[int] = 200
    #: incoming messages per second the venue allows per connection (SUBSCRIBE, pongs, ...)
    max_messages_per_second: ClassVar[int] = 10

    _unknown: Callable[[str], list[Event]]  # from venues.base.Codec
    ws_url: str
    combined: bool
    book_levels: int
    book_speed: str | None
    depth_speed: str | None
    funding_speed: str | None
    user_events: tuple[str, ...]

    def _reset_connection(self, route: str | None) -> None:
        self._route = route
        self._streams: set[str] = set()
        self._pending: dict[int, tuple[str, tuple[str, ...]]] = {}
        self._book_symbols: set[str] = set()  # raw frames: depthUpdate of these is a snapshot
        self._depth_symbols: set[str] = set()

    # --- names and routes --------------------------------------------------------------------

    def route(self, sub: Subscription) -> str:
        """The routed path a subscription's stream is delivered on."""
        return self.ROUTES[sub.channel]

    def _path(self, route: str) -> str:
        return f"/{route}"

    def topic(self, sub: Subscription) -> str:
        """The venue's stream name for ``sub`` (lowercase symbol)."""
        ch = sub.channel
        if ch in _PER_SYMBOL and not sub.symbol:
            raise SubscriptionError(f"{self.name}: {ch.value} needs a symbol")
        sym = sub.symbol.lower() if sub.symbol else ""
        if ch is Channel.BBO:
            return f"{sym}@bookTicker"
        if ch is Channel.BOOK:
            return f"{sym}@depth{self.book_levels}" + _speed(self.book_speed)
        if ch is Channel.DEPTH:
            return f"{sym}@depth" + _speed(self.depth_speed)
        if ch is Channel.FUNDING:
            return f"{sym}@markPrice" + _speed(self.funding_speed)
        if ch is Channel.FUNDING_ALL:
            if sub.symbol:
                raise SubscriptionError(f"{self.name}: funding_all covers every symbol; use funding for one")
            return "!markPrice@arr" + _speed(self.funding_speed)
        if ch is Channel.LIQUIDATIONS:
            return f"{sym}@forceOrder" if sym else "!forceOrder@arr"
        if ch is Channel.TRADES:
            return f"{sym}@aggTrade"
        raise SubscriptionError(
            f"{self.name}: {ch.value} is not a subscribable stream; open url('user', listen_key=...) instead"
        )

    def _checked(self, subs: Iterable[Subscription], route: str | None) -> tuple[str | None, list[str]]:
        """Stream names of ``subs`` with the route they share; refuses a mix or a wrong route."""
        topics: list[str] = []
        for sub in subs:
            name = self.topic(sub)
            r = self.route(sub)
            if route is None:
                route = r
            elif r != route:
                raise SubscriptionError(
                    f"{self.name}: {name} is delivered on /{r}, not /{route}; the venue would drop it silently"
                )
            if name not in topics:
                topics.append(name)
        return route, topics

    # --- URLs ------------------------------------------------------------------------------

    def url(
        self, stream: str = "market", *, subs: Iterable[Subscription] = (), listen_key: str | None = None
    ) -> str:
        """URL of a new connection on route ``stream`` with ``subs`` in it (more via ``subscribe``).

        ``stream`` is a route name (Binance: "public", "market", "private"; Aster: "market") or
        "user" for the user-data route, which needs ``listen_key``. Calling ``url`` starts a new
        connection: this codec now serves it and forgets the previous one's streams and requests.
        """
        route = self.USER_ROUTE if stream == "user" else stream
        routes = set(self.ROUTES.values())
        if route not in routes:
            raise SubscriptionError(f"{self.name}: unknown route {stream!r}; routes: {sorted(routes)}")
        subs = list(subs)
        _, topics = self._checked(subs, route)
        cap = self.max_streams_per_connection
        if len(topics) > cap:
            raise SubscriptionError(f"{self.name}: {len(topics)} streams > {cap} per connection")
        user_only = all(r != route for ch, r in self.ROUTES.items() if ch is not Channel.ACCOUNT)
        if user_only and listen_key is None:
            raise SubscriptionError(f"{self.name}: the /{route} route needs a listen_key")
        if listen_key is None and not self.combined and len(topics) > 1:
            raise SubscriptionError(f"{self.name}: a raw /ws URL names one stream; subscribe() the others")
        base = self.ws_url + self._path(route)
        url = self._user_url(base, route, listen_key, topics) if listen_key is not None else None
        self._reset_connection(route)
        self._track(subs, topics)
        if url is not None:
            return url
        if self.combined:
            return f"{base}/stream?streams={'/'.join(topics)}" if topics else f"{base}/stream"
        return f"{base}/ws/{topics[0]}" if topics else f"{base}/ws"

    def _user_url(self, base: str, route: str, listen_key: str, topics: list[str]) -> str:
        """Binance 2026: ``/private/ws?listenKey=<k>[&events=A/B]`` (no events: every event);
        user data on no other route, and nothing else on it."""
        if route != self.USER_ROUTE or topics:
            raise SubscriptionError(f"{self.name}: user data is delivered on /{self.USER_ROUTE} only")
        url = f"{base}/ws?listenKey={quote(listen_key, safe='')}"
        if self.user_events:
            url += "&events=" + "/".join(self.user_events)
        return url

    # --- subscribe / unsubscribe -------------------------------------------------------------

    def subscribe(self, subs: Iterable[Subscription], route: str | None = None) -> list[str]:
        """SUBSCRIBE frames for ``subs`` on this connection's route (``route`` or the bound one)."""
        subs = list(subs)
        route, topics = self._checked(subs, route or self._route)
        if self._route is not None and route != self._route:
            raise SubscriptionError(f"{self.name}: this connection is on /{self._route}, not /{route}")
        new = [t for t in topics if t not in self._streams]
        cap = self.max_streams_per_connection
        if len(self._streams) + len(new) > cap:
            raise SubscriptionError(f"{self.name}: {len(self._streams)} + {len(new)} streams > {cap} per connection")
        self._route = route
        self._track(subs, topics)
        return self._requests("SUBSCRIBE", topics)

    def unsubscribe(self, subs: Iterable[Subscription], route: str | None = None) -> list[str]:
        """UNSUBSCRIBE frames for ``subs``; their streams stop counting against the cap."""
        subs = list(subs)
        route, topics = self._checked(subs, route or self._route)
        if self._route is not None and route != self._route:
            raise SubscriptionError(f"{self.name}: this connection is on /{self._route}, not /{route}")
        self._streams.difference_update(topics)
        for sub in subs:
            sym = (sub.symbol or "").upper()
            if sub.channel is Channel.BOOK:
                self._book_symbols.discard(sym)
            elif sub.channel is Channel.DEPTH:
                self._depth_symbols.discard(sym)
        return self._requests("UNSUBSCRIBE", topics)

    def list_subscriptions(self) -> str:
        """A LIST_SUBSCRIPTIONS request; its reply decodes to ``Subscribed`` with every stream."""
        return self._requests("LIST_SUBSCRIPTIONS", [])[0]

    def _track(self, subs: list[Subscription], topics: list[str]) -> None:
        book = {(s.symbol or "").upper() for s in subs if s.channel is Channel.BOOK} | self._book_symbols
        depth = {(s.symbol or "").upper() for s in subs if s.channel is Channel.DEPTH} | self._depth_symbols
        if not self.combined and book & depth:
            # raw frames carry no stream name and both streams send "depthUpdate"
            raise SubscriptionError(
                f"{self.name}: book and depth of {sorted(book & depth)} cannot share a raw (non-combined) connection"
            )
        self._book_symbols, self._depth_symbols = book, depth
        self._streams.update(topics)

    def _requests(self, method: str, topics: list[str]) -> list[str]:
        if not topics and method != "LIST_SUBSCRIPTIONS":
            return []
        step = self.max_streams_per_request
        chunks = [topics[i : i + step] for i in range(0, len(topics), step)]
        frames = []
        for chunk in chunks or [[]]:
            rid = self._next_id
            self._next_id += 1
            self._pending[rid] = (method, tuple(chunk))
            body = {"method": method, "id": rid} if method == "LIST_SUBSCRIPTIONS" else {
                "method": method, "params": chunk, "id": rid}
            frames.append(_encode.encode(body).decode())
        return frames

    # --- control frames ----------------------------------------------------------------------

    def _ack(self, f: BinanceFrame) -> list[Event]:
        """``{"result": null | [streams], "id": N}`` → Subscribed / Unsubscribed with N's streams."""
        rid = f.id
        method, streams = self._pending.pop(rid, (None, ())) if isinstance(rid, int) else (None, ())
        rid_text = str(rid)
        if method == "SUBSCRIBE":
            return [Subscribed(venue=self.name, channels=streams, request_id=rid_text)]
        if method == "UNSUBSCRIBE":
            return [Unsubscribed(venue=self.name, channels=streams, request_id=rid_text)]
        if bytes(f.result) == b"null":
            return self._unknown("untracked_ack")
        listed = tuple(_stream_list.decode(f.result))
        if method == "LIST_SUBSCRIPTIONS":
            self._streams = set(listed)  # the venue's word beats our bookkeeping
        return [Subscribed(venue=self.name, channels=listed, request_id=rid_text)]

    def _rejected(self, f: BinanceFrame) -> list[Event]:
        """``{"code","msg"}`` or ``{"error":{"code","msg"},"id"}`` → VenueRejected."""
        if f.error is not None:
            code, msg = f.error.code, f.error.msg
        else:
            code, msg = f.code, f.msg
        channel = None
        if isinstance(f.id, int) and f.id in self._pending:
            method, streams = self._pending.pop(f.id)
            if method == "SUBSCRIBE":
                self._streams.difference_update(streams)
            channel = "/".join(streams) or None
        rid = None if f.id is None else str(f.id)
        return [VenueRejected(venue=self.name, code=str(code), message=msg or "", request_id=rid, channel=channel)]


def _speed(speed: str | None) -> str:
    return f"@{speed}" if speed else ""
