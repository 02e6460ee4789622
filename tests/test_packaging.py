"""perpwire installs beside any other package: one import root, nothing else.

The wheel holds ``perpwire/`` (and its dist-info) only, ships ``py.typed``, and its console script
is ``perpwire.actors.app.cli:main``; in the installed environment a bare ``import actors`` (or
``market``, ``venues``, ``strategies``, ``simulator``) fails, and ``import perpwire`` is light.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("market", "venues", "strategies", "actors", "simulator")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True, timeout=300, capture_output=True)
    [built] = out.glob("perpwire-*.whl")
    return built


def test_the_wheel_holds_the_perpwire_root_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"perpwire", next(t for t in tops if t.endswith(".dist-info"))}
    assert "perpwire/py.typed" in names
    for layer in LAYERS:  # every layer, under the root
        assert f"perpwire/{layer}/__init__.py" in names
    assert "perpwire/actors/streams/connection.py" in names and "perpwire/simulator/servers/aster.py" in names
    for page in ("index.html", "app.js", "app.css"):  # the dashboard's static files ship as package data
        assert f"perpwire/actors/dashboard/static/{page}" in names
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "perpwire = perpwire.actors.app.cli:main" in entry


@pytest.mark.parametrize("layer", LAYERS)
def test_a_bare_layer_import_fails_once_installed(tmp_path, layer):
    """Outside the repository (so its folders are not on the path) only ``perpwire`` exists."""
    proc = subprocess.run([sys.executable, "-c", f"import {layer}"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0 and f"No module named '{layer}'" in proc.stderr
    proc = subprocess.run([sys.executable, "-c", f"import perpwire.{layer}"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_import_perpwire_is_light_and_gives_the_public_entry_points(tmp_path):
    code = ("import sys, perpwire; assert 'ray' not in sys.modules, 'ray imported'; "
            "assert {'Runtime', 'StreamConnection', 'OrderBook', 'FundingRate', 'codec'} <= set(perpwire.__all__); "
            "c = perpwire.codec('binance'); assert c.name == 'binance'; "
            "print(perpwire.OrderBook.__module__)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "perpwire.market.book"
