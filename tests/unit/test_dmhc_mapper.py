"""The DMHC category mapper and the health-plan wording of the checklist (issue 14: health-plan requests count)."""

from __future__ import annotations

import re

import pytest

from features.checklist import evaluate_checklist
from features.dmhc_mapper import DIAGNOSIS_CATEGORIES, TREATMENT_CATEGORIES, choices, map_categories, trend_name
from features.dmhc_wording import MTUS_ONLY, health_plan_checks, health_plan_fixes
from features.view import view

pytestmark = pytest.mark.unit

MTUS = re.compile(r"MTUS|ACOEM|ODG", re.IGNORECASE)


@pytest.mark.parametrize(
    ("item", "summary", "treatment", "diagnosis"),
    [
        (
            "MRI of the right shoulder",
            "Shoulder pain for six months.",
            ("Diagnostic Imaging, Screening and Testing", "MRI"),
            "Orthopedic/ Musculoskeletal",
        ),
        (
            "Harvoni 90/400 mg tablets",
            "Chronic hepatitis C, genotype 1.",
            ("Pharmacy/Prescription Drugs", "Anti-virals"),
            "Infectious",
        ),
        (
            "Residential treatment center admission",
            "Anorexia nervosa with weight loss.",
            ("Mental Health Treatment", "Residential Treatment Center - Admission"),
            "Mental",
        ),
        (
            "Applied behavioral analysis 20 hours a week",
            "Autism spectrum disorder, age 4.",
            ("Autism Related Treatment", "ABA-Applied Behavioral Analysis"),
            "Autism Spectrum",
        ),
        ("Proton beam therapy", "Prostate cancer.", ("Cancer Treatment", "Proton Beam Therapy"), "Cancer"),
        ("Power wheelchair", "", ("Durable Medical Equipment", None), None),
    ],
)
def test_request_words_map_to_dmhc_categories(
    item: str, summary: str, treatment: tuple[str, str | None], diagnosis: str | None
) -> None:
    mapped = map_categories(item, summary)
    assert (mapped.treatment_category, mapped.treatment_subcategory) == treatment
    assert mapped.diagnosis_category == diagnosis


def test_an_icd10_code_gives_the_diagnosis_chapter() -> None:
    assert map_categories("Knee brace. ICD-10 M17.11.").diagnosis_category == "Orthopedic/ Musculoskeletal"
    assert map_categories("Sertraline. ICD-10 F32.9.").diagnosis_category == "Mental"
    # The words may name the subcategory when they agree with the code's chapter.
    mapped = map_categories("Physical therapy. ICD-10 M54.5.", "Low back pain.")
    assert (mapped.diagnosis_category, mapped.diagnosis_subcategory) == ("Orthopedic/ Musculoskeletal", "Back Pain")


def test_unknown_words_map_to_nothing_and_hostile_input_is_bounded() -> None:
    assert map_categories("unspecified treatment", "") == map_categories("", "")
    assert map_categories("", "").treatment_category is None
    assert map_categories("x" * 200_000, "y " * 100_000).diagnosis_category is None


def test_every_mapped_category_is_a_choice_and_choices_are_listed() -> None:
    listed = choices()
    assert listed["treatment_category"] == list(TREATMENT_CATEGORIES)
    assert listed["diagnosis_category"] == list(DIAGNOSIS_CATEGORIES)
    assert listed["imr_type"] == ["Standard", "Expedited"] and "65+" in listed["age_range"]
    assert trend_name("Diag Imag & Screen") == "Diagnostic Imaging, Screening and Testing"


def test_the_view_maps_only_a_dmhc_request_that_names_no_category() -> None:
    row = view({"jurisdiction": "dmhc", "item_text": "Lumbar spinal fusion", "summary": "Spinal stenosis."})
    assert (row["treatment_category"], row["treatment_subcategory"]) == ("Orthopedic", "Fusion")
    assert row["diagnosis_category"] == "Orthopedic/ Musculoskeletal"
    given = view({"jurisdiction": "dmhc", "item_text": "Lumbar spinal fusion", "treatment_category": "Orthopedic"})
    assert given["diagnosis_category"] == "unknown"  # a request that names one keeps what it named
    dwc = view({"jurisdiction": "dwc", "item_text": "Lumbar spinal fusion"})
    assert dwc["diagnosis_category"] == "unknown"


def test_health_plan_checks_drop_mtus_rules_and_judge_plan_sources() -> None:
    record = {"item_text": "Physical therapy 12 sessions", "summary": "Meets the plan's InterQual criteria."}
    checks = evaluate_checklist(record["item_text"], record["summary"])
    plan = health_plan_checks(checks, record)
    codes = {c.code for c in plan}
    assert not codes & MTUS_ONLY
    named = next(c for c in plan if c.code == "guideline_named")
    assert named.status == "passed" and named.evidence == "InterQual"
    assert not any(MTUS.search(c.title) for c in plan)
    bare = health_plan_checks(
        evaluate_checklist("Physical therapy", "MTUS chronic pain guideline"), {"summary": "MTUS"}
    )
    assert next(c for c in bare if c.code == "guideline_named").status == "missing"
    fixes = health_plan_fixes(
        [
            {"check": "guideline_named", "title": "Guideline named (MTUS / ACOEM / ODG)", "advice": "MTUS"},
            {"check": "visits_within_guideline", "title": "Visits", "advice": "x"},
        ]
    )
    assert [f["check"] for f in fixes] == ["guideline_named"] and not MTUS.search(str(fixes))
