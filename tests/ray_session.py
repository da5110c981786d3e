"""One local Ray for a whole test session (start-up takes seconds): import ``ray_local_fixture`` into a test module
and ask for ``ray_local``.

Bound to 127.0.0.1, two CPUs, no dashboard, no usage stats; shut down at the end of the session if it started it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session", name="ray_local")
def ray_local_fixture() -> Iterator[Any]:
    """A running local Ray (the code under test reuses it instead of starting its own)."""
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: make install-ray")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started = not ray.is_initialized()
    if started:
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
        )
    yield ray
    if started:
        ray.shutdown()
