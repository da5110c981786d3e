"""Computed checks on the request line: quantity, frequency and duration, and visits against the guideline's
allowance (with the prior visits the summary reports)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from features.checklist.core import (
    _COMPACT,
    _CONTINUATION,
    _DME_DURATION,
    _DME_NEEDS_QUANTITY,
    _EVALUATION_ONLY,
    _FREQ_DURATION,
    _FREQ_ONLY,
    _MED_COUNT,
    _NOT_A_THERAPY,
    _NUM,
    _THERAPY_WORDS,
    _TOTAL,
    _TREATMENT_TOO,
    MEDICATION_CATEGORIES,
    Request,
    _evidence,
    _first,
    _first_affirmed,
    _found,
    _Outcome,
    _rx,
    _rx_words,
)

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


_BODY_PART: Final = _rx(
    r"\b(?:cervical|thoracic|lumbar|lumbosacral|sacral|sacroiliac|si joints?|spine|spinal|neck|(?:low|lower|upper|"
    r"mid)\s+back|back|shoulders?|elbows?|wrists?|hands?|fingers?|thumbs?|hips?|knees?|ankles?|foot|feet|toes?|"
    r"legs?|arms?|forearms?|thighs?|calf|calves|head|brain|skull|face|jaw|tmj|chest|abdomen|abdominal|pelvis|"
    r"pelvic|groin|buttocks?|extremit(?:y|ies)|carpal|cubital|rotator cuff|menisc\w*|acl|labr\w*|patell\w*|"
    r"achilles|plantar|heel|clavicle|scapula\w*|trapezius|paraspinal|coccyx|ribs?|[ctl]\d{1,2}(?:\s*-\s*[ctls]?\d)?|"
    r"l5-s1|s1|rue|lue|rle|lle|bue|ble)\b"
)


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
