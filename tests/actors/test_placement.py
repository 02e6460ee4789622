"""Where a deployment's actors run: the options each kind of actor gets, and on a real three-node
cluster (``ray.cluster_utils.Cluster``: a head and two gateway workers) that stream actors land
only on gateway nodes and on both of them, the coordinator and the store on the head, all
detached in the deployment's namespace, surviving the driver that created them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from perpwire.actors.app.config import PlacementConfig, parse_config
from perpwire.actors.placement import GATEWAY_RESOURCE, HEAD_RESOURCE, SHARE, Placement, PlacementError

ROOT = Path(__file__).resolve().parents[2]
LAPTOP = {"CPU": 2.0, "memory": 1e9, HEAD_RESOURCE: 1.0, "node:127.0.0.1": 1.0}
CLUSTER = {**LAPTOP, GATEWAY_RESOURCE: 2.0}


def _placement(resources: dict, **cfg) -> Placement:
    return Placement(PlacementConfig(**cfg), namespace="ns", cluster_resources=resources, driver_node_id="ab" * 28)


def test_on_a_laptop_streams_need_no_gateway_and_everything_is_detached_in_the_namespace():
    p = _placement(LAPTOP)
    assert p.gateway is None
    assert p.stream() == {"lifetime": "detached", "namespace": "ns", "scheduling_strategy": "SPREAD"}
    assert p.coordinator() == {"lifetime": "detached", "namespace": "ns", "resources": {HEAD_RESOURCE: SHARE}}
    assert p.store() == p.coordinator()


def test_a_cluster_declaring_the_gateway_resource_gets_it_by_default():
    p = _placement(CLUSTER)
    assert p.gateway == GATEWAY_RESOURCE
    assert p.stream()["resources"] == {GATEWAY_RESOURCE: SHARE}
    assert p.stream()["scheduling_strategy"] == "SPREAD"
    assert "gateway" in p.describe() and "head" in p.describe()


def test_a_configured_resource_is_used_and_an_empty_one_means_none(caplog):
    p = _placement(LAPTOP, gateway_resource="egress_eu")  # no node declares it yet: kept, and said
    assert p.stream()["resources"] == {"egress_eu": SHARE}
    assert "no node of this cluster declares 'egress_eu'" in caplog.text
    assert "resources" not in _placement(CLUSTER, gateway_resource="").stream()


def test_any_and_driver_placements():
    p = _placement(CLUSTER, streams="driver", coordinator="any", store="driver")
    stream = p.stream()
    assert "resources" not in stream  # the driver's node is where the (simulated) venues are
    assert stream["scheduling_strategy"].node_id == "ab" * 28 and stream["scheduling_strategy"].soft is False
    assert p.coordinator() == {"lifetime": "detached", "namespace": "ns"}
    assert p.store()["scheduling_strategy"].node_id == "ab" * 28
    assert "scheduling_strategy" not in _placement(LAPTOP, streams="any").stream()
    no_spread = Placement(PlacementConfig(), namespace="ns", spread=False, cluster_resources=LAPTOP)
    assert "scheduling_strategy" not in no_spread.stream()  # ray.spread_streams: false


def test_head_placement_without_a_head_resource_is_refused_in_one_line():
    bare = {k: v for k, v in LAPTOP.items() if k != HEAD_RESOURCE}
    with pytest.raises(PlacementError, match="no node:__internal_head__ resource"):
        _placement(bare)
    _placement(bare, coordinator="any", store="driver")  # fine when nothing asks for the head


def test_placement_config_names_the_bad_field():
    from perpwire.market.errors import ConfigError

    with pytest.raises(ConfigError, match=r"placement.coordinator: Input should be 'head', 'any' or 'driver'"):
        parse_config({"venues": {"binance": {"symbols": ["BTCUSDT"]}}, "placement": {"coordinator": "worker"}}, "x")


CLUSTER_CHILD = r"""
import json, sys, time
import ray
from ray.cluster_utils import Cluster
from perpwire.actors.app.config import PlacementConfig
from perpwire.actors.placement import Placement

cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
gateways = [cluster.add_node(num_cpus=1, resources={"perpwire_gateway": 1}) for _ in range(2)]
cluster.wait_for_nodes()
ray.init(address=cluster.address, namespace="pw-test")

@ray.remote(num_cpus=0)
class Where:
    def node(self):
        return ray.get_runtime_context().get_node_id()

def placed():
    p = Placement(PlacementConfig(), namespace="pw-test")
    streams = [Where.options(name=f"perpwire-s{i}", **p.stream()).remote() for i in range(6)]
    coord = Where.options(name="perpwire-coordinator", **p.coordinator()).remote()
    store = Where.options(name="perpwire-store", **p.store()).remote()
    return ray.get([a.node.remote() for a in streams], timeout=120), ray.get(coord.node.remote(), timeout=60), \
        ray.get(store.node.remote(), timeout=60)

streams, coord, store = placed()
control = Where.options(name="owned-by-the-driver").remote()  # not detached: dies with its driver
ray.get(control.node.remote(), timeout=60)
head = cluster.head_node.node_id
# the creating driver goes away: the control actor goes with it, the deployment's actors stay
ray.shutdown()
ray.init(address=cluster.address, namespace="pw-test")
deadline = time.monotonic() + 60
while "owned-by-the-driver" in ray.util.list_named_actors() and time.monotonic() < deadline:
    time.sleep(0.2)
still = sorted(ray.util.list_named_actors())
print(json.dumps({"streams": streams, "coordinator": coord, "store": store, "head": head,
                  "gateways": [g.node_id for g in gateways], "after_driver": still}), flush=True)
for name in still:
    ray.kill(ray.get_actor(name))
ray.shutdown()
cluster.shutdown()
"""


def test_on_three_nodes_streams_spread_over_gateways_and_coordinator_store_on_the_head():
    short = tempfile.mkdtemp(prefix="pw-", dir="/tmp")  # Ray's socket paths must stay under 108 bytes
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_TMPDIR": short}
    try:
        proc = subprocess.run([sys.executable, "-c", CLUSTER_CHILD], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=240)
    finally:
        shutil.rmtree(short, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(doc["streams"]) == set(doc["gateways"])  # only gateway nodes, and both of them
    assert doc["head"] not in doc["streams"]
    assert doc["coordinator"] == doc["head"] and doc["store"] == doc["head"]
    assert doc["after_driver"] == sorted(["perpwire-coordinator", "perpwire-store",
                                          *(f"perpwire-s{i}" for i in range(6))])  # and not the control
