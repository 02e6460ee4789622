"""Small state that must outlive an actor's process: what a stream wants, which strategies run.

Ray restarts a dead actor by running its constructor again with the same arguments, so anything
changed by a call since (a pause, a prepared symbol, a submitted strategy) is gone unless it was
written somewhere outside the process. ``RayKVState`` keeps one JSON document per actor in the
cluster's key-value store (the GCS), keyed by the actor's id, which stays the same across
restarts and differs between deployments. ``MemoryState`` is the same contract for plain
objects in tests. Writes are small (a few hundred bytes) and happen on commands, never per tick.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)


class DurableState(Protocol):
    def load(self) -> dict[str, Any] | None: ...

    def save(self, state: dict[str, Any]) -> None: ...

    def clear(self) -> None: ...


class MemoryState:
    """A ``DurableState`` held by whoever holds this object (tests share one across 'restarts')."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state = state
        self.saves = 0

    def load(self) -> dict[str, Any] | None:
        return None if self.state is None else json.loads(json.dumps(self.state))

    def save(self, state: dict[str, Any]) -> None:
        self.state = json.loads(json.dumps(state))
        self.saves += 1

    def clear(self) -> None:
        self.state = None


class RayKVState:
    """A ``DurableState`` in Ray's cluster key-value store, one key per actor and purpose.

    A failed write is logged and retried with the next one: the live state stays in the actor,
    only a crash before the next successful write would lose the change.
    """

    _NAMESPACE = "perpwire"

    def __init__(self, key: str) -> None:
        self.key = key.encode()

    @classmethod
    def for_this_actor(cls, purpose: str) -> RayKVState:
        import ray

        return cls(f"{purpose}/{ray.get_runtime_context().get_actor_id()}")

    def load(self) -> dict[str, Any] | None:
        from ray.experimental import internal_kv

        try:
            raw = internal_kv._internal_kv_get(self.key, namespace=self._NAMESPACE)
        except Exception as exc:  # the GCS unreachable: start from the configuration
            log.warning("durable state %s: cannot read (%s); starting from the configuration", self.key.decode(), exc)
            return None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            log.warning("durable state %s: unreadable; starting from the configuration", self.key.decode())
            return None

    def save(self, state: dict[str, Any]) -> None:
        from ray.experimental import internal_kv

        try:
            internal_kv._internal_kv_put(self.key, json.dumps(state).encode(), overwrite=True,
                                         namespace=self._NAMESPACE)
        except Exception as exc:
            log.warning("durable state %s: write failed (%s); kept in memory, written with the next change",
                        self.key.decode(), exc)

    def clear(self) -> None:
        from ray.experimental import internal_kv

        try:
            internal_kv._internal_kv_del(self.key, namespace=self._NAMESPACE)
        except Exception as exc:
            log.warning("durable state %s: delete failed (%s)", self.key.decode(), exc)
