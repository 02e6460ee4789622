"""A deployment on a real Ray started the operator's way (``ray start --head``, token
authentication on, every port chosen free; started and stopped by its pid):

- what ``RAY_ADDRESS`` finds (the address ``ray start`` records, which ``auto`` reads) is what
  ``--address 127.0.0.1:PORT`` and ``--address ray://127.0.0.1:CLIENT_PORT`` find, in the
  namespace ``--namespace`` names, after the driver that created the deployment is gone;
- a missing or refused token is one line saying what to set, exit 2, in seconds;
- ``perpwire stop`` ends a deployment whose driver is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from perpwire.actors.app.deployment import answers, free_ports

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CLI = [sys.executable, "-m", "perpwire.actors.app.cli"]
NS = "pw-ops"


class Head:
    def __init__(self, proc, temp_dir, gcs, port, client_port, dashboard_port, token, home):
        self.proc, self.temp_dir, self.gcs, self.port = proc, temp_dir, gcs, port
        self.client_port, self.dashboard_port, self.token, self.home = client_port, dashboard_port, token, home

    def env(self, **extra) -> dict:
        env = {**os.environ, "RAY_AUTH_TOKEN": self.token, "PERPWIRE_HOME": str(self.home), "PYTHONPATH": str(ROOT),
               "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        env.pop("RAY_ADDRESS", None)
        env.pop("RAY_AUTH_TOKEN_PATH", None)
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def cli(self, *argv, timeout=90, **env) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *argv], cwd=ROOT, env=self.env(**env), capture_output=True, text=True,
                              timeout=timeout)


def _stop(proc: subprocess.Popen) -> None:
    """End the ``ray start --block`` we started and the Ray processes it started: its process group
    (it runs in a session of its own, so the group is exactly what it started), by its pid."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything of that group still there


@pytest.fixture(scope="module")
def head():
    temp_dir = Path(tempfile.mkdtemp(prefix="pw-", dir="/tmp"))  # Ray's socket paths stay short
    home = temp_dir / "home"
    token = secrets.token_hex(16)
    port, client, dash, agent, agent_grpc, metrics, nm, om, rte = free_ports(9)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "PERPWIRE_HOME": str(home),
           "PYTHONPATH": str(ROOT), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("RAY_ADDRESS", None)
    cmd = [str(BIN / "ray"), "start", "--head", "--block", f"--port={port}", f"--ray-client-server-port={client}",
           f"--temp-dir={temp_dir}", "--num-cpus=2", "--include-dashboard=true", "--dashboard-host=127.0.0.1",
           f"--dashboard-port={dash}", f"--dashboard-agent-listen-port={agent}",
           f"--dashboard-agent-grpc-port={agent_grpc}", f"--metrics-export-port={metrics}",
           f"--node-manager-port={nm}", f"--object-manager-port={om}", f"--runtime-env-agent-port={rte}"]
    log = (temp_dir / "ray-start.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        from ray._private.utils import read_ray_address

        deadline = time.monotonic() + 90
        gcs = None
        while time.monotonic() < deadline and proc.poll() is None:
            gcs = read_ray_address(str(temp_dir))
            if gcs and answers(gcs) and answers(f"127.0.0.1:{dash}"):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"ray start did not come up: {(temp_dir / 'ray-start.log').read_text()[-2000:]}")
        yield Head(proc, temp_dir, gcs, port, client, dash, token, home)
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


DRIVER = r"""
import sys
import ray
from perpwire.actors.app.config import PlacementConfig
from perpwire.actors.placement import Placement

ray.init(address=sys.argv[1], namespace=sys.argv[2])

@ray.remote(num_cpus=0)
class StubCoordinator:
    def __init__(self, ns):
        self.ns = ns
    def summary(self):
        return {"stub": self.ns}
    def opportunities(self, n):
        return []
    def positions(self):
        return []
    def request_shutdown(self, reason):
        return None
    def stop(self):
        return None

p = Placement(PlacementConfig(), namespace=sys.argv[2])
coord = StubCoordinator.options(name="perpwire-coordinator", **p.coordinator()).remote(sys.argv[2])
assert ray.get(coord.summary.remote(), timeout=60) == {"stub": sys.argv[2]}
"""  # the driver then exits: the coordinator is detached


def _status(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_loopback_gcs_and_ray_client_addresses_find_what_ray_address_finds(head):
    made = subprocess.run([sys.executable, "-c", DRIVER, head.gcs, NS], cwd=ROOT, env=head.env(RAY_AUTH_MODE="token"),
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr[-2000:]
    # no record on this "machine" (an empty PERPWIRE_HOME): RAY_ADDRESS, as `ray start` recorded it
    by_env = _status(head.cli("status", "--json", "--namespace", NS, RAY_ADDRESS=head.gcs))
    assert by_env["coordinator"] == {"stub": NS} and by_env["deployment"]["address"] == head.gcs
    loopback = _status(head.cli("status", "--json", "--address", f"127.0.0.1:{head.port}", "--namespace", NS))
    assert loopback["coordinator"] == by_env["coordinator"]
    client = _status(head.cli("status", "--json", "--address", f"ray://127.0.0.1:{head.client_port}",
                              "--namespace", NS))
    assert client["coordinator"] == by_env["coordinator"]
    other = head.cli("status", "--address", f"127.0.0.1:{head.port}", "--namespace", "elsewhere")
    assert other.returncode == 1
    assert other.stderr.strip().endswith("(no actor perpwire-coordinator in namespace 'elsewhere')")


@pytest.mark.parametrize("token", ["wrong", None])
def test_a_wrong_or_missing_token_is_one_line_saying_what_to_set(head, tmp_path, token):
    started = time.monotonic()
    value = secrets.token_hex(16) if token else None
    result = head.cli("status", "--address", f"127.0.0.1:{head.port}", "--namespace", NS, timeout=60,
                      RAY_AUTH_TOKEN=value, HOME=str(tmp_path))  # an empty home: no ~/.ray/auth_token either
    assert time.monotonic() - started < 20
    assert result.returncode == 2 and result.stdout == ""
    what = "refused this process's token" if token else "requires a token and this process has none"
    assert result.stderr.strip() == (
        f"perpwire: the Ray at 127.0.0.1:{head.port} {what} (Ray token authentication): set RAY_AUTH_TOKEN to the "
        "cluster's token, or RAY_AUTH_TOKEN_PATH to a file holding it (default ~/.ray/auth_token; `ray "
        "get-auth-token` on a node of the cluster prints it)")


def test_stop_ends_a_deployment_whose_driver_is_gone(head):
    ns = "pw-stop"
    made = subprocess.run([sys.executable, "-c", DRIVER, head.gcs, ns], cwd=ROOT, env=head.env(RAY_AUTH_MODE="token"),
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr[-2000:]
    started = time.monotonic()
    stopped = head.cli("stop", "--address", head.gcs, "--namespace", ns)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == f"deployment '{ns}' stopped here (1 actors ended; no running process of it " \
                                     "answered)"
    assert time.monotonic() - started < 30  # no waiting for a process that is not there
    gone = head.cli("status", "--address", head.gcs, "--namespace", ns)
    assert gone.returncode == 1 and f"no actor perpwire-coordinator in namespace '{ns}'" in gone.stderr
