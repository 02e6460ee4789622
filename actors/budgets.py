"""Budgets shared by every stream actor of one venue on one node (one egress IP).

A venue counts REST weight, new connections and (for some venues) control messages per IP, not
per connection: ten actors of one venue on one machine, each with its own bucket, may spend ten
times the venue's limit, and a mass reconnect of 500 symbols is exactly when they all do. So each
(venue, node) gets one small ``BudgetActor`` (named ``perpwire-budget-<venue>-<node>``, pinned to
its node, no CPU reserved) holding the buckets, sized from the venue's published ``VenueLimits``
at ``PACING_SHARE``; stream actors take tokens from it through ``SharedBucket``, which has the
``TokenBucket`` interface and falls back to a local bucket of the same size while the budget
actor cannot be reached (it restarts by itself), saying so once.

Kinds: ``rest`` (REST weight per window), ``connect`` (new connections per window), and
``control`` (control frames, only for venues that count them per IP; per-connection pacing
stays in each connection's ``Link``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from perpwire import venues
from perpwire.actors.pacing import PACING_SHARE, TokenBucket, pacer_for, rate_bucket

log = logging.getLogger(__name__)

PREFIX = "perpwire-budget-"
KINDS = ("rest", "connect", "control")


def buckets_for(venue: str, rest: tuple[float, float] | None = None,
                share: float = PACING_SHARE) -> dict[str, TokenBucket]:
    """The shared buckets of ``venue``, as one node holds them: REST at ``rest`` (rate per second,
    burst; the venue's ``VenueSpec.rest`` by default, already a share of its published weight),
    connections and per-IP control frames at ``share`` of its ``VenueLimits``."""
    spec = venues.spec(venue)
    limits = spec.limits
    rate, burst = rest if rest is not None else (spec.rest.rate_per_s, spec.rest.burst)
    out = {"rest": TokenBucket(rate, burst),
           "connect": rate_bucket(limits.connections, limits.connections_window_s, share)}
    if limits.control_scope == "ip":
        out["control"] = pacer_for(limits, share)
    return out


def budget_name(venue: str, node_id: str) -> str:
    return f"{PREFIX}{venue}-{node_id[:12]}"


class BudgetActor:
    """The buckets of one venue on one node; ``acquire`` waits inside the actor (async, so many
    callers wait at once) and returns the seconds waited."""

    def __init__(self, venue: str, rest: tuple[float, float] | None = None, share: float = PACING_SHARE) -> None:
        self.venue = venue
        self._buckets = buckets_for(venue, rest, share)
        self._waited: dict[str, float] = dict.fromkeys(self._buckets, 0.0)
        self._taken: dict[str, float] = dict.fromkeys(self._buckets, 0.0)
        self._penalties = 0

    async def acquire(self, kind: str, weight: float = 1.0) -> float:
        bucket = self._buckets.get(kind)
        if bucket is None:
            return 0.0
        waited = await bucket.acquire(weight)
        self._waited[kind] += waited
        self._taken[kind] += weight
        return waited

    async def penalize(self, kind: str, retry_after_s: float | None) -> None:
        bucket = self._buckets.get(kind)
        if bucket is not None:
            bucket.penalize(retry_after_s)
            self._penalties += 1

    async def stats(self) -> dict[str, Any]:
        return {"venue": self.venue, "penalties": self._penalties,
                "buckets": {k: {"rate_per_s": b.rate, "burst": b.burst, "taken": self._taken[k],
                                "waited_s": round(self._waited[k], 3)} for k, b in self._buckets.items()}}


RemoteBudget = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, max_concurrency=1000)(BudgetActor)


def budget_for(venue: str, rest: tuple[float, float] | None = None) -> Any:
    """The budget actor of ``venue`` on this node, created on first use with ``rest`` (detached:
    it outlives whichever stream actor created it; the deployment's stop ends it)."""
    node = ray.get_runtime_context().get_node_id()
    return RemoteBudget.options(
        name=budget_name(venue, node), get_if_exists=True, lifetime="detached",
        scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
    ).remote(venue, rest)


class SharedBucket:
    """A ``TokenBucket`` whose tokens come from the node's budget actor for ``venue``; a local
    bucket of the same size stands in while that actor cannot be reached."""

    def __init__(self, venue: str, kind: str, rest: tuple[float, float] | None = None, *,
                 handle_factory=budget_for, timeout_s: float = 120.0) -> None:
        self.venue = venue
        self.kind = kind
        self._rest = rest
        self._factory = handle_factory
        self._handle = None
        self._timeout_s = timeout_s
        self._fallback = buckets_for(venue, rest).get(kind) or TokenBucket(1e9, 1e9)
        self.rate, self.burst = self._fallback.rate, self._fallback.burst
        self.fallbacks = 0
        self._warned_at = 0.0

    def _budget(self):
        if self._handle is None:
            self._handle = self._factory(self.venue, self._rest)
        return self._handle

    async def acquire(self, weight: float = 1.0) -> float:
        started = time.monotonic()
        try:
            return await asyncio.wait_for(self._budget().acquire.remote(self.kind, weight), self._timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the budget actor restarting or gone: pace locally meanwhile
            self._handle = None
            self.fallbacks += 1
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("%s: shared %s budget unavailable (%s: %s); pacing locally meanwhile", self.venue,
                            self.kind, type(exc).__name__, str(exc).splitlines()[0][:120] if str(exc) else "")
            return time.monotonic() - started + await self._fallback.acquire(weight)

    def wait_time(self, weight: float = 1.0) -> float:
        return self._fallback.wait_time(weight)

    def penalize(self, retry_after_s: float | None, default_s: float = 60.0) -> None:
        """The venue said 429/418: every actor of this venue on this node holds off, not only us."""
        self._fallback.penalize(retry_after_s, default_s)
        try:
            self._budget().penalize.remote(self.kind, retry_after_s if retry_after_s is not None else default_s)
        except Exception as exc:
            log.warning("%s: could not share a rate-limit penalty (%s)", self.venue, type(exc).__name__)


def end_budgets(namespace: str | None = None) -> int:
    """Kill every budget actor of the deployment's namespace (they are detached); returns how many."""
    killed = 0
    for entry in ray.util.list_named_actors(all_namespaces=True):
        name, ns = (entry["name"], entry["namespace"]) if isinstance(entry, dict) else (entry, None)
        if not name.startswith(PREFIX) or (namespace is not None and ns not in (None, namespace)):
            continue
        try:
            ray.kill(ray.get_actor(name, namespace=ns))
            killed += 1
        except Exception as exc:  # already gone
            log.debug("budget actor %s: %s", name, exc)
    return killed
