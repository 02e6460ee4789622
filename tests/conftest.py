"""Shared fixtures: one local Ray instance for every test that needs Ray (started on first use)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PERPWIRE_EXTRA_CODECS", "stub=tests.actors.stub_venue:StubCodec")


@pytest.fixture(scope="session")
def ray_local():
    import ray

    if not ray.is_initialized():
        ray.init(
            address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": str(ROOT),
                                      "PERPWIRE_EXTRA_CODECS": os.environ["PERPWIRE_EXTRA_CODECS"]}},
        )
    yield ray
    ray.shutdown()
