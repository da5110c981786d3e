"""The checklist itself: one declarative row per check, and running the rows on a request."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

from features.categories import categorize
from features.checklist.core import (
    _DOSE,
    _MAX_GUIDELINE_CHARS,
    _MAX_ITEM_CHARS,
    _MAX_SUMMARY_CHARS,
    _NOT_A_THERAPY,
    _POST_SURGICAL,
    _THERAPY_WORDS,
    ALL_CATEGORIES,
    DIAGNOSTIC_CATEGORIES,
    MEDICATION_CATEGORIES,
    PROCEDURE_CATEGORIES,
    THERAPY_CATEGORIES,
    Check,
    CheckResult,
    Request,
    Status,
    _rx,
)
from features.checklist.counts import (
    _BODY_PART,
    _FUNCTIONAL_GAIN,
    _check_quantity,
    _check_visits,
    _is_medication,
    _needs_quantity,
    _visits_countable,
)
from features.checklist.patterns import (
    _ACID_SUPPRESSANT,
    _ASSOCIATED_SERVICE,
    _FIRST_LINE_TRIED,
    _GI_RISK,
    _GUIDELINE,
    _MEDICATION_EFFICACY,
    _OPIOID_MONITORING,
    _SHORT_COURSE,
    _SHORT_COURSE_DRUG,
    _SURGERY_CERTIFIED,
    _check_conservative_care,
    _check_objective_findings,
    _check_recommended,
    _continues_therapy,
)
from features.reasons import REASONS

# --------------------------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------------------------

CHECKS: Final[tuple[Check, ...]] = (
    Check(
        code="quantity_stated",
        title="Number, frequency and duration stated",
        reason_code="quantity_unspecified",
        categories=THERAPY_CATEGORIES | MEDICATION_CATEGORIES | {"DME / supplies"},
        advice="State the total number of sessions or the frequency and duration (e.g. '2 times a week for 6 "
        "weeks'); for a medication the quantity (e.g. '#60'); for supplies or rentals the amount or rental period.",
        evaluate=_check_quantity,
        also_if=_THERAPY_WORDS,
        condition=_needs_quantity,
    ),
    Check(
        code="dose_stated",
        title="Medication dose or strength stated",
        reason_code="quantity_unspecified",
        categories=MEDICATION_CATEGORIES,
        advice="State the strength and dose of the medication (e.g. '10mg', '5/325mg', '5%').",
        pattern=_DOSE,
        look_in="item",
        affirmed=False,
        condition=_is_medication,
    ),
    Check(
        code="body_part_stated",
        title="Body part (and side) stated",
        reason_code="body_part_unspecified",
        categories=(THERAPY_CATEGORIES - {"Psychological care", "Functional restoration / programs"})
        | DIAGNOSTIC_CATEGORIES
        | PROCEDURE_CATEGORIES,
        advice="Name the body part and side to be treated or imaged (e.g. 'cervical spine', 'right shoulder').",
        pattern=_BODY_PART,
        look_in="item",
        affirmed=False,
        also_if=_rx(r"\b(?:physical therap\w*|chiro\w*|acupuncture|manipulation|occupational therap\w*)\b"),
        # An associated service (post-op therapy, pre-op labs, assistant) takes the body part of its surgery.
        unless=_rx(_ASSOCIATED_SERVICE.pattern + "|" + _NOT_A_THERAPY.pattern),
    ),
    Check(
        code="prior_treatment_outcome",
        title="Functional improvement from prior sessions documented",
        reason_code="no_functional_improvement",
        categories=THERAPY_CATEGORIES,
        advice="For continued therapy, state how many sessions were completed and the objective functional "
        "improvement they produced (e.g. increased range of motion, return to modified work, ADLs).",
        pattern=_FUNCTIONAL_GAIN,
        also_if=_THERAPY_WORDS,
        unless=_POST_SURGICAL,
        condition=_continues_therapy,
    ),
    Check(
        code="visits_within_guideline",
        title="Number of visits within the guideline's allowance",
        reason_code="exceeds_guideline_visits",
        categories=THERAPY_CATEGORIES,
        advice="Keep the request within the guideline's initial trial (e.g. 6 chiropractic or acupuncture visits, "
        "10 physical therapy visits), or document the exceptional factors that justify more.",
        evaluate=_check_visits,
        also_if=_THERAPY_WORDS,
        unless=_POST_SURGICAL,
        condition=_visits_countable,
    ),
    Check(
        code="objective_findings",
        title="Objective findings or red flags documented",
        reason_code="no_red_flags_imaging",
        categories=DIAGNOSTIC_CATEGORIES,
        advice="Document the objective findings that justify the study: neurologic deficits (sensation, reflexes, "
        "strength), positive provocative tests, or red flags (trauma, fracture, progressive deficit, cauda equina).",
        evaluate=_check_objective_findings,
        also_if=_rx(r"\b(?:epidural|esi|transforaminal|selective nerve root)\b"),
    ),
    Check(
        code="conservative_care_tried",
        title="Conservative care tried and failed",
        reason_code="conservative_care_not_tried",
        categories=DIAGNOSTIC_CATEGORIES | PROCEDURE_CATEGORIES,
        advice="Document the conservative care already tried (physical therapy, medications, home exercise), for "
        "how long, and that it failed.",
        evaluate=_check_conservative_care,
        also_if=_rx(r"\b(?:tens|interferential)\b"),
        unless=_ASSOCIATED_SERVICE,
    ),
    Check(
        code="first_line_tried",
        title="First-line oral medication tried or not tolerated",
        reason_code="conservative_care_not_tried",
        categories=frozenset({"Topical analgesic", "Opioid"}),
        advice="Document the first-line medications tried (oral NSAIDs, acetaminophen, antidepressants or "
        "anticonvulsants for neuropathic pain) and that they failed or were not tolerated.",
        pattern=_FIRST_LINE_TRIED,
    ),
    Check(
        code="medication_efficacy",
        title="Medication efficacy documented (pain relief and function)",
        reason_code="medication_efficacy_not_documented",
        categories=MEDICATION_CATEGORIES,
        advice="Document pain scores with and without the medication and the functional gains it allows.",
        pattern=_MEDICATION_EFFICACY,
        condition=_is_medication,
    ),
    Check(
        code="opioid_monitoring",
        title="Opioid monitoring documented (UDS, CURES, side effects)",
        reason_code="medication_efficacy_not_documented",
        categories=frozenset({"Opioid"}),
        advice="Document a recent urine drug screen, the CURES report, a pain agreement, side effects and "
        "aberrant behaviour.",
        pattern=_OPIOID_MONITORING,
    ),
    Check(
        code="short_course",
        title="Short-course medication requested for a short course",
        reason_code="long_term_use_not_supported",
        categories=frozenset({"Muscle relaxant"}),
        advice="Muscle relaxants and benzodiazepines are recommended for short courses only: document the acute "
        "flare-up and the intended duration.",
        pattern=_SHORT_COURSE,
        also_if=_SHORT_COURSE_DRUG,
        condition=lambda r: _is_medication(r) and r.category != "Topical analgesic",
    ),
    Check(
        code="gi_risk_documented",
        title="Gastrointestinal risk documented",
        reason_code="criteria_not_met",
        categories=frozenset({"Gastro-protective"}),
        advice="Document the GI risk that justifies a proton pump inhibitor (dyspepsia on NSAIDs, ulcer or bleed "
        "history, age over 65, anticoagulants or corticosteroids).",
        pattern=_GI_RISK,
        condition=lambda r: _ACID_SUPPRESSANT.search(r.item) is not None,
    ),
    Check(
        code="primary_procedure_certified",
        title="Primary surgery or procedure certified",
        reason_code="associated_with_denied_procedure",
        categories=frozenset(),
        advice="State that the primary surgery or procedure was authorized (with its date), or request the "
        "associated services together with it.",
        pattern=_SURGERY_CERTIFIED,
        look_in="summary",
        also_if=_ASSOCIATED_SERVICE,
    ),
    Check(
        code="guideline_recommended",
        title="Treatment is one the guidelines recommend",
        reason_code="not_recommended_by_guideline",
        categories=ALL_CATEGORIES,
        advice="The MTUS/ODG call this treatment (or an ingredient) not recommended: consider a recommended "
        "alternative, or document why the guideline's exception applies.",
        evaluate=_check_recommended,
    ),
    Check(
        code="guideline_named",
        title="Guideline named (MTUS / ACOEM / ODG)",
        reason_code="criteria_not_met",
        categories=ALL_CATEGORIES,
        advice="Name the guideline and section the request meets (MTUS, ACOEM or ODG) and show its criteria.",
        pattern=_GUIDELINE,
        look_in="whole",
        affirmed=False,
    ),
)
CHECKS_BY_CODE: Final[dict[str, Check]] = {check.code: check for check in CHECKS}


def _clean(value: object, limit: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = value if isinstance(value, str) else str(value)
    return " ".join(text[: limit * 2].split())[:limit]


def make_request(item_text: str, summary: str = "", claims_guideline: str = "") -> Request:
    """The normalised request the checks read."""
    item = _clean(item_text, _MAX_ITEM_CHARS)
    return Request(
        item=item,
        summary=_clean(summary, _MAX_SUMMARY_CHARS),
        guideline=_clean(claims_guideline, _MAX_GUIDELINE_CHARS),
        category=categorize(item),
    )


def _run(check: Check, request: Request) -> CheckResult:
    if not check.applies(request):
        return CheckResult(check.code, check.title, "not_applicable", None, check.reason_code)
    outcome = check.outcome(request)
    status: Status = "passed" if outcome.passed else "missing"
    return CheckResult(check.code, check.title, status, outcome.evidence, check.reason_code, outcome.note)


def evaluate_checklist(item_text: str, summary: str = "", claims_guideline: str = "") -> list[CheckResult]:
    """Every check in :data:`CHECKS` order on one request (pre-submission text only, never a rationale)."""
    request = make_request(item_text, summary, claims_guideline)
    return [_run(check, request) for check in CHECKS]


def missing_reasons(results: Iterable[CheckResult]) -> list[str]:
    """The reasons (in words) an office should address: one per reason code of a failed check."""
    codes = list(dict.fromkeys(r.reason_code for r in results if r.status == "missing"))
    return [REASONS[code] for code in codes]
