"""The documentation checklist: what a request should show before it is sent to Independent Medical Review.

Each check stands for one reason reviewers give when they uphold a denial (``features.reasons``) and looks, in the
*request* only (the disputed item, the clinical summary and the claims administrator's guideline), for the words
that answer it: the number and frequency of sessions, the body part, documented functional improvement from prior
sessions, objective findings before imaging, medication efficacy and monitoring, and so on. The reviewer's
rationale is never read here; it is only used by :func:`measure_checklist` to measure how often a failed check is
the reason the reviewer gave.

Design choices:

* A check first decides whether it applies, from the item's treatment category
  (``features.categories.categorize``) and, where the category is too coarse, from the item's words (a
  post-operative physical therapy request is categorised as surgery but is still a series of sessions).
* Where the request must itself say something (quantity, dose, body part) only the item text counts: an office
  fixes the request line, and the summary often quotes a *different* quantity from the utilization review.
  Clinical documentation (findings, prior treatment, efficacy) is looked for in the summary and the item.
* Evidence is the exact words found (whitespace collapsed), so a person can check them. Findings preceded by a
  negation ("no numbness", "negative Spurling's") do not count.
* Every pattern has bounded repetition and inputs are capped, so any string is evaluated in well under a
  millisecond and nothing raises.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import pandas as pd

from features.categories import categorize
from features.reasons import REASONS, mine_reasons

Status = Literal["passed", "missing", "not_applicable"]
STATUSES: Final[tuple[Status, ...]] = ("passed", "missing", "not_applicable")

# Real summaries run to a few thousand characters; the caps only bound the cost of hostile input.
_MAX_ITEM_CHARS: Final = 2_000
_MAX_SUMMARY_CHARS: Final = 40_000
_MAX_GUIDELINE_CHARS: Final = 2_000
# Evidence is a short span, not a paragraph.
_MAX_EVIDENCE_CHARS: Final = 120


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one request.

    ``evidence`` holds the words of the request the result rests on: for a passed check, the words that satisfy
    it; for a failed ``guideline_recommended`` check, the words naming the disfavoured treatment; otherwise None.
    ``note`` adds a computed detail where there is one (e.g. the number of visits against the guideline's).
    """

    code: str
    title: str
    status: Status
    evidence: str | None
    reason_code: str
    note: str | None = None


@dataclass(frozen=True)
class Request:
    """A request as the checks see it: whitespace-normalised, capped text and the item's treatment category."""

    item: str
    summary: str
    guideline: str
    category: str

    @property
    def documentation(self) -> str:
        """Item and summary together: where clinical documentation may be found."""
        return f"{self.item} . {self.summary}"


@dataclass(frozen=True)
class _Outcome:
    passed: bool
    evidence: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Check:
    """One checklist entry: when it applies, what it looks for, and the reviewer reason it answers."""

    code: str
    title: str
    reason_code: str
    categories: frozenset[str]
    advice: str
    evaluate: Callable[[Request], _Outcome]
    #: Item words that make the check apply whatever the category (None: the categories alone decide).
    also_if: re.Pattern[str] | None = None
    #: Item words that make the check not apply (e.g. an evaluation visit has no session count).
    unless: re.Pattern[str] | None = None
    #: A further condition on the whole request (e.g. "this is a continuation of therapy").
    condition: Callable[[Request], bool] | None = None

    def applies(self, request: Request) -> bool:
        """Whether the check is relevant to this request."""
        relevant = request.category in self.categories or (
            self.also_if is not None and self.also_if.search(request.item) is not None
        )
        if not relevant or (self.unless is not None and self.unless.search(request.item)):
            return False
        return self.condition is None or self.condition(request)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# --------------------------------------------------------------------------------------------------------------
# Shared vocabulary
# --------------------------------------------------------------------------------------------------------------

THERAPY_CATEGORIES: Final = frozenset(
    {
        "Physical / occupational therapy",
        "Chiropractic / manipulation",
        "Acupuncture",
        "Physical modalities",
        "Psychological care",
        "Functional restoration / programs",
    }
)
MEDICATION_CATEGORIES: Final = frozenset(
    {
        "Topical analgesic",
        "Opioid",
        "Muscle relaxant",
        "NSAID",
        "Gastro-protective",
        "Neuropathic / psychotropic medication",
        "Other medication",
    }
)
DIAGNOSTIC_CATEGORIES: Final = frozenset({"Imaging", "Electrodiagnostics"})
PROCEDURE_CATEGORIES: Final = frozenset({"Injection / procedure", "Surgery"})
ALL_CATEGORIES: Final = frozenset(
    {
        *THERAPY_CATEGORIES,
        *MEDICATION_CATEGORIES,
        *DIAGNOSTIC_CATEGORIES,
        *PROCEDURE_CATEGORIES,
        "DME / supplies",
        "Laboratory / testing",
        "Consultation / visits",
        "Other",
    }
)

_NUM: Final = (
    r"(?:\d{1,3}(?:\.\d)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|fifteen|sixteen|"
    r"eighteen|twenty(?:[- ]four)?|thirty|thirty[- ]six)"
)
_RANGE: Final = rf"{_NUM}(?:\s*(?:-|to|or)\s*{_NUM})?"
_FREQ: Final = (
    rf"(?:{_RANGE}\s*(?:x|×|times)\s*(?:a\s+|per\s+|/\s*|each\s+|every\s+)?(?:week|wk)(?:ly)?\b|"
    rf"{_RANGE}\s*(?:/|per|a)\s*(?:week|wk)\b|(?:once|twice|thrice)\s+(?:a\s+|per\s+|each\s+)?week(?:ly)?\b)"
)
_DURATION: Final = rf"{_RANGE}\s*(?:weeks?|wks?|months?)\b"
# "2 times a week for 6 weeks", "twice weekly x 4 weeks", "3x/week for 2 weeks", "6 weeks at 2 times a week".
_FREQ_DURATION: Final = _rx(
    rf"\b{_FREQ}\s*,?\s*(?:for|x|×|times|over|during|for a total of)?\s*(?:the\s+next\s+)?{_DURATION}|"
    rf"\b{_DURATION}\s*,?\s*(?:at\s+)?{_FREQ}"
)
# "2x6", "2-3 x 6 weeks", "1 times 8".
_COMPACT: Final = _rx(
    r"\b\d{1,2}(?:\s*-\s*\d{1,2})?\s*(?:x|×)\s*\d{1,2}(?:\s*-\s*\d{1,2})?\b(?:\s*(?:weeks?|wks?))?|"
    r"\b\d{1,2}\s+times\s+\d{1,2}\b(?!\s*(?:mg|%|/))"
)
# "Twelve physical therapy sessions", "6 visits", "times 12", "x 6", "#6", "(12 sessions)".
_TOTAL: Final = _rx(
    rf"\b{_RANGE}\s*(?:\(\d{{1,3}}\)\s*)?(?:(?!weeks?\b|months?\b|days?\b|times?\b)[a-z/'-]+\s+){{0,3}}?"
    r"(?:sessions?|visits?|treatments?|appointments?)\b|(?:#|\bx|×|\btimes|\bqty:?|\bquantity:?)\s*\d{1,3}\b|"
    r"\b(?:sessions?|visits?)\s*(?:#|x|×)\s*\d{1,3}\b"
)
_FREQ_ONLY: Final = _rx(rf"\b{_FREQ}")
_MED_COUNT: Final = _rx(
    r"(?<!tylenol )(?<!tylenol)#\s*\d{1,4}\b|\b(?:qty|quantity)\s*:?\s*\d{1,4}\b|"
    r"\b\d{1,4}\s*(?:tablets?|tabs?|capsules?|caps?|pills?|patch(?:es)?|pads?|units?|bottles?|tubes?|containers?|"
    r"boxes|vials?|syringes?|packets?|sprays?)\b|\b\d{1,4}(?:\.\d{1,2})?\s*(?:g|gm|grams?|ml|oz)\b(?!\s*/)|"
    r"\b(?:\d{1,3}|one|two|three|thirty|sixty|ninety)[- ](?:day|week|month)(?:'s)?\s+supply\b|"
    r"\bsupply\s*:?\s*\d{1,3}\b|"
    r"\b(?:x|for)\s*\d{1,3}\s*days?\b"
)
_DOSE: Final = _rx(
    r"\b\d{1,4}(?:\.\d{1,3})?\s*(?:mg|mcg|µg|meq|iu|mg/ml|mg/g)(?![a-z])|\b\d{1,3}(?:\.\d{1,3})?\s*%|"
    r"\b\d{1,4}(?:\.\d{1,3})?\s*/\s*\d{1,4}(?:\.\d{1,3})?\s*(?:mg)?(?![\d/])"
)
_DME_DURATION: Final = _rx(
    rf"\b{_NUM}[- ]?(?:days?|weeks?|months?)\b(?:\s+rental)?|"
    rf"\brental\b(?:\s+(?:for|x)\s+{_NUM}\s*(?:days?|weeks?|months?))?|"
    r"\bpurchase\b|#\s*\d{1,4}\b|\b\d{1,4}\s*(?:boxes|packs?|pairs?|units?|cases?)\b|\b(?:one|a|1)\s+(?:pair|box)\b"
)
_DME_NEEDS_QUANTITY: Final = _rx(
    r"\b(?:gloves|wipes|electrodes|pads|supplies|batteries|garments?|dressings|diapers|catheters?|bandages?|"
    r"cold therapy|hot/cold|compression|cryotherapy|vasopneumatic|rental)\b"
)
_THERAPY_WORDS: Final = _rx(
    r"\b(?:physical therap\w*|physiotherap\w*|occupational therap\w*|pt|ot|pt/ot|chiro\w*|acupuncture|"
    r"manipulation|psychotherap\w*|cognitive behavio\w*|cbt|biofeedback|therapy sessions|hand therapy|"
    r"aquatic therapy|massage)\b"
)
_EVALUATION_ONLY: Final = _rx(r"\b(?:evaluation|eval|consultation|consult|testing|test|assessment|exam)\b")
_TREATMENT_TOO: Final = _rx(r"\b(?:treatment|sessions?|visits?|times|x\s*\d)\b")
# Laboratory work that the treatment-category rules read as therapy ("PT/PTT" is a coagulation test).
_NOT_A_THERAPY: Final = _rx(r"\b(?:ptt|inr|labs?|clearance|ekg|ecg|cbc|panel|urinalysis|ua)\b")
_CONTINUATION: Final = _rx(
    r"\b(?:additional|continued?|continuing|continuation|further|more|extension|extended|remaining|ongoing|renewal|"
    r"repeat|another)\b"
)
_POST_SURGICAL: Final = _rx(r"\b(?:post-?op\w*|post-?surgical|associated surgical service)\b")

_NEGATION_BEFORE: Final = _rx(
    r"\b(?:no|not|without|denie[sd]|deny|negative(?:\s+for)?|absence\s+of|absent|lack\s+of|free\s+of|never|"
    r"neither|nor|resolved|ruled\s+out|rule\s+out|r/o|unremarkable\s+for|denied\s+due\s+to)\b[^.;:]{0,45}$"
)


def _first_affirmed(pattern: re.Pattern[str], text: str) -> str | None:
    """The first match not preceded (in its clause) by a negation, as the exact words found."""
    for match in pattern.finditer(text):
        window = text[max(0, match.start() - 60) : match.start()]
        if _NEGATION_BEFORE.search(window):
            continue
        return _evidence(match.group(0))
    return None


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return _evidence(match.group(0)) if match else None


def _evidence(words: str) -> str:
    words = words.strip(" ,;:.")
    return words if len(words) <= _MAX_EVIDENCE_CHARS else words[: _MAX_EVIDENCE_CHARS - 1].rstrip() + "…"


def _found(evidence: str | None, note: str | None = None) -> _Outcome:
    return _Outcome(passed=evidence is not None, evidence=evidence, note=note)


# --------------------------------------------------------------------------------------------------------------
# Quantity, frequency, duration, dose, body part: the request line itself
# --------------------------------------------------------------------------------------------------------------


def _therapy_quantity(item: str) -> str | None:
    for pattern in (_FREQ_DURATION, _TOTAL, _COMPACT):
        words = _first(pattern, item)
        if words is not None:
            return words
    return None


def _is_medication(request: Request) -> bool:
    return request.category in MEDICATION_CATEGORIES and _THERAPY_WORDS.search(request.item) is None


def _needs_quantity(request: Request) -> bool:
    if request.category == "DME / supplies":
        # A brace or a TENS unit is one item; consumables and rentals need an amount or a period.
        return _DME_NEEDS_QUANTITY.search(request.item) is not None
    if _NOT_A_THERAPY.search(request.item):
        return False
    # An evaluation visit has no session count ("physical therapy evaluation").
    return not (_EVALUATION_ONLY.search(request.item) and not _TREATMENT_TOO.search(request.item))


def _check_quantity(request: Request) -> _Outcome:
    if _is_medication(request):
        return _found(_first(_MED_COUNT, request.item))
    if request.category == "DME / supplies":
        return _found(_first(_DME_DURATION, request.item))
    words = _therapy_quantity(request.item)
    if words is None and _FREQ_ONLY.search(request.item):
        return _Outcome(False, note="a frequency without a duration or total leaves the request open-ended")
    return _found(words)


def _check_dose(request: Request) -> _Outcome:
    return _found(_first(_DOSE, request.item))


_BODY_PART: Final = _rx(
    r"\b(?:cervical|thoracic|lumbar|lumbosacral|sacral|sacroiliac|si joints?|spine|spinal|neck|(?:low|lower|upper|"
    r"mid)\s+back|back|shoulders?|elbows?|wrists?|hands?|fingers?|thumbs?|hips?|knees?|ankles?|foot|feet|toes?|"
    r"legs?|arms?|forearms?|thighs?|calf|calves|head|brain|skull|face|jaw|tmj|chest|abdomen|abdominal|pelvis|"
    r"pelvic|groin|buttocks?|extremit(?:y|ies)|carpal|cubital|rotator cuff|menisc\w*|acl|labr\w*|patell\w*|"
    r"achilles|plantar|heel|clavicle|scapula\w*|trapezius|paraspinal|coccyx|ribs?|[ctl]\d{1,2}(?:\s*-\s*[ctls]?\d)?|"
    r"l5-s1|s1|rue|lue|rle|lle|bue|ble)\b"
)


def _check_body_part(request: Request) -> _Outcome:
    return _found(_first(_BODY_PART, request.item))


# --------------------------------------------------------------------------------------------------------------
# Visits against the guideline
# --------------------------------------------------------------------------------------------------------------

_WORD_NUMBERS: Final[dict[str, int]] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "eighteen": 18,
    "twenty": 20,
    "twenty-four": 24,
    "twenty four": 24,
    "thirty": 30,
    "thirty-six": 36,
    "thirty six": 36,
    "once": 1,
    "twice": 2,
    "thrice": 3,
}
_NUMBER_TOKEN: Final = _rx(rf"{_NUM}|once|twice|thrice")


def _numbers(words: str) -> list[float]:
    values: list[float] = []
    for token in _NUMBER_TOKEN.findall(words):
        key = token.lower()
        if key in _WORD_NUMBERS:
            values.append(float(_WORD_NUMBERS[key]))
        else:
            try:
                values.append(float(key))
            except ValueError:
                continue
    return values


def _requested_visits(item: str) -> tuple[int, str] | None:
    """The largest number of visits the item asks for, with the words it was read from."""
    for pattern, combine in ((_FREQ_DURATION, "product"), (_COMPACT, "product"), (_TOTAL, "total")):
        match = pattern.search(item)
        if match is None:
            continue
        words = match.group(0)
        values = _numbers(words)
        if not values:
            continue
        if combine == "total":
            return int(max(values)), _evidence(words)
        # A range ("2-3 times a week for 6 weeks") is read at its upper end, as reviewers read it.
        frequency = max(values[:-1]) if len(values) > 1 else values[0]
        weeks = values[-1] if len(values) > 1 else 1.0
        if "month" in words.lower():
            weeks *= 4
        return int(frequency * weeks), _evidence(words)
    return None


# Documented outcome of prior therapy (also decides which visit allowance applies).
_FUNCTIONAL_GAIN: Final = _rx(
    r"\b(?:(?:objective\s+)?functional\s+(?:improvement|gains?|benefit|progress)|improve(?:d|ment)\s+(?:in\s+)?"
    r"(?:his\s+|her\s+|their\s+)?(?:function\w*|range of motion|rom|strength|adls?|activities of daily living|sleep|"
    r"walking|sitting|standing|mobility|tolerance|endurance|grip)|increased?\s+(?:in\s+)?(?:function\w*|range of "
    r"motion|rom|strength|activity|walking|sitting|standing|endurance|adls?|tolerance)|(?:decrease|reduction|"
    r"reduced|decreased)\s+(?:in\s+)?(?:pain|work restrictions|medication use|the need for medication)|"
    r"return(?:ed)?\s+to\s+(?:full\s+|modified\s+|regular\s+)?(?:work|duty)|\d{1,3}\s*%\s+(?:improvement|better)|"
    r"pain\s+(?:decreased|reduced|improved)\s+from\s+\d{1,2}|from\s+\d{1,2}/10\s+to\s+\d{1,2}/10|with benefit|"
    r"(?:was|were)\s+(?:helpful|beneficial)|responding (?:well )?to|improved with)\b"
)


@dataclass(frozen=True)
class _Family:
    """A kind of therapy: the words that name it and the visits its guideline allows.

    ``trial`` is the initial trial allowed without documented functional improvement, ``total`` the course allowed
    with it. From the guidelines the letters quote: MTUS Chronic Pain physical medicine, 9-10 visits over 8 weeks
    for myalgia/myositis and 8-10 over 4 weeks for neuralgia/radiculitis; manipulation, "an initial trial of 6
    visits over 2 weeks", "a total of up to 18 visits" with functional improvement; acupuncture, "time to produce
    functional improvement: 3 to 6 treatments", ODG "8-12 visits over 4-6 weeks"; psychotherapy and biofeedback,
    "initial trial of 3-4 visits", "total of up to 6-10 visits" with functional improvement.
    """

    name: str
    pattern: re.Pattern[str]
    trial: int | None
    total: int | None


_FAMILIES: Final[tuple[_Family, ...]] = (
    _Family("chiropractic", _rx(r"\b(?:chiro\w*|manipulat\w*|manual therapy)\b"), 6, 18),
    _Family("acupuncture", _rx(r"\bacupuncture\b"), 6, 12),
    _Family(
        "psychological",
        _rx(
            r"\b(?:psychotherap\w*|cognitive behavio\w*|cbt|biofeedback|counsel\w*|psycholog\w* (?:sessions|"
            r"treatment|therapy))\b"
        ),
        4,
        10,
    ),
    _Family(
        "physical therapy",
        _rx(
            r"\b(?:physical therap\w*|physiotherap\w*|occupational therap\w*|pt|ot|pt/ot|hand therapy|aquatic "
            r"therapy|therapeutic exercise|physical medicine|work hardening|work conditioning)\b"
        ),
        10,
        10,
    ),
    _Family(
        "modalities",
        _rx(
            r"\b(?:electrical (?:muscle )?stimulation|e-?stim|ultrasound|infrared|traction|massage|tens|"
            r"interferential|modalit\w*)\b"
        ),
        10,
        10,
    ),
    _Family("program", _rx(r"\b(?:functional restoration|frp|pain program)\b"), None, None),
)


def _family_of(item: str) -> _Family | None:
    for family in _FAMILIES:
        if family.pattern.search(item):
            return family
    return None


_COUNT: Final = (
    rf"(?:at least\s+|approximately\s+|about\s+|an?\s+(?:initial\s+|additional\s+)?)?({_NUM})(?:\s*\(\d{{1,3}}\))?"
)
_VISIT_NOUN: Final = r"(?:(?!weeks?\b|months?\b|days?\b)[a-z/'-]+\s+){0,4}?(?:sessions?|visits?|treatments?)\b"
# Visits already received or already authorized (for a "remaining portion" the authorized part counts).
_PRIOR_COUNTS: Final[tuple[re.Pattern[str], ...]] = (
    _rx(
        rf"\b(?:had|has had|have had|completed|attended|received|underwent|undergone|gone to|participated in)\s+"
        rf"(?:\w+\s+){{0,3}}?{_COUNT}\s+{_VISIT_NOUN}"
    ),
    _rx(
        rf"\b{_COUNT}\s+(?:prior|previous|completed|previously authorized|authorized|approved|certified)\s+"
        rf"{_VISIT_NOUN}"
    ),
    _rx(
        rf"\b{_COUNT}\s+{_VISIT_NOUN}[^.;]{{0,60}}?\b(?:was|were|has been|had been|have been)\s+(?:previously\s+)?"
        r"(?:authorized|approved|certified|completed|attended)"
    ),
    _rx(rf"\bcourse\b[^.;]{{0,40}}?{_COUNT}\s+{_VISIT_NOUN}"),
    _rx(r"#\s*(\d{1,2})\s+(?:was|were)\s+(?:previously\s+)?(?:authorized|approved|certified)"),
    _rx(
        rf"\b(?:authorized|approved|certified|modified to|modification (?:to|for))\s+(?:for\s+|to\s+)?{_COUNT}\s+"
        rf"{_VISIT_NOUN}"
    ),
)
_CLAUSE: Final = re.compile(r"[^.;]+")


def _prior_visits(summary: str, family: _Family) -> tuple[int, str] | None:
    """The most visits of this therapy the summary says were had or authorized, with the words it was read from."""
    best: tuple[int, str] | None = None
    for clause in _CLAUSE.findall(summary):
        if not family.pattern.search(clause):
            continue
        for pattern in _PRIOR_COUNTS:
            for match in pattern.finditer(clause):
                values = _numbers(match.group(1))
                if values and (best is None or values[0] > best[0]):
                    best = int(values[0]), _evidence(match.group(0))
    return best


def _check_visits(request: Request) -> _Outcome:
    requested = _requested_visits(request.item)
    family = _family_of(request.item)
    if requested is None or family is None or family.trial is None or family.total is None:
        return _Outcome(False)
    visits, words = requested
    prior = _prior_visits(request.summary, family)
    if prior is None:
        limit = family.total if _CONTINUATION.search(request.item) else family.trial
        note = f"{visits} visits requested; the guideline allows about {limit} without exceptional factors"
        return _Outcome(visits <= limit, evidence=words if visits <= limit else None, note=note)
    # Beyond the initial trial the guideline asks for documented functional improvement.
    improved = _first_affirmed(_FUNCTIONAL_GAIN, request.documentation) is not None
    limit = family.total if improved else family.trial
    total = visits + prior[0]
    note = (
        f"{visits} requested + {prior[0]} already had or authorized = {total}; the guideline allows about {limit}"
        f"{'' if improved else ' without documented functional improvement'}"
    )
    return _Outcome(total <= limit, evidence=f"{words}; {prior[1]}" if total <= limit else None, note=note)


def _visits_countable(request: Request) -> bool:
    family = _family_of(request.item)
    return _requested_visits(request.item) is not None and family is not None and family.trial is not None


# --------------------------------------------------------------------------------------------------------------
# Prior therapy and its documented outcome
# --------------------------------------------------------------------------------------------------------------

_PRIOR_CUE: Final = (
    r"(?:had|has had|have had|completed|attended|received|underwent|undergone|tried|prior|previous|previously|"
    r"past|course|sessions? of|visits? of|treatment to date|treatments? (?:have|has) included|include[sd]?|"
    r"continued?|ongoing|currently)"
)
_PRIOR_THERAPY: Final[dict[str, re.Pattern[str]]] = {
    family.name: _rx(rf"\b{_PRIOR_CUE}\b[^.;]{{0,60}}?{family.pattern.pattern}") for family in _FAMILIES
}
# A clause about what is planned or requested now is not a prior course.
_PLANNED: Final = _rx(r"\b(?:plan|planned|request\w*|recommend\w*|will|would|rfa|ordered)\b")


def _continues_therapy(request: Request) -> bool:
    if _CONTINUATION.search(request.item):
        return True
    family = _family_of(request.item)
    if family is None:
        return False
    prior = _PRIOR_THERAPY[family.name]
    return any(prior.search(c) and not _PLANNED.search(c) for c in _CLAUSE.findall(request.summary))


def _check_prior_outcome(request: Request) -> _Outcome:
    return _found(_first_affirmed(_FUNCTIONAL_GAIN, request.documentation))


# --------------------------------------------------------------------------------------------------------------
# Diagnostic studies and procedures: findings, conservative care, surgical plan
# --------------------------------------------------------------------------------------------------------------

# Objective findings only: reviewers discount subjective complaints (numbness, radiating pain) and diagnoses
# ("radiculopathy", "cumulative trauma") that the examination does not corroborate.
_OBJECTIVE_FINDING: Final = _rx(
    r"\b(?:red[- ]flags?|cauda equina|bowel or bladder (?:incontinence|dysfunction|retention)|saddle an(?:a)?esthesia|"
    r"(?:acute|suspected|displaced|new)\s+fractures?|dislocation|tumou?r|cancer|malignan\w*|infection|osteomyelitis|"
    r"progressive\s+(?:neurolog\w*\s+)?(?:deficits?|weakness|numbness)|myelopathy|"
    r"(?:decreased|diminished|reduced|altered|absent|loss of)\s+(?:light touch\s+)?(?:sensation|sensory|reflex\w*|"
    r"strength|motor|pinprick)|hypoesthesia|sensory (?:deficit|loss)|dermatomal|motor (?:strength )?(?:of\s+)?"
    r"[0-4]\+?/5|\b[0-4][+-]?/5\b|hyporeflexia|atrophy|foot drop|(?:focal\s+)?neurolog\w*\s+(?:deficits?|"
    r"dysfunction|compromise|signs)|nerve\s+(?:root\s+)?(?:compromise|impingement|compression|entrapment)|"
    r"positive\s+(?:straight leg rais\w*|slr|spurling\w*|phalen\w*|tinel\w*|hoffmann?\w*|babinski|mcmurray\w*|"
    r"lachman\w*|(?:anterior |posterior )?drawer|apprehension|hawkins?\w*|neer\w*|impingement|drop arm|empty can|"
    r"o'brien\w*|speed\w*|yergason\w*|faber|patrick\w*|finkelstein\w*|pivot shift|durkan\w*|provocative|"
    r"compression test)(?:'s)?|(?:spurling\w*|phalen\w*|tinel\w*|hawkins?\w*|neer\w*|mcmurray\w*|lachman\w*|"
    r"straight leg rais\w*|slr)(?:'s)?\s+(?:test\s+|sign\s+|maneuver\s+)?(?:was\s+|is\s+|were\s+)?positive|"
    r"instability|locking|giving way|effusion|unable to bear weight|inability to bear weight|"
    r"(?:loss|lost) of consciousness|(?:failed|failure of)\s+(?:\w+\s+){0,3}?(?:conservative|physical therapy)|"
    r"clarification of (?:the )?anatomy|(?:surgery|surgical intervention|injection) (?:is|was) (?:being )?"
    r"(?:considered|planned|contemplated|recommended))\b"
)


def _check_objective_findings(request: Request) -> _Outcome:
    return _found(_first_affirmed(_OBJECTIVE_FINDING, request.documentation))


_CONSERVATIVE: Final = (
    r"(?:conservative\s+(?:care|treatment|therapy|management|measures)|physical therap\w*|\bpt\b|therapy|"
    r"medications?|nsaids?|anti-?inflammator\w*|injections?|chiropractic|acupuncture|rest|home exercise\w*|"
    r"bracing|brace|splint\w*|activity modification|modified (?:work|duty)|ice|heat)"
)
# "Tried and failed", not merely "treatment to date has included": reviewers ask for the failure. (On the letters,
# accepting a list of past treatments as evidence halves the recall of this check for the same precision.)
_CONSERVATIVE_TRIED: Final = _rx(
    rf"\b(?:failed|failure of|despite|refractory to|no (?:relief|improvement|benefit) (?:with|from)|did not "
    rf"(?:help|improve|respond)|without (?:relief|improvement|benefit)|not (?:responded|responding) to|persistent "
    rf"(?:pain|symptoms) (?:despite|after)|continue[sd]? to (?:have|report|complain)[^.;]{{0,40}}?despite)\b"
    rf"[^.;]{{0,60}}?{_CONSERVATIVE}"
)


def _check_conservative_care(request: Request) -> _Outcome:
    return _found(_first_affirmed(_CONSERVATIVE_TRIED, request.documentation))


_FIRST_LINE_TRIED: Final = _rx(
    r"\b(?:intoleran\w*|unable to tolerate|cannot tolerate|could not tolerate|gi upset|upset stomach|gastritis|"
    r"contraindicat\w*)\b[^.;]{0,40}?\b(?:oral|nsaids?|medications?|pills?|tablets?)|\b(?:failed|failure of|"
    r"tried|trial of|did not (?:help|tolerate)|no (?:relief|benefit) (?:with|from))\b[^.;]{0,40}?\b(?:oral|nsaids?|"
    r"antidepressants?|anticonvulsants?|gabapentin|neurontin|lyrica|pregabalin|amitriptyline|duloxetine|cymbalta|"
    r"first[- ]line|acetaminophen|tylenol|non-?opioid)"
)


def _check_first_line(request: Request) -> _Outcome:
    return _found(_first_affirmed(_FIRST_LINE_TRIED, request.documentation))


_SURGERY_CERTIFIED: Final = _rx(
    r"\b(?:surgery|surgical (?:procedure|intervention)|procedure|arthroscopy|repair|fusion|release|"
    r"decompression|replacement|reconstruction|discectomy|laminectomy|\w+ectomy|\w+plasty)\b[^.;]{0,40}?\b(?:was|"
    r"has been|had been|is|were)\s+(?:authorized|certified|approved|scheduled|performed|completed|done)\b|"
    r"\bstatus[- ]post\b|\bs/p\b|\bunderwent\b[^.;]{0,40}?\b(?:surgery|repair|arthroscopy|fusion|release|"
    r"decompression|replacement|reconstruction|\w+ectomy|\w+plasty)\b|\bpost-?operative(?:ly)?\s+(?:day|week|"
    r"visit)\b|\bauthorized\s+(?:the\s+)?(?:surgery|procedure)\b"
)


def _check_primary_certified(request: Request) -> _Outcome:
    return _found(_first_affirmed(_SURGERY_CERTIFIED, request.summary))


_ASSOCIATED_SERVICE: Final = _rx(
    r"\b(?:associated surgical service|post-?op\w*|pre-?op\w*|post-?surgical|assistant(?: surgeon| pa)?|"
    r"surgical assistant|pa assist|medical clearance|surgical clearance)\b"
)


# --------------------------------------------------------------------------------------------------------------
# Medications: efficacy, monitoring, indication, short courses
# --------------------------------------------------------------------------------------------------------------

_MEDICATION_EFFICACY: Final = _rx(
    r"\b(?:(?:pain|vas)\b[^.;]{0,40}?\b(?:with|on|after)\s+(?:the\s+)?(?:medications?|meds)\b|(?:with|on)\s+(?:the\s+)?"
    r"(?:medications?|meds)\b[^.;]{0,30}?\b(?:pain|vas)\b[^.;]{0,20}?\d{1,2}(?:/10)?|(?:without|off)\s+(?:the\s+)?"
    r"(?:medications?|meds)\b[^.;]{0,30}?\d{1,2}(?:/10)?|(?:medications?|meds|it)\s+(?:help\w*|provide\w*|give\w*|"
    r"reduce\w*|decrease\w*|allow\w*|improve\w*|work\w*|(?:is|are|was|were)\s+(?:beneficial|effective|helpful))|"
    r"\d{1,3}\s*%\s+(?:pain\s+)?(?:relief|improvement|reduction|decrease)|(?:pain\s+)?relief\s+(?:with|from)\s+"
    r"(?:the\s+)?(?:medications?|meds|\w+)|(?:improved|increased)\s+(?:function\w*|ability|activities|adls?|"
    r"tolerance|sleep)\b[^.;]{0,40}?\b(?:with|on|from)\b|from\s+\d{1,2}/10\s+to\s+\d{1,2}/10|"
    r"pain\s+(?:decreased|reduced|improved)\s+from\s+\d{1,2})"
)


def _check_medication_efficacy(request: Request) -> _Outcome:
    return _found(_first_affirmed(_MEDICATION_EFFICACY, request.documentation))


_OPIOID_MONITORING: Final = _rx(
    r"\b(?:urine (?:drug|toxicology) (?:screens?|tests?|testing)|uds|udt|cures(?: report| database)?|pain "
    r"(?:contract|agreement)|(?:opioid|narcotic) (?:agreement|contract)|(?:no|denies|without) (?:side effects|"
    r"adverse effects|aberrant)|side effects|aberrant (?:behaviou?rs?|drug)|consistent (?:uds|urine)|"
    r"compliance|compliant)\b"
)


def _check_opioid_monitoring(request: Request) -> _Outcome:
    return _found(_first_affirmed(_OPIOID_MONITORING, request.documentation))


_ACID_SUPPRESSANT: Final = _rx(
    r"\b(?:omeprazole|prilosec|pantoprazole|protonix|ranitidine|zantac|pepcid|famotidine|esomeprazole|nexium|"
    r"lansoprazole|prevacid|dexlansoprazole|dexilant|rabeprazole|ppi|proton pump|deprizine)\b"
)
_GI_RISK: Final = _rx(
    r"\b(?:(?:gi|gastrointestinal|stomach|gastric|epigastric|abdominal)\s+(?:upset|pain|distress|symptoms|complaints|"
    r"issues|irritation|bleed\w*|risk|discomfort)|dyspepsia|gastritis|gerd|(?:acid\s+)?reflux|heartburn|"
    r"peptic ulcers?|ulcers?|gi bleed\w*|anticoagula\w*|aspirin|corticosteroids?|(?:age|aged)\s+(?:over|greater "
    r"than|>)\s*65|nausea)\b"
)


def _check_gi_risk(request: Request) -> _Outcome:
    return _found(_first_affirmed(_GI_RISK, request.documentation))


_SHORT_COURSE_DRUG: Final = _rx(
    r"\b(?:cyclobenzaprine|flexeril|fexmid|amrix|orphenadrine|norflex|carisoprodol|soma|methocarbamol|robaxin|"
    r"metaxalone|skelaxin|chlorzoxazone|lorzone|parafon|tabradol|benzodiazepines?|diazepam|valium|alprazolam|xanax|"
    r"clonazepam|klonopin|lorazepam|ativan|temazepam|muscle relaxants?)\b"
)
_SHORT_COURSE: Final = _rx(
    r"\b(?:acute\s+(?:flare\w*|exacerbation|spasms?|muscle spasms?|injury|phase|pain)|flare[- ]?ups?|short[- ]"
    r"(?:course|term)|new(?:ly)?\s+prescri\w*|first\s+prescri\w*|initial\s+prescri\w*|started\s+on|"
    r"(?:for|x)\s+(?:\d{1,2}|one|two|three|seven|ten|fourteen)\s+days?|(?:one|two|1|2)\s+weeks?)\b"
)


def _check_short_course(request: Request) -> _Outcome:
    return _found(_first_affirmed(_SHORT_COURSE, request.documentation))


# --------------------------------------------------------------------------------------------------------------
# Whole request: guideline named, treatment the guidelines recommend, stated purpose
# --------------------------------------------------------------------------------------------------------------

_GUIDELINE: Final = _rx(
    r"\b(?:ca\s+)?(?:mtus|acoem|odg|official disability guidelines|medical treatment utilization schedule|chronic pain "
    r"(?:medical )?treatment guidelines|post-?surgical treatment guidelines|acupuncture (?:medical )?treatment "
    r"guidelines)\b"
)


def _check_guideline(request: Request) -> _Outcome:
    return _found(_first(_GUIDELINE, f"{request.guideline} . {request.item} . {request.summary}"))


# Treatments (or components) the MTUS / ODG call "not recommended" in the letters' rationales: compounded topicals
# with a non-recommended ingredient, topical lidocaine other than the patch, medical foods, passive modalities such
# as shockwave, infrared, laser, traction and therapeutic ultrasound, surface EMG, SSEPs for radiculopathy,
# trigger point impedance imaging and hyperstimulation analgesia.
_NOT_RECOMMENDED: Final = _rx(
    r"\b(?:compound\w*|(?:flurbiprofen|ketoprofen|gabapentin|cyclobenzaprine|baclofen|tramadol|amitriptyline|"
    r"dextromethorphan|bupivacaine|camphor)\b[^,;()]{0,25}?(?:%|cream|gel|ointment|topical|lotion)|"
    r"lidocaine\s+(?:\d+(?:\.\d+)?\s*%\s+)?(?:cream|ointment|gel|lotion)|lidopro|(?:cream|ointment)\s+base|"
    r"theramine|sentra|gabadone|trepadone|medical foods?|tabradol|deprizine|dicopanol|fanatrex|synapryn|ketophene|"
    r"anecream|salonpas|fioricet|butalbital|(?:ncv|ncs|nerve conduction)\b[^,;]{0,30}?\blower extremit\w*|"
    r"terocin|shock ?wave|eswt|infrared|(?:low[- ]level\s+)?laser|traction|spinolator|thermograph\w*|tpii|"
    r"impedance imaging|hyperstimulation|localized intense neurostimulation|ultrasound\s+(?:therapy|treatment)|"
    r"therapeutic ultrasound|surface emg|manipulation under anesthesia|ssep\w*|somatosensory evoked|"
    r"grip (?:strength )?test\w*|jamar|range of motion test\w*|neuroplasty|adhesiolysis|h-?wave|"
    r"(?:^|\b)ultrasound\s+\d{1,2}\s+times)(?![a-z])"
)


def _check_recommended(request: Request) -> _Outcome:
    flagged = _first(_NOT_RECOMMENDED, request.item)
    if flagged is None:
        return _Outcome(True)
    return _Outcome(False, evidence=flagged, note="the MTUS/ODG do not recommend this treatment or an ingredient")


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
        evaluate=_check_dose,
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
        evaluate=_check_body_part,
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
        evaluate=_check_prior_outcome,
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
        evaluate=_check_first_line,
    ),
    Check(
        code="medication_efficacy",
        title="Medication efficacy documented (pain relief and function)",
        reason_code="medication_efficacy_not_documented",
        categories=MEDICATION_CATEGORIES,
        advice="Document pain scores with and without the medication and the functional gains it allows.",
        evaluate=_check_medication_efficacy,
        condition=_is_medication,
    ),
    Check(
        code="opioid_monitoring",
        title="Opioid monitoring documented (UDS, CURES, side effects)",
        reason_code="medication_efficacy_not_documented",
        categories=frozenset({"Opioid"}),
        advice="Document a recent urine drug screen, the CURES report, a pain agreement, side effects and "
        "aberrant behaviour.",
        evaluate=_check_opioid_monitoring,
    ),
    Check(
        code="short_course",
        title="Short-course medication requested for a short course",
        reason_code="long_term_use_not_supported",
        categories=frozenset({"Muscle relaxant"}),
        advice="Muscle relaxants and benzodiazepines are recommended for short courses only: document the acute "
        "flare-up and the intended duration.",
        evaluate=_check_short_course,
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
        evaluate=_check_gi_risk,
        condition=lambda r: _ACID_SUPPRESSANT.search(r.item) is not None,
    ),
    Check(
        code="primary_procedure_certified",
        title="Primary surgery or procedure certified",
        reason_code="associated_with_denied_procedure",
        categories=frozenset(),
        advice="State that the primary surgery or procedure was authorized (with its date), or request the "
        "associated services together with it.",
        evaluate=_check_primary_certified,
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
        evaluate=_check_guideline,
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
    outcome = check.evaluate(request)
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


# --------------------------------------------------------------------------------------------------------------
# Measurement against the reasons reviewers gave
# --------------------------------------------------------------------------------------------------------------

MEASURE_COLUMNS: Final[tuple[str, ...]] = (
    "check",
    "reason_code",
    "applicable",
    "missing",
    "reason_given",
    "true_positive",
    "precision",
    "recall",
    "upheld_if_missing",
    "upheld_if_passed",
)


def _field(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)


def measure_checklist(items: Iterable[Any]) -> pd.DataFrame:
    """Per check, on the items it applies to: how well "check missing" predicts "reviewer gave its reason".

    ``items`` are ``Item`` records or mappings with ``item_text``, ``summary``, ``claims_guideline``, ``rationale``
    and (optionally) ``determination``. The reason is mined from the rationale with ``features.reasons``;
    ``reason_given`` is the support (items where the reviewer gave it). Precision and recall are NaN where their
    denominator is zero. ``upheld_if_missing`` / ``upheld_if_passed`` are the upheld rates on each side.
    """
    rows: dict[str, dict[str, float]] = {
        c.code: dict.fromkeys(("applicable", "missing", "reason_given", "tp", "up_m", "n_m", "up_p", "n_p"), 0.0)
        for c in CHECKS
    }
    for record in items:
        reasons = mine_reasons(_field(record, "rationale") or "")
        determination = _field(record, "determination")
        results = evaluate_checklist(
            _field(record, "item_text") or "", _field(record, "summary") or "", _field(record, "claims_guideline") or ""
        )
        for result in results:
            if result.status != "not_applicable":
                _count(rows[result.code], result, result.reason_code in reasons, determination)
    return _measure_frame(rows)


def _count(row: dict[str, float], result: CheckResult, given: bool, determination: object) -> None:
    missing = result.status == "missing"
    row["applicable"] += 1
    row["missing"] += missing
    row["reason_given"] += given
    row["tp"] += missing and given
    if determination in ("Upheld", "Overturned"):
        side = "m" if missing else "p"
        row[f"n_{side}"] += 1
        row[f"up_{side}"] += determination == "Upheld"


def _ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


def _measure_frame(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    records = [
        {
            "check": code,
            "reason_code": CHECKS_BY_CODE[code].reason_code,
            "applicable": int(row["applicable"]),
            "missing": int(row["missing"]),
            "reason_given": int(row["reason_given"]),
            "true_positive": int(row["tp"]),
            "precision": _ratio(row["tp"], row["missing"]),
            "recall": _ratio(row["tp"], row["reason_given"]),
            "upheld_if_missing": _ratio(row["up_m"], row["n_m"]),
            "upheld_if_passed": _ratio(row["up_p"], row["n_p"]),
        }
        for code, row in rows.items()
    ]
    return pd.DataFrame(records, columns=list(MEASURE_COLUMNS))
