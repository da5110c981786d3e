"""The soak test, short: ``benchmarks/soak.py`` for 30 s (plus 5 s of warm-up) with 50 clients.

The real server (``python -m serving``) with its production settings (API key on) on a free 127.0.0.1 port, the
fake champions of ``tests/conftest.py``, the full request mix (good, bad, letters, wrong keys): no failed request,
no 5xx, server memory growth under 10 %, no request text or key in the server's log. ``make soak`` runs 10 minutes.
"""

from __future__ import annotations

import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import FakeRegistry

pytestmark = [pytest.mark.api, pytest.mark.slow]

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


def load_soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("imr_soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_short_soak(fake_registry: FakeRegistry) -> None:
    soak = load_soak()
    cfg = soak.SoakConfig(seconds=30.0, clients=50, warmup_s=5.0, tracking_uri=fake_registry.uri, sample_every_s=3.0)
    # A thread of its own: an earlier test (Playwright's sync API) may leave an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        report = pool.submit(soak.run, cfg).result()
    print("\n" + report.table())
    assert report.ok, report.problems
    assert report.failed == 0 and report.server_errors == 0
    assert report.rss_growth < 0.10
    assert report.served > 1000 and all(row["served"] > 0 for row in report.by_kind.values())
    assert not report.marker_in_log and not report.key_in_log
