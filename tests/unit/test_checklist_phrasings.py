"""The documentation checklist on clinical phrasings (issue 11, point 4).

* Precision and recall of "passed" per check on ``tests/fixtures/checklist_phrasings.csv``: requests written in the
  words offices and physicians use (MTUS / ACOEM vocabulary, the style of the letters' clinical summaries), with
  negation, lists, paraphrase, abbreviations and tense. Floors sit a little under the values measured when written
  (``benchmarks/checklist_phrasings.py`` prints the table).
* Red flags put imaging and electrodiagnostics on the red-flag path: conservative care is then not required first.
* Monotone under appending: a passed check stays passed whatever is written after it (the estimate relies on it;
  ``visits_within_guideline`` is the one exception, as more visits documented can exceed the allowance).
* Bounded input: long hostile text is evaluated without error (no wall-clock assertion here).
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from features.categories import categorize
from features.checklist import CHECKS, CheckResult, evaluate_checklist

pytestmark = pytest.mark.unit

PHRASINGS = Path(__file__).resolve().parents[1] / "fixtures" / "checklist_phrasings.csv"
ROWS: list[dict[str, str]] = list(csv.DictReader(PHRASINGS.open(newline="", encoding="utf-8")))

# check -> (precision floor, recall floor). Measured when written: every check 1.00 / 1.00 except
# prior_treatment_outcome 0.92 / 1.00 and opioid_monitoring 0.90 / 1.00 (one negation after the finding each,
# which a check may not read; see the monotonicity tests).
FLOORS: dict[str, tuple[float, float]] = {
    "quantity_stated": (0.95, 0.95),
    "dose_stated": (0.95, 0.95),
    "body_part_stated": (0.95, 0.95),
    "prior_treatment_outcome": (0.85, 0.92),
    "visits_within_guideline": (0.95, 0.95),
    "objective_findings": (0.92, 0.92),
    "conservative_care_tried": (0.92, 0.92),
    "first_line_tried": (0.9, 0.9),
    "medication_efficacy": (0.9, 0.9),
    "opioid_monitoring": (0.85, 0.9),
    "short_course": (0.9, 0.9),
    "gi_risk_documented": (0.9, 0.9),
    "primary_procedure_certified": (0.9, 0.9),
    "guideline_recommended": (0.9, 0.9),
    "guideline_named": (0.9, 0.9),
}
# Checks whose status is not monotone in what is written, by design: documenting the visits already had can exceed
# the allowance.
NOT_MONOTONE = frozenset({"visits_within_guideline"})
# A flag on what is asked for: words added to the *item* may name a treatment the guidelines do not recommend.
FLAGS_THE_ITEM = frozenset({"guideline_recommended"})


def _results(item: str, summary: str = "", guideline: str = "") -> dict[str, CheckResult]:
    return {r.code: r for r in evaluate_checklist(item, summary, guideline)}


def _status(row: dict[str, str]) -> str:
    return _results(row["item_text"], row["summary"], row["claims_guideline"])[row["check"]].status


# -- the phrasing set --------------------------------------------------------------------------------------------


def test_the_set_is_large_and_covers_every_check_both_ways() -> None:
    assert len(ROWS) >= 200
    assert {r["expected"] for r in ROWS} == {"passed", "missing"}
    counts = Counter((r["check"], r["expected"]) for r in ROWS)
    for check in CHECKS:
        assert counts[(check.code, "passed")] >= 3, check.code
        assert counts[(check.code, "missing")] >= 3, check.code
    assert set(FLOORS) == {c.code for c in CHECKS}


@pytest.mark.parametrize("check", sorted(FLOORS))
def test_precision_and_recall_per_check(check: str) -> None:
    rows = [r for r in ROWS if r["check"] == check]
    predicted = [_status(r) == "passed" for r in rows]
    expected = [r["expected"] == "passed" for r in rows]
    tp = sum(p and e for p, e in zip(predicted, expected, strict=True))
    wrong = [r["summary"] or r["item_text"] for r, p, e in zip(rows, predicted, expected, strict=True) if p != e]
    precision = tp / max(1, sum(predicted))
    recall = tp / max(1, sum(expected))
    precision_floor, recall_floor = FLOORS[check]
    assert precision >= precision_floor, (precision, wrong)
    assert recall >= recall_floor, (recall, wrong)


# -- the known misses ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "item", "summary"),
    [
        ("objective_findings", "MRI of the lumbar spine", "Positive straight-leg raise on the left."),
        ("objective_findings", "MRI of the lumbar spine", "Positive straight leg raise on the left."),
        ("conservative_care_tried", "MRI of the lumbar spine", "Conservative care, including PT, has failed."),
        ("conservative_care_tried", "MRI of the lumbar spine", "She failed conservative care."),
        (
            "conservative_care_tried",
            "MRI of the lumbar spine",
            "She has had NSAIDs, 12 PT sessions and a home exercise program with persisting pain.",
        ),
    ],
)
def test_known_misses_now_pass(check: str, item: str, summary: str) -> None:
    assert _results(item, summary)[check].status == "passed"


@pytest.mark.parametrize(
    ("item", "summary", "flag"),
    [
        ("MRI of the lumbar spine", "Suspected cauda equina syndrome.", "cauda equina"),
        ("MRI of the lumbar spine", "New right foot drop.", "foot drop"),
        ("MRI of the lumbar spine", "There is a progressive neurologic deficit in the leg.", "progressive"),
        ("MRI of the lumbar spine", "He reports bowel and bladder dysfunction.", "bowel"),
        ("X-rays of the right wrist", "Suspected fracture after a fall.", "fracture"),
        ("MRI of the thoracic spine", "Rule out metastatic tumor; history of lung cancer.", "tumor"),
        ("MRI of the lumbar spine", "Concern for spinal infection.", "infection"),
        ("EMG/NCV of the bilateral lower extremities", "Progressive weakness of the left leg.", "weakness"),
    ],
)
def test_red_flags_satisfy_conservative_care_for_diagnostics(item: str, summary: str, flag: str) -> None:
    result = _results(item, summary)["conservative_care_tried"]
    assert result.status == "passed"
    assert result.evidence is not None and flag in result.evidence.lower()
    assert result.note == "red flags documented: conservative care is not required first"
    assert _results(item, summary)["objective_findings"].status == "passed"


@pytest.mark.parametrize(
    "summary",
    [
        "No red flags such as bowel or bladder dysfunction.",
        "Denies bowel or bladder incontinence.",
        "There is no evidence of cauda equina syndrome.",
        "Fracture was ruled out on x-rays.",
        "Negative for fever, weight loss or history of cancer.",
    ],
)
def test_negated_red_flags_do_not(summary: str) -> None:
    result = _results("MRI of the lumbar spine", summary)["conservative_care_tried"]
    assert result.status == "missing"


def test_red_flags_do_not_waive_conservative_care_for_procedures() -> None:
    result = _results("Lumbar epidural steroid injection L4-5", "Suspected cauda equina syndrome.")
    assert result["conservative_care_tried"].status == "missing"


def test_failed_conservative_care_keeps_its_own_evidence() -> None:
    result = _results("MRI of the right knee", "Pain persists despite physical therapy.")["conservative_care_tried"]
    assert (result.status, result.evidence, result.note) == ("passed", "despite physical therapy", None)


@pytest.mark.parametrize(
    ("check", "item", "summary"),
    [
        ("conservative_care_tried", "TENS unit", "The TENS unit was denied as there is no indication the care failed."),
        ("conservative_care_tried", "MRI of the lumbar spine", "UR failed to approve physical therapy."),
        ("objective_findings", "MRI of the right shoulder", "She is worried about weakness in the right arm."),
        ("objective_findings", "MRI of the lumbar spine", "SLR was negative; reflexes 2+ and symmetric."),
        ("prior_treatment_outcome", "Additional physical therapy x6 lumbar", "Function has not improved with PT."),
        ("medication_efficacy", "Norco 10/325mg #60", "Cyclobenzaprine provided by another physician."),
        ("primary_procedure_certified", "Assistant surgeon", "UR non-certified the lumbar fusion."),
    ],
)
def test_paperwork_and_negations_do_not_pass(check: str, item: str, summary: str) -> None:
    assert _results(item, summary)[check].status == "missing"


# -- monotone under appending --------------------------------------------------------------------------------------

VOCABULARY = [
    "no",
    "not",
    "denies",
    "negative",
    "without",
    "was",
    "has",
    "not been",
    "performed",
    "documented",
    "failed",
    "to",
    "approve",
    "despite",
    "physical therapy",
    "PT",
    "NSAIDs",
    "HEP",
    "with",
    "persistent",
    "pain",
    "relief",
    "improved",
    "function",
    "positive",
    "SLR",
    "straight-leg raise",
    "rule out",
    "fracture",
    "cauda equina",
    "plan",
    "will",
    "requested",
    "denied",
    "non-certified",
    "mg",
    "%",
    "/",
    "-",
    ".",
    ";",
    ",",
    "6",
    "weeks",
    "x",
]
# Requests with passed checks, of every kind of item.
BASES = [(r["item_text"], r["summary"], r["claims_guideline"]) for r in ROWS if r["expected"] == "passed"][::3]
SEPARATORS = [" ", ". ", "; ", ", ", "\n"]


def _assert_still_passed(
    before: dict[str, CheckResult], after: dict[str, CheckResult], allow_na: bool, skip: frozenset[str] = frozenset()
) -> None:
    for code, result in before.items():
        if code in NOT_MONOTONE or code in skip or result.status != "passed":
            continue
        allowed = {"passed", "not_applicable"} if allow_na else {"passed"}
        assert after[code].status in allowed, (code, result, after[code])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(BASES),
    separator=st.sampled_from(SEPARATORS),
    words=st.one_of(st.lists(st.sampled_from(VOCABULARY), max_size=25).map(" ".join), st.text(max_size=200)),
)
@example(base=("Oxycodone 10mg #120", "A urine drug screen", ""), separator=" ", words="has not been performed.")
@example(base=("MRI of the lumbar spine", "positive SLR", ""), separator=" ", words="negative")
@example(
    base=("Physical therapy 2x3 for the lumbar spine", "She has had physical therapy with improved function", ""),
    separator=" ",
    words="and more therapy is planned",
)
def test_appending_to_the_summary_never_undoes_a_pass(base: tuple[str, str, str], separator: str, words: str) -> None:
    item, summary, guideline = base
    before = _results(item, summary, guideline)
    after = _results(item, summary + separator + words, guideline)
    _assert_still_passed(before, after, allow_na=False)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(BASES),
    separator=st.sampled_from(SEPARATORS),
    words=st.lists(st.sampled_from(VOCABULARY), max_size=25).map(" ".join),
)
def test_appending_to_the_guideline_never_undoes_a_pass(base: tuple[str, str, str], separator: str, words: str) -> None:
    item, summary, guideline = base
    before = _results(item, summary, guideline)
    after = _results(item, summary, guideline + separator + words)
    _assert_still_passed(before, after, allow_na=False)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(BASES),
    separator=st.sampled_from(SEPARATORS),
    words=st.lists(st.sampled_from(VOCABULARY), max_size=25).map(" ".join),
)
def test_appending_to_the_item_never_fails_a_pass(base: tuple[str, str, str], separator: str, words: str) -> None:
    """Words appended to the item may make a check stop applying ("post-op", a therapy named beside a medication),
    but a passed check never becomes missing while the item stays the same kind of request (its category)."""
    item, summary, guideline = base
    longer = item + separator + words
    assume(categorize(" ".join(longer.split())) == categorize(item))
    before = _results(item, summary, guideline)
    after = _results(longer, summary, guideline)
    _assert_still_passed(before, after, allow_na=True, skip=FLAGS_THE_ITEM)


@pytest.mark.parametrize(("item", "summary", "guideline"), BASES)
def test_every_passed_row_survives_a_hostile_sentence(item: str, summary: str, guideline: str) -> None:
    hostile = "no improvement was documented and the PT was not helpful and the SLR was negative; denied"
    before = _results(item, summary, guideline)
    for separator in SEPARATORS:
        _assert_still_passed(before, _results(item, summary + separator + hostile, guideline), allow_na=False)


# -- bounded input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chunk",
    [
        "physical therapy ",
        "no relief with ",
        "failed despite ",
        "positive ",
        "straight-leg raise ",
        "suspected ",
        "with medications ",
        "Norco provided ",
        "continued pain after ",
        "abcdefghij" * 10,
        "x ",
        "rule out r/o ",
    ],
)
def test_100_kb_of_repeated_words_completes(chunk: str) -> None:
    text = chunk * (100_000 // len(chunk))
    for item, summary in ((text, text), ("MRI of the lumbar spine", text), ("Norco 10/325mg #60", text)):
        results = evaluate_checklist(item, summary, text)
        assert len(results) == len(CHECKS)
