"""Live orders against the simulator on 127.0.0.1: Aster (HMAC) and Backpack (ED25519) signed IOC
orders, their final state from the user-data streams (Backpack's through the signed account
session), venue rejections as REJECTED results, the REST fallback, balances, secrets kept out of
the logs, and the executor unwinding a leg whose partner was rejected. Plain asyncio, no Ray;
the simulator's clock is stopped, so the books only change by our own orders."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

import pytest

from perpwire.actors.app.config import SecretRef, StreamConfig, parse_config
from perpwire.actors.coordination.coordinator import Coordinator
from perpwire.actors.streams.connection import StreamConnection
from perpwire.actors.streams.sessions import BackpackAccountSession, session_for
from perpwire.actors.trading.execution import Executor
from perpwire.actors.trading.facade import DepthAnswer, VenueFacade
from perpwire.actors.trading.live_broker import LiveBroker, LiveVenueConfig
from perpwire.market.errors import ConfigError
from perpwire.market.events import Fill, OrderStatus, OrderUpdate, Side
from perpwire.market.ledger import Ledger
from perpwire.simulator import Simulator
from perpwire.simulator.orders import TAKER_FEE
from perpwire.strategies.base import Leg, Open

VENUES = ("aster", "backpack")
SYMBOL = {"aster": "BTCUSDT", "backpack": "BTC_USDC_PERP"}
QUOTE = {"aster": "USDT", "backpack": "USDC"}
ORDER_PATH = {"aster": "/fapi/v1/order", "backpack": "/api/v1/order"}
D = Decimal


async def until(pred, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s")
        await asyncio.sleep(0.01)


@pytest.fixture
async def sim():
    s = Simulator(seed=11, run_clock=False, venues=VENUES, history_days=1)
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
def keys(sim, monkeypatch):
    out = {}
    for v in VENUES:
        k = sim.new_api_key(v)
        monkeypatch.setenv(f"PW_LIVE_{v.upper()}_KEY", k.key)
        monkeypatch.setenv(f"PW_LIVE_{v.upper()}_SECRET", k.secret)
        out[v] = k
    return out


def _refs(venue):
    return {"api_key": SecretRef(env=f"PW_LIVE_{venue.upper()}_KEY"),
            "api_secret": SecretRef(env=f"PW_LIVE_{venue.upper()}_SECRET")}


def _codec_options(sim, venue):
    return {"ws_url": sim.urls[venue]["ws"], "rest_url": sim.urls[venue]["rest"]}


def _broker(sim, venues=VENUES, **kw) -> LiveBroker:
    timeout = kw.pop("stream_timeout_s", 2.0)
    live = {v: LiveVenueConfig(**_refs(v), stream_timeout_s=timeout) for v in venues}
    return LiveBroker.from_config(live, {v: _codec_options(sim, v) for v in venues},
                                  taker_fees={v: TAKER_FEE for v in venues}, **kw)


async def _user_stream(sim, venue, broker) -> StreamConnection:
    """The venue's user-data connection feeding ``broker``; returns once the simulator routes our
    account's events to it (Backpack never acknowledges a subscribe)."""
    cfg = StreamConfig(venue=venue, name="user", subscriptions=[{"channel": "account"}], backoff_base_s=0.05,
                       backoff_cap_s=0.2, codec_options=_codec_options(sim, venue), **_refs(venue))
    conn = StreamConnection(cfg, user_sink=broker.on_user_events)
    await conn.start()
    await conn.wait_connected(5)
    server = sim.venues[venue]
    if venue == "aster":
        await until(lambda: any(lk.conns for lk in server.listen_keys.values()), what="listenKey socket")
    else:
        await until(lambda: any(k.endswith("|account.orderUpdate") and c for k, c in server.subs.items()),
                    what="signed account subscription")
    return conn


def _sim_order(sim, venue):
    [acct] = [a for (v, _), a in sim.exchange.accounts.items() if v == venue]
    return acct, list(acct.orders.values())[-1]


def _two_level_buy(sim, venue):
    """A size that takes the best ask and half the next level, limited at the second level."""
    book = sim.book(venue, "BTC")
    (_, s1), (a2, s2) = book.ladder.top(False, 2)
    return book, book.inst.base_qty(s1 + max(1, s2 // 2)), book.inst.price_dec(a2)


def _assert_secrets_not_logged(caplog, keys):
    for rec in caplog.records:
        text = rec.getMessage() + (logging.Formatter().formatException(rec.exc_info) if rec.exc_info else "")
        for k in keys.values():
            assert k.secret not in text, f"secret leaked in a log record of {rec.name}"


# --- orders ----------------------------------------------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
async def test_signed_ioc_order_fills_as_the_simulator_filled_it_and_the_stream_reports_filled(
        sim, keys, venue, caplog):
    caplog.set_level(logging.DEBUG)
    broker = _broker(sim)
    conn = await _user_stream(sim, venue, broker)
    try:
        book, qty, limit = _two_level_buy(sim, venue)
        res = await broker.place(venue, SYMBOL[venue], Side.BUY, qty, limit)
        acct, order = _sim_order(sim, venue)
        await until(lambda: any(isinstance(e, OrderUpdate) and e.order_id == res.order_id
                                and e.status is OrderStatus.FILLED for e in conn.user_events), what="FILLED update")
    finally:
        await conn.stop()
        await broker.close()
    exact_fee = order.quote * TAKER_FEE  # every fill took liquidity
    assert res.status is OrderStatus.FILLED and res.reason is None
    assert res.order_id == str(order.order_id) and res.requested == qty
    assert res.filled == qty == book.inst.base_qty(order.filled)
    assert res.avg_price == order.avg_price() and limit >= res.avg_price
    fills = [e for e in conn.user_events if isinstance(e, Fill) and e.order_id == res.order_id]
    assert len(fills) == 2 and res.fee == sum(f.fee for f in fills)  # the fills the venue published
    assert abs(res.fee - exact_fee) <= D("0.000001") * len(fills)  # published fees are rounded (6-8 dp)
    assert broker.counters["from_stream"] == 1 and broker.counters["from_rest"] == 0
    assert acct.positions[SYMBOL[venue]].qty == qty
    _assert_secrets_not_logged(caplog, keys)


@pytest.mark.parametrize("venue", VENUES)
async def test_without_the_stream_the_rest_answer_is_used_after_a_bounded_wait(sim, keys, venue):
    broker = _broker(sim, stream_timeout_s=0.2)
    try:
        _, qty, limit = _two_level_buy(sim, venue)
        started = time.monotonic()
        res = await broker.place(venue, SYMBOL[venue], Side.BUY, qty, limit)
        waited = time.monotonic() - started
        _, order = _sim_order(sim, venue)
    finally:
        await broker.close()
    assert res.status is OrderStatus.FILLED and res.filled == qty and res.avg_price == order.avg_price()
    assert res.fee == order.quote * TAKER_FEE  # estimated at the taker rate, which is the simulator's
    assert broker.counters["from_rest"] == 1 and 0.2 <= waited < 2.0


@pytest.mark.parametrize("venue", VENUES)
async def test_ioc_remainder_is_cancelled_and_reported_partially_filled(sim, keys, venue):
    broker = _broker(sim)
    conn = await _user_stream(sim, venue, broker)
    try:
        book = sim.book(venue, "BTC")
        (a1, s1), (_, s2) = book.ladder.top(False, 2)
        res = await broker.place(venue, SYMBOL[venue], Side.BUY, book.inst.base_qty(s1 + s2), book.inst.price_dec(a1))
    finally:
        await conn.stop()
        await broker.close()
    assert res.status is OrderStatus.PARTIALLY_FILLED and res.filled == book.inst.base_qty(s1)
    assert res.avg_price == book.inst.price_dec(a1) and "IOC" in res.reason
    assert broker.counters["from_stream"] == 1


@pytest.mark.parametrize(("venue", "reason"), [("aster", "-1121: Invalid symbol."),
                                               ("backpack", "INVALID_CLIENT_REQUEST: Invalid market symbol")])
async def test_unknown_symbol_is_rejected_with_the_venues_reason(sim, keys, venue, reason, caplog):
    caplog.set_level(logging.DEBUG)
    broker = _broker(sim)
    try:
        res = await broker.place(venue, "NOPE", Side.SELL, D("0.01"), D("100"))
    finally:
        await broker.close()
    assert res.status is OrderStatus.REJECTED and res.filled == 0 and reason in res.reason
    [line] = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert line.startswith(f"{venue} NOPE: ") and reason in line
    _assert_secrets_not_logged(caplog, keys)


@pytest.mark.parametrize(("venue", "reason"), [("aster", "-1022: Signature for this request is not valid."),
                                               ("backpack", "INVALID_SIGNATURE: Invalid signature")])
async def test_bad_signature_is_rejected_and_nothing_trades(sim, keys, venue, reason, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    other = sim.new_api_key(venue)
    if venue == "aster":  # the right key with another key's secret
        monkeypatch.setenv("PW_LIVE_ASTER_SECRET", other.secret)
    else:  # signed by the other key, claimed for ours
        sim.credentials["backpack"].pop(other.key)
        monkeypatch.setenv("PW_LIVE_BACKPACK_SECRET", other.secret)
    broker = _broker(sim)
    try:
        _, qty, limit = _two_level_buy(sim, venue)
        res = await broker.place(venue, SYMBOL[venue], Side.BUY, qty, limit)
    finally:
        await broker.close()
    assert res.status is OrderStatus.REJECTED and reason in res.reason
    assert all(not a.orders for a in sim.exchange.accounts.values())
    _assert_secrets_not_logged(caplog, {**keys, "other": other})


@pytest.mark.parametrize("venue", VENUES)
async def test_rate_limited_order_is_retried_within_the_budget(sim, keys, venue):
    broker = _broker(sim, stream_timeout_s=0.1)
    sim.faults.rest_error(venue, 429, retry_after=0, path=ORDER_PATH[venue])
    try:
        _, qty, limit = _two_level_buy(sim, venue)
        res = await broker.place(venue, SYMBOL[venue], Side.BUY, qty, limit)
    finally:
        await broker.close()
    assert res.status is OrderStatus.FILLED and broker.counters["rate_limited"] == 1


async def test_missing_secret_is_a_rejection_naming_the_variable_not_an_exception(sim, keys, monkeypatch):
    monkeypatch.delenv("PW_LIVE_ASTER_SECRET")
    broker = _broker(sim, venues=("aster",))
    try:
        res = await broker.place("aster", "BTCUSDT", Side.BUY, D("0.01"), D("1"))
    finally:
        await broker.close()
    assert res.status is OrderStatus.REJECTED and "PW_LIVE_ASTER_SECRET" in res.reason


async def test_price_and_size_are_rounded_to_the_venue_grid_never_more_aggressive(sim, keys):
    broker = _broker(sim, venues=("aster",), stream_timeout_s=0.1)
    try:
        book = sim.book("aster", "BTC")
        ask = book.inst.price_dec(book.ladder.best_ask())
        res = await broker.place("aster", "BTCUSDT", Side.BUY, D("0.0019"), ask + D("0.05"))
        _, order = _sim_order(sim, "aster")
    finally:
        await broker.close()
    assert res.requested == D("0.001") and order.px == book.inst.ticks_of(ask)  # 0.05 above, tick 0.1: down
    assert res.status is OrderStatus.FILLED and res.filled == D("0.001")


# --- balances --------------------------------------------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
async def test_available_is_the_venues_balance_after_fees(sim, keys, venue):
    broker = _broker(sim, stream_timeout_s=0.1)
    try:
        assert await broker.available(venue) == sim.balance
        _, qty, limit = _two_level_buy(sim, venue)
        res = await broker.place(venue, SYMBOL[venue], Side.BUY, qty, limit)
        acct, _ = _sim_order(sim, venue)
        assert await broker.available(venue) == acct.balances[QUOTE[venue]].quantize(D("0.00000001"))
        assert abs(sim.balance - await broker.available(venue) - res.fee) < D("0.00000001")
    finally:
        await broker.close()


async def test_available_falls_back_to_the_last_streamed_balance(sim, keys):
    broker = _broker(sim, venues=("aster",))
    conn = await _user_stream(sim, "aster", broker)
    try:
        _, qty, limit = _two_level_buy(sim, "aster")
        await broker.place("aster", "BTCUSDT", Side.BUY, qty, limit)
        await until(lambda: ("aster", "USDT") in broker.balances, what="ACCOUNT_UPDATE balance")
        streamed = broker.balances[("aster", "USDT")].balance
        sim.faults.rest_error("aster", 503, path="/fapi/v2/balance")
        assert await broker.available("aster") == streamed < sim.balance
    finally:
        await conn.stop()
        await broker.close()


# --- sessions --------------------------------------------------------------------------------


def test_backpack_account_streams_get_the_signing_session_and_need_a_secret():
    base = {"venue": "backpack", "name": "account", "subscriptions": [{"channel": "account"}]}
    assert isinstance(session_for(StreamConfig(**base, api_secret=SecretRef(env="X"))), BackpackAccountSession)
    with pytest.raises(Exception, match="api_secret"):
        session_for(StreamConfig(**base))
    assert not isinstance(session_for(StreamConfig(**{**base, "subscriptions": [{"channel": "depth", "symbol": "S"}]})),
                          BackpackAccountSession)


async def test_backpack_session_signs_afresh_before_every_connect(sim, keys):
    cfg = StreamConfig(venue="backpack", name="account", subscriptions=[{"channel": "account"}], **_refs("backpack"))
    session = session_for(cfg)
    from perpwire import venues
    codec = venues.codec("backpack")
    await session.connect_params(codec, None)
    first = codec._signature
    await asyncio.sleep(0.002)
    await session.connect_params(codec, None)
    assert first[0] == keys["backpack"].key and codec._signature[2] > first[2]


# --- the executor ----------------------------------------------------------------------------


class RestFacade(VenueFacade):
    """The real facade reading books from REST; no market-data streams in these tests."""

    async def resume_market_data_streams(self, symbol, timeout_s=None):
        return []

    async def pause_market_data_streams(self):
        return []

    async def get_order_book_depth(self, symbol, levels=20):
        return DepthAnswer(view=await self._rest_book(symbol, levels), source="rest")


async def test_executor_unwinds_the_filled_leg_when_the_live_second_leg_is_rejected(sim, keys):
    broker = _broker(sim)
    conns = [await _user_stream(sim, v, broker) for v in VENUES]
    facades = {v: RestFacade(v, {}, codec_options=_codec_options(sim, v)) for v in VENUES}
    ledger = Ledger()
    executor = Executor(facades, broker, ledger, clock=lambda: 5)
    sim.faults.rest_error("backpack", 403, path="/api/v1/order")  # the venue refuses the short leg
    try:
        report = await executor.open(Open(asset="BTC", long=Leg(venue="aster", symbol="BTCUSDT"),
                                          short=Leg(venue="backpack", symbol="BTC_USDC_PERP"), notional=D("2000"),
                                          leverage=5, reason="test"))
    finally:
        for c in conns:
            await c.stop()
        for f in facades.values():
            await f.close()
        await broker.close()
    [short_rejected] = [o for o in broker.orders if o.venue == "backpack"]
    long_open, unwind = [o for o in broker.orders if o.venue == "aster"]
    assert short_rejected.status is OrderStatus.REJECTED and "HTTP 403" in short_rejected.reason
    assert long_open.status is OrderStatus.FILLED and long_open.filled > 0
    assert (unwind.venue, unwind.side, unwind.filled) == ("aster", Side.SELL, long_open.filled)
    assert not report.ok and report.unwound == long_open.filled and ledger.open_positions() == []
    [acct] = [a for (v, _), a in sim.exchange.accounts.items() if v == "aster"]
    assert acct.positions["BTCUSDT"].qty == 0  # flat at the venue, not only in our ledger
    assert all(o.reduce_only for o in acct.orders.values() if not o.buy)


# --- configuration and the coordinator -------------------------------------------------------


def _app(sim, paper=False, **aster):
    refs = {k: v.model_dump(mode="json") for k, v in _refs("aster").items()}
    return parse_config({
        "paper": paper,
        "venues": {"aster": {"symbols": ["BTCUSDT"], "trading": True, "codec_options": _codec_options(sim, "aster"),
                             **{**refs, **aster}},
                   "backpack": {"symbols": ["BTC_USDC_PERP"], "codec_options": _codec_options(sim, "backpack")}},
    }, "live.yaml")


@pytest.mark.parametrize("missing", ["api_key", "api_secret"])
async def test_live_trading_without_keys_fails_at_start_up_naming_the_field(sim, missing):
    with pytest.raises(ConfigError, match=f"venues.aster.{missing}: required for live trading"):
        _app(sim, **{missing: None})
    assert _app(sim, paper=True, **{missing: None}).coordinator.live_venues == {}  # paper needs no keys


async def test_paper_false_makes_the_coordinator_trade_live_on_trading_venues_only(sim, keys):
    class UserStreamHandle:  # what a StreamActor offers the coordinator: its recent user events
        def __init__(self, conn):
            self.conn = conn

        async def user_events(self, since=0):
            return list(self.conn.user_events)[since:]

    cfg = _app(sim)
    assert set(cfg.coordinator.live_venues) == {"aster"}
    coord = Coordinator.__ray_actor_class__({**cfg.coordinator.model_dump(mode="json"), "gap_check_s": 3600})
    user = StreamConnection(StreamConfig(venue="aster", name="user", subscriptions=[{"channel": "account"}],
                                         codec_options=_codec_options(sim, "aster"), **_refs("aster")))
    await user.start()
    try:
        await user.wait_connected(5)
        await until(lambda: any(lk.conns for lk in sim.venues["aster"].listen_keys.values()), what="user socket")
        await coord.attach({"aster": {"user": UserStreamHandle(user)}, "backpack": {}},
                           {v: vc.codec_options for v, vc in cfg.venues.items()})
        assert isinstance(coord.broker, LiveBroker) and set(coord.broker.adapters) == {"aster"}
        _, qty, limit = _two_level_buy(sim, "aster")
        res = await coord.broker.place("aster", "BTCUSDT", Side.BUY, qty, limit)  # events pulled from the stream
        assert res.status is OrderStatus.FILLED and coord.broker.counters["from_stream"] == 1
        assert (await coord.orders())[-1]["status"] == "filled"
        assert await coord.broker.available("backpack") == D(100_000)  # paper
    finally:
        coord._maintenance.cancel()
        await coord.repair.close()
        await coord.broker.close()
        await user.stop()


# --- unknown outcomes and reconciliation queries ---------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
async def test_an_order_whose_outcome_is_unknown_is_reported_unknown_never_rejected(sim, keys, venue):
    broker = _broker(sim, stream_timeout_s=0.1, unknown_timeout_s=0.2)
    sim.faults.rest_error(venue, 503, path=ORDER_PATH[venue])  # the answer is lost; did it execute?
    try:
        _, qty, limit = _two_level_buy(sim, venue)
        res = await broker.place(venue, SYMBOL[venue], Side.BUY, qty, limit, client_id="pw-test-1")
        found = await broker.query_order(venue, SYMBOL[venue], Side.BUY, qty, "pw-test-1")
    finally:
        await broker.close()
    assert res.status is OrderStatus.UNKNOWN and "unknown" in res.reason and broker.counters["unknown"] == 1
    assert found is None  # the venue has no such order: reconciliation may call it missing


@pytest.mark.parametrize("venue", VENUES)
async def test_a_filled_order_is_found_by_our_client_id_and_the_position_read_from_the_venue(sim, keys, venue):
    broker = _broker(sim, stream_timeout_s=0.1)
    try:
        _, qty, limit = _two_level_buy(sim, venue)
        res = await broker.place(venue, SYMBOL[venue], Side.BUY, qty, limit, client_id="pw-18c0ffee42a-1")
        found = await broker.query_order(venue, SYMBOL[venue], Side.BUY, qty, "pw-18c0ffee42a-1")
        positions = await broker.venue_positions(venue)
        acct, order = _sim_order(sim, venue)
    finally:
        await broker.close()
    sent_as = "pw-18c0ffee42a-1" if venue == "aster" else broker.adapters[venue].venue_client_id("pw-18c0ffee42a-1")
    assert order.client_id == sent_as and (venue == "aster" or (sent_as.isdigit() and int(sent_as) < 2**32))
    assert (found.status, found.filled, found.avg_price) == (OrderStatus.FILLED, res.filled, order.avg_price())
    if venue == "backpack":  # the fill history carries the venue's own fees
        assert abs(found.fee - order.quote * TAKER_FEE) <= D("0.000001") * len(order.fills)
    assert positions[SYMBOL[venue]].size == acct.positions[SYMBOL[venue]].qty == qty
