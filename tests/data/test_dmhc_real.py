"""The DMHC loader on the real public exports in ../shared (read in place, never copied)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from features.dmhc import detect_shape, load_dmhc
from features.paths import shared_dir
from features.schema import Item

pytestmark = pytest.mark.data

SHARED = shared_dir()
if not SHARED.is_dir():
    pytest.skip(f"the public data is not at {SHARED} (set IMR_SHARED_DIR)", allow_module_level=True)

RAW = SHARED / "data" / "raw"
OLD_EXPORT = RAW / "dmhc-imr-trend-2001-2016" / "Independent_Medical_Review__IMR__Determinations__Trend.csv"
SAMPLE = RAW / "dmhc-imr-eval-sample"
LEAK_WORDS = ("Final Result", "should be upheld", "should be overturned", "medically necessary", "reviewer")
REQUEST = re.compile(r"^[^.]{0,80}\brequested\b")


@pytest.fixture(scope="module")
def old_export() -> tuple[list[Item], list[dict[str, str]]]:
    return load_dmhc(OLD_EXPORT)


def test_old_export_shape() -> None:
    header = OLD_EXPORT.read_text(encoding="utf-8").split("\n", 1)[0].strip().split(";")
    assert detect_shape(header) == "old"


def test_old_export_accounts_for_every_row(old_export: tuple[list[Item], list[dict[str, str]]]) -> None:
    items, rejects = old_export
    assert len(items) + len(rejects) == 19_228
    assert rejects == []  # the old export is clean: every row becomes an item
    assert len({item.item_id for item in items}) == len(items)


def test_old_export_matches_source_counts(old_export: tuple[list[Item], list[dict[str, str]]]) -> None:
    items, _ = old_export
    assert Counter(item.determination for item in items) == {"Upheld": 10_776, "Overturned": 8_452}
    assert Counter(item.review_type for item in items) == {
        "Medical Necessity": 13_572,
        "Experimental/Investigational": 5_166,
        "Urgent Care": 490,
    }
    assert {item.report_year for item in items} == set(range(2001, 2017))


def test_old_export_fields(old_export: tuple[list[Item], list[dict[str, str]]]) -> None:
    items, _ = old_export
    ages = {item.age_range for item in items}
    assert ages == {"0-10", "11-20", "21-30", "31-40", "41-50", "51-64", "65+", None}
    assert {item.gender for item in items} == {"Female", "Male", None}
    assert all(item.summary == "" and item.rationale is None for item in items)
    assert all(item.source == OLD_EXPORT.name and item.jurisdiction == "dmhc" for item in items)
    assert all(item.item_text for item in items)


@pytest.mark.parametrize("name", ["eval_set_imr_preview.csv", "eval_set_imr.parquet"])
def test_current_sample_loads_leak_free(name: str) -> None:
    items, rejects = load_dmhc(SAMPLE / name)
    assert rejects == []
    assert len(items) == 20
    assert {item.determination for item in items} == {"Upheld"}
    assert {item.review_type for item in items} == {"Medical Necessity"}
    assert all(2023 <= (item.report_year or 0) <= 2026 for item in items)
    assert {item.imr_type for item in items} <= {"Standard", "Expedited"}
    assert all(item.age_range is None or " to " not in item.age_range for item in items)
    for item in items:
        for word in LEAK_WORDS:
            assert word.lower() not in item.summary.lower(), f"{item.case_id}: summary carries {word!r}"
        assert item.rationale is not None
        assert "Final Result" in item.rationale
    starts_with_request = [item for item in items if REQUEST.match(item.summary)]
    assert len(starts_with_request) >= 18


def test_current_sample_csv_and_parquet_agree() -> None:
    from_csv, _ = load_dmhc(SAMPLE / "eval_set_imr_preview.csv")
    from_parquet, _ = load_dmhc(SAMPLE / "eval_set_imr.parquet")

    def without_source(items: list[Item]) -> list[dict[str, object]]:
        return [item.model_dump(exclude={"source"}) for item in items]

    assert without_source(from_csv) == without_source(from_parquet)
