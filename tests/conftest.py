"""Shared fixtures: one local Ray instance for every test that needs Ray (started on first use)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = ROOT / "tests" / "fixtures"  # recorded venue payloads; each folder's SOURCES.md gives their provenance


def fixture_loader(venue: str):
    """``load(name) -> bytes`` for one venue's fixtures: the one loader every test module uses."""
    folder = FIXTURES_DIR / venue

    def load(name: str) -> bytes:
        return (folder / name).read_bytes()

    return load
os.environ.setdefault("PERPWIRE_EXTRA_CODECS", "stub=tests.actors.stub_venue:StubCodec")


@pytest.fixture(scope="session")
def ray_local():
    """The embedded Ray as perpwire starts it (127.0.0.1 only, free ports), two CPUs."""
    import ray

    from perpwire.actors.app.deployment import shutdown_ray, start_local_ray

    if not ray.is_initialized():
        start_local_ray(num_cpus=2, runtime_env={"env_vars": {
            "PYTHONPATH": str(ROOT), "PERPWIRE_EXTRA_CODECS": os.environ["PERPWIRE_EXTRA_CODECS"]}})
    yield ray
    shutdown_ray()
