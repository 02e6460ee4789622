"""The cluster launcher files (cluster.yaml: local provider; cluster.aws.yaml: AWS) are what Ray's
own launcher accepts: the raw file against Ray's schema (ray/autoscaler/ray-schema.json), then
the file as ``ray up`` prepares it against Ray's ``validate_config``; and they say what perpwire
needs: the same Python, Ray and perpwire on every node, nothing heavy copied, the gateway
resource on the nodes that talk to venues, token authentication on every node."""

from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from perpwire.actors.placement import GATEWAY_RESOURCE

ROOT = Path(__file__).resolve().parent.parent
FILES = {"local": ROOT / "cluster.yaml", "aws": ROOT / "cluster.aws.yaml"}
SCHEMA = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


def _load(kind: str) -> dict:
    return yaml.safe_load(FILES[kind].read_text())


def _pinned_ray() -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(d for d in deps if d.startswith("ray["))
    low = re.search(r">=([\d.]+)", spec).group(1)
    return low if low.count(".") == 2 else f"{low}.0"


@pytest.mark.parametrize("kind", sorted(FILES))
def test_the_raw_file_passes_rays_own_schema(kind):
    jsonschema.validate(_load(kind), SCHEMA)


def test_the_schema_check_would_catch_a_legacy_top_level_min_workers():
    legacy = {**_load("local"), "min_workers": 2}  # what the old cluster.yaml had
    with pytest.raises(jsonschema.ValidationError, match="min_workers"):
        jsonschema.validate(legacy, SCHEMA)


@pytest.mark.parametrize("kind", sorted(FILES))
def test_the_file_as_ray_up_prepares_it_passes_validate_config(kind):
    prepared = prepare_config(copy.deepcopy(_load(kind)))
    validate_config(prepared)
    assert prepared["head_node_type"] in prepared["available_node_types"]


@pytest.mark.parametrize("kind", sorted(FILES))
def test_every_node_gets_the_same_python_ray_and_perpwire(kind):
    cfg = _load(kind)
    assert "head_setup_commands" not in cfg and "worker_setup_commands" not in cfg  # one list for all
    setup = "\n".join(cfg["setup_commands"])
    assert "python3.11 -m venv ~/perpwire-venv" in setup
    ray_version = _pinned_ray()
    assert ray_version == ray.__version__  # the pin in pyproject.toml is the Ray the tests run on
    install = next(c for c in cfg["setup_commands"] if "pip install" in c and c.endswith(" ~/perpwire"))
    words = shlex.split(install)
    assert f"ray[default]=={ray_version}" in words
    assert words[-1] == "~/perpwire"  # perpwire from the synced checkout, the same on every node
    assert cfg["file_mounts"]["~/perpwire"] == "."
    check = cfg["setup_commands"][-1]
    assert "sys.version_info[:2] == (3, 11)" in check and f"ray.__version__ == '{ray_version}'" in check
    for start in (*cfg["head_start_ray_commands"], *cfg["worker_start_ray_commands"]):
        assert start.split(";")[-1].strip().startswith("~/perpwire-venv/bin/ray ")  # that venv's ray


@pytest.mark.parametrize("kind", sorted(FILES))
def test_token_authentication_on_every_node_perpwire_on_path_for_jobs_and_the_dashboard_on_loopback(kind):
    """Ray starts with RAY_AUTH_MODE=token everywhere, and with the venv's bin first on PATH, so a
    job's entrypoint (``ray job submit -- perpwire run ...``) finds the console script."""
    cfg = _load(kind)
    starts = [c for c in (*cfg["head_start_ray_commands"], *cfg["worker_start_ray_commands"]) if " start " in c]
    assert len(starts) == 2
    assert all(c.startswith("export RAY_AUTH_MODE=token PATH=$HOME/perpwire-venv/bin:$PATH;") for c in starts)
    assert cfg["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    assert "chmod 600 ~/.ray/auth_token" in cfg["setup_commands"]
    head = next(c for c in cfg["head_start_ray_commands"] if "--head" in c)
    assert "--dashboard-host=127.0.0.1" in head


def _resources_flag(command: str) -> dict:
    for word in shlex.split(command.split(";")[-1]):
        if word.startswith("--resources="):
            return json.loads(word.split("=", 1)[1])
    return {}


def test_local_workers_declare_the_gateway_resource_and_the_head_does_not():
    cfg = _load("local")
    worker = next(c for c in cfg["worker_start_ray_commands"] if " start " in c)
    head = next(c for c in cfg["head_start_ray_commands"] if " start " in c)
    assert _resources_flag(worker) == {GATEWAY_RESOURCE: 1}
    assert GATEWAY_RESOURCE not in _resources_flag(head)
    assert cfg["max_workers"] == len(cfg["provider"]["worker_ips"])


def test_aws_gateway_nodes_declare_the_resource_and_the_head_does_not():
    cfg = _load("aws")
    types = cfg["available_node_types"]
    head = types[cfg["head_node_type"]]
    assert GATEWAY_RESOURCE not in head["resources"]
    gateways = [t for name, t in types.items() if name != cfg["head_node_type"]]
    assert gateways and all(t["resources"].get(GATEWAY_RESOURCE) == 1 for t in gateways)
    assert sum(t["min_workers"] for t in gateways) >= 2  # SPREAD has somewhere to spread


@pytest.mark.parametrize("kind", sorted(FILES))
def test_rsync_with_the_files_excludes_copies_the_code_and_not_the_venv_git_or_artifacts(kind, tmp_path):
    """Run rsync as Ray's launcher does (one --exclude per pattern, the .gitignore filter) on a small
    tree shaped like a checkout: the code arrives, the heavy or private parts do not."""
    cfg = _load(kind)
    for must in (".venv", ".git", "artifacts"):
        assert must in cfg["rsync_exclude"]
    src, dst = tmp_path / "src", tmp_path / "dst"
    for rel in ("actors/app/cli.py", "market/book.py", "pyproject.toml", ".venv/lib/big.so", ".git/objects/pack",
                "artifacts/run/bench.json", "market/__pycache__/book.cpython-311.pyc", "perpwire.sqlite"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text("x")
    (src / ".gitignore").write_text((ROOT / ".gitignore").read_text())
    args = ["rsync", "-a"]
    for pattern in cfg["rsync_exclude"]:
        args += ["--exclude", pattern]
    for name in cfg["rsync_filter"]:
        args += ["--filter", f"dir-merge,- {name}"]
    subprocess.run([*args, f"{src}/", f"{dst}/"], check=True, timeout=30)
    copied = {str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file()}
    assert copied == {"actors/app/cli.py", "market/book.py", "pyproject.toml", ".gitignore"}


def test_a_jobs_working_dir_upload_carries_the_configuration_and_not_the_code(tmp_path):
    """``ray job submit --working-dir .`` zips the checkout as Ray's packaging does (.gitignore and
    .rayignore honoured): the configuration files travel, the code does not (the nodes' installed
    perpwire is used; an uploaded copy would come first on the workers' PYTHONPATH and shadow it)."""
    import zipfile

    from ray._private.runtime_env.packaging import _zip_files

    out = tmp_path / "wd.zip"
    _zip_files(str(ROOT), [], str(out), include_gitignore=True)
    names = set(zipfile.ZipFile(out).namelist())
    assert {"perpwire.example.yaml", "perpwire.sim.yaml", "cluster.yaml", "pyproject.toml"} <= names
    tops = {n.split("/", 1)[0] for n in names}
    assert not tops & {"perpwire", "market", "venues", "strategies", "actors", "simulator", "tests", "bench", ".venv",
                       ".git", "artifacts"}, sorted(tops)
    assert not [n for n in names if n.endswith(".py")]
