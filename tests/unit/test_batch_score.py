"""Batch scoring: Ray and in-process give identical results, rows keep their order and ids, bad rows are reported.

Scores with the fake keyword champions of ``tests/conftest.py`` (a temporary SQLite registry), never the project's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from serving.batch import (
    OUTPUT_COLUMNS,
    BatchInputError,
    resolve_engine,
    score_file,
    validate_row,
)
from tests.ray_session import ray_local_fixture  # noqa: F401 (provides the ray_local fixture)

pytestmark = pytest.mark.unit

SUMMARY = "Chronic low back pain after a lifting injury; utilization review denied the request."
GOOD: list[dict[str, Any]] = [
    {"id": "a-1", "jurisdiction": "dwc", "item_text": "Norco 10/325 mg, quantity unspecified", "summary": SUMMARY},
    {"id": "a-2", "jurisdiction": "dwc", "item_text": "MRI of the lumbar spine", "summary": SUMMARY},
    {"id": "b-1", "jurisdiction": "dmhc", "item_text": "Inpatient rehabilitation", "report_year": 2015},
    {"id": "a-3", "jurisdiction": "DWC ", "item_text": "Physical therapy 6 weeks", "claims_guideline": "MTUS"},
]
BAD: list[dict[str, Any]] = [
    {"id": "x-1", "jurisdiction": "medicare", "item_text": "Hip replacement"},
    {"id": "x-2", "jurisdiction": "dwc", "item_text": "   "},
    {"id": "a-1", "jurisdiction": "dwc", "item_text": "Repeated id"},
    {"id": "x-3", "jurisdiction": "dwc", "item_text": "Acupuncture", "report_year": "last year"},
]


def _rows() -> list[dict[str, Any]]:
    """Good and bad rows interleaved, so order and position are checked too."""
    return [GOOD[0], BAD[0], GOOD[1], BAD[1], GOOD[2], BAD[2], GOOD[3], BAD[3]]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    frame = pd.DataFrame(rows)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.astype({"report_year": "string"}).to_parquet(path, index=False)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_validate_row_reasons_name_fields_not_text() -> None:
    assert validate_row({"jurisdiction": "dwc", "item_text": "MRI"}).item_text == "MRI"  # type: ignore[union-attr]
    reason = validate_row({"jurisdiction": "dwc", "item_text": "secret clinical words", "report_year": "x"})
    assert isinstance(reason, str) and "report_year" in reason and "secret" not in reason
    long = validate_row({"jurisdiction": "dwc", "item_text": "MRI", "summary": "word " * 50}, max_text_bytes=100)
    assert isinstance(long, str) and "summary" in long


def test_engine_follows_ray_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert resolve_engine(None) == "local"
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    assert resolve_engine(None) == "ray"
    assert resolve_engine("local") == "local"


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_local_scores_good_rows_in_order_and_rejects_bad_ones(fake_registry: Any, tmp_path: Path, suffix: str) -> None:
    source = _write(tmp_path / f"requests{suffix}", _rows())
    report = score_file(source, tmp_path / "out.parquet", "local", fake_registry.uri)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert out["id"].tolist() == ["a-1", "a-2", "b-1", "a-3"]
    assert out["jurisdiction"].tolist() == ["dwc", "dwc", "dmhc", "dwc"]
    assert out["p_upheld"].tolist() == pytest.approx([0.85, 0.15, 0.5, 0.15])
    # The band is the verdict (as in the API): 0.5 is "uncertain", which has no label.
    assert out["band"].tolist() == ["likely_upheld", "likely_overturned", "uncertain", "likely_overturned"]
    assert out["label"].fillna("").tolist() == ["Upheld", "Overturned", "", "Overturned"]
    assert out["top_reasons"][0][0]["code"] == "quantity_unspecified"
    assert set(out["model_version"]) == {"1"}
    rejects = pd.read_csv(report.rejects_path, dtype={"id": str}, keep_default_na=False)
    assert rejects["id"].tolist() == ["x-1", "x-2", "a-1", "x-3"]
    assert rejects["row"].tolist() == [2, 4, 6, 8]
    assert "jurisdiction" in rejects["reason"][0] and "item_text" in rejects["reason"][1]
    assert "repeats" in rejects["reason"][2] and "report_year" in rejects["reason"][3]
    assert (report.rows, report.scored, report.rejected) == (8, 4, 4)
    assert report.model_versions == {"dmhc": "1", "dwc": "1"}


def test_ids_from_row_numbers_and_missing_champion(tmp_path: Path, fresh_fake_registry: Any) -> None:
    from mlflow import MlflowClient

    MlflowClient(fresh_fake_registry.uri, fresh_fake_registry.uri).delete_registered_model_alias("imr-dmhc", "champion")
    rows = [{k: v for k, v in r.items() if k != "id"} for r in GOOD]
    source = _write(tmp_path / "requests.jsonl", [*rows[:2], {"not": "a request"}, *rows[2:]])
    (tmp_path / "requests.jsonl").write_text(source.read_text() + "{broken json\n", encoding="utf-8")
    rejects_path = tmp_path / "bad" / "rejects.csv"
    report = score_file(source, tmp_path / "out.parquet", "local", fresh_fake_registry.uri, rejects_path)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["id"].tolist() == ["1", "2", "5"]
    rejects = pd.read_csv(rejects_path, dtype={"id": str}, keep_default_na=False)
    assert rejects["row"].tolist() == [3, 4, 6]
    assert "no champion" in rejects["reason"][1]
    assert "JSON" in rejects["reason"][2]
    assert report.rows == report.scored + report.rejected == 6


def test_whole_file_problems_raise(fake_registry: Any, tmp_path: Path) -> None:
    with pytest.raises(BatchInputError, match="does not exist"):
        score_file(tmp_path / "absent.csv", tmp_path / "out.parquet", "local", fake_registry.uri)
    source = _write(tmp_path / "requests.csv", [{"id": "1", "text": "MRI"}])
    with pytest.raises(BatchInputError, match="jurisdiction or item_text"):
        score_file(source, tmp_path / "out.parquet", "local", fake_registry.uri)
    with pytest.raises(BatchInputError, match=r"\*\.csv, \*\.jsonl or \*\.parquet"):
        score_file(source, tmp_path / "out.xlsx", "local", fake_registry.uri)


@pytest.mark.slow
def test_ray_and_local_outputs_are_identical(fake_registry: Any, tmp_path: Path, ray_local: Any) -> None:
    rows = [{**GOOD[i % len(GOOD)], "id": f"r{i:04d}"} for i in range(300)]
    rows[17] = {**BAD[1], "id": "r0017"}
    rows[250] = {**BAD[0], "id": "r0250"}
    source = _write(tmp_path / "requests.csv", rows)
    local = score_file(source, tmp_path / "local.parquet", "local", fake_registry.uri, batch_size=32)
    ray = score_file(source, tmp_path / "ray.parquet", "ray", fake_registry.uri, num_workers=2, batch_size=32)
    expected, got = pd.read_parquet(tmp_path / "local.parquet"), pd.read_parquet(tmp_path / "ray.parquet")
    pd.testing.assert_frame_equal(expected, got)
    assert got["id"].tolist() == [r["id"] for i, r in enumerate(rows) if i not in (17, 250)]
    assert (tmp_path / "local.rejects.csv").read_text() == (tmp_path / "ray.rejects.csv").read_text()
    assert (local.scored, local.rejected, ray.engine) == (298, 2, "ray")
    assert ray_local.is_initialized()  # the shared session was reused, not shut down
