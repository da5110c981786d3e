"""The DMHC category mapper against the real data in ../shared (read in place): its category names are the trend
export's, and on the eval sample's case statements it finds the category DMHC recorded (figures in the README)."""

from __future__ import annotations

import csv

import pytest

from benchmarks.dmhc_mapper_quality import SAMPLE, measure, sample_items
from features.dmhc_mapper import CURRENT_NAMES, DIAGNOSIS_CATEGORIES, TREATMENT_CATEGORIES
from features.paths import shared_dir

pytestmark = pytest.mark.data

TREND = shared_dir() / "data" / "raw" / "dmhc-imr-trend-2001-2016"
if not SAMPLE.is_file() or not TREND.is_dir():
    pytest.skip(f"the public data is not under {shared_dir()} (set IMR_SHARED_DIR)", allow_module_level=True)


def _trend_values(column: str) -> set[str]:
    path = TREND / "Independent_Medical_Review__IMR__Determinations__Trend.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return {row[column].strip() for row in csv.DictReader(handle, delimiter=";") if row[column].strip()}


def test_the_category_choices_are_spelled_as_in_the_data() -> None:
    assert set(TREATMENT_CATEGORIES) == _trend_values("Treatment Category") - {"Not Applicable"}
    assert set(DIAGNOSIS_CATEGORIES) == _trend_values("Diagnosis Category") - {"Not Applicable"}
    assert set(CURRENT_NAMES.values()) <= set(TREATMENT_CATEGORIES) | set(DIAGNOSIS_CATEGORIES)


def test_the_mapper_finds_the_recorded_categories_on_the_eval_sample() -> None:
    items = sample_items()
    quality = measure(items)
    assert quality.with_text == quality.rows == 20
    # Measured 18/20 treatment, 10/20 diagnosis (README); the floors sit a row under that.
    assert quality.treatment_accuracy >= 0.85, quality
    assert quality.diagnosis_accuracy >= 0.45, quality
