"""The documentation checklist on invented requests: statuses, evidence spans, applicability, measurement."""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.checklist import (
    CHECKS,
    CHECKS_BY_CODE,
    MEASURE_COLUMNS,
    STATUSES,
    CheckResult,
    evaluate_checklist,
    measure_checklist,
    missing_reasons,
)
from features.reasons import REASONS

pytestmark = pytest.mark.unit


def _check(code: str, item_text: str, summary: str = "", claims_guideline: str = "") -> CheckResult:
    results = {r.code: r for r in evaluate_checklist(item_text, summary, claims_guideline)}
    return results[code]


# -- quantity, frequency, duration ------------------------------------------------------------------------------


def test_therapy_without_quantity_is_missing() -> None:
    result = _check("quantity_stated", "Physical therapy cervical")
    assert result.status == "missing"
    assert result.evidence is None
    assert result.reason_code == "quantity_unspecified"


def test_therapy_with_frequency_and_duration_passes_with_exact_words() -> None:
    result = _check("quantity_stated", "Physical therapy 2 times a week for 6 weeks, cervical spine")
    assert result.status == "passed"
    assert result.evidence == "2 times a week for 6 weeks"


@pytest.mark.parametrize(
    ("item", "evidence"),
    [
        ("Twelve physical therapy sessions for the right elbow", "Twelve physical therapy sessions"),
        ("Chiropractic care times 12 for the low back", "times 12"),
        ("Acupuncture 2x6 for the neck", "2x6"),
        ("Physical therapy twice weekly for 4 weeks, lumbar spine", "twice weekly for 4 weeks"),
        ("Three sessions of massage two times a week times 2 weeks", "two times a week times 2 weeks"),
        ("Psychotherapy 6 sessions", "6 sessions"),
    ],
)
def test_therapy_quantity_forms(item: str, evidence: str) -> None:
    result = _check("quantity_stated", item)
    assert (result.status, result.evidence) == ("passed", evidence)


def test_frequency_without_duration_is_open_ended() -> None:
    result = _check("quantity_stated", "Acupuncture 3 times a week, lumbar spine")
    assert result.status == "missing"
    assert result.note is not None and "open-ended" in result.note


def test_quantity_is_read_from_the_item_not_the_summary() -> None:
    summary = "The utilization review letter mentions therapy 2 times a week for 6 weeks."
    assert _check("quantity_stated", "Physical therapy cervical", summary).status == "missing"


def test_evaluation_visit_needs_no_session_count() -> None:
    assert _check("quantity_stated", "Physical therapy evaluation").status == "not_applicable"


def test_medication_quantity_and_dose() -> None:
    quantity = _check("quantity_stated", "Cyclobenzaprine 10mg #60")
    dose = _check("dose_stated", "Cyclobenzaprine 10mg #60")
    assert (quantity.status, quantity.evidence) == ("passed", "#60")
    assert (dose.status, dose.evidence) == ("passed", "10mg")
    assert dose.reason_code == "quantity_unspecified"


def test_medication_missing_quantity_and_dose() -> None:
    assert _check("quantity_stated", "Post-op Percocet 5/325mg").status == "missing"
    assert _check("dose_stated", "Post-op Percocet 5/325mg").evidence == "5/325mg"
    assert _check("dose_stated", "Omeprazole").status == "missing"


@pytest.mark.parametrize(
    ("item", "evidence"),
    [("Ketoprofen 20% in cream base 240g", "240g"), ("Norco 10/325mg, day supply: 30", "supply: 30")],
)
def test_other_medication_quantities(item: str, evidence: str) -> None:
    assert _check("quantity_stated", item).evidence == evidence


def test_supplies_need_an_amount_but_a_brace_does_not() -> None:
    assert _check("quantity_stated", "Large gloves").status == "missing"
    assert _check("quantity_stated", "Cold compression therapy 30 day rental").evidence == "30 day rental"
    assert _check("quantity_stated", "Lumbar brace").status == "not_applicable"


# -- body part --------------------------------------------------------------------------------------------------


def test_body_part() -> None:
    assert _check("body_part_stated", "Physical therapy 6 sessions").status == "missing"
    assert _check("body_part_stated", "Physical therapy 6 sessions, right shoulder").evidence == "shoulder"
    assert _check("body_part_stated", "Lumbar MRI with and without contrast").evidence == "Lumbar"
    assert _check("body_part_stated", "Norco 10/325mg #60").status == "not_applicable"
    assert _check("body_part_stated", "Associated surgical service: post-op rehab 12 visits").status == (
        "not_applicable"
    )


# -- prior sessions, functional improvement, visits ------------------------------------------------------------


def test_prior_outcome_applies_only_to_continued_therapy() -> None:
    assert _check("prior_treatment_outcome", "Physical therapy 6 sessions, neck").status == "not_applicable"
    continued = _check("prior_treatment_outcome", "Additional physical therapy 6 sessions, neck")
    assert continued.status == "missing"
    assert continued.reason_code == "no_functional_improvement"


def test_prior_outcome_from_summary() -> None:
    summary = (
        "She attended 6 sessions of physical therapy and shows improved range of motion; she is back at modified work."
    )
    result = _check("prior_treatment_outcome", "Physical therapy 2 times a week for 3 weeks, neck", summary)
    assert result.status == "passed"
    assert result.evidence == "improved range of motion"


def test_negated_improvement_does_not_count() -> None:
    summary = "Six physical therapy visits were finished without functional improvement."
    result = _check("prior_treatment_outcome", "Additional physical therapy 6 sessions, neck", summary)
    assert result.status == "missing"


def test_visits_against_the_guideline() -> None:
    over = _check("visits_within_guideline", "Chiropractic manipulation 12 visits, lumbar spine")
    assert over.status == "missing"
    assert over.note is not None and "12 visits requested" in over.note
    within = _check("visits_within_guideline", "Chiropractic manipulation 6 visits, lumbar spine")
    assert (within.status, within.evidence) == ("passed", "6 visits")
    assert _check("visits_within_guideline", "Physical therapy cervical").status == "not_applicable"


def test_visits_count_what_was_already_had() -> None:
    summary = "The patient has had 8 sessions of physical therapy."
    result = _check("visits_within_guideline", "Physical therapy 2 times a week for 3 weeks, neck", summary)
    assert result.status == "missing"
    assert result.note is not None and "8 already" in result.note


# -- diagnostic studies, procedures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("summary", "evidence"),
    [
        ("Examination showed a positive Spurling's test on the right.", "positive Spurling's"),
        ("There is a progressive neurologic deficit in the left arm.", "progressive neurologic deficit"),
        ("Decreased sensation in the C6 dermatome.", "Decreased sensation"),
    ],
)
def test_imaging_passes_with_objective_findings(summary: str, evidence: str) -> None:
    result = _check("objective_findings", "MRI of the cervical spine", summary)
    assert (result.status, result.evidence) == ("passed", evidence)
    assert result.reason_code == "no_red_flags_imaging"


def test_imaging_without_findings_or_with_negated_findings() -> None:
    assert _check("objective_findings", "MRI of the cervical spine", "Neck pain 6/10.").status == "missing"
    negated = "Negative Spurling's test. No focal neurologic deficits."
    assert _check("objective_findings", "MRI of the cervical spine", negated).status == "missing"


def test_objective_findings_apply_to_epidurals_not_to_medications() -> None:
    assert _check("objective_findings", "Right L5-S1 epidural steroid injection").status == "missing"
    assert _check("objective_findings", "Naproxen 550mg #60").status == "not_applicable"


def test_conservative_care() -> None:
    tried = _check("conservative_care_tried", "MRI of the right knee", "Pain persists despite physical therapy.")
    assert (tried.status, tried.evidence) == ("passed", "despite physical therapy")
    assert _check("conservative_care_tried", "MRI of the right knee", "Knee pain.").status == "missing"
    assert _check("conservative_care_tried", "Physical therapy 6 sessions").status == "not_applicable"


def test_associated_service_needs_the_primary_procedure() -> None:
    item = "Associated surgical service: cryotherapy device, 10 day rental"
    assert _check("primary_procedure_certified", item).status == "missing"
    summary = "The right shoulder arthroscopy was authorized on 12/01/2016."
    assert _check("primary_procedure_certified", item, summary).status == "passed"
    assert _check("primary_procedure_certified", "MRI of the knee").status == "not_applicable"


# -- medications -------------------------------------------------------------------------------------------------


def test_medication_efficacy_and_opioid_monitoring() -> None:
    summary = (
        "Pain is 8/10 without medications and 4/10 with medications. A urine drug screen on 11/1/2016 was consistent."
    )
    efficacy = _check("medication_efficacy", "Norco 10/325mg #60", summary)
    monitoring = _check("opioid_monitoring", "Norco 10/325mg #60", summary)
    assert efficacy.status == "passed" and efficacy.evidence is not None
    assert (monitoring.status, monitoring.evidence) == ("passed", "urine drug screen")
    assert _check("medication_efficacy", "Norco 10/325mg #60", "Low back pain.").status == "missing"
    assert _check("opioid_monitoring", "Naproxen 550mg #60").status == "not_applicable"


def test_gi_risk_for_proton_pump_inhibitors_only() -> None:
    assert _check("gi_risk_documented", "Omeprazole 20mg #30", "NSAID-induced dyspepsia.").evidence == "dyspepsia"
    assert _check("gi_risk_documented", "Omeprazole 20mg #30", "Neck pain.").status == "missing"
    assert _check("gi_risk_documented", "Ondansetron 4mg #10").status == "not_applicable"


def test_short_course_medication() -> None:
    item = "Cyclobenzaprine 7.5mg #20"
    assert _check("short_course", item, "Acute flare-up of low back pain.").status == "passed"
    assert _check("short_course", item, "She has taken it since 2015.").status == "missing"


def test_guideline_recommended_flags_disfavoured_treatments() -> None:
    flagged = _check("guideline_recommended", "Flurbiprofen 20%, Baclofen 5% in cream base 240g")
    assert flagged.status == "missing"
    assert flagged.evidence is not None and "Flurbiprofen" in flagged.evidence
    assert _check("guideline_recommended", "Extracorporeal shockwave therapy").status == "missing"
    assert _check("guideline_recommended", "Lidocaine 5% patch #30").status == "passed"


def test_guideline_named() -> None:
    assert _check("guideline_named", "MRI", claims_guideline="Decision based on MTUS ACOEM.").evidence == "MTUS"
    assert _check("guideline_named", "MRI").status == "missing"


# -- registry and API --------------------------------------------------------------------------------------------


def test_registry_is_consistent() -> None:
    codes = [c.code for c in CHECKS]
    assert len(codes) == len(set(codes)) == len(CHECKS_BY_CODE)
    for check in CHECKS:
        assert check.reason_code in REASONS
        assert check.title and check.advice


def test_every_check_reported_once_in_registry_order() -> None:
    results = evaluate_checklist("Physical therapy cervical")
    assert [r.code for r in results] == [c.code for c in CHECKS]
    assert all(r.status in STATUSES for r in results)
    assert all(r.evidence is None for r in results if r.status == "not_applicable")


def test_results_are_frozen() -> None:
    result = evaluate_checklist("MRI of the knee")[0]
    with pytest.raises(AttributeError):
        result.status = "passed"  # type: ignore[misc]


def test_missing_reasons_in_words() -> None:
    words = missing_reasons(evaluate_checklist("Physical therapy cervical"))
    assert REASONS["quantity_unspecified"] in words
    assert len(words) == len(set(words))


def test_deterministic_and_fast() -> None:
    summary = "Neck pain radiating to the arm with decreased sensation. Treatment to date has included therapy. " * 20
    first = evaluate_checklist("Physical therapy 2 times a week for 6 weeks, cervical spine", summary, "MTUS")
    start = time.perf_counter()
    for _ in range(200):
        again = evaluate_checklist("Physical therapy 2 times a week for 6 weeks, cervical spine", summary, "MTUS")
    assert again == first
    assert (time.perf_counter() - start) / 200 < 0.005


# -- measurement -------------------------------------------------------------------------------------------------


def test_measure_checklist() -> None:
    items = [
        {
            "item_text": "Physical therapy cervical",
            "summary": "",
            "claims_guideline": "MTUS",
            "rationale": "The order failed to specify the number of visits.",
            "determination": "Upheld",
        },
        {
            "item_text": "Physical therapy 6 sessions, neck",
            "summary": "",
            "claims_guideline": "MTUS",
            "rationale": "The request is medically necessary.",
            "determination": "Overturned",
        },
        {
            "item_text": "Acupuncture lumbar",
            "summary": "",
            "claims_guideline": "MTUS",
            "rationale": "Guidelines support acupuncture.",
            "determination": "Overturned",
        },
    ]
    table = measure_checklist(items)
    assert isinstance(table, pd.DataFrame)
    assert tuple(table.columns) == MEASURE_COLUMNS
    assert list(table["check"]) == [c.code for c in CHECKS]
    row = table.set_index("check").loc["quantity_stated"]
    assert (row["applicable"], row["missing"], row["reason_given"], row["true_positive"]) == (3, 2, 1, 1)
    assert row["precision"] == pytest.approx(0.5)
    assert row["recall"] == pytest.approx(1.0)
    assert row["upheld_if_missing"] == pytest.approx(0.5)
    assert row["upheld_if_passed"] == pytest.approx(0.0)
    unused = table[table["check"] == "opioid_monitoring"].iloc[0].to_dict()
    assert unused["applicable"] == 0 and math.isnan(unused["precision"])


def test_measure_checklist_empty() -> None:
    table = measure_checklist([])
    assert len(table) == len(CHECKS)
    assert (table["applicable"] == 0).all()


# -- any input ---------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.text(max_size=2000), st.text(max_size=200))
def test_any_text_never_raises(item: str, summary: str, guideline: str) -> None:
    results = evaluate_checklist(item, summary, guideline)
    assert len(results) == len(CHECKS)
    for result in results:
        assert result.status in STATUSES
        assert result.evidence is None or (0 < len(result.evidence) <= 120)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "physical therapy",
                "x",
                "2",
                "times",
                "a week",
                "for",
                "6",
                "weeks",
                "#",
                "60",
                "mg",
                "%",
                "MRI",
                "no",
                "positive",
                "Spurling's",
                "despite",
                "additional",
                "sessions",
                "cervical",
                "Norco",
                "omeprazole",
                "post-op",
                "/",
                "-",
                ".",
                ",",
                "twelve",
            ]
        ),
        max_size=120,
    )
)
def test_vocabulary_soup_never_raises(words: list[str]) -> None:
    text = " ".join(words)
    assert len(evaluate_checklist(text, text, text)) == len(CHECKS)


def test_huge_and_odd_inputs() -> None:
    assert len(evaluate_checklist("x" * 100_000, "no " * 100_000, "\x00\ufffd" * 1000)) == len(CHECKS)
    assert len(evaluate_checklist("", "", "")) == len(CHECKS)
    start = time.perf_counter()
    evaluate_checklist("2 times " * 5000, "1 " * 50_000, "MTUS " * 5000)
    assert time.perf_counter() - start < 1.0
