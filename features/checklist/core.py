"""What a check is (a row: when it applies, and a pattern or a computed rule), what it returns, and the
shared vocabulary and matching helpers every check uses."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

Status = Literal["passed", "missing", "not_applicable"]
STATUSES: Final[tuple[Status, ...]] = ("passed", "missing", "not_applicable")
#: Where a pattern row looks: the request line, the clinical summary, both, or both with the guideline.
LookIn = Literal["item", "summary", "documentation", "whole"]

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

    @property
    def whole(self) -> str:
        """Guideline, item and summary together: where a guideline may be named."""
        return f"{self.guideline} . {self.item} . {self.summary}"


@dataclass(frozen=True)
class _Outcome:
    passed: bool
    evidence: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Check:
    """One checklist entry: when it applies, what it looks for, and the reviewer reason it answers.

    Most checks are a row: ``pattern`` searched in ``look_in`` (with ``affirmed``, a match preceded by a negation
    does not count). Only checks that compute something (a count against an allowance, a fallback to red flags)
    give ``evaluate`` instead.
    """

    code: str
    title: str
    reason_code: str
    categories: frozenset[str]
    advice: str
    #: The words that pass the check (a row); None when ``evaluate`` computes the outcome.
    pattern: re.Pattern[str] | None = None
    #: Which part of the request ``pattern`` is searched in.
    look_in: LookIn = "documentation"
    #: Whether a negation before a match withdraws it ("no numbness"); request-line checks read words as written.
    affirmed: bool = True
    #: A computed check: the outcome from the whole request (None: a pattern row).
    evaluate: Callable[[Request], _Outcome] | None = None
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

    def __post_init__(self) -> None:
        if (self.pattern is None) == (self.evaluate is None):
            raise ValueError(f"check {self.code!r} needs exactly one of a pattern (a row) or an evaluate function")

    def outcome(self, request: Request) -> _Outcome:
        """Whether the request passes, with the words found (the check is assumed to apply)."""
        if self.evaluate is not None:
            return self.evaluate(request)
        assert self.pattern is not None  # __post_init__ guarantees a pattern when there is no function
        text = _text_of(request, self.look_in)
        return _found(_first_affirmed(self.pattern, text) if self.affirmed else _first(self.pattern, text))


def _text_of(request: Request, look_in: LookIn) -> str:
    if look_in == "item":
        return request.item
    if look_in == "summary":
        return request.summary
    if look_in == "whole":
        return request.whole
    return request.documentation


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
