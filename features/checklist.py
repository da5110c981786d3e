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
  negation ("no numbness", "negative Spurling's") do not count; words *after* a finding are never read to withdraw
  it, so a passed check stays passed whatever is appended to the request (``visits_within_guideline`` aside).
* Clinical wording is read as offices write it: abbreviations (SLR, PT, HEP, NSAIDs, ESI, TENS), lists ("NSAIDs,
  PT and a HEP, with persistent pain"), either order ("failed conservative care", "conservative care has failed")
  and tense ("failed", "has failed", "did not improve"); see ``tests/fixtures/checklist_phrasings.csv``.
* For imaging and electrodiagnostics, documented red flags (cauda equina, foot drop, progressive deficit, suspected
  fracture, tumour or infection, bowel or bladder dysfunction) satisfy "conservative care tried": the guidelines
  do not ask for a trial of conservative care first.
* Every pattern has bounded repetition and inputs are capped, so any string is evaluated in well under a
  millisecond and nothing raises.
"""

from __future__ import annotations

import functools
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


def _rx_words(pattern: str) -> re.Pattern[str]:
    """A pattern every match of which starts with a word character: the guard lets the engine skip spaces and
    punctuation before it tries a long alternation (faster on long text, same matches)."""
    return _rx(r"(?=\w)(?:" + pattern + ")")


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
    r"boxes|vials?|syringes?|packets?|sprays?)\b|\b\d{1,4}(?:\.\d{1,2})?\s*(?:g|gm|grams?|ml|oz)\b(?!/)|"
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

_NEGATION_WORDS: Final = (
    r"no|not|without|denie[sd]|deny|negative(?:\s+for)?|absence\s+of|absent|lack\s+of|free\s+of|never|neither|nor|"
    r"resolved|ruled\s+out|unremarkable\s+for|denied\s+due\s+to"
)
_NEGATION_BEFORE: Final = _rx(rf"\b(?:{_NEGATION_WORDS}|rule\s+out|r/o)\b[^.;:]{{0,45}}$")
# For red flags "rule out cauda equina" / "r/o fracture" voice a suspicion, which is what the red-flag path needs;
# "ruled out" (done, absent) still negates.
_NEGATION_BEFORE_RED_FLAG: Final = _rx(rf"\b(?:{_NEGATION_WORDS})\b[^.;:]{{0,45}}$")


def _first_affirmed(pattern: re.Pattern[str], text: str, negation: re.Pattern[str] = _NEGATION_BEFORE) -> str | None:
    """The first match not preceded (in its clause) by a negation, as the exact words found.

    Only the words *before* a match are read for a negation, never the words after it: a passed check must stay
    passed whatever is appended to the request (the estimate relies on it), so "a urine drug screen" followed by
    "has not been performed" still counts; negations after a finding are left to the patterns, which require the
    affirming words ("SLR was positive") rather than reject the negating ones.
    """
    # Overlapping candidates (each start position once): a negated match must not hide an affirmed one that starts
    # inside it, or appending words that lengthen the negated match could turn a pass into a fail.
    position = 0
    while (match := pattern.search(text, position)) is not None:
        window = text[max(0, match.start() - 60) : match.start()]
        if not negation.search(window):
            return _evidence(match.group(0))
        position = match.start() + 1
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
    if request.category in MEDICATION_CATEGORIES:
        # A medication's count answers the check even where therapy words also appear in the item, so that more
        # words in the item never withdraw it.
        count = _first(_MED_COUNT, request.item)
        if count is not None or _is_medication(request):
            return _found(count)
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
_GAIN_OF: Final = (
    r"(?:function\w*|range of motion|rom|strength|adls?|activities of daily living|sleep|walking|sitting|standing|"
    r"lifting|mobility|tolerance|endurance|grip|ability|capacity|gait|balance|participation|flexibility)"
)
_FUNCTIONAL_GAIN: Final = _rx_words(
    r"\b(?:(?:objective\s+)?functional\s+(?:improvement|gains?|benefit|progress)|"
    rf"(?:improve(?:d|ment|s)|increased?|better)\s+(?:in\s+)?(?:his\s+|her\s+|their\s+|the\s+)?{_GAIN_OF}|"
    r"(?:decrease|reduction|reduced|decreased)\s+(?:in\s+)?(?:pain|work restrictions|medication use|the need for "
    r"medication)|"
    # "Grip strength has improved", "range of motion was markedly improved" (never "has not improved").
    rf"{_GAIN_OF}(?:\s+strength|\s+tolerance)?\s+(?:has\s+|have\s+|had\s+|was\s+|were\s+|is\s+|are\s+)?"
    r"(?:significantly\s+|markedly\s+|greatly\s+|much\s+|slightly\s+|steadily\s+|gradually\s+|also\s+|now\s+)?"
    r"(?:improved|increased|better)|"
    # Functional scores: "the Oswestry index improved from 40 to 28".
    r"(?:oswestry|odi|ndi|neck disability index|disability (?:index|score)|quick ?dash|dash score|lefs|functional "
    r"(?:score|scale|index))\b[^.;]{0,40}?\b(?:improved|decreased|increased|dropped|went|changed|from\s+\d)|"
    r"(?:can now|is now able to|now able to|able to (?:return|resume))|"
    r"resum(?:e|es|ed|ing)\s+(?:\w{1,20}\s){0,2}?(?:work|housework|chores|activities|driving|exercise|exercising|"
    r"sports|duties|hobbies)|"
    r"allow(?:s|ed)?\s+(?:him|her|them|the patient|the injured worker)\s+to|"
    r"(?:reduc\w{0,6}|decreas\w{0,6}|lower\w{0,6}|cut|taper\w{0,6}|wean\w{0,6})\s+(?:\w{1,20}\s){0,2}?(?:medications?|"
    r"norco|opioids?|narcotics?|analgesics?|meds|pain pills)|"
    r"return(?:ed)?\s+to\s+(?:full\s+|modified\s+|regular\s+)?(?:work|duty)|\d{1,3}\s*%\s+(?:functional\s+)?"
    r"(?:improvement|better)|"
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
    return any(_mentions_prior(prior, clause) for clause in _CLAUSE.findall(request.summary))


def _mentions_prior(prior: re.Pattern[str], clause: str) -> bool:
    """Whether the clause names a prior course of the therapy, with no plan or request up to where it is named.

    Only the words up to the mention are read, so appending words to a summary never withdraws the check.
    """
    position = 0
    while (match := prior.search(clause, position)) is not None:
        if not _PLANNED.search(clause, 0, match.end()):
            return True
        position = match.start() + 1
    return False


def _check_prior_outcome(request: Request) -> _Outcome:
    return _found(_first_affirmed(_FUNCTIONAL_GAIN, request.documentation))


# --------------------------------------------------------------------------------------------------------------
# Diagnostic studies and procedures: findings, conservative care, surgical plan
# --------------------------------------------------------------------------------------------------------------

# Provocative tests, in the names and abbreviations examiners use.
_PROVOCATIVE: Final = (
    r"(?:straight[- ]leg[- ]rais\w*|slr|slump|spurling\w*|phalen\w*|tinel\w*|hoffmann?\w*|babinski|mcmurray\w*|"
    r"lachman\w*|(?:anterior |posterior )?drawer|apprehension|hawkins?\w*|neer\w*|impingement|drop arm|empty can|"
    r"jobe\w*|o'brien\w*|speed\w*|yergason\w*|faber\w*|patrick\w*|finkelstein\w*|pivot shift|durkan\w*|thessaly|"
    r"kemp\w*|lift-?off|belly press|valgus stress|varus stress|carpal compression|provocative|"
    r"compression test)"
)
# The body parts and movements an examiner grades ("weakness of ankle dorsiflexion", "EHL weakness").
_MOTOR: Final = (
    r"(?:dorsiflex\w*|plantar\s?flex\w*|extens\w*|flex\w*|abduct\w*|adduct\w*|rotat\w*|eversion|inversion|grip|"
    r"ehl|extensor\w*|flexor\w*|deltoid|biceps|triceps|quadriceps|quads|hamstrings?|hip flexors?|intrinsics?|"
    r"great toe|toes?)"
)

# Objective findings only: reviewers discount subjective complaints (numbness, radiating pain) and diagnoses
# ("radiculopathy", "cumulative trauma") that the examination does not corroborate.
_OBJECTIVE_FINDING: Final = _rx_words(
    r"\b(?:red[- ]flags?|cauda equina|bowel or bladder (?:incontinence|dysfunction|retention)|saddle an(?:a)?esthesia|"
    r"(?:acute|suspected|displaced|new)\s+fractures?|dislocation|tumou?r|cancer|malignan\w*|infection|osteomyelitis|"
    r"progressive\s+(?:neurolog\w*\s+)?(?:deficits?|weakness|numbness)|myelopathy|"
    r"(?:decreased|diminished|reduced|altered|absent|loss of|impaired|asymmetric)\s+(?:light touch\s+)?(?:sensation|"
    r"sensory|reflex\w*|strength|motor|pinprick)|hypoesthesia|hypesthesia|sensory (?:deficit|loss)|dermatomal|"
    r"motor (?:strength )?(?:of\s+)?[0-4]\+?/5|\b[0-4][+-]?/5\b|hyporeflexia|areflexia|atrophy|foot drop|"
    r"(?:focal\s+)?neurolog\w*\s+(?:deficits?|dysfunction|compromise|signs)|nerve\s+(?:root\s+)?(?:compromise|"
    r"impingement|compression|entrapment)|"
    # "Sensation is decreased to light touch", "the Achilles reflex was diminished", "ankle reflex is 1+".
    r"(?:sensation|sensory exam\w*|reflex(?:es)?|jerks?|strength|pinprick|light touch)\s+(?:(?:was|were|is|are)\s+)?"
    r"(?:noted\s+to\s+be\s+|found\s+to\s+be\s+)?(?:decreased|diminished|reduced|absent|abnormal|altered|impaired|"
    r"asymmetric\w*|hypoactive|depressed|trace|0|1\+)(?![\w+])|"
    rf"weakness\s+(?:of|in|on|with)\s+(?:the\s+)?(?:(?:right|left|bilateral)\s+)?(?:\w{{1,20}}\s)?{_MOTOR}|"
    rf"{_MOTOR}\s+weakness|"
    rf"positive\s+(?:\w{{1,20}}\s)?{_PROVOCATIVE}(?:'s)?|"
    # "Spurling's test was positive", "Hawkins and Neer impingement signs were positive", "SLR positive on the left".
    rf"{_PROVOCATIVE}(?:'s)?(?:\s+(?:test|sign|maneuver)s?)?\s+(?:positive|\+)|"
    rf"{_PROVOCATIVE}(?:'s)?\b[^.;]{{0,40}}?\b(?:was|is|were|are)\s+(?:\w{{1,20}}\s)?positive|"
    r"instability|locking|giving way|effusion|unable to bear weight|inability to bear weight|"
    r"(?:loss|lost) of consciousness|(?:failed|failure of)\s+(?:\w+\s+){0,3}?(?:conservative|physical therapy)|"
    r"clarification of (?:the )?anatomy|(?:surgery|surgical intervention|injection) (?:is|was) (?:being )?"
    r"(?:considered|planned|contemplated|recommended))\b"
)

# Red flags: the conditions for which the guidelines image or test at once, without a trial of conservative care
# (ACOEM: cauda equina syndrome, progressive or severe neurologic deficit, suspected fracture, tumour or infection).
# A bare "fracture" or "tumor" is not enough ("fracture was ruled out"); a suspicion is ("to rule out fracture").
_SUSPECTED: Final = (
    r"(?:suspected|suspect|suspicion (?:of|for)|concern (?:of|for)|concerning for|possible|probable|likely|occult|"
    r"rule out|r/o|rule-out|evaluate for|to exclude|exclude)"
)
_RED_FLAG: Final = _rx_words(
    r"\b(?:cauda equina(?: syndrome)?|conus medullaris|saddle (?:an(?:a)?esthesia|numbness|paresthesias?|sensory "
    r"(?:loss|changes))|foot drop|drop foot|wrist drop|"
    r"progressive(?:ly)?\s+(?:worsening\s+)?(?:\w{1,20}\s){0,2}?(?:neurolog\w*\s+|motor\s+|sensory\s+)?(?:deficits?|"
    r"weakness|numbness|loss of (?:strength|sensation|function))|(?:new|worsening|"
    r"severe)\s+(?:focal\s+)?(?:neurolog\w*|motor)\s+"
    r"(?:deficits?|weakness|loss)|myelopath\w*|"
    r"(?:bowel|bladder)(?:\s+(?:and|or|and/or|&)\s+(?:bowel|bladder))?\s+(?:incontinence|dysfunction|retention|"
    r"changes|symptoms|problems|control)|(?:urinary|fecal|bowel|bladder)\s+(?:incontinence|retention)|"
    r"loss of (?:bowel|bladder)\w*|incontinence|"
    rf"(?<!non-)(?<!non)(?:{_SUSPECTED}|acute|displaced|unstable|pathologic(?:al)?|compression|stress|new)\s+"
    r"(?:an?\s+)?(?:\w{1,20}\s)?fractures?|fractures?\s+(?:is|was)\s+suspected|"
    rf"(?:history of|hx of|known|metastatic|{_SUSPECTED})\s+(?:\w{{1,20}}\s)?(?:cancer|malignan\w*|tumou?rs?|"
    r"carcinoma|lymphoma|myeloma|neoplasm\w*|metasta\w*)|metasta\w*|"
    rf"(?:spinal|disc|bone|joint|deep|epidural|vertebral|{_SUSPECTED})\s+(?:space\s+)?infection|osteomyelitis|"
    r"discitis|septic (?:arthritis|joint)|(?:epidural|spinal|paraspinal) abscess|unexplained (?:weight loss|fever)|"
    r"aortic aneurysm|vascular compromise|compartment syndrome)\b"
)
_RED_FLAG_NOTE: Final = "red flags documented: conservative care is not required first"


@functools.lru_cache(maxsize=8)
def _red_flag(documentation: str) -> str | None:
    """The first affirmed red flag (two checks read it on every diagnostic request, so it is read once)."""
    return _first_affirmed(_RED_FLAG, documentation, _NEGATION_BEFORE_RED_FLAG)


def _check_objective_findings(request: Request) -> _Outcome:
    found = _first_affirmed(_OBJECTIVE_FINDING, request.documentation)
    if found is None:
        found = _red_flag(request.documentation)
    return _found(found)


_CONSERVATIVE: Final = (
    r"(?:conservative\s+(?:care|treatments?|therapy|management|measures|modalities|options)|physical therap\w*|"
    r"physiotherap\w*|occupational therap\w*|\bpt\b|\bot\b|\bhep\b|therapy|therapies|medications?|meds|nsaids?|"
    r"anti-?inflammator\w*|analgesics?|ibuprofen|naproxen|motrin|aleve|advil|meloxicam|mobic|celebrex|diclofenac|"
    r"acetaminophen|tylenol|gabapentin|injections?|chiropractic|chiro\w*|manipulation|acupuncture|massage|rest|"
    r"home exercises?(?: program)?|exercises?|bracing|braces?|splint\w*|orthotics?|activity modification|"
    r"modified (?:work|duty|activit\w*)|ice|heat|tens|esis?|epidurals?|cortisone)\b"
)
# "Tried and failed", not merely "treatment to date has included": reviewers ask for the failure. (On the letters,
# accepting a list of past treatments as evidence halves the recall of this check for the same precision.) The
# failure may come before the care ("failed conservative care", "despite PT") or after it ("conservative care ...
# has failed", "physical therapy without improvement", "NSAIDs, PT and a HEP, with persistent pain").
_CARE_FAILED_AFTER: Final = (
    r"(?:(?:has|have|had|was|were)\s+(?:\w{1,20}\s)?failed|failed\b|(?:was|were|has been|have been|proved|proven)\s+"
    r"(?:ineffective|unsuccessful|unhelpful|not (?:effective|helpful|successful))|ineffective|unsuccessful|"
    r"(?:did|does|has|have|had)\s+not\s+(?:help|improve|relieve|resolve|work|provide|helped|improved|relieved|"
    r"resolved|worked|provided)|(?:not|never)\s+(?:helped|relieved|improved|resolved|worked)|failed to (?:help|"
    r"improve|relieve|resolve)|failed to provide (?:\w{1,20}\s)?(?:relief|benefit|improvement)|"
    r"(?:without|with no|with little|with minimal|with only|gave no|gave little|gave only|provided no|provided only|"
    r"offered no|brought no|no)\s+(?:\w{1,20}\s)?(?:relief|improvement|benefit|change|response|help)|(?:with|but|"
    r"yet)\s+(?:\w{1,20}\s)?(?:persistent|persisting|continued|continuing|ongoing|"
    r"residual|unchanged|worsening|recurrent)\s+(?:\w{1,20}\s){0,2}?(?:pain|symptoms|complaints|numbness|"
    r"radicular|weakness|tingling))"
)
# Up to 12 words of one clause, none of them a negation or a denial ("TENS was denied as there is no indication the
# patient failed ..." is not a failed TENS trial), then the separator before the next word. Word by word (not
# character by character) and with a first-letter guard on the failure words, so that text dense with care words
# ("PT PT PT ...") stays cheap.
_CLAUSE_WORDS_NO_DENIAL: Final = (
    r"(?:[^\w.;'/-]{1,4}(?!(?:no|not|denied|denies|non-?certified|non|without)\b)[\w'/-]{1,30}){0,12}?"
    r"[^\w.;'/-]{1,4}(?=[bdfghiuwy]|pr|n[eo]|of)"
)
# "Failed to approve / provide / document ..." is about paperwork, not a failed treatment.
_NOT_PAPERWORK: Final = (
    r"(?!\s+to\s+(?:approve|authorize|certify|provide|submit|document|show|indicate|demonstrate|establish|include|"
    r"mention|attend|meet|follow))"
)
_CONSERVATIVE_TRIED: Final = _rx_words(
    rf"\b(?:failed{_NOT_PAPERWORK}|failure of|failing|despite|in spite of|refractory to|unresponsive to|"
    r"recalcitrant to|no (?:\w{1,20}\s)?(?:relief|improvement|benefit|response) (?:with|from|after|to)|"
    r"(?:did|does|has|have|had) not (?:help|improve|respond|resolve|get better|improved|helped|responded|resolved)|"
    r"not (?:responded|responding|improved|improving) (?:to|with)|without (?:\w{1,20}\s)?(?:relief|improvement|"
    r"benefit)|(?:persist\w{0,4}|continu\w{0,4}|"
    r"ongoing|residual|recurrent|unchanged|worse\w{0,4}|remains? symptomatic|still (?:has|had|have|reports?|"
    r"complains?))\s+(?:\w{1,20}\s){0,3}?(?:after|following)|persistent (?:pain|symptoms) "
    r"(?:despite|after)|continue[sd]? to (?:have|report|complain)[^.;]{0,40}?despite)\b"
    rf"[^.;]{{0,60}}?\b{_CONSERVATIVE}|"
    rf"\b{_CONSERVATIVE}{_CLAUSE_WORDS_NO_DENIAL}{_CARE_FAILED_AFTER}"
)


def _check_conservative_care(request: Request) -> _Outcome:
    if request.category in DIAGNOSTIC_CATEGORIES:
        # Imaging and electrodiagnostics on the red-flag path: a documented red flag answers the question.
        flag = _red_flag(request.documentation)
        if flag is not None:
            return _Outcome(True, evidence=flag, note=_RED_FLAG_NOTE)
    return _found(_first_affirmed(_CONSERVATIVE_TRIED, request.documentation))


# First-line oral medications (MTUS: NSAIDs or acetaminophen before opioids; antidepressants or anticonvulsants
# before topical analgesics for neuropathic pain), by class, abbreviation and common name.
_FIRST_LINE: Final = (
    r"(?:oral\s+(?:\w{1,20}\s)?(?:medications?|analgesics?|nsaids?|anti-?inflammator\w*|agents?|pain relievers?)|"
    r"nsaids?|anti-?inflammator\w*|antidepressants?|anticonvulsants?|antiepileptics?|neuropathic (?:agents?|"
    r"medications?)|first[- ]line(?:\s+(?:\w{1,20}\s)?(?:agents?|medications?|therapy|therapies|treatments?|drugs?|"
    r"analgesics?))?|tricyclics?|tcas?|snris?|gabapentin|neurontin|lyrica|pregabalin|amitriptyline|elavil|"
    r"nortriptyline|duloxetine|cymbalta|venlafaxine|effexor|topiramate|topamax|acetaminophen|tylenol|apap|"
    r"non-?opioid(?:\s+(?:analgesics?|medications?|agents?|therapy|pain relievers?))?|ibuprofen|motrin|advil|"
    r"naproxen|naprosyn|anaprox|aleve|meloxicam|mobic|celecoxib|celebrex|diclofenac|etodolac|nabumetone|relafen|"
    r"ketorolac|indomethacin)\b"
)
_FIRST_LINE_TRIED: Final = _rx_words(
    r"\b(?:intoleran\w*|unable to tolerate|cannot tolerate|could not tolerate|did not tolerate|contraindicat\w*|"
    r"gi upset|upset stomach|stomach upset|gastritis|dyspepsia|heartburn|side effects|allerg\w*)\b"
    rf"[^.;]{{0,40}}?\b{_FIRST_LINE}|"
    rf"\b(?:failed{_NOT_PAPERWORK}|failure of|tried|trials? of|trialed|did not (?:help|tolerate)|"
    r"no (?:relief|benefit) (?:with|from)|previously (?:on|took|taking|tried|used|prescribed)|"
    r"(?:was|were|has been|had been) (?:on|prescribed|taking|using)|(?:currently|presently) (?:on|taking|using)|"
    r"is (?:taking|using)|takes|treatment to date (?:has |had )?"
    r"included|treatments? (?:has|have|had) included|(?:has|had|have) (?:taken|used|tried)|took)\b"
    rf"[^.;]{{0,50}}?\b{_FIRST_LINE}|"
    rf"\b{_FIRST_LINE}[^.;]{{0,50}}?\b(?:failed|(?:was|were|are|is|has been|have been)\s+(?:not tolerated|tried|"
    r"trialed|ineffective|unhelpful|contraindicated|not effective|not helpful|discontinued|stopped)|ineffective|"
    r"not tolerated|contraindicat\w*|"
    r"(?:did|does|has|have|had)\s+not\s+(?:help|helped|work|worked|relieve|relieved|provide)|without (?:\w{1,20}\s)?"
    r"(?:relief|benefit|improvement|success)|(?:with|gave|provided|offered)\s+(?:no|little|minimal|partial|some|only "
    r"(?:partial|temporary|minimal)|temporary|limited)\s+(?:\w{1,20}\s)?(?:relief|benefit|improvement)|caused|causes|"
    r"causing|led to|resulted in|(?:gi|stomach|gastric) upset|side effects)\b"
)


def _check_first_line(request: Request) -> _Outcome:
    return _found(_first_affirmed(_FIRST_LINE_TRIED, request.documentation))


_SURGERY_CERTIFIED: Final = _rx_words(
    r"\b(?:surgery|surgical (?:procedure|intervention)|procedure|arthroscopy|repair|fusion|release|"
    r"decompression|replacement|reconstruction|discectomy|laminectomy|\w+ectomy|\w+plasty)\b[^.;]{0,40}?\b(?:was|"
    r"has been|had been|is|were)\s+(?:authorized|certified|approved|scheduled|performed|completed|done)\b|"
    r"\bstatus[- ]post\b|\bs/p\b|\bunderwent\b[^.;]{0,40}?\b(?:surgery|repair|arthroscopy|fusion|release|"
    r"decompression|replacement|reconstruction|\w+ectomy|\w+plasty)\b|\bpost-?operative(?:ly)?\s+(?:day|week|"
    r"visit)\b|\bauthorized\s+(?:the\s+)?(?:surgery|procedure)\b|"
    # "Utilization review approved the L4-5 fusion" (never "non-certified the surgery").
    r"(?<![\w-])(?:approved|certified|authorized)\s+(?:the\s+)?(?:[\w/-]{1,20}\s){0,3}?(?:surgery|procedure|"
    r"arthroscopy|repair|fusion|release|decompression|replacement|reconstruction|discectomy|laminectomy|"
    r"\w{1,30}ectomy|\w{1,30}plasty)\b"
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

# What a prescriber calls the medication: a class, a form or a common name ("Norco reduces her pain").
_MEDICINE: Final = (
    r"(?:medications?|meds|medicines?|opioids?|narcotics?|analgesics?|muscle relaxants?|patch(?:es)?|cream|gel|it|"
    r"norco|hydrocodone|oxycodone|oxycontin|percocet|tramadol|ultram|tapentadol|nucynta|morphine|methadone|fentanyl|"
    r"butrans|buprenorphine|gabapentin|neurontin|lyrica|pregabalin|cymbalta|duloxetine|naproxen|ibuprofen|motrin|"
    r"celebrex|meloxicam|cyclobenzaprine|flexeril|tizanidine|zanaflex|baclofen|lidoderm|tylenol)"
)
_MEDICATION_EFFICACY: Final = _rx_words(
    r"\b(?:(?:pain|vas)\b[^.;]{0,40}?\b(?:with|on|after)\s+(?:the\s+)?(?:medications?|meds)\b|(?:with|on)\s+(?:the\s+)?"
    r"(?:medications?|meds)\b[^.;]{0,30}?\b(?:pain|vas)\b[^.;]{0,20}?\d{1,2}(?:/10)?|(?:without|off)\s+(?:the\s+)?"
    r"(?:medications?|meds)\b[^.;]{0,30}?\d{1,2}(?:/10)?|"
    rf"{_MEDICINE}\s+(?:help\w*|reduce\w*|decrease\w*|allow\w*|improve\w*|relieve\w*|lower\w*|work\w*|lets?|"
    r"enables?|(?:is|are|was|were|has been|have been)\s+(?:beneficial|effective|helpful|working)|(?:provide\w*|"
    r"give\w*|gave)\s+(?:her\s+|him\s+|them\s+)?(?:\w{1,20}\s)?(?:relief|benefit|improvement|pain relief|\d{1,3}\s*%))|"
    # "With medications he is able to walk for 30 minutes".
    rf"(?:with|on|using|taking)\s+(?:the\s+|his\s+|her\s+|current\s+|these\s+)?{_MEDICINE}\b[^.;]{{0,40}}?"
    r"\b(?:is able to|are able to|able to|can\b|allows?|improv\w*|decreas\w*|reduc\w*|better)|"
    r"\d{1,3}\s*%\s+(?:pain\s+)?(?:relief|improvement|reduction|decrease)|(?:pain\s+)?relief\s+(?:with|from|of)\s+"
    r"(?:the\s+)?(?:medications?|meds|\w+)|(?:improved|increased)\s+(?:function\w*|ability|activities|adls?|"
    r"tolerance|sleep)\b[^.;]{0,40}?\b(?:with|on|from)\b|from\s+\d{1,2}/10\s+to\s+\d{1,2}/10|"
    r"(?:pain|vas|pain (?:scores?|levels?|ratings?))\s+(?:\w{1,20}\s){0,2}?(?:decrease[sd]?|reduce[sd]?|improve[sd]?|"
    r"drops?|dropped|goes down|went down|comes down|came down)\s+from\s+\d{1,2}|"
    # "6/10 before and 3/10 after application".
    r"\d{1,2}/10\s+(?:before|without|prior to|off)\b[^.;]{0,40}?\b\d{1,2}/10\s+(?:after|with|on)\b)"
)


def _check_medication_efficacy(request: Request) -> _Outcome:
    return _found(_first_affirmed(_MEDICATION_EFFICACY, request.documentation))


_OPIOID_MONITORING: Final = _rx_words(
    r"\b(?:urine (?:drug|toxicology|tox)(?: (?:screens?|tests?|testing|screening|results?|reports?|panels?))?|"
    r"(?:drug|toxicology) (?:screens?|tests?|testing|screening|reports?)|uds|udt|utox|cures(?: report| database)?|"
    r"pdmp|prescription drug monitoring|pain (?:contract|agreement)|(?:opioid|narcotic|medication|treatment) "
    r"(?:agreement|contract)|(?:no|denies|without) (?:\w{1,20}\s)?(?:side effects|adverse effects|aberran\w*)|"
    r"side effects|adverse effects|aberran\w* (?:behaviou?rs?|drug)|four a'?s|4 a'?s|pill counts?|"
    r"consistent (?:uds|urine)|compliance|compliant)\b"
)


def _check_opioid_monitoring(request: Request) -> _Outcome:
    return _found(_first_affirmed(_OPIOID_MONITORING, request.documentation))


_ACID_SUPPRESSANT: Final = _rx(
    r"\b(?:omeprazole|prilosec|pantoprazole|protonix|ranitidine|zantac|pepcid|famotidine|esomeprazole|nexium|"
    r"lansoprazole|prevacid|dexlansoprazole|dexilant|rabeprazole|ppi|proton pump|deprizine)\b"
)
_GI_RISK: Final = _rx_words(
    r"\b(?:(?:gi|gastrointestinal|stomach|gastric|epigastric|abdominal)\s+(?:upset|pain|distress|symptoms|complaints|"
    r"issues|irritation|bleed\w*|risk|discomfort)|dyspepsia|gastritis|gerd|(?:acid\s+)?reflux|heartburn|"
    r"peptic ulcers?|ulcers?|gi bleed\w*|anticoagula\w*|aspirin|corticosteroids?|(?:age|aged)\s+(?:over|greater "
    r"than|>)\s*65|nausea|"
    # MTUS GI risk: age over 65, anticoagulants or corticosteroids, high-dose or multiple NSAIDs.
    r"(?:6[6-9]|[7-9]\d)[- ]years?[- ]old|(?:age|aged)\s+(?:6[6-9]|[7-9]\d)|warfarin|coumadin|apixaban|eliquis|"
    r"rivaroxaban|xarelto|clopidogrel|plavix|heparin|enoxaparin|lovenox|blood thinners?|prednisone|prednisolone|"
    r"methylprednisolone|medrol|dexamethasone|oral steroids?|high[- ]dose (?:\w{1,20}\s)?(?:nsaids?|ibuprofen|"
    r"naproxen|anti-?inflammator\w*)|(?:multiple|two) nsaids)\b"
)


def _check_gi_risk(request: Request) -> _Outcome:
    return _found(_first_affirmed(_GI_RISK, request.documentation))


_SHORT_COURSE_DRUG: Final = _rx(
    r"\b(?:cyclobenzaprine|flexeril|fexmid|amrix|orphenadrine|norflex|carisoprodol|soma|methocarbamol|robaxin|"
    r"metaxalone|skelaxin|chlorzoxazone|lorzone|parafon|tabradol|benzodiazepines?|diazepam|valium|alprazolam|xanax|"
    r"clonazepam|klonopin|lorazepam|ativan|temazepam|muscle relaxants?)\b"
)
_SHORT_COURSE: Final = _rx_words(
    r"\b(?:acute\s+(?:flare\w*|exacerbation|spasms?|muscle spasms?|injury|phase|pain)|flare[- ]?ups?|short[- ]"
    r"(?:course|term)|new(?:ly)?\s+prescri\w*|first\s+prescri\w*|initial\s+prescri\w*|started\s+on|"
    r"(?:for|x)\s+(?:\d{1,2}|one|two|three|seven|ten|fourteen)\s+days?|(?:one|two|1|2)\s+weeks?|"
    r"(?:\d{1,2}|one|two|three|five|seven|ten|fourteen)[- ](?:day|week)\s+(?:course|supply|trial|taper)|"
    r"(?:brief|limited)\s+(?:course|trial|period|duration))\b"
)


def _check_short_course(request: Request) -> _Outcome:
    return _found(_first_affirmed(_SHORT_COURSE, request.documentation))


# --------------------------------------------------------------------------------------------------------------
# Whole request: guideline named, treatment the guidelines recommend, stated purpose
# --------------------------------------------------------------------------------------------------------------

_GUIDELINE: Final = _rx(
    r"\b(?:ca\s+)?(?:mtus|acoem|odg|official disability guidelines|medical treatment utilization schedule|chronic pain "
    r"(?:medical )?treatment guidelines|post-?surgical treatment guidelines|acupuncture (?:medical )?treatment "
    r"guidelines|american college of occupational and environmental medicine)\b"
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
