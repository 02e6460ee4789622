"""``perpwire run`` and ``perpwire stop`` through the real CLI, against ``perpwire sim``: stop ends
the whole deployment (streams, coordinator, store) and the ``run`` process exits with its summary;
Ctrl-C does the same and exits 130."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from perpwire.actors.app import deployment

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "perpwire.actors.app.cli"]


def _read_until(proc: subprocess.Popen, stream, done, timeout_s: float) -> bytes:
    out, deadline = b"", time.monotonic() + timeout_s
    while not done(out):
        assert time.monotonic() < deadline and proc.poll() is None, (out[-2000:], proc.poll())
        if select.select([stream], [], [], 0.5)[0]:
            out += os.read(stream.fileno(), 65536)
    return out


@pytest.fixture
def sim():
    proc = subprocess.Popen([*CLI, "sim", "--seed", "3", "--venues", "binance"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        info = json.loads(_read_until(proc, proc.stdout, lambda b: b.endswith(b"\n}\n"), 30))
        yield info
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _run(sim, tmp_path, name):
    urls = sim["venues"]["binance"]
    cfg = tmp_path / "sim.yaml"
    cfg.write_text(f"venues:\n  binance: {{symbols: [BTCUSDT, ETHUSDT], codec_options: "
                   f"{{ws_url: '{urls['ws']}', rest_url: '{urls['rest']}'}}}}\n"
                   f"coordinator: {{tradable_venues: []}}\nstore: {{url: 'sqlite:///{tmp_path / 'f.sqlite'}'}}\n"
                   "dashboard: {port: 0}\n")  # any free port: a dashboard on 8650 elsewhere is not in the way
    env = {**os.environ, deployment.HOME_ENV: str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    run = subprocess.Popen([*CLI, "run", "--config", str(cfg), "--name", name], cwd=tmp_path, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = _read_until(run, run.stdout, lambda b: b"perpwire: deployment '" in b and b"dashboard: " in b
                          and b.endswith(b"\n"), 120)
    except BaseException:  # never leave a deployment running behind a failed test
        run.send_signal(signal.SIGINT)
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            run.kill()
        raise
    return run, env, out


def test_stop_ends_the_whole_deployment_and_run_exits_with_its_summary(sim, tmp_path):
    name = f"stop-{uuid.uuid4().hex[:6]}"
    run, env, started = _run(sim, tmp_path, name)
    try:
        [url] = [ln.split(" ", 1)[1] for ln in started.decode().splitlines() if ln.startswith("dashboard: ")]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        dash = subprocess.run([*CLI, "dashboard", "--name", name, "--no-open"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert dash.returncode == 0 and dash.stdout == f"dashboard: {url}\n", dash.stderr
        deadline = time.monotonic() + 10
        while b'perpwire_stream_messages_total{venue="binance",stream="funding"}' not in (
                metrics := urllib.request.urlopen(url + "metrics", timeout=5).read()):
            assert time.monotonic() < deadline, metrics[:2000]
            time.sleep(0.5)
        status = subprocess.run([*CLI, "status", "--name", name], cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        assert lines[0].startswith(f"deployment {name!r} at 127.0.0.1:") and "store: ok (sqlite)" in lines[1]
        [row] = [ln for ln in lines if ln.strip().startswith("binance/funding")]
        assert row.split()[1] == "connected" and int(row.split()[2]) > 0  # frames received
        assert max(len(ln) for ln in lines if not ln.startswith('deployment')) <= 80
        doc = json.loads(subprocess.run([*CLI, "status", "--json", "--name", name], cwd=tmp_path, env=env,
                                        capture_output=True, text=True, timeout=60).stdout)
        assert [s["stream"] for s in doc["streams"]] == ["funding"] and doc["streams"][0]["connected"]
        stop = subprocess.run([*CLI, "stop", "--name", name], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
        assert stop.returncode == 0, stop.stderr
        assert stop.stdout.strip() == f"deployment {name!r} stopped"
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err[-2000:]
        assert b"summary" in out and b"funding rates ingested" in out
        assert f"stopping deployment {name!r} (perpwire stop)".encode() in err
        assert b"1 of 1 streams connected" in err  # set-up progress, then the history backfill
        assert b"settled funding rates loaded; statistics for 2 symbols" in err
        again = subprocess.run([*CLI, "status", "--name", name], cwd=tmp_path, env=env, capture_output=True,
                               text=True, timeout=60)
        assert again.returncode == 1 and "no deployment" in again.stderr.lower()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(timeout=30)


def test_ctrl_c_in_run_stops_cleanly_and_exits_130(sim, tmp_path):
    name = f"sigint-{uuid.uuid4().hex[:6]}"
    run, _, _ = _run(sim, tmp_path, name)
    try:
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
        assert run.returncode == 130, err[-2000:]
        assert err.count(b"Traceback") == 0
        assert not (tmp_path / "home" / "deployments" / f"{name}.json").exists()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(timeout=30)


def test_ctrl_c_during_the_demos_set_up_stops_everything_and_exits_130(tmp_path):
    env = {**os.environ, deployment.HOME_ENV: str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    demo = subprocess.Popen([*CLI, "demo", "--no-live", "--duration", "30"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _read_until(demo, demo.stdout, lambda b: b"perpwire: deployment '" in b, 120)  # Ray and actors up
        demo.send_signal(signal.SIGINT)  # now it backfills funding history: still setting up
        interrupted = time.monotonic()
        _, err = demo.communicate(timeout=90)
        assert demo.returncode == 130, err[-3000:]
        assert time.monotonic() - interrupted < 30  # stops at once, not after the set-up
        assert b"Traceback" not in err and b"demo interrupted" in err
        assert not (tmp_path / "home" / "deployments" / "perpwire.json").exists()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=30)
