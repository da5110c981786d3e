"""Similar past determinations on the real data: neighbours exist for most items when judged at their own date,
and no hit ever breaks the temporal or own-case rule (checked here from the hits, not from the report)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from features.dataset import build_dataset
from features.paths import shared_dir
from features.similar import EXCERPT_CHARS, SimilarIndex, query_date
from features.similar_eval import evaluate_index

pytestmark = pytest.mark.data

RAW = shared_dir() / "data" / "raw"
if not RAW.is_dir():
    pytest.skip(f"the public data is not at {RAW} (set IMR_SHARED_DIR)", allow_module_level=True)


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return build_dataset([str(RAW)], tmp_path_factory.mktemp("data")).table


@pytest.fixture(scope="module")
def dwc(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["jurisdiction"] == "dwc"].reset_index(drop=True)


@pytest.fixture(scope="module")
def index(dwc: pd.DataFrame) -> SimilarIndex:
    return SimilarIndex.build(dwc, "dwc")


def test_evaluation_covers_most_items_without_violations(table: pd.DataFrame) -> None:
    report = evaluate_index(table, k=5)
    assert report["queries"] >= 300
    assert report["coverage"] > 0.8
    assert report["rule_violations"] == 0
    assert 0.0 < report["mean_top_similarity"] < 1.0


def test_no_hit_is_from_the_own_case_or_not_decided_before(index: SimilarIndex, dwc: pd.DataFrame) -> None:
    records = dwc.to_dict(orient="records")
    checked = 0
    for record in records:
        before = query_date(record)
        assert before is not None
        [hits] = index.query([record], k=10, before=before, exclude_case=record["case_id"])
        for hit in hits:
            assert hit.case_id != record["case_id"]
            assert hit.decision_date is not None and hit.decision_date < before
            checked += 1
    assert checked > 5 * len(records)


def test_hits_show_outcome_excerpt_and_guideline(index: SimilarIndex, dwc: pd.DataFrame) -> None:
    results = index.query(dwc.head(40).to_dict(orient="records"), k=5)
    hits = [h for found in results for h in found]
    assert hits
    assert {h.determination for h in hits} <= {"Upheld", "Overturned"}
    assert all(0 < len(h.rationale_excerpt) <= EXCERPT_CHARS + 1 for h in hits)
    assert all("  " not in h.rationale_excerpt and "\n" not in h.rationale_excerpt for h in hits)
    assert sum(h.reviewer_guideline is not None for h in hits) / len(hits) > 0.9


def test_saved_index_answers_the_same(index: SimilarIndex, dwc: pd.DataFrame, tmp_path: Path) -> None:
    loaded = SimilarIndex.load(index.save(tmp_path / "similar-dwc"))
    records = dwc.sample(30, random_state=0).to_dict(orient="records")
    cutoff = dt.date(2017, 2, 1)
    assert loaded.query(records, k=5, before=cutoff) == index.query(records, k=5, before=cutoff)


def test_dmhc_index_by_categories_respects_report_years(table: pd.DataFrame) -> None:
    dmhc = table[table["jurisdiction"] == "dmhc"].reset_index(drop=True)
    index = SimilarIndex.build(dmhc, "dmhc")
    assert len(index) == len(dmhc)
    sample = dmhc.sample(200, random_state=2).to_dict(orient="records")
    found = 0
    for record in sample:
        before = query_date(record)
        assert before is not None
        [hits] = index.query([record], k=5, before=before, exclude_case=record["case_id"])
        assert all(h.report_year is not None and h.report_year < before.year for h in hits)
        assert all(h.case_id != record["case_id"] for h in hits)
        found += bool(hits)
    assert found / len(sample) > 0.8
