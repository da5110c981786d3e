"""Mined reasons against the hand-checked sample of real DWC rationales (ids and codes only are stored).

The sample (``tests/fixtures/reasons_handcheck.csv``) is 48 items drawn at random from the 164 letters (40 with
8 overturned, then 8 more upheld), each labelled by reading its rationale. Measured when written: micro precision
0.87, recall 0.85; the floors below leave a little room for parser changes, not for weaker rules.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from features.letters import parse_letter
from features.paths import shared_dir
from features.reasons import evaluate_against_handcheck, mine_reasons, parse_codes
from features.schema import Item

pytestmark = pytest.mark.data

LETTERS = shared_dir() / "data" / "raw" / "dwc-imr-letters" / "pdfs"
HANDCHECK = Path(__file__).resolve().parents[1] / "fixtures" / "reasons_handcheck.csv"
if not LETTERS.is_dir():
    pytest.skip(f"the public data is not at {LETTERS} (set IMR_SHARED_DIR)", allow_module_level=True)

MICRO_PRECISION_FLOOR = 0.80
MICRO_RECALL_FLOOR = 0.75
UPHELD_COVERAGE_FLOOR = 0.90


@pytest.fixture(scope="module")
def items() -> dict[tuple[str, int], Item]:
    parsed: dict[tuple[str, int], Item] = {}
    for path in sorted(LETTERS.glob("*.pdf")):
        for item in parse_letter(path):
            parsed[(item.case_id, item.item_index)] = item
    return parsed


@pytest.fixture(scope="module")
def handcheck() -> dict[tuple[str, int], set[str]]:
    with HANDCHECK.open(newline="") as handle:
        return {(row["case_id"], int(row["item_index"])): parse_codes(row["codes"]) for row in csv.DictReader(handle)}


def test_handcheck_sample_is_in_the_letters(
    items: dict[tuple[str, int], Item], handcheck: dict[tuple[str, int], set[str]]
) -> None:
    assert len(handcheck) >= 40
    missing = sorted(key for key in handcheck if key not in items)
    assert not missing, f"hand-checked items the parser no longer yields: {missing}"
    assert all(items[key].rationale for key in handcheck)


def test_mined_reasons_agree_with_the_handcheck(
    items: dict[tuple[str, int], Item], handcheck: dict[tuple[str, int], set[str]]
) -> None:
    pairs = [(mine_reasons(items[key].rationale or ""), gold) for key, gold in handcheck.items()]
    report = evaluate_against_handcheck(pairs)
    micro = report["micro"]
    assert micro["precision"] >= MICRO_PRECISION_FLOOR, report
    assert micro["recall"] >= MICRO_RECALL_FLOOR, report


def test_most_upheld_rationales_get_a_reason(items: dict[tuple[str, int], Item]) -> None:
    upheld = [item for item in items.values() if item.determination == "Upheld"]
    covered = sum(1 for item in upheld if mine_reasons(item.rationale or ""))
    assert covered / len(upheld) >= UPHELD_COVERAGE_FLOOR
