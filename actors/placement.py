"""Where a deployment's actors run, as Ray ``.options()`` for each kind of actor.

- Stream actors (the only ones that talk to venues) need the custom resource named by
  ``placement.gateway_resource``: by default ``perpwire_gateway`` when some node of the cluster
  declares it (``ray start --resources='{"perpwire_gateway": 1}'``, or a node type's resources
  in cluster.yaml), and nothing on a laptop or a cluster that declares none. They are spread
  among the nodes that qualify (Ray's SPREAD strategy), each asking for a thousandth of the
  resource, so one gateway node holds up to a thousand connections.
- The coordinator and the store run on the head node by default (Ray's ``node:__internal_head__``
  resource, which only the head has): the store's SQLite file and the coordinator stay put
  wherever the drivers come from. ``driver`` pins an actor to the node of the process that starts
  the deployment (the demo, whose simulator listens on that node's loopback); ``any`` lets Ray choose.
- Every deployment actor is detached (``lifetime="detached"``) in the deployment's namespace:
  losing the driver (a closed laptop, a finished job) does not lose the deployment; ``perpwire
  stop`` ends it.
"""

from __future__ import annotations

import logging
from typing import Any

from perpwire.actors.app.config import PlacementConfig

log = logging.getLogger(__name__)

GATEWAY_RESOURCE = "perpwire_gateway"
HEAD_RESOURCE = "node:__internal_head__"  # Ray gives this resource (amount 1) to the head node only
SHARE = 0.001  # of a node resource per actor: enough to require the node, small enough for many actors


class PlacementError(Exception):
    """The cluster cannot place the deployment as configured: the message is the one line to print."""


def gateway_resource(cfg: PlacementConfig, cluster_resources: dict[str, float]) -> str | None:
    """The resource stream actors need: the configured one, else ``perpwire_gateway`` when the
    cluster declares it, else none. A configured resource no node declares yet is kept (an
    autoscaler may add such a node) and said once."""
    if cfg.gateway_resource is None:
        return GATEWAY_RESOURCE if cluster_resources.get(GATEWAY_RESOURCE, 0) > 0 else None
    if cfg.gateway_resource == "":
        return None
    if cluster_resources.get(cfg.gateway_resource, 0) <= 0:
        log.warning("placement.gateway_resource: no node of this cluster declares %r yet; stream actors wait for one",
                    cfg.gateway_resource)
    return cfg.gateway_resource


class Placement:
    """The ``.options()`` of each kind of deployment actor, resolved once against the cluster."""

    def __init__(self, cfg: PlacementConfig, *, namespace: str, spread: bool = True,
                 cluster_resources: dict[str, float] | None = None, driver_node_id: str | None = None):
        import ray

        self.cfg = cfg
        self.namespace = namespace
        resources = cluster_resources if cluster_resources is not None else ray.cluster_resources()
        self.gateway = gateway_resource(cfg, resources)
        self._driver_node_id = driver_node_id
        self._spread = spread and cfg.streams == "spread"
        if HEAD_RESOURCE not in resources and "head" in (cfg.coordinator, cfg.store):
            # every Ray since 2.6 gives the head this resource; without it "head" cannot be honoured
            raise PlacementError(f"placement: this cluster has no {HEAD_RESOURCE} resource to find its head node by; "
                                 "set placement.coordinator and placement.store to 'driver' or 'any'")

    def _common(self) -> dict[str, Any]:
        return {"lifetime": "detached", "namespace": self.namespace}

    def _where(self, where: str) -> dict[str, Any]:
        if where == "head":
            return {"resources": {HEAD_RESOURCE: SHARE}}
        if where == "driver":
            return {"scheduling_strategy": self._driver_affinity()}
        return {}

    def _driver_affinity(self):
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        node_id = self._driver_node_id or ray.get_runtime_context().get_node_id()
        return NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)

    def stream(self) -> dict[str, Any]:
        """Options of a stream actor: the gateway resource (if any), spread among its nodes."""
        opts = self._common()
        if self.cfg.streams == "driver":  # the venues (the demo's simulator) are on that node: no gateway
            return {**opts, **self._where("driver")}
        if self._spread:
            opts["scheduling_strategy"] = "SPREAD"
        if self.gateway:
            opts["resources"] = {self.gateway: SHARE}
        return opts

    def coordinator(self) -> dict[str, Any]:
        return {**self._common(), **self._where(self.cfg.coordinator)}

    def store(self) -> dict[str, Any]:
        return {**self._common(), **self._where(self.cfg.store)}

    def describe(self) -> str:
        """One line for the start-up log: where each kind of actor goes."""
        if self.cfg.streams == "driver":
            streams = "on the driver's node"
        else:
            streams = "spread" if self._spread else "where Ray chooses"
            streams += f" over nodes with {self.gateway!r}" if self.gateway else ""
        return (f"placement: stream actors {streams}; coordinator on {self.cfg.coordinator}; store on "
                f"{self.cfg.store}; namespace {self.namespace!r}, detached")
