"""One taxonomy, one direction: the concepts the estimate, the checklist and the reasons share.

Each documentation check of :mod:`features.checklist` answers one reason reviewers give (:mod:`features.reasons`).
Here each check also gets its *direction* in the estimate:

* ``documents``: passing it means the request documents a fact (functional improvement, objective findings, a
  dose). A documented fact can only lower or keep P(upheld); its absence can only raise or keep it.
* ``flags``: failing it is a property of what is asked for, not a gap in the paperwork (a treatment the guideline
  does not recommend). A flag can only raise or keep P(upheld); writing more never sets it.
* ``advice_only``: shown as advice but never an input of the estimate, because passing it is not monotone in
  what is written (documenting prior visits can push a request over the guideline's allowance, and an office must
  never be rewarded for leaving those visits out).

``NEEDS`` says, per kind of item, which facts a reviewer needs before it can judge; a request without them gets
``insufficient_information`` (the category's prior is shown as context, never a better score).

The table is plain data: :func:`definitions` is what a registered model stores and answers from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

Direction = Literal["documents", "flags", "advice_only"]


@dataclass(frozen=True)
class Concept:
    """One check as the estimate sees it."""

    check: str
    reason_code: str
    direction: Direction
    #: How an office satisfies it, in words ("Document the outcome of the prior sessions").
    fix: str


CONCEPTS: Final[tuple[Concept, ...]] = (
    Concept("quantity_stated", "quantity_unspecified", "documents", "State the number, frequency and duration"),
    Concept("dose_stated", "quantity_unspecified", "documents", "State the dose or strength"),
    Concept("body_part_stated", "body_part_unspecified", "documents", "Name the body part and side"),
    Concept(
        "prior_treatment_outcome",
        "no_functional_improvement",
        "documents",
        "Document the functional improvement from the prior sessions",
    ),
    Concept(
        "visits_within_guideline",
        "exceeds_guideline_visits",
        "advice_only",
        "Count the visits already had: request no more than the guideline's allowance minus them, or document the "
        "functional improvement they produced (the guideline then allows more); never leave prior visits out",
    ),
    Concept("objective_findings", "no_red_flags_imaging", "documents", "Document the objective findings or red flags"),
    Concept(
        "conservative_care_tried",
        "conservative_care_not_tried",
        "documents",
        "Document the conservative care tried and that it failed",
    ),
    Concept(
        "first_line_tried",
        "conservative_care_not_tried",
        "documents",
        "Document the first-line medications tried and that they failed",
    ),
    Concept(
        "medication_efficacy",
        "medication_efficacy_not_documented",
        "documents",
        "Document pain relief and function with the medication",
    ),
    Concept(
        "opioid_monitoring",
        "medication_efficacy_not_documented",
        "documents",
        "Document the urine drug screen, CURES report and pain agreement",
    ),
    Concept("short_course", "long_term_use_not_supported", "documents", "Document the short course intended"),
    Concept("gi_risk_documented", "criteria_not_met", "documents", "Document the gastrointestinal risk"),
    Concept(
        "primary_procedure_certified",
        "associated_with_denied_procedure",
        "documents",
        "State that the primary procedure was authorized",
    ),
    Concept(
        "guideline_recommended",
        "not_recommended_by_guideline",
        "flags",
        "Consider a recommended alternative, or document why the guideline's exception applies",
    ),
    Concept("guideline_named", "criteria_not_met", "documents", "Name the guideline and section the request meets"),
)
CONCEPTS_BY_CHECK: Final[dict[str, Concept]] = {c.check: c for c in CONCEPTS}
DOCUMENTED_FACTS: Final[tuple[str, ...]] = tuple(c.check for c in CONCEPTS if c.direction == "documents")
FLAGS: Final[tuple[str, ...]] = tuple(c.check for c in CONCEPTS if c.direction == "flags")

#: Per kind of item, the facts without which a reviewer cannot judge (any one of a tuple's checks suffices when
#: it applies; checks that do not apply to the request are not asked for).
NEEDS: Final[dict[str, tuple[str, ...]]] = {
    "medication": ("dose_stated", "medication_efficacy"),
    "therapy": ("quantity_stated", "prior_treatment_outcome"),
    "diagnostic": ("objective_findings",),
    "procedure": ("conservative_care_tried",),
}


def kind_of(category: str) -> str | None:
    """The kind of item (medication, therapy, diagnostic, procedure) of a treatment category, or None."""
    from features.checklist import (
        DIAGNOSTIC_CATEGORIES,
        MEDICATION_CATEGORIES,
        PROCEDURE_CATEGORIES,
        THERAPY_CATEGORIES,
    )

    for kind, members in (
        ("medication", MEDICATION_CATEGORIES),
        ("therapy", THERAPY_CATEGORIES),
        ("diagnostic", DIAGNOSTIC_CATEGORIES),
        ("procedure", PROCEDURE_CATEGORIES),
    ):
        if category in members:
            return kind
    return None


def checklist_rows(checks: Iterable[Any], advice: Mapping[str, str]) -> list[dict[str, Any]]:
    """The applicable checks of a request as the model's output carries them (serving checks and shows them)."""
    return [
        {
            "code": c.code,
            "title": c.title,
            "status": c.status,
            "evidence": c.evidence,
            "note": c.note,
            "reason_code": c.reason_code,
            "advice": advice.get(c.code, ""),
        }
        for c in checks
        if c.status != "not_applicable"
    ]


def definitions() -> dict[str, Any]:
    """The concept table as JSON-ready data (stored inside every registered model)."""
    return {"concepts": [asdict(c) for c in CONCEPTS], "needs": {k: list(v) for k, v in NEEDS.items()}}
