"""The console script: argument parsing, configuration errors and the simulator command (no Ray
started; the deployment commands are in test_deployment.py)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perpwire.actors.app.cli import build_parser, main
from perpwire.simulator.standalone import simulator_options

CLI = [sys.executable, "-m", "perpwire.actors.app.cli"]

ROOT = Path(__file__).resolve().parents[2]


def test_cli_parses_every_command():
    p = build_parser()
    assert p.parse_args(["demo", "--duration", "5", "--seed", "3"]).duration == 5
    assert p.parse_args(["run", "--config", "x.yaml"]).config == "x.yaml"
    assert p.parse_args(["submit", "funding_arb", "--params", "{}"]).strategy == "funding_arb"
    assert p.parse_args(["stop", "funding_arb-1"]).id == "funding_arb-1"
    status = p.parse_args(["status"])
    assert (status.address, status.name) == (None, "perpwire")  # the recorded deployment, never Ray's "auto"
    assert p.parse_args(["stop", "--name", "other", "--address", "127.0.0.1:6379"]).address == "127.0.0.1:6379"
    assert p.parse_args(["run", "--config", "x.yaml", "--name", "second"]).name == "second"


def test_cli_sim_takes_the_simulator_options():
    args = build_parser().parse_args(["sim", "--seed", "7", "--speed", "2.5", "--port", "0", "--venues", "aster,bybit",
                                      "--symbols", "500", "--procs", "3", "--enforce-limits"])
    assert simulator_options(args) == {"host": "127.0.0.1", "port": 0, "seed": 7, "speed": 2.5, "tick_s": 0.05,
                                       "symbols": 500, "enforce_limits": True, "procs": 3,
                                       "venues": ["aster", "bybit"]}
    defaults = simulator_options(build_parser().parse_args(["sim"]))
    assert (defaults["symbols"], defaults["procs"], defaults["enforce_limits"]) == (3, 1, False)
    for bad in (["sim", "--no-such-option"], ["sim", "--symbols", "0"], ["sim", "--procs", "two"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(bad)


def test_perpwire_sim_seed_7_serves_on_loopback_until_interrupted():
    proc = subprocess.Popen([*CLI, "sim", "--seed", "7", "--venues", "binance"],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        out, deadline = b"", time.monotonic() + 30
        while not out.endswith(b"\n}\n"):  # one indented JSON document
            assert time.monotonic() < deadline and proc.poll() is None, (out, proc.poll())
            if select.select([proc.stdout], [], [], 0.5)[0]:
                out += os.read(proc.stdout.fileno(), 65536)
        info = json.loads(out)
        assert info["base_url"].startswith("http://127.0.0.1:") and list(info["venues"]) == ["binance"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_cli_run_with_bad_config_exits_2_naming_file_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("venues:\n  aster: {symbols: []}\n")
    assert main(["run", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "venues.aster.symbols" in err


def test_cli_requires_a_command():
    with pytest.raises(SystemExit):
        main([])


def test_verbose_reaches_the_actors_through_the_environment(monkeypatch):
    import logging

    from perpwire.actors.app import cli
    from perpwire.actors.logs import LOG_LEVEL_ENV, apply_log_level

    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if k != LOG_LEVEL_ENV})  # undone after
    monkeypatch.setattr(logging.getLogger("perpwire"), "level", logging.NOTSET)
    cli._logging(False)
    assert LOG_LEVEL_ENV not in os.environ
    cli._logging(True)  # what `perpwire -v` does before it starts Ray: the runtime env carries it
    assert os.environ[LOG_LEVEL_ENV] == "INFO"
    apply_log_level()  # what every actor does in its constructor
    assert logging.getLogger("perpwire").level == logging.INFO
