"""Coherence of the estimate with its own advice, checked over every real item (a training gate and a test).

Two properties, for every item of the data set:

* **Following advice never raises P(upheld).** For each check the request misses that can be satisfied by
  writing more, words that satisfy exactly that check (and change no other check) are appended to the field the
  check reads; the new P(upheld) must not exceed the old one by more than ``tolerance``.
* **Omission is never rewarded.** Dropping the clinical summary must not lower P(upheld).

The phrases below are written from the MTUS vocabulary and from how treating physicians document care, not taken
from the checklist's patterns; a check none of them satisfies for an item is counted as not testable there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from features.checklist import evaluate_checklist
from features.view import view_frame

Field = str
#: Per check, phrases that document it, each with the request field it is appended to (first that works wins).
FIX_PHRASES: Final[dict[str, tuple[tuple[Field, str], ...]]] = {
    "quantity_stated": (
        ("item_text", "2 times a week for 6 weeks"),
        ("item_text", "#60"),
        ("item_text", "quantity: 1, purchase"),
        ("item_text", "30-day rental"),
    ),
    "dose_stated": (("item_text", "10 mg"), ("item_text", "5%")),
    "body_part_stated": (("item_text", "lumbar spine"), ("item_text", "right shoulder")),
    "prior_treatment_outcome": (
        (
            "summary",
            "The prior sessions produced objective functional improvement: range of motion increased and the "
            "patient returned to modified work.",
        ),
        ("summary", "After the completed sessions the patient reports improved function and better ADLs."),
    ),
    "objective_findings": (
        ("summary", "Examination shows decreased sensation in the L5 dermatome and diminished reflexes."),
        ("summary", "Strength is 4/5 with atrophy; progressive neurologic deficit."),
    ),
    "conservative_care_tried": (
        ("summary", "The patient failed conservative care including physical therapy, NSAIDs and home exercise."),
        ("summary", "Conservative treatment with physical therapy and medications has failed."),
    ),
    "first_line_tried": (
        ("summary", "First-line oral NSAIDs and acetaminophen were tried and failed."),
        ("summary", "The patient failed oral NSAIDs and was intolerant of gabapentin."),
    ),
    "medication_efficacy": (
        ("summary", "With the medication pain decreases from 8/10 to 4/10 and the patient can walk and do ADLs."),
        ("summary", "The medication provides 50% pain relief and improved function."),
    ),
    "opioid_monitoring": (
        (
            "summary",
            "A urine drug screen was consistent, the CURES report was reviewed and a pain agreement is on file.",
        ),
        ("summary", "UDS consistent; CURES reviewed; opioid agreement signed; no side effects or aberrant behavior."),
    ),
    "short_course": (
        ("summary", "Requested for a short course of 2 weeks for an acute flare-up."),
        ("item_text", "short-term use for 2 weeks"),
    ),
    "gi_risk_documented": (
        ("summary", "The patient has dyspepsia on NSAIDs and a history of GI bleed."),
        ("summary", "History of peptic ulcer; GI upset with NSAIDs."),
    ),
    "primary_procedure_certified": (
        ("summary", "The primary surgery was authorized and certified."),
        ("summary", "The surgery has been authorized."),
    ),
    "guideline_named": (("claims_guideline", "MTUS"), ("summary", "per the MTUS ACOEM guidelines")),
}


def _statuses(record: dict[str, Any]) -> dict[str, str]:
    return dict(
        _checked(
            str(record.get("item_text") or ""),
            str(record.get("summary") or ""),
            str(record.get("claims_guideline") or ""),
        )
    )


@functools.lru_cache(maxsize=16_384)  # every candidate's gate checks the same requests and the same fixes
def _checked(item: str, summary: str, guideline: str) -> tuple[tuple[str, str], ...]:
    return tuple((r.code, r.status) for r in evaluate_checklist(item, summary, guideline))


def _appended(record: dict[str, Any], name: Field, phrase: str) -> dict[str, Any]:
    out = dict(record)
    current = str(out.get(name) or "").strip()
    out[name] = f"{current}{'.' if current and not current.endswith('.') else ''} {phrase}".strip()
    return out


def fix_for(record: dict[str, Any], check: str, before: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The record with words appended that satisfy exactly ``check`` (no other check changes), or None."""
    before = before or _statuses(record)
    for name, phrase in FIX_PHRASES.get(check, ()):
        candidate = _appended(record, name, phrase)
        after = _statuses(candidate)
        if after.get(check) != "passed":
            continue
        if all(after.get(c) == s for c, s in before.items() if c != check):
            return candidate
    return None


@dataclass
class CoherenceResult:
    """How the estimate moved when advice was followed, and when the summary was dropped."""

    fixes_tested: int = 0
    fixes_raised: int = 0
    worst_fix_rise: float = 0.0
    fixes_untestable: int = 0
    by_check: dict[str, list[int]] = field(default_factory=dict)  # check -> [tested, raised]
    summaries_dropped: int = 0
    omission_rewarded: int = 0
    worst_omission_gain: float = 0.0
    examples: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.fixes_raised == 0 and self.omission_rewarded == 0

    def describe(self) -> str:
        return (
            f"{self.fixes_raised} of {self.fixes_tested} fixes raised P(upheld) (worst +{self.worst_fix_rise:.4f}; "
            f"{self.fixes_untestable} missing checks had no phrase satisfying exactly them); dropping the summary "
            f"lowered P(upheld) for {self.omission_rewarded} of {self.summaries_dropped} items (worst "
            f"-{self.worst_omission_gain:.4f})"
        )


Scorer = Callable[[pd.DataFrame], np.ndarray]


def coherence(score: Scorer, records: Sequence[dict[str, Any]], tolerance: float = 0.005) -> CoherenceResult:
    """Check both properties over ``records`` (request dicts) with ``score`` (view frame -> P(upheld))."""
    result = CoherenceResult()
    base_p = score(view_frame(list(records)))
    pairs: list[tuple[int, str, dict[str, Any]]] = []
    for i, record in enumerate(records):
        before = _statuses(record)
        for check, status in before.items():
            if status != "missing" or check not in FIX_PHRASES:
                continue
            fixed = fix_for(record, check, before)
            if fixed is None:
                result.fixes_untestable += 1
                continue
            pairs.append((i, check, fixed))
    if pairs:
        after = score(view_frame([p[2] for p in pairs]))
        for (i, check, _), p_after in zip(pairs, after, strict=True):
            rise = float(p_after - base_p[i])
            tally = result.by_check.setdefault(check, [0, 0])
            tally[0] += 1
            result.fixes_tested += 1
            if rise > tolerance:
                tally[1] += 1
                result.fixes_raised += 1
                if len(result.examples) < 5:
                    result.examples.append(f"item {i}: fixing {check} raised P by {rise:.4f}")
            result.worst_fix_rise = max(result.worst_fix_rise, rise)
    with_summary = [i for i, r in enumerate(records) if str(r.get("summary") or "").strip()]
    if with_summary:
        dropped = score(view_frame([{**records[i], "summary": "", "ur_text": ""} for i in with_summary]))
        for i, p_dropped in zip(with_summary, dropped, strict=True):
            gain = float(base_p[i] - p_dropped)
            result.summaries_dropped += 1
            if gain > tolerance:
                result.omission_rewarded += 1
                if len(result.examples) < 10:
                    result.examples.append(f"item {i}: dropping the summary lowered P by {gain:.4f}")
            result.worst_omission_gain = max(result.worst_omission_gain, gain)
    return result


def estimator_scorer(estimator: Any) -> Scorer:
    """A scorer from any fitted candidate (its ``predict_proba`` on the view frame)."""

    def score(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(estimator.predict_proba(frame))[:, 1]

    return score
