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
