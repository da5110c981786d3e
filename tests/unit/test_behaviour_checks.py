"""The behavioural checks themselves catch what they should (on scorers with known faults)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from training.behaviour import (
    clear_cases,
    directional,
    directional_pairs,
    invariance,
    invariance_base,
    minimum_functionality,
    run_all,
)

pytestmark = pytest.mark.unit


class KeywordScorer:
    """p(upheld) from simple text rules, to plant faults on purpose."""

    def __init__(self, rule: Any) -> None:
        self.rule = rule

    def predict_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"p_upheld": float(self.rule(r)), "label": "", "reasons": "[]"} for r in records]


def _age(record: dict[str, Any]) -> int:
    m = re.search(r"(\d+) year old", str(record.get("summary", "")))
    return int(m.group(1)) if m else 40


BASE = [{"jurisdiction": "dwc", "item_text": "PT", "summary": "A 46 year old injured on 3-14-2016 seen by Dr. Lee."}]


def test_invariance_passes_a_blind_scorer_and_catches_an_age_sensitive_one() -> None:
    assert invariance(KeywordScorer(lambda r: 0.8), BASE, bound=0.05).passed
    result = invariance(KeywordScorer(lambda r: 0.5 + _age(r) / 200), BASE, bound=0.05)
    assert not result.passed and "age" in result.detail
    dates = invariance(KeywordScorer(lambda r: 0.9 if "3-14-2016" in r["summary"] else 0.6), BASE, bound=0.05)
    assert not dates.passed and dates.values["max_delta_dates"] == pytest.approx(0.3)
    names = invariance(KeywordScorer(lambda r: 0.9 if "Nguyen" in r["summary"] else 0.6), BASE, bound=0.05)
    assert not names.passed and names.values["max_delta_names"] == pytest.approx(0.3)


def test_directional_catches_documentation_making_a_request_more_likely_upheld() -> None:
    pairs = directional_pairs("dwc")
    assert len(pairs) >= 4
    fair = KeywordScorer(
        lambda r: 0.7 if "functional improvement" in r["summary"] or "pain decreased" in r["summary"] else 0.9
    )
    assert directional(fair, pairs, tolerance=0.0).passed
    perverse = KeywordScorer(lambda r: 0.95 if "#60" in r["item_text"] else 0.8)
    result = directional(perverse, pairs, tolerance=0.01)
    assert not result.passed and "opioid refill" in result.detail


@pytest.mark.parametrize("jurisdiction", ["dwc", "dmhc"])
def test_minimum_functionality_counts_sides(jurisdiction: str) -> None:
    cases = clear_cases(jurisdiction)
    assert {c.expected for c in cases} == {"Upheld", "Overturned"}
    always_upheld = KeywordScorer(lambda r: 0.99)
    result = minimum_functionality(always_upheld, cases, threshold=0.5, required=1.0)
    share = sum(c.expected == "Upheld" for c in cases) / len(cases)
    assert not result.passed and result.values["share_right"] == pytest.approx(share)
    assert minimum_functionality(always_upheld, cases, threshold=0.5, required=share).passed


def test_run_all_and_invariance_base() -> None:
    real = [{"jurisdiction": "dwc", "item_text": "x", "summary": "s"}, {"jurisdiction": "dwc", "item_text": "y"}]
    base = invariance_base(real, "dwc")
    assert base[0]["summary"] == "s" and all(b.get("summary") for b in base)
    results = run_all(KeywordScorer(lambda r: 0.8), "dwc", 0.5, 0.05, 0.0, 0.0, real)
    assert [r.name for r in results] == ["invariance", "directional", "minimum_functionality"]
