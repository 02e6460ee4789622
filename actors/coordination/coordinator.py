"""The coordinator: one named actor that turns funding streams into trades.

It wires itself: constructed with a ``DeploymentWiring`` (the names of its stream and store
actors, never their handles), it looks them up, attaches, restores the open positions from the
store, reloads the 30-day statistics and restarts the strategies that were running — on first
start and after every restart by Ray, with no call from anyone. Submitted strategies are kept in
the cluster's key-value store so a restart brings back exactly those.

Funding feed actors push conflated batches to ``on_funding``; the ``FundingDesk`` keeps z-scores
and the cross-venue ranking current and books settlements. Strategies are submitted as actor
tasks (``submit``), each run as a task that decides whenever something immediate happened or
every ``decision_interval_s``; their commands go to the ``Executor`` (paper broker by default),
which resumes both venues' market data just before an open or close and pauses it right after.
Received rates are forwarded to the store actor in batches when one is attached.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from decimal import Decimal
from typing import Any

import msgspec
import ray

from perpwire import venues
from perpwire.actors.app.config import CoordinatorConfig, DeploymentWiring
from perpwire.actors.coordination.failover import StreamWatch
from perpwire.actors.coordination.repair import FundingRepair
from perpwire.actors.durable import DurableState, MemoryState, RayKVState
from perpwire.actors.logs import apply_log_level
from perpwire.actors.pacing import now_ms
from perpwire.actors.trading.broker import PaperBroker
from perpwire.actors.trading.execution import Executor
from perpwire.actors.trading.facade import VenueFacade, call
from perpwire.actors.trading.live_broker import LiveBroker
from perpwire.actors.trading.reconcile import Reconciler, ReconcileReport, StoreJournal, report_dict
from perpwire.market.events import FundingRate, Instrument, unpack_funding
from perpwire.market.stats import WindowStats
from perpwire.strategies import STRATEGIES
from perpwire.strategies.base import Close, Open, Pause, Resume, Strategy
from perpwire.strategies.desk import FundingDesk
from perpwire.strategies.funding_arb import entered_on_z
from perpwire.strategies.scanner import Opportunity

log = logging.getLogger(__name__)

COORDINATOR_NAME = "perpwire-coordinator"






def _leg(side: str, leg) -> dict[str, str | None]:
    return {"side": side, "venue": leg.venue, "symbol": leg.symbol, "qty": str(leg.qty),
            "entry_price": str(leg.entry_price), "mark_price": None if leg.mark_price is None else str(leg.mark_price),
            "exit_price": None if leg.exit_price is None else str(leg.exit_price)}


class _Running:
    def __init__(self, sid: str, strategy: Strategy, task: asyncio.Task, spec: dict[str, Any]):
        self.id = sid
        self.strategy = strategy
        self.task = task
        self.spec = spec  # {name, params}: what a restart starts again
        self.decisions = 0
        self.commands = 0
        self.errors = 0  # decision rounds that failed (logged); the strategy carries on
        self.started = time.time()


@ray.remote(num_cpus=0, max_restarts=-1)
class Coordinator:
    """The deployment's brain, a named actor (``COORDINATOR_NAME``).

    Feed it with ``on_funding`` / ``on_user_events`` (the stream actors push); give it venues
    with ``attach`` (or a ``deployment`` wiring in its config, and it attaches itself); start
    strategies with ``submit`` and stop them with ``stop_strategy``; read it with the queries
    (``summary``, ``opportunities``, ``positions``, ``orders``, ``attached``). ``stop`` ends its
    work and saves everything (a deliberate stop also forgets the running strategies).
    """

    def __init__(self, config: dict | None = None, *, durable: DurableState | None = None):
        apply_log_level()
        self.config = CoordinatorConfig.model_validate(config or {})
        self.desk = FundingDesk(taker_fees=self.config.taker_fees, holding_hours=self.config.holding_hours,
                                markets=self.config.markets)
        self.facades: dict[str, VenueFacade] = {}
        self.executor: Executor | None = None
        self.broker: PaperBroker | None = None
        self.store = None
        self._strategies: dict[str, _Running] = {}
        self._next_id = 1  # strategy ids go on counting across restarts
        self._wakes: dict[str, asyncio.Event] = {}  # one per running strategy
        self._pending_store: list[FundingRate] = []
        self.user_events: list = []
        self.latencies_ms: list[float] = []  # exchange ts -> ranked, for immediate updates
        self._busy: set[str] = set()
        self._maintenance: asyncio.Task | None = None
        self.repair: FundingRepair | None = None
        self.gaps: list = []  # symbols silent beyond their venue's cadence at the last check
        self.stats_refreshes = 0
        self._attached = False  # a restarted actor comes back without its streams until _boot attaches it
        self._ledger_lock = asyncio.Lock()  # one save at a time: a save that returns has saved all before it
        self._ledger_saved_at = 0.0  # monotonic time of the last ledger save
        self.stats_loaded = False  # the 30-day statistics came from the store since this actor started
        self.stats_windows = 0  # how many venue-symbol windows the last load installed
        self.attached_at_ms: int | None = None  # wall time of the last attach (a restart shows a new one)
        self.started_at_ms = now_ms()
        self._registry: DurableState = durable or (RayKVState.for_this_actor("coordinator")
                                                   if ray.is_initialized() else MemoryState())
        self._boot_task: asyncio.Task | None = None
        self.watch = StreamWatch({}, call)  # replaced at attach: restarts and time to SYNCED of each stream
        self._watching: asyncio.Task | None = None
        self._held_opens: dict[str, str] = {}  # asset -> why its open waits (a venue recovering), as logged once
        # configured symbols per venue: only these are ranked (None: whatever the feeds deliver)
        self._universe = ({v: frozenset(s) for v, s in self.config.deployment.symbols.items()}
                          if self.config.deployment is not None and self.config.deployment.symbols else None)
        self.shutdown_reason: str | None = None  # set by ``request_shutdown`` (``perpwire stop``)
        self._holds: dict[tuple[str, str], str] = {}  # (strategy, position) -> why it holds, as last logged
        self._refused_closes: dict[str, str] = {}  # position -> why it cannot be closed here, as logged once
        if self.config.deployment is not None:  # wire itself now: after a restart nobody else will
            self._boot_task = asyncio.get_running_loop().create_task(self._boot(self.config.deployment))

    # --- wiring ------------------------------------------------------------------------------

    async def attach(self, streams: dict[str, dict[str, Any]], codec_options: dict[str, dict] | None = None,
                     book_symbols: dict[str, dict[str, str]] | None = None,
                     instruments: list[Instrument] | None = None, store=None) -> list[str]:
        """Give the coordinator the stream actor handles of each tradable venue."""
        codec_options = codec_options or {}
        for venue, handles in streams.items():
            self.facades[venue] = VenueFacade(venue, handles, codec_options=codec_options.get(venue),
                                              book_symbols=(book_symbols or {}).get(venue))
        if isinstance(self.broker, LiveBroker):
            await self.broker.close()
        self.store = store
        # with a store, intents are journaled and paper fills recorded there (a crash loses neither)
        self._journal = StoreJournal(store, self.desk.ledger, self._ledger_lock) if store is not None else None
        paper = PaperBroker(self.facades, taker_fees=self.config.taker_fees,
                            default_balance=self.config.paper_balance,
                            record=functools.partial(call, store, "record_paper_fill") if store is not None else None,
                            recorded=functools.partial(call, store, "paper_fills") if store is not None else None)
        live = {v: c for v, c in self.config.live_venues.items() if v in self.facades}
        if live:  # signed orders on these venues, paper on the rest; fills reconciled from the user streams
            sources = {v: functools.partial(call, handle, "user_events") for v in live
                       for name, handle in streams[v].items()
                       if name.split("-")[0] in venues.spec(v).account_connections}
            self.broker = LiveBroker.from_config(live, codec_options, taker_fees=self.config.taker_fees,
                                                 fallback=paper, event_sources=sources)
            log.info("live order placement on %s; paper on the other venues", ", ".join(sorted(live)))
        else:
            self.broker = paper
        self.watch = StreamWatch(streams, call, timeout_s=max(1.0, 3 * self.config.health_poll_s))
        if self._watching is None or self._watching.done():
            self._watching = asyncio.create_task(self._watch_streams())
        self.executor = Executor(self.facades, self.broker, self.desk.ledger,
                                 instruments={(i.venue, i.symbol): i for i in instruments or []}, journal=self._journal)
        await self._restore_ledger()
        await self._reconcile()
        await self._load_stats()
        self.repair = FundingRepair(self.desk, codec_options)
        if self._maintenance is None or self._maintenance.done():
            self._maintenance = asyncio.create_task(self._maintain())
        self._attached = True
        self.attached_at_ms = now_ms()
        return sorted(self.facades)

    async def attached(self) -> bool:
        """False in a fresh (or restarted) actor until it attached (by itself or by ``attach``)."""
        return self._attached

    async def _boot(self, wiring: DeploymentWiring) -> None:
        """Find the deployment's actors by name, attach, and bring back the strategies that ran
        before a restart (or, on the very first boot, the configured one). Retries until it
        succeeds: the actors may still be starting, the store may be briefly away."""
        delay = 0.2
        while True:
            try:
                streams = {v: {n: ray.get_actor(a) for n, a in names.items()} for v, names in wiring.streams.items()}
                store = ray.get_actor(wiring.store) if wiring.store else None
                await self.attach(streams, wiring.codec_options, wiring.book_symbols, None, store)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("coordinator: attaching itself failed (%s: %s); retrying in %.1f s", type(exc).__name__,
                            exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        await self._restart_strategies(wiring.strategy)

    async def _restart_strategies(self, configured: dict[str, Any] | None) -> None:
        saved = self._registry.load()
        if saved is None:  # the very first boot of this deployment
            if configured is not None:
                await self.submit(configured["name"], configured.get("params"))
            else:
                self._save_registry()
            return
        self._next_id = int(saved.get("next_id", 1))
        for sid, spec in saved.get("strategies", {}).items():
            try:
                self._start(sid, STRATEGIES[spec["name"]](spec.get("params")), spec)
                log.warning("strategy %s restarted after a coordinator restart", sid)
            except Exception as exc:  # a strategy that cannot start again is reported, the others run
                log.error("strategy %s could not be restarted: %s", sid, exc)

    def _save_registry(self) -> None:
        self._registry.save({
            "next_id": self._next_id,
            "strategies": {sid: r.spec for sid, r in self._strategies.items() if not r.task.done()},
        })

    async def _load_stats(self) -> bool:
        """Take the 30-day statistics from the store (z-scores need them): at attach, then hourly;
        a failure keeps the cached ones and is retried at the next maintenance round."""
        if self.store is None:
            return False
        try:
            await self.flush_store()
            windows = await call(self.store, "window_stats", self.config.stats_window_days)
        except Exception as exc:
            log.warning("statistics from the store unavailable (%s: %s); z-scores wait for them", type(exc).__name__,
                        exc)
            return False
        self.stats_windows = self.desk.stats.load(windows, replace=True)
        self.stats_loaded = True
        self.stats_refreshes += 1
        return True

    async def _maintain(self) -> None:
        """Every few seconds: backfill symbols whose feed went silent from REST. Hourly: reload
        the window statistics from the store and reconcile streamed funding with REST."""
        last_refresh = last_reconcile = time.monotonic()
        while True:
            await asyncio.sleep(self.config.gap_check_s)
            now = now_ms()
            gaps = self.desk.stats.gaps(now)
            new = {(g.venue, g.symbol) for g in gaps} - {(g.venue, g.symbol) for g in self.gaps}
            for venue, symbol in sorted(new):
                log.warning("%s %s: funding feed silent beyond its cadence; backfilling from REST", venue, symbol)
            self.gaps = gaps
            if new and self.repair is not None:
                await self.repair.backfill(sorted(new))
            if self.repair is not None and time.monotonic() - last_reconcile >= self.config.reconcile_s:
                last_reconcile = time.monotonic()
                await self.repair.reconcile()
            due = time.monotonic() - last_refresh >= self.config.stats_refresh_s
            if self.store is not None and (due or not self.stats_loaded):
                last_refresh = time.monotonic()
                await self._load_stats()

    async def _watch_streams(self) -> None:
        """Poll the attached stream actors' health: a restarted or unreachable one holds new opens
        on its venue until its books are SYNCED again (``failover.StreamWatch``)."""
        while True:
            try:
                await self.watch.poll(now_ms())
            except asyncio.CancelledError:
                raise
            except Exception:  # the watch must outlive any one bad answer
                log.exception("coordinator: stream health poll failed; trying again")
            await asyncio.sleep(self.config.health_poll_s)

    async def recovering(self) -> dict[str, str]:
        """Venues whose stream actors restarted or stopped answering, and are not SYNCED again."""
        return self.watch.recovering_venues()

    async def load_stats(self, windows: list[WindowStats]) -> int:
        """Install window statistics given by the caller (after a history backfill)."""
        n = self.desk.load(windows)
        self.stats_loaded = True
        self.stats_windows = max(self.stats_windows, n)
        return n

    # --- inputs ------------------------------------------------------------------------------

    async def on_funding(self, batch: bytes | list[FundingRate]) -> None:
        """A batch of rates, as the stream actors push it: one msgpack blob (``pack_funding``)
        or a list of ``FundingRate``."""
        batch = unpack_funding(batch)
        universe = self._universe
        if universe:  # whole-venue feeds (!markPrice@arr, market_stats/all) carry every symbol
            batch = [r for r in batch if r.symbol in universe.get(r.venue, ())]
            if not batch:
                return
        now = now_ms()
        if self.desk.ingest(batch, now):
            # venue event time -> ranked, for every rate handled at once (each, not the batch's
            # newest); a venue clock ahead of ours says nothing, so such rates are left out
            self.latencies_ms.extend(now - e.ts for e in self.desk.last_urgent if 0 < e.ts <= now)
            del self.latencies_ms[:-1000]
            for wake in self._wakes.values():
                wake.set()
        if self.store is not None:
            self._pending_store.extend(batch)
            if len(self._pending_store) >= 200:
                await self.flush_store()
            await self._save_ledger()  # settlements booked by this batch at once, marks now and then

    async def flush_store(self) -> int:
        batch, self._pending_store = self._pending_store, []
        if batch and self.store is not None:
            await call(self.store, "record", batch)
        return len(batch)

    async def on_user_events(self, events: list) -> None:
        self.user_events.extend(events)
        del self.user_events[:-1000]
        if isinstance(self.broker, LiveBroker):  # pushed order state: no waiting on the next poll
            await self.broker.on_user_events(events)

    # --- queries -----------------------------------------------------------------------------

    async def rate_seen(self, venue: str, symbol: str) -> dict | None:
        """The latest rate taken for ``venue``/``symbol``: its rate per hour, venue time and the
        local time the coordinator ranked it (what latency measurements read)."""
        ev = self.desk.latest.get((venue, symbol))
        if ev is None:
            return None
        return {"rate_per_hour": str(ev.rate_per_hour), "ts": ev.ts,
                "received_ms": self.desk.received_ms.get((venue, symbol))}

    async def opportunities(self, top: int = 20) -> list[Opportunity]:
        return self.desk.opportunities(top)

    async def positions(self) -> list[dict]:
        out = []
        for p in self.desk.ledger.positions.values():
            out.append({"id": p.id, "asset": p.asset, "long": f"{p.long.venue}:{p.long.symbol}",
                        "short": f"{p.short.venue}:{p.short.symbol}", "qty": str(p.long.qty), "open": p.is_open,
                        "close_reason": p.close_reason, "payments": p.payments, "opened_ms": p.opened_ms,
                        "closed_ms": p.closed_ms, "legs": [_leg(side, leg) for side, leg in (("long", p.long),
                                                                                           ("short", p.short))],
                        **{k: str(v) for k, v in p.pnl().items()}})
        return out

    async def orders(self) -> list[dict]:
        """Every order the broker placed, oldest first."""
        if self.broker is None:
            return []
        return [{"venue": o.venue, "symbol": o.symbol, "side": o.side.value, "status": o.status.value,
                 "requested": str(o.requested), "filled": str(o.filled), "reason": o.reason}
                for o in self.broker.orders]

    async def reject_next_order(self, venue: str, reason: str = "rejected by venue") -> None:
        """Make the paper broker refuse the next order on ``venue`` (drills and tests)."""
        self.broker.reject_next(venue, reason)

    async def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {
            "ledger": {k: str(v) for k, v in self.desk.ledger.summary().items()},
            "rates_ingested": self.desk.ingested, "immediate": self.desk.immediate,
            "settlements": self.desk.settlements, "symbols": len(self.desk.stats),
            "silent_symbols": [f"{g.venue}:{g.symbol}" for g in self.gaps], "stats_refreshes": self.stats_refreshes,
            "repair": dict(self.repair.counters) if self.repair else {},
            "executions": [{"action": r.action, "ok": r.ok, "reason": r.reason, "sources": list(r.book_sources),
                            "position_id": r.position_id}
                           for r in (self.executor.reports if self.executor else [])],
            "update_to_rank_p50_ms": lat[len(lat) // 2] if lat else None,
            "update_to_rank_p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
            "strategies": await self.strategies(),
            "attached": self._attached, "started_at_ms": self.started_at_ms, "attached_at_ms": self.attached_at_ms,
            "stats_loaded": self.stats_loaded, "stats_windows": self.stats_windows,
            "holds": [{"strategy": sid, "position": pid, "reason": r} for (sid, pid), r in self._holds.items()],
            "refused_closes": [{"position": pid, "reason": r} for pid, r in self._refused_closes.items()],
            "reconciliation": report_dict(self._reconcile_report),
            "recovering": self.watch.recovering_venues(), "failovers": self.watch.records(),
            "held_opens": dict(self._held_opens),
        }

    # --- strategies --------------------------------------------------------------------------

    async def submit(self, name: str, params: dict | None = None) -> str:
        """Start strategy ``name`` with ``params`` (validated); returns its id."""
        if name not in STRATEGIES:
            raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")
        if self.executor is None:
            raise RuntimeError("coordinator has no venues attached yet")
        strategy = STRATEGIES[name](params)
        sid = f"{name}-{self._next_id}"
        self._start(sid, strategy, {"name": name, "params": params or {}})
        self._save_registry()
        log.info("strategy %s started", sid)
        return sid

    def _start(self, sid: str, strategy: Strategy, spec: dict[str, Any]) -> None:
        self._wakes[sid] = asyncio.Event()
        task = asyncio.create_task(self._run(sid, strategy))
        self._strategies[sid] = _Running(sid, strategy, task, spec)
        self._next_id = max(self._next_id, int(sid.rsplit("-", 1)[-1]) + 1)

    async def strategies(self) -> list[dict]:
        return [{"id": r.id, "name": r.strategy.name, "running": not r.task.done(), "decisions": r.decisions,
                 "commands": r.commands, "errors": r.errors} for r in self._strategies.values()]

    async def stop_strategy(self, sid: str) -> bool:
        run = self._strategies.get(sid)
        if run is None or run.task.done():
            return False
        run.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run.task
        self._save_registry()
        log.info("strategy %s stopped", sid)
        return True

    async def _run(self, sid: str, strategy: Strategy) -> None:
        run = None
        wake = self._wakes[sid]
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.config.decision_interval_s)
            wake.clear()
            run = run or self._strategies[sid]
            try:
                await self._decide_once(sid, strategy, run)
            except asyncio.CancelledError:
                raise
            except Exception:  # one failed round (a bug, a venue error) never ends the strategy
                run.errors += 1
                log.exception("strategy %s: a decision round failed (%d so far); it carries on", sid, run.errors)

    async def _decide_once(self, sid: str, strategy: Strategy, run: _Running) -> None:
        tradable = [o for o in self.desk.opportunities(50)
                    if o.long_venue in self.facades and o.short_venue in self.facades]
        commands = strategy.decide(tradable, self.desk.position_views(), now_ms())
        run.decisions += 1
        self._log_holds(sid, strategy)
        entry_z = getattr(getattr(strategy, "params", None), "entry_z", None)
        for cmd in commands:
            run.commands += 1
            await self._execute(cmd, tradable, entry_z=entry_z)

    def _log_holds(self, sid: str, strategy: Strategy) -> None:
        """Say once (per position and reason) why a strategy is holding for want of data."""
        holds = dict(getattr(strategy, "holds", {}) or {})
        for pid, reason in holds.items():
            if self._holds.get((sid, pid)) != reason:
                log.warning("strategy %s holds %s: %s", sid, pid, reason)
        self._holds = {k: v for k, v in self._holds.items() if k[0] != sid} | {(sid, p): r for p, r in holds.items()}

    async def _execute(self, cmd, tradable: list[Opportunity], *, entry_z: float | None = 2.0) -> None:
        if isinstance(cmd, Open | Close) and not self._reconciled:
            what = cmd.asset if isinstance(cmd, Open) else cmd.position_id
            log.warning("%s %s refused: the ledger is not reconciled with the venues yet%s",
                        "open" if isinstance(cmd, Open) else "close", what,
                        f" ({self._reconcile_error})" if self._reconcile_error else "")
            return
        if isinstance(cmd, Open):
            if cmd.asset in self._busy:
                return
            why = next((w for v in (cmd.long.venue, cmd.short.venue) if (w := self.watch.recovering(v))), None)
            if why is not None:
                if self._held_opens.get(cmd.asset) != why:
                    log.warning("open %s held: %s", cmd.asset, why)
                self._held_opens[cmd.asset] = why
                return
            self._held_opens.pop(cmd.asset, None)
            self._busy.add(cmd.asset)
            op = next((o for o in tradable if o.asset == cmd.asset), None)
            try:
                on_z = entered_on_z(op, entry_z)
                await self.executor.open(cmd, entry_spread_per_hour=op.spread_per_hour if op else Decimal(0),
                                         entered_on_z=on_z)
            finally:
                self._busy.discard(cmd.asset)
        elif isinstance(cmd, Close):
            pos = self.desk.ledger.positions.get(cmd.position_id)
            missing = [] if pos is None else [v for v in (pos.long.venue, pos.short.venue) if v not in self.facades]
            if missing:  # a position on a venue this deployment does not attach: nobody can trade it here
                if pos.id not in self._refused_closes:
                    log.error("close %s refused: %s not attached to this deployment (add the venue to "
                              "coordinator.tradable_venues)", pos.id, ", ".join(missing))
                    self._refused_closes[pos.id] = f"venue(s) {', '.join(missing)} not attached"
                return
            if pos is not None and pos.is_open and pos.id not in self._busy:
                self._busy.add(pos.id)
                try:
                    await self.executor.close(pos, cmd.reason)
                finally:
                    self._busy.discard(pos.id)
        elif isinstance(cmd, Resume) and cmd.venue in self.facades:
            await self.facades[cmd.venue].resume_market_data_streams(cmd.symbol)
        elif isinstance(cmd, Pause) and cmd.venue in self.facades:
            await self.facades[cmd.venue].pause_market_data_streams()
        await self._save_ledger()  # an opened or closed position is in the store before the next command

    # --- the ledger in the store -------------------------------------------------------------

    async def _restore_ledger(self) -> None:
        """With a store: take back the positions it holds open (a restarted coordinator carries
        on with them) and journal every ledger change from then on. A store that cannot answer
        fails the attach: trading on without the open positions would leave them unmanaged and
        reuse their ids."""
        if self.store is None:
            return
        ledger = self.desk.ledger
        state = await call(self.store, "load_ledger", True)
        restored = ledger.restore(state.positions, last_seq=state.last_seq, last_id=state.last_id)
        ledger.track_changes = True
        log.info("ledger: restored %d open position(s) from the store (%d held already); ids continue after P%d",
                 restored, len(state.positions) - restored, state.last_id)

    async def _save_ledger(self, marks_every_s: float = 5.0) -> None:
        """Save the ledger's changes to the store: at once when a position opened, closed or was
        paid funding (committed when this returns), marks alone at most every ``marks_every_s``.
        A failed save keeps the changes for the next one."""
        ledger = self.desk.ledger
        if self.store is None or not ledger.track_changes:
            return
        async with self._ledger_lock:
            if self._journal is not None and self._journal.backlog:
                await self._journal.flush_backlog()  # a completed intent goes with its ledger change
            if not ledger.pending_changes and (
                    not ledger.pending_marks or time.monotonic() - self._ledger_saved_at < marks_every_s):
                return
            changes = ledger.take_changes()
            try:
                await call(self.store, "save_ledger", changes)
            except Exception as exc:
                ledger.requeue(changes)
                log.error("ledger: saving %d change(s) failed; kept for the next save: %s", len(changes.events), exc)
                return
            self._ledger_saved_at = time.monotonic()

    # --- reconciliation with the venues -------------------------------------------------------

    _reconciled = False  # no open or close until the ledger matches the venues (set per attach)
    _reconcile_error: str | None = None
    _reconcile_report: ReconcileReport | None = None
    _reconcile_retry: asyncio.Task | None = None
    _journal: StoreJournal | None = None

    async def _reconcile(self) -> None:
        """Complete the intents a previous life left open and compare the venues' positions with
        the ledger (``actors.reconcile``). Until that succeeded, opens and closes are refused; a
        failure is retried in the background."""
        self._reconciled = False
        venues = list(self.broker.adapters) if isinstance(self.broker, LiveBroker) else []
        if self.store is not None:
            venues += [v for v in self.facades if v not in venues]
        reconciler = Reconciler(self.executor, self.desk.ledger, self._journal, venues, markets=self.config.markets)
        if self._reconcile_retry is not None:
            self._reconcile_retry.cancel()
        if not await self._reconcile_once(reconciler):
            self._reconcile_retry = asyncio.create_task(self._reconcile_later(reconciler))

    async def _reconcile_once(self, reconciler: Reconciler) -> bool:
        try:
            report = await reconciler.run()
        except Exception as exc:
            self._reconcile_error = f"{type(exc).__name__}: {exc}"
            log.error("reconciliation with the venues failed (%s); opens and closes wait", self._reconcile_error)
            return False
        await self._save_ledger(marks_every_s=0)
        self._reconcile_report, self._reconcile_error, self._reconciled = report, None, True
        log.info("reconciled with the venues: %d open intent(s) completed, %d finding(s)", len(report.intents),
                 len(report.findings))
        return True

    async def _reconcile_later(self, reconciler: Reconciler, every_s: float = 5.0) -> None:
        while not await self._reconcile_once(reconciler):
            await asyncio.sleep(every_s)

    async def reconciled(self) -> bool:
        """True once the ledger was reconciled with the venues since the last attach."""
        return self._reconciled

    async def execute(self, command) -> dict | None:
        """Run one strategy command now (drills and tests); the report of the open or close it caused."""
        before = len(self.executor.reports)
        await self._execute(command, [])
        return msgspec.to_builtins(self.executor.reports[-1]) if len(self.executor.reports) > before else None

    async def arm_crash(self, step: str) -> None:
        """Drill: the next ``checkpoint(step)`` of the executor (``open.journal`` … ``close.book``)
        kills this process at once (``os._exit``), as a crash would; Ray restarts the actor."""
        def hook(name: str) -> None:
            if name == step:
                log.error("crash drill: dying at %s", step)
                os._exit(1)

        self.executor.fault_hook, self.executor.armed = hook, step

    async def intents(self, open_only: bool = False) -> list[dict]:
        """Journaled intents with their orders (from the store)."""
        if self.store is None:
            return []
        return msgspec.to_builtins(await call(self.store, "load_intents", open_only))

    async def request_shutdown(self, reason: str = "perpwire stop") -> None:
        """Ask the process that runs the deployment (``perpwire run``/``demo``) to end it: it sees
        this within a second, stops every actor (this one included, which saves everything) and
        exits with its summary."""
        self.shutdown_reason = reason
        log.warning("deployment shutdown requested (%s)", reason)

    async def shutdown_requested(self) -> str | None:
        return self.shutdown_reason

    async def stop(self) -> None:
        """End the coordinator's work deliberately: strategies stop (and are forgotten, so a later
        start of the deployment begins from its configuration), everything pending is saved."""
        if self._boot_task is not None:
            self._boot_task.cancel()
        for task in (self._maintenance, self._watching):
            if task is not None:
                task.cancel()
        for sid in list(self._strategies):
            await self.stop_strategy(sid)
        self._registry.clear()
        await self.flush_store()
        await self._save_ledger(marks_every_s=0)  # the newest marks too: a clean stop loses nothing
        for f in self.facades.values():
            await f.close()
        if isinstance(self.broker, LiveBroker):
            await self.broker.close()
        if self.repair is not None:
            await self.repair.close()
