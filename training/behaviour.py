"""Behavioural tests of a scorer: invariance, directional expectations and minimum functionality.

A *scorer* is anything with ``predict_records(list[dict]) -> list[dict]`` returning ``p_upheld`` (the logged
:class:`training.pyfunc.PrescreenModel` is one), so the same checks run on a freshly fitted model during
promotion and on a model loaded from the registry in ``tests/model``.

Only aggregate numbers leave this module: no request or summary text is ever printed or logged.

The hand-written cases below were chosen from what the data shows, before looking at any model's scores:

- DWC: every topical compound (0 of 12), muscle relaxant (0 of 9) and physical-modality (0 of 15) item in the
  letters was upheld, while pre-operative tests and associated services of a surgery that utilization review
  itself certified were the largest group of overturned items (9 of the 47). Both are also what MTUS says.
- DMHC (2001-2016 export): artificial disc replacement (95 % upheld, n = 61) and spinal fusion (92 %, n = 89)
  against mammography (10 % upheld, n = 269) and hepatitis anti-virals (20 %, n = 755).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class Scorer(Protocol):
    def predict_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]: ...


@dataclass
class BehaviourResult:
    """The outcome of one behavioural test: passed or not, a one-line detail, and per-check numbers."""

    name: str
    passed: bool
    detail: str
    values: dict[str, float] = field(default_factory=dict)


def _p(scorer: Scorer, records: list[dict[str, Any]]) -> np.ndarray:
    return np.array([float(r["p_upheld"]) for r in scorer.predict_records(records)], dtype=float)


# ---------------------------------------------------------------------------------------------------------------
# perturbations (summary only: what an office writes about the patient)

_AGE = re.compile(r"\b(\d{1,3})([- ](?:year|yr)s?[- ]old)\b", re.IGNORECASE)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})([-/])(\d{1,2})\2(\d{4}|\d{2})\b")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WORD_DATE = re.compile(rf"\b({'|'.join(_MONTHS)})\s+(\d{{1,2}}),?\s+(\d{{4}})\b")


def change_age(text: str, delta: int = 17) -> str:
    """Every stated age moved by ``delta`` years (wrapping to stay an adult's age)."""

    def repl(m: re.Match[str]) -> str:
        age = int(m.group(1))
        new = age + delta if age + delta <= 90 else max(18, age - delta)
        return f"{new}{m.group(2)}"

    return _AGE.sub(repl, text)


def shift_dates(text: str, days: int = 137) -> str:
    """Every recognisable date moved by the same number of days (intervals between them are kept)."""

    def numeric(m: re.Match[str]) -> str:
        month, sep, day, year = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
        full_year = int(year) + (2000 if len(year) == 2 else 0)
        try:
            moved = dt.date(full_year, month, day) + dt.timedelta(days=days)
        except ValueError:
            return m.group(0)
        shown_year = f"{moved.year % 100:02d}" if len(year) == 2 else str(moved.year)
        return f"{moved.month}{sep}{moved.day}{sep}{shown_year}"

    def worded(m: re.Match[str]) -> str:
        try:
            moved = dt.date(int(m.group(3)), _MONTHS.index(m.group(1)) + 1, int(m.group(2))) + dt.timedelta(days)
        except ValueError:
            return m.group(0)
        return f"{_MONTHS[moved.month - 1]} {moved.day}, {moved.year}"

    return _WORD_DATE.sub(worded, _NUMERIC_DATE.sub(numeric, text))


NAME_SENTENCE = "The treating physician is Dr. {doctor}; the patient, {patient}, attended with a family member."
NAMES_A = {"doctor": "Adams", "patient": "Maria Lopez"}
NAMES_B = {"doctor": "Nguyen", "patient": "John Miller"}


def with_names(text: str, names: dict[str, str]) -> str:
    return f"{text} {NAME_SENTENCE.format(**names)}".strip()


# ---------------------------------------------------------------------------------------------------------------
# tests


def invariance(scorer: Scorer, base: Sequence[dict[str, Any]], bound: float) -> BehaviourResult:
    """Changing the age, shifting every date, or swapping names in the summary moves p(upheld) by < ``bound``."""
    base = [dict(r) for r in base]
    perturbations: dict[str, Callable[[str], str]] = {
        "age": change_age,
        "dates": shift_dates,
        "names": lambda s: with_names(s, NAMES_B),
    }
    # Names are compared against the same sentence with other names, not against no sentence at all.
    reference = {
        "age": base,
        "dates": base,
        "names": [{**r, "summary": with_names(str(r.get("summary") or ""), NAMES_A)} for r in base],
    }
    values: dict[str, float] = {}
    worst_kind, worst = "", 0.0
    for kind, perturb in perturbations.items():
        originals = reference[kind]
        changed = [{**r, "summary": perturb(str(r.get("summary") or ""))} for r in base]
        delta = np.abs(_p(scorer, originals) - _p(scorer, changed))
        values[f"max_delta_{kind}"] = float(delta.max(initial=0.0))
        values[f"mean_delta_{kind}"] = float(delta.mean()) if len(delta) else 0.0
        if values[f"max_delta_{kind}"] >= worst:
            worst_kind, worst = kind, values[f"max_delta_{kind}"]
    passed = worst < bound
    detail = f"largest change {worst:.4f} ({worst_kind}) over {len(base)} requests; bound {bound}"
    return BehaviourResult("invariance", passed, detail, values)


@dataclass(frozen=True)
class DirectionalPair:
    """The same request without and with a stated quantity/frequency and documented functional improvement."""

    name: str
    vague: dict[str, Any]
    documented: dict[str, Any]


IMPROVEMENT = (
    " Prior sessions of this treatment gave documented functional improvement: pain decreased from 8/10 to 4/10, "
    "sitting tolerance increased from 15 to 45 minutes, and the patient returned to modified duty."
)
MEDICATION_IMPROVEMENT = (
    " With this medication pain decreased from 8/10 to 4/10 and the patient can walk 30 minutes and do household "
    "chores; there are no side effects and urine drug screens are consistent."
)

_DWC_SUMMARY = (
    "The injured worker is a 46 year old who sustained an industrial injury to the {part} on 3-14-2016. "
    "Diagnoses include {diagnosis}. The patient reports ongoing pain with activity. Examination showed "
    "tenderness and reduced range of motion. Treatment to date has included {history}. The treating physician "
    "requested {request}. On 11-2-2016 utilization review non-certified the request."
)


def _dwc(item: str, summary: str, guideline: str = "MTUS Chronic Pain Medical Treatment Guidelines") -> dict[str, Any]:
    return {"jurisdiction": "dwc", "item_text": item, "summary": summary, "claims_guideline": guideline}


#: DMHC requests are categories (plus a summary in the current export): the pair differs in the summary.
_DMHC_PAIR_BASE: dict[str, Any] = {
    "jurisdiction": "dmhc",
    "item_text": "Physical therapy",
    "treatment_category": "Rehabilitation Services - Outpatient",
    "treatment_subcategory": "Physical Therapy",
    "diagnosis_category": "Orthopedic/ Musculoskeletal",
    "diagnosis_subcategory": "Back Pain",
    "review_type": "Medical Necessity",
    "age_range": "41-50",
    "gender": "Female",
    "report_year": 2015,
}

#: DWC therapy pairs: name, vague item, documented item, body part, diagnosis, treatment to date.
DWC_THERAPY_PAIRS: tuple[tuple[str, str, str, str, str, str], ...] = (
    (
        "physical therapy",
        "Physical therapy for the lumbar spine",
        "Physical therapy 2 times a week for 4 weeks for the lumbar spine",
        "lumbar spine",
        "lumbar strain",
        "physical therapy and medication",
    ),
    (
        "chiropractic",
        "Chiropractic treatment for the neck",
        "Chiropractic treatment 1 time a week for 6 weeks for the neck",
        "neck",
        "cervical strain",
        "chiropractic care and home exercise",
    ),
    (
        "acupuncture",
        "Acupuncture for the low back",
        "Acupuncture 2 times a week for 3 weeks for the low back",
        "low back",
        "lumbar sprain",
        "acupuncture and medication",
    ),
    (
        "occupational therapy",
        "Occupational therapy for the right wrist",
        "Occupational therapy 2 times a week for 3 weeks for the right wrist",
        "right wrist",
        "wrist sprain",
        "occupational therapy and a splint",
    ),
)


def _dmhc_pairs() -> list[DirectionalPair]:
    base = _DMHC_PAIR_BASE
    vague = {**base, "summary": "The patient requested physical therapy for low back pain."}
    documented = {
        **base,
        "item_text": "Physical therapy 2 times a week for 6 weeks",
        "summary": "The patient requested physical therapy 2 times a week for 6 weeks for low back pain." + IMPROVEMENT,
    }
    return [DirectionalPair("dmhc physical therapy", vague, documented)]


def _dwc_pairs() -> list[DirectionalPair]:
    pairs: list[DirectionalPair] = []
    for name, vague_item, documented_item, part, diagnosis, history in DWC_THERAPY_PAIRS:
        summary = _DWC_SUMMARY.format(part=part, diagnosis=diagnosis, history=history, request=name)
        pairs.append(DirectionalPair(name, _dwc(vague_item, summary), _dwc(documented_item, summary + IMPROVEMENT)))
    medication_summary = _DWC_SUMMARY.format(
        part="low back",
        diagnosis="lumbar radiculopathy",
        history="medication and physical therapy",
        request="a refill of Norco",
    )
    vague, documented = "Norco", "Norco 10/325mg #60, one tablet twice a day"
    pairs.append(
        DirectionalPair(
            "opioid refill",
            _dwc(vague, medication_summary),
            _dwc(documented, medication_summary + MEDICATION_IMPROVEMENT),
        )
    )
    return pairs


def directional_pairs(jurisdiction: str) -> list[DirectionalPair]:
    """Hand-written pairs: 'documented' must not score more likely upheld than 'vague'."""
    return _dwc_pairs() if jurisdiction == "dwc" else _dmhc_pairs()


def directional(scorer: Scorer, pairs: Sequence[DirectionalPair], tolerance: float) -> BehaviourResult:
    """Stating quantity and frequency and documenting improvement must not make a request more likely upheld."""
    vague = _p(scorer, [p.vague for p in pairs])
    documented = _p(scorer, [p.documented for p in pairs])
    increase = documented - vague
    failing = [pair.name for pair, d in zip(pairs, increase, strict=True) if d > tolerance]
    values = {"max_increase": float(increase.max(initial=-1.0)), "mean_change": float(increase.mean())}
    detail = (
        f"{len(pairs) - len(failing)}/{len(pairs)} pairs not more likely upheld when documented "
        f"(largest increase {values['max_increase']:+.4f}, tolerance {tolerance})"
        + (f"; failing: {', '.join(failing)}" if failing else "")
    )
    return BehaviourResult("directional", not failing, detail, values)


@dataclass(frozen=True)
class ClearCase:
    """A hand-written request whose side of the operating threshold the data makes clear."""

    name: str
    request: dict[str, Any]
    expected: str  # "Upheld" or "Overturned"


#: DMHC clear cases: name, expected side, then the request's treatment subcategory, category, diagnosis
#: category and subcategory, review type, and any further fields.
DMHC_CLEAR_CASES: tuple[tuple[str, str, str, str, str, str, str, dict[str, Any]], ...] = (
    (
        "artificial disc replacement",
        "Upheld",
        "Artificial Disk Replacement",
        "Orthopedic",
        "Orthopedic/ Musculoskeletal",
        "Vertebral Disc Problem",
        "Experimental/Investigational",
        {},
    ),
    (
        "spinal fusion",
        "Upheld",
        "Fusion",
        "Orthopedic",
        "Orthopedic/ Musculoskeletal",
        "Vertebral Disc Problem",
        "Medical Necessity",
        {},
    ),
    (
        "mammography",
        "Overturned",
        "Mammography",
        "Diagnostic Imaging, Screening and Testing",
        "Prevention/Good Health",
        "Other",
        "Experimental/Investigational",
        {"gender": "Female"},
    ),
    (
        "hepatitis anti-virals",
        "Overturned",
        "Anti-virals",
        "Pharmacy/Prescription Drugs",
        "Infectious",
        "Hepatitis",
        "Medical Necessity",
        {},
    ),
)

_CHRONIC = _DWC_SUMMARY.format(
    part="low back",
    diagnosis="chronic lumbar strain",
    history="physical therapy, chiropractic care, medications and home exercise for several years",
    request="the item under review",
)
_SURGERY = (
    "The injured worker is a 52 year old who injured the right shoulder at work on 9-20-2016. MRI showed a "
    "full-thickness rotator cuff tear. Six weeks of physical therapy and a cortisone injection failed. The "
    "surgeon requested right shoulder arthroscopic rotator cuff repair; utilization review certified the "
    "surgery. On 11-8-2016 utilization review non-certified the associated request."
)
#: DWC clear cases: name, expected side, item, summary, claims guideline (None: the default MTUS guideline).
DWC_CLEAR_CASES: tuple[tuple[str, str, str, str, str | None], ...] = (
    (
        "topical compound",
        "Upheld",
        "Compounded topical cream: flurbiprofen 20%, lidocaine 5%, 180 grams",
        _CHRONIC,
        None,
    ),
    ("muscle relaxant", "Upheld", "Cyclobenzaprine 7.5mg #90", _CHRONIC, None),
    ("infrared therapy", "Upheld", "Infrared heat therapy sessions", _CHRONIC, None),
    (
        "pre-operative labs for a certified surgery",
        "Overturned",
        "Pre-operative labs: CBC and BMP",
        _SURGERY,
        "MTUS Shoulder Complaints",
    ),
    (
        "post-operative physical therapy for a certified surgery",
        "Overturned",
        "Associated surgical service: post-operative physical therapy, 12 sessions",
        _SURGERY,
        "MTUS Postsurgical Treatment Guidelines",
    ),
)


def _dmhc_request(
    sub: str, category: str, diagnosis: str, diagnosis_sub: str, review: str, extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "jurisdiction": "dmhc",
        "item_text": sub,
        "treatment_category": category,
        "treatment_subcategory": sub,
        "diagnosis_category": diagnosis,
        "diagnosis_subcategory": diagnosis_sub,
        "review_type": review,
        **extra,
    }


def clear_cases(jurisdiction: str) -> list[ClearCase]:
    """The hand-written clear cases of a jurisdiction, as requests (see the module docstring for their source)."""
    if jurisdiction != "dwc":
        return [
            ClearCase(name, _dmhc_request(sub, category, diagnosis, diagnosis_sub, review, extra), expected)
            for name, expected, sub, category, diagnosis, diagnosis_sub, review, extra in DMHC_CLEAR_CASES
        ]
    return [
        ClearCase(name, _dwc(item, summary) if guideline is None else _dwc(item, summary, guideline), expected)
        for name, expected, item, summary, guideline in DWC_CLEAR_CASES
    ]


def minimum_functionality(
    scorer: Scorer, cases: Sequence[ClearCase], threshold: float, required: float = 1.0
) -> BehaviourResult:
    """At least ``required`` of the clear cases land on their expected side of the operating threshold."""
    p = _p(scorer, [c.request for c in cases])
    right = [(pi >= threshold) == (c.expected == "Upheld") for c, pi in zip(cases, p, strict=True)]
    share = float(np.mean(right)) if right else 1.0
    wrong = [c.name for c, ok in zip(cases, right, strict=True) if not ok]
    detail = f"{sum(right)}/{len(cases)} clear cases on the expected side of {threshold:.3f}" + (
        f"; wrong: {', '.join(wrong)}" if wrong else ""
    )
    values = {"share_right": share, **{f"p_{i}": float(v) for i, v in enumerate(p)}}
    return BehaviourResult("minimum_functionality", share >= required, detail, values)


def invariance_base(requests: Sequence[dict[str, Any]], jurisdiction: str, limit: int = 40) -> list[dict[str, Any]]:
    """Requests for the invariance test: up to ``limit`` with a summary, plus the hand-written ones."""
    with_summary = [dict(r) for r in requests if str(r.get("summary") or "").strip()][:limit]
    written = [c.request for c in clear_cases(jurisdiction)] + [p.vague for p in directional_pairs(jurisdiction)]
    return with_summary + [dict(w) for w in written]


def run_all(
    scorer: Scorer,
    jurisdiction: str,
    threshold: float,
    invariance_bound: float,
    directional_tolerance: float,
    min_functionality: float,
    real_requests: Sequence[dict[str, Any]] = (),
) -> list[BehaviourResult]:
    """Every behavioural test of one jurisdiction."""
    return [
        invariance(scorer, invariance_base(real_requests, jurisdiction), invariance_bound),
        directional(scorer, directional_pairs(jurisdiction), directional_tolerance),
        minimum_functionality(scorer, clear_cases(jurisdiction), threshold, min_functionality),
    ]
