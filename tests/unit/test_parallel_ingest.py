"""Parallel ingestion on Ray gives exactly the single-process build: same table, same digest, same rejects."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from features.dataset import build_dataset, read_source
from features.parallel import batches, ray_map_sources
from features.paths import shared_dir
from features.sources import discover
from tests.ray_session import ray_local_fixture  # noqa: F401 (provides the ray_local fixture)

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("ray_local")]

LETTERS = shared_dir() / "data" / "raw" / "dwc-imr-letters"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "letters"


def _same_build(single: Any, parallel: Any) -> None:
    pd.testing.assert_frame_equal(single.table, parallel.table)
    assert single.manifest["content_digest"] == parallel.manifest["content_digest"]
    assert single.rejects == parallel.rejects
    assert single.manifest["sources"] == parallel.manifest["sources"]


def test_batches_keep_order_and_cover_everything() -> None:
    sources, _ = discover([str(FIXTURES)])
    chunks = batches(sources, 2)
    assert [s for chunk in chunks for s in chunk] == sources
    assert all(1 <= len(chunk) <= 2 for chunk in chunks)
    with pytest.raises(ValueError):
        batches(sources, 0)


def test_results_in_input_order_one_file_per_task() -> None:
    sources, _ = discover([str(FIXTURES)])
    assert len(sources) >= 3
    expected = [read_source(s) for s in sources]
    assert ray_map_sources(read_source, sources, num_workers=2, files_per_task=1) == expected
    assert ray_map_sources(read_source, [], num_workers=2) == []


def test_shipping_file_bytes_gives_the_same_items() -> None:
    """A cluster whose nodes lack the driver's disk gets the files' bytes: same items, same rejects, same order."""
    sources, _ = discover([str(FIXTURES)])
    expected = [read_source(s) for s in sources]
    assert ray_map_sources(read_source, sources, num_workers=2, files_per_task=2, ship_files=True) == expected


def test_fixture_letters_same_build(tmp_path: Path) -> None:
    single = build_dataset([str(FIXTURES)], tmp_path / "single")
    parallel = build_dataset(
        [str(FIXTURES)], tmp_path / "ray", map_sources=partial(ray_map_sources, num_workers=2, files_per_task=1)
    )
    _same_build(single, parallel)


@pytest.mark.data
@pytest.mark.skipif(not LETTERS.is_dir(), reason=f"the public letters are not at {LETTERS} (set IMR_SHARED_DIR)")
def test_real_letters_same_table_and_digest(tmp_path: Path) -> None:
    single = build_dataset([str(LETTERS)], tmp_path / "single")
    parallel = build_dataset([str(LETTERS)], tmp_path / "ray", map_sources=partial(ray_map_sources, num_workers=2))
    _same_build(single, parallel)
    assert single.manifest["rows"] > 300
    assert (tmp_path / "single" / "items.parquet").read_bytes() == (tmp_path / "ray" / "items.parquet").read_bytes()
    shipped = build_dataset(
        [str(LETTERS)], tmp_path / "shipped", map_sources=partial(ray_map_sources, num_workers=2, ship_files=True)
    )
    _same_build(single, shipped)


def test_local_ray_binds_loopback_and_cluster_gets_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    from features.parallel import _init_kwargs, default_engine, ray_address

    local = _init_kwargs(2, None)
    assert (local["address"], local["_node_ip_address"], local["include_dashboard"], local["num_cpus"]) == (
        "local",
        "127.0.0.1",
        False,
        2,
    )
    remote = _init_kwargs(2, "ray://head:10001")
    assert remote["address"] == "ray://head:10001" and "num_cpus" not in remote
    assert {Path(p).name for p in remote["runtime_env"]["py_modules"]} == {"features", "serving", "training"}
    monkeypatch.setenv("RAY_ADDRESS", " ")
    assert ray_address() is None and default_engine() == "local"
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    assert default_engine() == "ray"
