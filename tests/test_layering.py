"""DESIGN.md's import rules, checked by parsing every module's imports with ``ast``.

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
SIMULATOR_IMPORTERS = {"actors/cli.py", "actors/demo.py"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


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


def test_layering_check_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import asyncio\nfrom venues.aster import codec\n")
    assert {"asyncio", "venues"} <= _imports(bad)
