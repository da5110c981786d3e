"""The letter parser on the real DWC letters in ../shared (read in place, never copied into the repository)."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from features.letters import extract_text, parse_folder, parse_letter
from features.schema import Item

pytestmark = pytest.mark.data

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("IMR_SHARED_DIR", REPO / ".." / "shared")).resolve()
PDF_DIR = SHARED / "data" / "raw" / "dwc-imr-letters" / "pdfs"
SEED = SHARED / "seed" / "imr-letter-example.txt"
N_LETTERS = 164

# Counted independently of the parser: every "Decision rationale:" label, wherever the extraction put it.
RATIONALE_LABEL = re.compile(r"(?i)decision\s+rationale\s*:")

if not SHARED.is_dir():
    pytest.skip(f"shared data folder not found at {SHARED} (set IMR_SHARED_DIR)", allow_module_level=True)


@pytest.fixture(scope="module")
def pdfs() -> list[Path]:
    return sorted(PDF_DIR.glob("*.pdf"))


@pytest.fixture(scope="module")
def parsed(pdfs: list[Path]) -> tuple[list[Item], list[dict[str, str]]]:
    return parse_folder(pdfs)


@pytest.fixture(scope="module")
def items(parsed: tuple[list[Item], list[dict[str, str]]]) -> list[Item]:
    return parsed[0]


def test_all_letters_parse(pdfs: list[Path], parsed: tuple[list[Item], list[dict[str, str]]]) -> None:
    items, rejects = parsed
    assert len(pdfs) == N_LETTERS
    assert rejects == []
    assert {item.source for item in items} == {path.name for path in pdfs}


def test_items_per_letter_equal_rationale_sections(pdfs: list[Path], items: list[Item]) -> None:
    per_letter = Counter(item.source for item in items)
    expected = {path.name: len(RATIONALE_LABEL.findall(extract_text(path))) for path in pdfs}
    assert all(n >= 1 for n in expected.values())
    assert dict(per_letter) == expected


def test_every_item_has_a_determination_and_its_fields(items: list[Item]) -> None:
    for item in items:
        assert item.determination in ("Upheld", "Overturned")
        assert item.item_text and item.summary
        assert item.claims_guideline and item.reviewer_guideline and item.rationale
        assert item.reviewer_specialty
        assert item.treatment_category is None


def test_fields_do_not_bleed_into_each_other(items: list[Item]) -> None:
    for item in items:
        assert "Decision rationale" not in item.summary
        assert "MAXIMUS guideline" not in item.summary
        assert "Claims Administrator guideline" not in (item.rationale or "")
        assert "developed the following clinical case summary" not in item.summary
        assert not re.search(r"(?i):\s*(upheld|overturned)\s*$", item.item_text)
        assert len(item.item_text) < 300


def test_identity_and_header(items: list[Item]) -> None:
    assert len({item.item_id for item in items}) == len(items)
    for item in items:
        assert item.case_id == Path(item.source).stem
        assert item.item_id == f"{item.case_id}#{item.item_index}"
        assert item.jurisdiction == "dwc"
        # SOURCE.md: decision dates 2016-12-09 .. 2017-02-28, all Standard priority.
        assert item.decision_date is not None
        assert dt.date(2016, 12, 9) <= item.decision_date <= dt.date(2017, 2, 28)
        assert item.report_year == item.decision_date.year
        assert item.imr_type == "Standard"
        assert item.date_assigned is not None and item.date_assigned <= item.decision_date
        assert item.injury_date is not None and item.injury_date <= item.decision_date


def test_overturned_share(items: list[Item]) -> None:
    overturned = sum(item.determination == "Overturned" for item in items)
    assert 0.05 <= overturned / len(items) <= 0.20


def test_seed_example() -> None:
    items = parse_letter(SEED)
    assert len(items) == 1
    item = items[0]
    assert item.determination == "Upheld"
    assert item.item_text.lower() == "physical therapy cervical"
    assert item.claims_guideline is not None and "MTUS ACOEM" in item.claims_guideline
    assert item.rationale
    assert "utilization review" in item.summary.lower()
    assert item.case_id.startswith("NOCASE-")
    assert item.injury_date == dt.date(2010, 6, 10)
