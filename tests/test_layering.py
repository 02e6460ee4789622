"""The layering rules, checked by parsing every module's imports with ``ast``.

- every layer is imported under the one root ``perpwire`` (never as a bare ``market``, ...);
- ``market`` imports nothing from the repo; ``venues`` and ``strategies`` import only ``market``;
- only ``actors`` and ``simulator`` import ray, asyncio, websockets or aiohttp;
- nothing imports ``simulator`` except tests, bench and the CLI's demo wiring.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("market", "venues", "strategies", "actors", "simulator")
IO_MODULES = {"ray", "asyncio", "websockets", "aiohttp", "asyncpg", "aiosqlite"}
ALLOWED_REPO_IMPORTS = {
    "market": {"market"},
    "venues": {"market", "venues"},
    "strategies": {"market", "strategies"},
    "actors": {"market", "venues", "strategies", "actors"},
    "simulator": {"market", "venues", "simulator"},
}
SIMULATOR_IMPORTERS = {"actors/app/cli.py", "actors/app/demo.py"}


def _layer(module: str) -> str:
    """``perpwire.venues.base`` -> ``venues``; anything outside the root -> its top-level name."""
    parts = module.split(".")
    return parts[1] if parts[0] == "perpwire" and len(parts) > 1 else parts[0]


def _imports(path: Path) -> set[str]:
    """The layers (and outside modules) a file imports; a bare ``market`` stays ``market`` too,
    which ``test_every_import_goes_through_the_perpwire_root`` refuses."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(_layer(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "perpwire":  # from perpwire import venues
                found.update(alias.name for alias in node.names)
            else:
                found.add(_layer(node.module))
    return found


def _bare(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module]
    return {m.split(".")[0] for m in names} & set(PACKAGES)


def _modules():
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            yield pytest.param(pkg, path, id=str(path.relative_to(ROOT)))


@pytest.mark.parametrize(("pkg", "path"), list(_modules()))
def test_module_imports_follow_layering(pkg, path):
    imported = _imports(path)
    rel = str(path.relative_to(ROOT))
    repo = imported & set(PACKAGES)
    allowed = set(ALLOWED_REPO_IMPORTS[pkg])
    if rel in SIMULATOR_IMPORTERS:
        allowed.add("simulator")
    assert repo <= allowed, f"{rel} imports {sorted(repo - allowed)}"
    if pkg not in ("actors", "simulator"):
        assert not imported & IO_MODULES, f"{rel} imports I/O modules {sorted(imported & IO_MODULES)}"


def _everything():
    for folder in (*PACKAGES, "tests", "bench", "perpwire"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield pytest.param(path, id=str(path.relative_to(ROOT)))


@pytest.mark.parametrize("path", list(_everything()))
def test_every_import_goes_through_the_perpwire_root(path):
    assert not _bare(path), f"{path.relative_to(ROOT)} imports {sorted(_bare(path))} without the perpwire root"


def test_layering_check_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import asyncio\nfrom perpwire.venues.aster import codec\nfrom perpwire import actors\n"
                   "from market import book\n")
    assert {"asyncio", "venues", "actors", "market"} <= _imports(bad)
    assert _bare(bad) == {"market"}
