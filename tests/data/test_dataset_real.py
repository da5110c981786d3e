"""The real build: every source under ../shared/data/raw -> one leak-free table, the same digest twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.dataset import BuildResult, build_dataset
from features.paths import shared_dir
from features.view import find_leaks, view_frame

pytestmark = pytest.mark.data

RAW = shared_dir() / "data" / "raw"
if not RAW.is_dir():
    pytest.skip(f"the public data is not at {RAW} (set IMR_SHARED_DIR)", allow_module_level=True)


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return build_dataset([str(RAW)], tmp_path_factory.mktemp("data"))


def test_counts(build: BuildResult) -> None:
    by_label = build.manifest["rows_by_jurisdiction_and_label"]
    dwc = by_label["dwc/Upheld"] + by_label["dwc/Overturned"]
    assert 300 <= dwc <= 500
    assert 0.05 <= by_label["dwc/Overturned"] / dwc <= 0.20
    # 19,228 rows of the old export + 20 of the current sample (present as CSV and parquet: deduplicated).
    assert by_label["dmhc/Upheld"] + by_label["dmhc/Overturned"] == 19_228 + 20
    assert build.manifest["deduplication"]["exact_duplicates"] >= 20
    letters = {s["path"] for s in build.manifest["sources"] if s["kind"] == "letter" and s["rows"]}
    assert len(letters) == 164


def test_every_reject_has_a_source_and_reason(build: BuildResult) -> None:
    assert build.manifest["rejects"]["count"] == len(build.rejects)
    for reject in build.rejects:
        assert reject["source"] and reject["reason"]


def test_model_input_is_leak_free_and_keeps_ur_quotes(build: BuildResult) -> None:
    frame = view_frame(build.table)
    assert find_leaks(frame) == []
    dwc = frame[frame["jurisdiction"] == "dwc"]
    assert dwc["summary"].str.contains("utilization review", case=False).mean() > 0.3


def test_rationale_kept_in_table_but_not_in_input(build: BuildResult) -> None:
    dwc = build.table[build.table["jurisdiction"] == "dwc"]
    assert dwc["rationale"].notna().all()
    assert "rationale" not in view_frame(dwc).columns


def test_rebuild_gives_the_same_digest(build: BuildResult, tmp_path: Path) -> None:
    again = build_dataset([str(RAW)], tmp_path)
    assert again.manifest["content_digest"] == build.manifest["content_digest"]
