"""Explanations served beside each probability: the documentation checklist, reasons in words, the model's top
terms and similar past determinations.

- The checklist (``features.checklist``) runs here, on the request text only (about 0.2 ms an item), so it is
  there whatever model serves; checks that do not apply to an item are left out.
- Reasons merge the model's rationale-supervised reason head (``source: "model"``, with its probability) and the
  reason codes of the failed checks (``source: "checklist"``); a model reason that a failed check confirms keeps
  ``source: "model"`` and lists the check in ``checks``. Labels are the plain words of ``features.reasons``.
- Top terms and similar determinations come from the model when it provides them (``top_terms`` in its output,
  a ``similar(records, k)`` method); everything from the model is checked and trimmed here, and a malformed entry
  is dropped, never an error.

Nothing here logs: explanations quote request text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal

from features import dmhc_wording
from features.checklist import CHECKS, CheckResult, evaluate_checklist
from features.reasons import REASONS

ADVICE: Final[dict[str, str]] = {check.code: check.advice for check in CHECKS}
#: Most top terms returned per item (largest absolute weight first).
MAX_TERMS: Final = 8
_MAX_TERM_CHARS: Final = 80
_MAX_HIT_TEXT_CHARS: Final = 600
_SPACE: Final = re.compile(r"\s+")

EvidenceIn = Literal["item_text", "summary", "claims_guideline"]


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def _evidence_in(evidence: str | None, record: Mapping[str, Any]) -> EvidenceIn | None:
    """Which field of the request holds the evidence words (the page highlights them there)."""
    if not evidence:
        return None
    words = _squash(evidence)
    fields: tuple[EvidenceIn, ...] = ("item_text", "summary", "claims_guideline")
    for name in fields:
        text = record.get(name)
        if isinstance(text, str) and words in _squash(text):
            return name
    return None


def run_checklist(record: Mapping[str, Any]) -> list[CheckResult]:
    """Every check on one model-input record (item, summary and guideline only; never a rationale)."""
    return evaluate_checklist(
        str(record.get("item_text") or ""), str(record.get("summary") or ""), str(record.get("claims_guideline") or "")
    )


def health_plan(record: Mapping[str, Any]) -> bool:
    """Whether the item is a health-plan (DMHC) request, whose checklist speaks the plan's language, not MTUS."""
    return str(record.get("jurisdiction") or "").strip().lower() == "dmhc"


def plan_checks(
    checks: Iterable[CheckResult], record: Mapping[str, Any], advice: Mapping[str, str]
) -> tuple[list[CheckResult], dict[str, str]]:
    """A DMHC item's checks and advice in health-plan words (``features.dmhc_wording``), MTUS-only checks left out."""
    kept = dmhc_wording.health_plan_checks(checks, record)
    words = {c.code: dmhc_wording.advice(c.code, advice.get(c.code) or ADVICE.get(c.code, "")) for c in kept}
    return kept, words


def model_checklist(entries: Iterable[Any]) -> list[CheckResult]:
    """The checklist the model ran itself (with the definitions it was registered with), checked; bad rows dropped."""
    out: list[CheckResult] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        code, title, status = entry.get("code"), entry.get("title"), entry.get("status")
        if not isinstance(code, str) or not isinstance(title, str) or status not in ("passed", "missing"):
            continue
        evidence, note = entry.get("evidence"), entry.get("note")
        out.append(
            CheckResult(
                code,
                title,
                status,
                evidence if isinstance(evidence, str) else None,
                str(entry.get("reason_code") or ""),
                note if isinstance(note, str) else None,
            )
        )
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def fixes_out(raw: Iterable[Any], p_upheld: float) -> list[dict[str, Any]]:
    """The model's ranked fixes, checked: biggest drop first, P(upheld) after a fix never above the item's."""
    out: list[dict[str, Any]] = []
    for entry in raw:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("check"), str):
            continue
        after = _number(entry.get("p_after"))
        if after is None or not 0.0 <= after <= 1.0:
            continue
        after = min(after, p_upheld)
        out.append(
            {
                "check": entry["check"],
                "title": str(entry.get("title") or entry["check"]),
                "advice": str(entry.get("advice") or ""),
                "detail": str(entry.get("detail") or ADVICE.get(entry["check"], "")),
                "p_after": round(after, 4),
                "effect": round(after - p_upheld, 4),
                "changes_estimate": bool(entry.get("changes_estimate")) and after < p_upheld,
            }
        )
    out.sort(key=lambda f: (f["effect"], f["check"]))
    return out


def attributions_out(raw: Iterable[Any]) -> list[dict[str, Any]]:
    """What moved the estimate, in words: documented facts (lower it), missing ones and flags (raise it)."""
    out: list[dict[str, Any]] = []
    for entry in raw:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("statement"), str):
            continue
        direction = entry.get("direction")
        if direction not in ("lowers", "raises"):
            continue
        effect = _number(entry.get("effect"))
        check = entry.get("check")
        out.append(
            {
                "check": check if isinstance(check, str) else None,
                "statement": entry["statement"][:200],
                "direction": direction,
                "effect": None if effect is None else round(effect, 4),
            }
        )
    out.sort(key=lambda a: -abs(a["effect"] or 0.0))
    return out


def checklist_out(
    results: Iterable[CheckResult], record: Mapping[str, Any], advice: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The checks that apply, in checklist order (the shape of ``schemas.CheckOut``)."""
    words = advice or {}
    return [
        {
            "code": r.code,
            "title": r.title,
            "status": r.status,
            "evidence": r.evidence,
            "evidence_in": _evidence_in(r.evidence, record),
            "advice": words.get(r.code) or ADVICE.get(r.code, ""),
            "note": r.note,
            "reason_code": r.reason_code,
        }
        for r in results
        if r.status != "not_applicable"
    ]


def merge_reasons(model: Sequence[Mapping[str, Any]], checks: Iterable[CheckResult]) -> list[dict[str, Any]]:
    """The model's reasons (most likely first), then the reasons of failed checks not already given.

    The shape of ``schemas.Reason``: code, label (plain words), probability (the model's, else null), source and
    the failed checks that give the same reason.
    """
    failed: dict[str, list[str]] = {}
    answered: dict[str, list[str]] = {}
    for result in checks:
        if result.status == "missing":
            failed.setdefault(result.reason_code, []).append(result.code)
        elif result.status == "passed":
            answered.setdefault(result.reason_code, []).append(result.code)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for reason in model:
        code = str(reason.get("code") or "")
        key = code or str(reason.get("label") or "")
        if key in seen:
            continue
        seen.add(key)
        out.append(
            {
                "code": code,
                "label": REASONS.get(code) or str(reason.get("label") or code),
                "probability": reason.get("probability"),
                "source": "model",
                "checks": failed.get(code, []),
                # A passed check answers the reason (unless another check still fails it).
                "answered_by": [] if failed.get(code) else answered.get(code, []),
            }
        )
    for code, check_codes in failed.items():
        if code not in seen:
            seen.add(code)
            out.append(
                {
                    "code": code,
                    "label": REASONS.get(code, code),
                    "probability": None,
                    "source": "checklist",
                    "checks": check_codes,
                    "answered_by": [],
                }
            )
    return out


def plain_feature(feature: str) -> str:
    """A feature name as a person reads it: pipeline prefixes (``text__``) dropped, ``_``/``=`` spelled out."""
    name = feature.strip()
    prefix, _, rest = name.rpartition("__")
    if prefix:
        name = rest
    if " " not in name:
        name = name.replace("=", ": ").replace("_", " ")
    name = _SPACE.sub(" ", name).strip()
    return name if len(name) <= _MAX_TERM_CHARS else name[: _MAX_TERM_CHARS - 1] + "…"


def top_terms(raw: Iterable[Any]) -> list[dict[str, Any]]:
    """The model's attribution, checked: {feature, label, weight, toward}, largest absolute weight first."""
    terms: list[dict[str, Any]] = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            continue
        feature, weight = entry.get("feature"), entry.get("weight")
        if not isinstance(feature, str) or not feature.strip():
            continue
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or not weight:
            continue
        terms.append(
            {
                "feature": feature[:_MAX_TERM_CHARS],
                "label": plain_feature(feature),
                "weight": round(float(weight), 4),
                "toward": "upheld" if weight > 0 else "overturned",
            }
        )
    terms.sort(key=lambda t: -abs(t["weight"]))
    return terms[:MAX_TERMS]


def _text(value: Any, limit: int = _MAX_HIT_TEXT_CHARS) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def similar_hit(hit: Any) -> dict[str, Any] | None:
    """One similar past determination from the model (a dict or a ``SimilarHit``), checked; None if unusable."""
    if hasattr(hit, "as_dict"):
        hit = hit.as_dict()
    if not isinstance(hit, Mapping):
        return None
    determination = hit.get("determination")
    item_text = _text(hit.get("item_text"))
    if determination not in ("Upheld", "Overturned") or item_text is None:
        return None
    raw_date: Any = hit.get("decision_date")
    date = raw_date.isoformat() if hasattr(raw_date, "isoformat") else _text(raw_date, 10)
    year = hit.get("report_year")
    similarity = hit.get("similarity")
    return {
        "item_id": _text(hit.get("item_id"), 64),
        "case_id": _text(hit.get("case_id"), 64),
        "item_text": item_text,
        "determination": determination,
        "decision_date": date,
        "report_year": int(year) if isinstance(year, int | float) and math.isfinite(year) else None,
        "treatment_category": _text(hit.get("treatment_category"), 120),
        "rationale_excerpt": _text(hit.get("rationale_excerpt")),
        "reviewer_guideline": _text(hit.get("reviewer_guideline")),
        "similarity": (
            round(float(similarity), 4) if isinstance(similarity, int | float) and math.isfinite(similarity) else None
        ),
    }


def _case_key(case_id: str | None) -> str:
    return (case_id or "").strip().upper()


def _decided_before(hit: Mapping[str, Any], before: str) -> bool:
    if hit["decision_date"]:
        return bool(hit["decision_date"] < before)
    year = hit["report_year"]  # no date: only a report of an earlier year is surely earlier
    return year is not None and before[:4].isdigit() and year < int(before[:4])


def similar_out(
    hits: Iterable[Any], k: int, exclude_case: str | None = None, before: str | None = None
) -> list[dict[str, Any]]:
    """Up to ``k`` checked hits, best first, without the excluded case and (``before``, ISO date) later decisions."""
    excluded = _case_key(exclude_case)
    out: list[dict[str, Any]] = []
    for raw in hits:
        hit = similar_hit(raw)
        if hit is None:
            continue
        if excluded and _case_key(hit["case_id"]) == excluded:
            continue
        if before and not _decided_before(hit, before):
            continue
        out.append(hit)
        if len(out) >= k:
            break
    return out
