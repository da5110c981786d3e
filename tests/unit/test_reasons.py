"""The reason taxonomy and its rules, on short invented rationales (never letter text)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.reasons import (
    REASON_CODES,
    REASONS,
    evaluate_against_handcheck,
    mine_reasons,
    parse_codes,
    reason_labels,
    reason_vector,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("rationale", "expected"),
    [
        (
            "Therapy could help this worker, but the order failed to specify the number of visits.",
            "quantity_unspecified",
        ),
        ("A compounded suspension, unknown quantity, cannot be approved.", "quantity_unspecified"),
        ("The order did not specify which side should be treated.", "body_part_unspecified"),
        (
            "Six visits were completed, yet the chart has no record of measurable functional gains.",
            "no_functional_improvement",
        ),
        (
            "Whether the first block helped is not known: results of the initial block were not reported.",
            "no_functional_improvement",
        ),
        ("Eighteen visits would exceed what the guideline allows for this diagnosis.", "exceeds_guideline_visits"),
        (
            "The notes give no pain scores with and without the medication and no benefit from it.",
            "medication_efficacy_not_documented",
        ),
        ("The CURES registry was not reviewed before prescribing.", "medication_efficacy_not_documented"),
        ("On exam there was no sign of neurologic deficits or other red flags.", "no_red_flags_imaging"),
        (
            "There is no note that home exercise and therapy were tried and failed before the scan.",
            "conservative_care_not_tried",
        ),
        ("No record suggests she is unable to tolerate pills.", "conservative_care_not_tried"),
        ("The chart gives no indication he is a candidate for surgery.", "no_surgical_indication"),
        ("Per ODG, extracorporeal shockwave is not recommended for the elbow.", "not_recommended_by_guideline"),
        ("Muscle relaxants are not recommended beyond three weeks of use.", "long_term_use_not_supported"),
        ("An identical study was done last month, so this one is redundant.", "duplicate_or_already_done"),
        (
            "Because the primary procedure was not certified, the post-operative sling is not needed.",
            "associated_with_denied_procedure",
        ),
        ("The worker's records do not meet the criteria for a knee scope.", "criteria_not_met"),
        ("No extenuating circumstances were described to justify going past the guideline.", "criteria_not_met"),
        ("The file holds insufficient clinical information to judge this prescription.", "insufficient_information"),
        ("The provider gave no clear rationale for ordering the brace.", "insufficient_information"),
    ],
)
def test_invented_rationale_gets_its_reason(rationale: str, expected: str) -> None:
    assert expected in mine_reasons(rationale)


@pytest.mark.parametrize(
    ("rationale", "not_expected"),
    [
        # Guideline boilerplate: the same words without a negation, or in a guideline's own conditions.
        ("Extra visits may be indicated once functional improvement is documented.", "no_functional_improvement"),
        (
            "When a request's visit count exceeds the guideline, exceptional factors should be noted.",
            "exceeds_guideline_visits",
        ),
        (
            "Imaging is not needed unless several weeks of conservative care fail to help.",
            "conservative_care_not_tried",
        ),
        (
            "Imaging suits patients who do not respond to care and would consider surgery an option.",
            "no_surgical_indication",
        ),
        # Prior sessions whose count is unknown are missing history, not an unspecified request.
        ("It is unclear how many visits he attended.", "quantity_unspecified"),
        ("Passive modalities are not indicated for chronic pain in most instances.", "not_recommended_by_guideline"),
        # A finding about a medication is not about therapy sessions.
        ("There is no record of functional improvement while taking the medication.", "no_functional_improvement"),
    ],
)
def test_boilerplate_does_not_fire(rationale: str, not_expected: str) -> None:
    assert not_expected not in mine_reasons(rationale)


def test_overturned_style_rationale_gets_no_reason() -> None:
    rationale = (
        "She finished six visits with benefit and fewer work restrictions. "
        "The guideline is satisfied, so the request is medically necessary."
    )
    assert mine_reasons(rationale) == set()


def test_empty_and_blank() -> None:
    assert mine_reasons("") == set()
    assert mine_reasons("   \n\t ") == set()


def test_taxonomy_is_well_formed() -> None:
    assert 8 <= len(REASONS) <= 14
    assert tuple(REASONS) == REASON_CODES
    for code, words in REASONS.items():
        assert code.isidentifier() and code == code.lower()
        assert words and words[0].isupper()


def test_labels_follow_taxonomy_order_and_skip_unknown() -> None:
    labels = reason_labels({"criteria_not_met", "quantity_unspecified", "made_up"})
    assert labels == [REASONS["quantity_unspecified"], REASONS["criteria_not_met"]]
    assert reason_labels([]) == []


def test_reason_vector() -> None:
    vector = reason_vector({"quantity_unspecified"})
    assert len(vector) == len(REASON_CODES)
    assert vector[REASON_CODES.index("quantity_unspecified")] == 1
    assert sum(vector) == 1


def test_parse_codes() -> None:
    assert parse_codes("") == set()
    assert parse_codes("criteria_not_met;quantity_unspecified") == {"criteria_not_met", "quantity_unspecified"}
    with pytest.raises(ValueError, match="unknown reason code"):
        parse_codes("criteria_not_met;bogus")


def test_evaluate_against_handcheck() -> None:
    pairs = [
        ({"quantity_unspecified"}, {"quantity_unspecified"}),
        ({"quantity_unspecified", "criteria_not_met"}, {"quantity_unspecified"}),
        (set(), {"criteria_not_met"}),
        (set(), set()),
    ]
    report = evaluate_against_handcheck(pairs)
    assert report["quantity_unspecified"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "support": 2.0,
        "predicted": 2.0,
    }
    assert report["criteria_not_met"]["precision"] == 0.0
    assert report["criteria_not_met"]["recall"] == 0.0
    assert report["micro"]["precision"] == pytest.approx(2 / 3)
    assert report["micro"]["recall"] == pytest.approx(2 / 3)
    assert report["micro"]["exact_match"] == pytest.approx(2 / 4)
    assert "no_red_flags_imaging" not in report


def test_evaluate_against_handcheck_empty() -> None:
    report = evaluate_against_handcheck([])
    assert math.isnan(report["micro"]["precision"])
    assert math.isnan(report["micro"]["recall"])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_any_text_gives_known_codes(text: str) -> None:
    assert mine_reasons(text) <= set(REASONS)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "no",
                "not",
                "lack of",
                "functional improvement",
                "red flags",
                "medication",
                ".",
                "6 visits",
                "exceeds",
                "guideline",
                "criteria",
                "surgery",
                "failed",
                "conservative",
                "%",
                "#60",
            ]
        ),
        max_size=400,
    )
)
def test_vocabulary_soup_never_raises(words: list[str]) -> None:
    assert mine_reasons(" ".join(words)) <= set(REASONS)
