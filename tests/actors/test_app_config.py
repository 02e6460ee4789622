"""Configuration files: the example parses, and errors name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from perpwire.actors.app.config import SecretRef, load_config
from perpwire.market.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_parses_with_every_venue():
    cfg = load_config(ROOT / "perpwire.example.yaml")
    assert set(cfg.venues) == {"aster", "backpack", "lighter", "binance", "bybit", "hyperliquid", "kucoin"}
    assert cfg.strategy.name == "funding_arb" and cfg.paper


def test_config_error_names_file_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("venues:\n  aster: {symbols: []}\nstore: {url: 3}\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    text = str(err.value)
    assert str(bad) in text and "venues.aster.symbols" in text and "store.url" in text


def test_config_toml_and_unknown_venue(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[venues.nowhere]\nsymbols = ["X"]\n')
    with pytest.raises(ConfigError, match="unknown venue 'nowhere'"):
        load_config(f)


def test_config_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    f = tmp_path / "x.yaml"
    f.write_text("venues: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(f)


def test_secret_ref_reads_env_and_never_shows_value(monkeypatch, tmp_path):
    monkeypatch.setenv("PW_SECRET", "s3cr3t-value")
    ref = SecretRef(env="PW_SECRET")
    assert ref.read() == "s3cr3t-value" and "s3cr3t" not in repr(ref)
    monkeypatch.delenv("PW_SECRET")
    with pytest.raises(ConfigError, match="PW_SECRET is not set") as err:
        ref.read()
    assert "s3cr3t" not in str(err.value)
    path = tmp_path / "k"
    path.write_text("filevalue\n")
    assert SecretRef(file=path).read() == "filevalue"


# --- everything is checked at load time, before Ray or any actor starts -------------------------


def _load(tmp_path, text: str):
    f = tmp_path / "c.yaml"
    f.write_text("venues:\n  binance: {symbols: [BTCUSDT]}\n" + text)
    return load_config(f)


@pytest.mark.parametrize(("extra", "expect"), [
    ("strategy: {name: funding_arb, params: {notional: -5}}", "strategy: Value error, params.notional: Input should"),
    ("strategy: {name: funding_arb, params: {entry_z: -1}}", "params.entry_z: Input should be greater than or equal"),
    ("strategy: {name: funding_arb, params: {no_such_knob: 1}}", "params.no_such_knob: Extra inputs"),
    ("strategy: {name: martingale}", "unknown strategy 'martingale'; known: funding_arb"),
    ("store: {url: 'mysql://u@h/db'}", "store.url: Value error, unsupported store 'mysql'"),
])
def test_bad_strategy_and_store_fail_at_load_naming_the_field(tmp_path, extra, expect):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, extra + "\n")
    assert expect in str(err.value) and "c.yaml" in str(err.value)


@pytest.mark.parametrize(("venue_cfg", "expect"), [
    ("{symbols: [BTCUSDT], stream_overrides: {stale_afte_s: 3}}",
     "venues.binance.stream_overrides: unknown field(s) stale_afte_s"),
    ("{symbols: [BTCUSDT], stream_overrides: {backoff_base_s: -1}}",
     "venues.binance.stream_overrides.backoff_base_s: Input should be greater than 0"),
    ("{symbols: [BTCUSDT], codec_options: {wss_url: 'ws://x'}}", "venues.binance.codec_options:"),
])
def test_bad_stream_overrides_and_codec_options_fail_at_load(tmp_path, venue_cfg, expect):
    f = tmp_path / "c.yaml"
    f.write_text(f"venues:\n  binance: {venue_cfg}\n")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert expect in str(err.value)


def test_the_cli_refuses_a_bad_config_in_seconds_with_one_block_and_exit_2(tmp_path):
    import subprocess
    import sys
    import time

    f = tmp_path / "bad.yaml"
    f.write_text("venues:\n  binance: {symbols: [BTCUSDT], stream_overrides: {nope: 1}}\n"
                 "strategy: {name: funding_arb, params: {max_positions: 0}}\nstore: {url: 'mysql://x'}\n")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "perpwire.actors.app.cli", "run", "--config", str(f)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and time.monotonic() - started < 20
    assert "Traceback" not in proc.stderr
    for field in ("venues", "strategy", "store.url"):
        assert field in proc.stderr


async def test_the_ready_simulator_config_points_at_what_perpwire_sim_serves():
    from perpwire.simulator.server import Simulator

    cfg = load_config(ROOT / "perpwire.sim.yaml")
    sim = Simulator(seed=1, venues=tuple(cfg.venues), port=8700)
    await sim.start()
    try:
        for venue, vc in cfg.venues.items():
            assert vc.codec_options["ws_url"] == sim.urls[venue]["ws"]
            assert vc.codec_options["rest_url"] == sim.urls[venue]["rest"]
    finally:
        await sim.stop()
