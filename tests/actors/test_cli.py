"""The console script: argument parsing and configuration errors (no Ray started)."""

from __future__ import annotations

import pytest

from actors.cli import build_parser, main


def test_cli_parses_every_command():
    p = build_parser()
    assert p.parse_args(["demo", "--duration", "5", "--seed", "3"]).duration == 5
    assert p.parse_args(["run", "--config", "x.yaml"]).config == "x.yaml"
    assert p.parse_args(["submit", "funding_arb", "--params", "{}"]).strategy == "funding_arb"
    assert p.parse_args(["stop", "funding_arb-1"]).id == "funding_arb-1"
    assert p.parse_args(["status"]).address == "auto"


def test_cli_run_with_bad_config_exits_2_naming_file_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("venues:\n  aster: {symbols: []}\n")
    assert main(["run", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "venues.aster.symbols" in err


def test_cli_requires_a_command():
    with pytest.raises(SystemExit):
        main([])
