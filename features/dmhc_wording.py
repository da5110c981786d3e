"""The checklist and advice in health-plan words, for DMHC requests.

The documentation checks (``features.checklist``) were written for workers' compensation, whose reviewers apply the
MTUS (ACOEM, ODG). A health plan's Independent Medical Review asks other questions: is the service medically
necessary under the plan's own criteria, is it experimental or investigational for the condition, what is the
standard of care, what do the plan's coverage documents say. Serving (``serving.scoring``) passes a DMHC item's
checks through :func:`health_plan_checks`: checks that only the MTUS defines (its visit allowances, its
not-recommended list) are left out, the others keep their result with health-plan titles and advice, and "guideline
named" becomes "plan criteria or evidence cited", judged on health-plan sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Final

from features.checklist import CheckResult

#: Checks whose rule is the MTUS's own (visit allowances, its not-recommended list): no meaning for a health plan.
MTUS_ONLY: Final[frozenset[str]] = frozenset({"visits_within_guideline", "guideline_recommended"})

TITLES: Final[dict[str, str]] = {
    "guideline_named": "Plan criteria or evidence cited (medical policy, coverage documents, standard of care)",
    "conservative_care_tried": "Less intensive treatment tried first (as the plan's criteria usually require)",
    "first_line_tried": "First-line (formulary) treatment tried first",
}

ADVICE: Final[dict[str, str]] = {
    "guideline_named": "Cite what makes the service medically necessary under the plan's criteria: the plan's "
    "medical policy or clinical criteria for it, the Evidence of Coverage section that covers it, and the standard "
    "of care (specialty-society guidelines, FDA labelling, peer-reviewed studies); if the plan calls it "
    "experimental or investigational, cite the evidence that it is not for this condition.",
    "conservative_care_tried": "Document the less intensive treatments tried (and for how long) and why they "
    "failed or were not tolerated, as the plan's medical necessity criteria ask.",
    "first_line_tried": "Document the formulary or first-line drugs tried, for how long, and why they failed or "
    "were not tolerated (step therapy), or why they are contraindicated.",
    "objective_findings": "Document the examination and test findings that meet the plan's criteria for the "
    "study, or the red flags that make it urgent.",
}

#: Reasons in a health plan's words (the codes of ``features.reasons``).
REASONS: Final[dict[str, str]] = {
    "criteria_not_met": "The plan's medical necessity criteria are not shown to be met",
    "not_recommended_by_guideline": "The plan considers the treatment experimental / investigational or not the "
    "standard of care for this condition",
    "long_term_use_not_supported": "Continued use is not supported by the plan's criteria or the standard of care",
    "exceeds_guideline_visits": "More visits than the plan's criteria allow without documented progress",
}

# Sources a health plan's reviewer weighs: the plan's own criteria and coverage documents, commercial criteria sets,
# regulators' labelling and the medical literature.
_PLAN_SOURCES: Final = re.compile(
    r"\b(?:medical (?:policy|necessity criteria)|clinical (?:policy|criteria|coverage)|coverage (?:policy|criteria|"
    r"document)|evidence of coverage|\beoc\b|plan'?s? (?:criteria|policy|guidelines?)|interqual|milliman|\bmcg\b|"
    r"hayes|nccn|fda[- ](?:approved|approval|label\w*|indicat\w*)|standard of care|peer[- ]reviewed|"
    r"practice guidelines?|american (?:college|academy|society|association) of [a-z ]{3,40}|"
    r"clinical trial|randomi[sz]ed)",
    re.IGNORECASE,
)
_MAX_SCAN: Final = 100_000


def plan_evidence(texts: Iterable[str]) -> str | None:
    """The first words in the request that cite health-plan criteria or evidence, if any."""
    for text in texts:
        found = _PLAN_SOURCES.search(text[:_MAX_SCAN])
        if found:
            return found.group(0)
    return None


def health_plan_checks(checks: Iterable[CheckResult], record: Mapping[str, Any]) -> list[CheckResult]:
    """A DMHC item's checks: MTUS-only ones left out, the guideline check judged on plan sources, plan wording."""
    texts = [str(record.get(name) or "") for name in ("item_text", "summary", "ur_text", "claims_guideline")]
    out: list[CheckResult] = []
    for check in checks:
        if check.code in MTUS_ONLY:
            continue
        if check.code == "guideline_named":
            evidence = plan_evidence(texts)
            check = replace(check, status="passed" if evidence else "missing", evidence=evidence, note=None)
        out.append(replace(check, title=TITLES.get(check.code, check.title)))
    return out


def advice(code: str, default: str) -> str:
    """A check's advice in health-plan words (its own where it has none of the MTUS's)."""
    return ADVICE.get(code, default)


def health_plan_fixes(fixes: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ranked fixes of a DMHC item, without the MTUS-only checks, in health-plan words."""
    return [
        {
            **fix,
            "title": TITLES.get(str(fix.get("check")), str(fix.get("title") or "")),
            "advice": ADVICE.get(str(fix.get("check")), str(fix.get("advice") or "")),
            "detail": ADVICE.get(str(fix.get("check")), str(fix.get("detail") or "")),
        }
        for fix in fixes
        if fix.get("check") not in MTUS_ONLY
    ]


def health_plan_reasons(reasons: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Reasons with health-plan labels, and without the MTUS-only checks among their evidence."""
    return [
        {
            **reason,
            "label": REASONS.get(str(reason.get("code")), str(reason.get("label") or "")),
            "checks": [c for c in reason.get("checks") or () if c not in MTUS_ONLY],
            "answered_by": [c for c in reason.get("answered_by") or () if c not in MTUS_ONLY],
        }
        for reason in reasons
    ]
