"""One deployment is one deployment: the record of where it runs, the embedded Ray on loopback
with free ports, finding (and refusing) a deployment from another process, the store checked
before anything starts, and the store's health in ``perpwire status``."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from perpwire.actors.app import deployment
from perpwire.actors.app.cli import main
from perpwire.actors.app.deployment import Deployment, DeploymentError
from perpwire.actors.store.check import StoreUnavailable, check_store, mask_url

CLI = [sys.executable, "-m", "perpwire.actors.app.cli"]

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK_IPS = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}
# Ray components that could not be bound to loopback (none in Ray 2.60: every server of the
# embedded node listens on 127.0.0.1); a process name listed here would be tolerated and the
# README would say so.
KNOWN_NON_LOOPBACK: set[str] = set()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(deployment.HOME_ENV, str(tmp_path / "home"))
    return tmp_path / "home"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait(timeout=10)
    return p.pid


def _record(name: str, address: str, pid: int) -> Deployment:
    return Deployment(name=name, address=address, namespace=name, pid=pid, host=socket.gethostname(),
                      started_ms=int(time.time() * 1000))


# --- the record (no Ray) ------------------------------------------------------------------------


def test_record_round_trip_is_atomic_and_removed_only_by_its_writer(home):
    dep = _record("alpha", "127.0.0.1:6379", os.getpid())
    path = deployment.write_record(dep)
    assert path == home / "deployments" / "alpha.json"
    assert deployment.read_record("alpha") == dep
    assert [p.name for p in path.parent.iterdir()] == ["alpha.json"]  # no temporary file left behind
    assert deployment.remove_record("alpha", pid=os.getpid() + 1) is False  # another process's record stays
    assert path.exists()
    deployment.forget("alpha")
    assert deployment.read_record("alpha") is None


def test_a_name_that_is_not_a_plain_word_is_refused(home):
    with pytest.raises(DeploymentError, match="not a deployment name"):
        deployment.record_path("../etc")


def test_locate_without_a_record_says_how_to_start_one(home):
    with pytest.raises(DeploymentError, match="no deployment named 'perpwire' is recorded"):
        deployment.locate(None, None)


def test_a_stale_record_is_reported_and_removed_when_its_process_is_gone(home):
    dead = _record("old", f"127.0.0.1:{_closed_port()}", _dead_pid())
    deployment.write_record(dead)
    with pytest.raises(DeploymentError, match=r"deployment 'old' is gone: its Ray at .* does not answer.*removed"):
        deployment.locate("old", None)
    assert deployment.read_record("old") is None


def test_a_record_whose_process_lives_is_kept_even_if_its_ray_does_not_answer(home):
    dep = _record("remote", f"127.0.0.1:{_closed_port()}", os.getpid())
    deployment.write_record(dep)
    with pytest.raises(DeploymentError, match="is gone") as info:
        deployment.locate("remote", None)
    assert "removed" not in str(info.value)
    assert deployment.read_record("remote") == dep


def test_claim_refuses_a_live_deployment_of_the_same_name_and_clears_a_stale_one(home):
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        deployment.write_record(_record("busy", f"127.0.0.1:{srv.getsockname()[1]}", os.getpid()))
        with pytest.raises(DeploymentError, match="'busy' is already running"):
            deployment.claim("busy")
    deployment.write_record(_record("stale", f"127.0.0.1:{_closed_port()}", _dead_pid()))
    deployment.claim("stale")
    assert deployment.read_record("stale") is None


def test_cli_status_without_a_deployment_is_one_line_and_exit_1(home, capsys):
    assert main(["status", "--name", "nothing"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("perpwire: no deployment named 'nothing'") and "\n" not in err


def test_the_default_ray_token_file_is_made_private(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    token = tmp_path / ".ray" / "auth_token"
    token.parent.mkdir()
    token.write_text("t" * 32)
    token.chmod(0o644)
    deployment._private_token_file()
    assert token.stat().st_mode & 0o777 == 0o600


def test_free_ports_are_distinct_and_bindable_on_loopback():
    ports = deployment.free_ports(10)
    assert len(set(ports)) == 10
    for p in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))


# --- the store is checked before anything starts (no Ray) ----------------------------------------


def test_mask_url_hides_the_password_only():
    assert mask_url("postgresql://bob:s3cr3t@db.example:5433/funding") == "postgresql://bob:***@db.example:5433/funding"
    assert mask_url("postgresql://bob@db/funding") == "postgresql://bob@db/funding"
    assert mask_url("postgresql://db/funding?user=bob&password=s3cr3t") == "postgresql://db/funding?user=bob&password=***"


async def test_an_unreachable_postgres_fails_in_seconds_naming_the_masked_url():
    port = _closed_port()
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        await check_store(f"postgresql://bob:s3cr3t@127.0.0.1:{port}/funding", timeout_s=2.0)
    assert time.monotonic() - started < 3.5
    msg = str(info.value)
    assert msg.startswith(f"store postgresql://bob:***@127.0.0.1:{port}/funding: ConnectionRefusedError")
    assert "s3cr3t" not in msg and "\n" not in msg


async def test_sqlite_store_directory_must_exist_and_the_file_be_a_database(tmp_path):
    with pytest.raises(StoreUnavailable, match="does not exist"):
        await check_store(f"sqlite:///{tmp_path}/missing/funding.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database file at all, not even close" * 20)
    with pytest.raises(StoreUnavailable, match="not a database"):
        await check_store(f"sqlite:///{junk}")
    await check_store(f"sqlite:///{tmp_path}/fresh.sqlite")  # a new file in a writable directory
    assert not (tmp_path / "fresh.sqlite").exists()  # the check creates nothing
    with pytest.raises(StoreUnavailable, match="unsupported scheme 'mysql'"):
        await check_store("mysql://x/y")


def test_cli_run_with_an_unreachable_store_exits_2_in_seconds(home, tmp_path, capsys):
    port = _closed_port()
    cfg = tmp_path / "perpwire.yaml"
    cfg.write_text("venues:\n  binance: {symbols: [BTCUSDT]}\n"
                   f"store: {{url: 'postgresql://bob:s3cr3t@127.0.0.1:{port}/funding'}}\n")
    started = time.monotonic()
    assert main(["run", "--config", str(cfg), "--name", f"bad-store-{uuid.uuid4().hex[:6]}"]) == 2
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the set-up progress line
    assert err == (f"perpwire: store postgresql://bob:***@127.0.0.1:{port}/funding: ConnectionRefusedError: "
                   f"[Errno 111] Connect call failed ('127.0.0.1', {port})")


# --- on the session's Ray -----------------------------------------------------------------------


def _stub_coordinator_class():
    import ray

    @ray.remote(num_cpus=0)
    class StubCoordinator:
        """Answers the queries the CLI makes, like the coordinator does."""

        def summary(self):
            return {"stub": True}

        def opportunities(self, n):
            return []

        def submit(self, name, params=None):
            raise ValueError(f"strategy {name}: entry_z must be positive")

        def stop(self):
            return None

    return StubCoordinator


def _rate(symbol: str):
    from perpwire.market.events import FundingRate

    return FundingRate(venue="binance", symbol=symbol, rate=Decimal("0.0001"), interval_hours=8,
                       rate_per_hour=Decimal("0.0000125"), ts=1_700_000_000_000)


def _status(ray, ns: str, capsys) -> tuple[dict, str]:
    assert main(["status", "--json", "--address", deployment.current_address(), "--name", ns]) == 0
    out, err = capsys.readouterr()
    return json.loads(out), err


def test_status_shows_store_health_and_writes_waiting(ray_local, tmp_path, capsys):
    from perpwire.actors.coordination.coordinator import COORDINATOR_NAME
    from perpwire.actors.store.actor import StoreActor

    ray = ray_local
    ns = f"t-{uuid.uuid4().hex[:8]}"
    coord = _stub_coordinator_class().options(name=COORDINATOR_NAME, namespace=ns).remote()
    store = StoreActor.options(name=deployment.STORE, namespace=ns).remote(
        f"sqlite:///{tmp_path}/funding.sqlite", flush_every_s=3600)
    down = None
    try:
        assert ray.get(store.record.remote([_rate("BTCUSDT"), _rate("ETHUSDT"), _rate("SOLUSDT")]), timeout=30) == 3
        doc, err = _status(ray, ns, capsys)
        assert doc["deployment"]["namespace"] == ns and doc["coordinator"] == {"stub": True}
        assert doc["store"]["ok"] is True and doc["store"]["error"] is None
        assert doc["store"]["writes_waiting"] == 3 and doc["store"]["backend"] == "sqlite"
        assert "DOWN" not in err

        ns_down = f"{ns}-down"
        down = [_stub_coordinator_class().options(name=COORDINATOR_NAME, namespace=ns_down).remote(),
                StoreActor.options(name=deployment.STORE, namespace=ns_down).remote(
                    f"postgresql://bob:s3cr3t@127.0.0.1:{_closed_port()}/funding")]
        doc, err = _status(ray, ns_down, capsys)
        assert doc["store"]["ok"] is False and "ConnectionRefusedError" in doc["store"]["error"]
        assert "s3cr3t" not in json.dumps(doc)
        assert err.startswith("perpwire: store is DOWN (ConnectionRefusedError")
    finally:
        for h in [coord, store, *(down or [])]:
            ray.kill(h)


def test_commands_refuse_a_cluster_without_that_deployment(ray_local, capsys):
    address = deployment.current_address()
    for argv in (["status"], ["stop"], ["submit", "funding_arb"]):
        assert main([*argv, "--address", address, "--name", "nobody-here"]) == 1
        err = capsys.readouterr().err.strip()
        assert err == (f"perpwire: the Ray at {address} holds no perpwire deployment named 'nobody-here' "
                       "(no actor perpwire-coordinator in namespace 'nobody-here')")
    assert main(["stop", "--address", "127.0.0.1:1"]) == 1  # never another Ray than the one asked for
    err = capsys.readouterr().err.strip()
    assert err == f"perpwire: this process is joined to the Ray at {address}, not 127.0.0.1:1"


def test_submit_of_an_unknown_strategy_lists_the_known_ones_before_calling_anything(home, capsys):
    assert main(["submit", "no_such_strategy", "--address", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "perpwire: unknown strategy 'no_such_strategy'; known: funding_arb"


def test_submit_refused_by_the_coordinator_is_one_line(ray_local, capsys):
    from perpwire.actors.coordination.coordinator import COORDINATOR_NAME

    ns = f"t-{uuid.uuid4().hex[:8]}"
    coord = _stub_coordinator_class().options(name=COORDINATOR_NAME, namespace=ns).remote()
    try:
        assert main(["submit", "funding_arb", "--params", "{}", "--address", deployment.current_address(),
                     "--name", ns]) == 2
        err = capsys.readouterr().err.strip()
        assert err == "perpwire: the coordinator refused 'funding_arb': ValueError: strategy funding_arb: entry_z " \
                      "must be positive"
    finally:
        ray_local.kill(coord)


def test_announce_records_this_ray_and_locate_finds_it(ray_local, home, capsys):
    dep = deployment.announce("here", "here-ns")
    out = capsys.readouterr().out
    assert f"Ray at {deployment.current_address()}, namespace 'here-ns'" in out
    found = deployment.locate("here", None)
    assert found == dep and found.address == deployment.current_address() and found.pid == os.getpid()
    deployment.forget("here")
    assert deployment.read_record("here") is None


# --- two embedded deployments side by side, found from other processes ----------------------------

CHILD = r"""
import json, os, sys
from perpwire.actors.app import deployment
import ray
import psutil

name, with_coordinator = sys.argv[1], sys.argv[2] == "1"
deployment.start_local_ray(name, num_cpus=1)

@ray.remote(num_cpus=0)
class Stub:
    def summary(self):
        return {"deployment": name}
    def opportunities(self, n):
        return []

actor = Stub.options(name="perpwire-coordinator" if with_coordinator else "something-else").remote()
ray.get(actor.summary.remote(), timeout=60)
deployment.announce(name, name, out=sys.stderr)
me = psutil.Process()
sockets = []
for p in [me, *me.children(recursive=True)]:
    try:
        sockets += [{"pid": p.pid, "name": p.name(), "ip": c.laddr.ip, "port": c.laddr.port}
                    for c in p.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
print(json.dumps({"address": deployment.current_address(), "listening": sockets}), flush=True)
sys.stdin.read()
deployment.forget(name)
deployment.shutdown_ray()
"""


def _read_line(proc: subprocess.Popen, deadline: float) -> str:
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or (proc.poll() is not None and not select.select([proc.stdout], [], [], 0)[0]):
            raise AssertionError(f"child {proc.args[-2]} did not report in time (rc={proc.poll()})")
        if select.select([proc.stdout], [], [], min(left, 0.5))[0]:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                continue
            buf += chunk
    return buf.decode()


def test_two_embedded_deployments_side_by_side_on_loopback_each_found_by_name(home, tmp_path):
    env = {**os.environ, deployment.HOME_ENV: str(home), "PYTHONPATH": str(ROOT)}
    names = [f"dep-a-{uuid.uuid4().hex[:6]}", f"dep-b-{uuid.uuid4().hex[:6]}"]
    intruder = None
    logs = [(tmp_path / f"{n}.log").open("wb") for n in names]
    children = [subprocess.Popen([sys.executable, "-c", CHILD, n, flag], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=log)
                for n, flag, log in zip(names, ("1", "0"), logs, strict=True)]
    try:
        deadline = time.monotonic() + 90
        try:
            reports = [json.loads(_read_line(c, deadline)) for c in children]
        except AssertionError:
            raise AssertionError("\n".join((tmp_path / f"{n}.log").read_text()[-3000:] for n in names)) from None
        assert reports[0]["address"] != reports[1]["address"]
        for r in reports:
            assert r["address"].startswith("127.0.0.1:")
            names_seen = {s["name"] for s in r["listening"]}
            assert {"gcs_server", "raylet"} <= names_seen, names_seen
            exposed = [s for s in r["listening"] if s["ip"] not in LOOPBACK_IPS and s["name"] not in KNOWN_NON_LOOPBACK]
            assert exposed == [], f"Ray processes listening beyond loopback: {exposed}"
            assert all(s["port"] != 52365 for s in r["listening"])  # no fixed dashboard-agent port

        # a process without the deployment's Ray token is refused by its GCS, in one line
        intruder = subprocess.Popen([*CLI, "status", "--name", names[0]], cwd=ROOT,
                                    env={**env, "RAY_AUTH_TOKEN": "not-the-token"}, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)

        def cli(*argv):
            return subprocess.run([*CLI, *argv], cwd=ROOT, env=env, timeout=60,
                                  capture_output=True, text=True)

        a = cli("status", "--json", "--name", names[0])
        assert a.returncode == 0, a.stderr
        doc = json.loads(a.stdout)
        assert doc["deployment"]["address"] == reports[0]["address"]
        assert doc["coordinator"] == {"deployment": names[0]}
        assert "store is DOWN (no store actor perpwire-store" in a.stderr
        b = cli("stop", "--name", names[1])
        assert b.returncode == 1
        assert b.stderr.strip() == (f"perpwire: the Ray at {reports[1]['address']} holds no perpwire deployment "
                                    f"named '{names[1]}' (no actor perpwire-coordinator in namespace '{names[1]}')")
        out, err = intruder.communicate(timeout=90)
        assert intruder.returncode == 2 and out == ""
        assert err.strip() == (f"perpwire: the Ray at {reports[0]['address']} refused this process's token (Ray "
                               "token authentication): set RAY_AUTH_TOKEN to the cluster's token, or "
                               "RAY_AUTH_TOKEN_PATH to a file holding it (default ~/.ray/auth_token; `ray "
                               "get-auth-token` on a node of the cluster prints it)")  # one line, no Ray retries
    finally:
        if intruder is not None and intruder.poll() is None:
            intruder.kill()
            intruder.wait(timeout=10)
        for c in children:
            c.stdin.close()
        for c in children:
            try:
                c.wait(timeout=30)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait(timeout=10)
        for log in logs:
            log.close()
    assert [deployment.read_record(n) for n in names] == [None, None]  # removed on the clean stop
