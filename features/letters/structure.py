"""Letter structure: sections, labels and the headings or statements that carry each decision."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from features.letters.extract import _collapse
from features.schema import Determination

# Wrapped item headings observed run to 5 lines; a bound keeps a missing full stop from swallowing a rationale.
_MAX_HEADING_LINES = 8
# Headings are short; longer lines are prose, and skipping them bounds the cost of the heading patterns.
_MAX_HEADING_LINE_CHARS = 400


# --------------------------------------------------------------------------------------------------------------
# Letter structure: sections, labels, decisions
# --------------------------------------------------------------------------------------------------------------

_RATIONALE_RE = re.compile(
    r"(?im)^[ ]*(?:decision[ ]+rationale|rationale[ ]+for[ ]+(?:the[ ]+)?decision)[ ]*(?::|[-\u2013\u2014][ ]|$)"
)
_CLAIMS_RE = re.compile(
    r"(?im)^[ ]*(?:claims[ ]+administrator(?:['\u2019]s)?[ ]+guidelines?"
    r"|medical\s+treatment\s+guidelines?(?:\s*\(s\))?\s+used\s+by\s+the\s+claims\s+administrator[^:\n]{0,120}"
    r"(?:\n[^:\n]{0,120})?)[ ]*:"
)
_REVIEWER_RE = re.compile(
    r"(?im)^[ ]*(?:maximus[ ]+guidelines?|(?:expert[ ]+)?reviewer(?:['\u2019]s)?[ ]+guidelines?"
    r"|medical\s+treatment\s+guidelines?(?:\s*\(s\))?\s+used\s+by\s+the\s+expert\s+reviewer[^:\n]{0,120})[ ]*:"
)
_SECTION_RE = re.compile(
    r"(?im)^[ ]*(?:imr\s+issues,?\s+decisions?\s+and\s+rationales?"
    r"|independent\s+medical\s+review\s+decisions?\s+and\s+rationales?"
    r"|the\s+final\s+determination\s+was\s+based\s+on)"
)
_SUMMARY_HEAD_RE = re.compile(r"(?im)^[ ]*(?:clinical[ ]+case[ ]+summary|case[ ]+summary|clinical[ ]+summary)[ ]*:?")
_SUMMARY_END_RE = re.compile(
    r"(?im)^[ ]*(?:imr\s+issues|independent\s+medical\s+review\s+decision|the\s+final\s+determination\s+was"
    r"|documents\s+reviewed|medical\s+qualifications|how\s+the\s+imr\s+final\s+determination)"
)
_SUMMARY_BOILERPLATE_RE = re.compile(
    r"(?i)^\s*(?:the\s+expert\s+reviewer\s+developed\s+the\s+following\s+clinical\s+case\s+summary[^:]{0,200}:"
    r"|disclaimer:\s*the\s+following\s+case\s+summary[^.]{0,200}\.)\s*"
)
_TRAILER_RE = re.compile(r"(?im)^[ ]*(?:effect\s+of\s+the\s+decision\b|cc[ ]*:|sincerely\b|enclosures?[ ]*:)")
_SET_FORTH_RE = re.compile(r"(?i)set\s+forth\s+below\s*(?::\s*)?$")

# "X: Upheld", "X is: Overturned", "X - UPHELD", a bare "Upheld" under "X:", with optional partial wording.
_VERDICT_WORD = r"(?P<verdict>upheld|overturned)"
_VERDICT_TAIL = (
    r"(?P<tail>(?:[ ]*(?:[-,;:(][ ]*)?(?:in[ ]+part|in[ ]+full|partially(?:[ ]+\w+)?|with[ ]+modifications?"
    r"|as[ ]+modified|modified|certified[ ]+with[ ]+modifications?)[ ]*\)?)?)"
)
_VERDICT_LINE_RE = re.compile(
    rf"(?i)^(?P<head>.*?)(?:(?:[ ]+(?:is|are|was|were))?[ ]*[:=][ ]*|[ ]+[-\u2013\u2014]+[ ]*|^[ ]*)"
    rf"{_VERDICT_WORD}\b{_VERDICT_TAIL}[ ]*(?:\.[ ]*)?$"
)
# Without a separator only shouting ("MRI LUMBAR UPHELD") or a capitalised verdict after "is" reads as a heading.
_VERDICT_BARE_RE = re.compile(
    r"^(?P<head>(?:[^a-zA-Z]*[A-Z][^a-z]*?)|.+?[ ]+(?:is|are))[ ]+(?P<verdict>UPHELD|OVERTURNED|Upheld|Overturned)"
    r"(?P<tail>)[ ]*$"
)
_NOT_AN_ITEM_RE = re.compile(
    r"(?i)^(?:the\s+)?(?:final\s+|overall\s+|imr\s+)?(?:determination|decision|result|outcome)(?:\s+summary)?$"
    r"|.*\bfinal\s+determination\b.*"
    r"|^(?:the\s+)?(?:claims\s+administrator['\u2019]?s?|utilization\s+review(?:\s+\(ur\))?|ur)\s+"
    r"(?:decision|denial|determination)(?:\s+(?:is|was))?$"
)
_HEADING_SEPARATOR_RE = re.compile(r"(?i)(?:\s+(?:is|are|was|were))?\s*[:=\-\u2013\u2014]*\s*$")
_TERMINATED_RE = re.compile(r"[.!?;:][\"'\u201d\u2019)\]]*$")
_AUTHORISATION_WORDS_RE = re.compile(r"(?i)original\s+request|authori[sz]ed|certified|modified|imr\s+eligible")

_MAXIMUS_STATEMENT_RE = re.compile(
    r"(?is)(?:(?<![\w.])(?P<num>\d{1,2})[ ]*[.)][ ]*)?maximus\s+federal\s+services,?\s+inc\.?,?\s+has\s+"
    r"determined\s+(?:that\s+)?(?:the\s+)?(?:requests?\s+for\s+)?(?P<item>\S.{0,600}?)(?<=\S)\s+(?:is|are|was|were)\s+"
    r"(?P<neg>not\s*)?medically\s+necessary(?:\s+and\s+appropriate)?"
)
_NUMBERED_STATEMENT_RE = re.compile(
    r"(?im)^[ ]*(?P<num>\d{1,2})[ ]*[.)][ ]*(?!maximus)(?:the\s+requests?\s+for\s+)?"
    r"(?P<item>\S[^\n]{0,300}?(?:\n(?![ ]*\d{1,2}[ ]*[.)])[^\n]{0,300}?){0,3}?)\s+(?:is|are)\s+"
    r"(?P<neg>not\s*)?medically\s+necessary\s+and\s+appropriate"
)
_REGARDING_RE = re.compile(
    r"(?im)^[ ]*(?:(?P<num>\d{1,2})[ ]*[.)][ ]*)?regarding\s+the\s+requests?\s+for\s+(?P<item>[^:]{1,400}?)[ ]*:[ ]*$"
)
_LEADING_ARTICLE_RE = re.compile(r"(?i)^(?:an?|the)\s+")
# List numbering in front of a heading ("2. MRI: Upheld") is layout, not part of the requested item.
_ENUMERATION_RE = re.compile(r"^\(?\d{1,2}[.)]\s+")

_ORIGINAL_REQUEST_RE = re.compile(r"(?i)original\s+request\s*,\s*")
# A parenthesis, then a test of its content: one pattern with the words inside backtracked cubically over "(modif ...".
_PARENTHESIS_RE = re.compile(r"\s*\((?P<mod>[^()]*)\)")
_MODIFICATION_WORD_RE = re.compile(r"(?i)\b(?:modif\w*|partial\w*|certified|in\s+part)\b")
_TRAILING_MOD_RE = re.compile(
    r"(?i)\s*[,;\u2013\u2014-]\s*(?P<mod>(?:partially\s+certified|certified\s+with\s+modifications?|modified\b.*"
    r"|(?:upheld|overturned)\s+in\s+part))\s*$"
)


@dataclass(frozen=True)
class _Heading:
    """An item heading of the 2014+ layout, as character offsets into the cleaned text."""

    start: int
    end: int
    text: str
    determination: Determination
    tail: str


@dataclass(frozen=True)
class _Statement:
    """A decision stated as a sentence (2013 layout)."""

    start: int
    number: int | None
    item_text: str
    determination: Determination


@dataclass(frozen=True)
class _Regarding:
    start: int
    end: int
    number: int | None
    item_text: str


@dataclass(frozen=True)
class _Draft:
    """One item before it becomes an ``Item``: everything that comes from the item's own block."""

    item_text: str
    determination: Determination
    modification: str | None
    claims_guideline: str | None
    reviewer_guideline: str | None
    rationale: str | None


class _Lines:
    """The cleaned text split into lines, with each line's character offset."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.starts: list[int] = []
        offset = 0
        for line in self.lines:
            self.starts.append(offset)
            offset += len(line) + 1

    def index_at(self, offset: int) -> int:
        return max(0, bisect.bisect_right(self.starts, offset) - 1)

    def end_of(self, index: int) -> int:
        return self.starts[index] + len(self.lines[index])


def _verdict_of(word: str) -> Determination:
    return "Upheld" if word.lower() == "upheld" else "Overturned"


def _has_verdict_word(line: str) -> bool:
    """Cheap test first: a line without either word cannot be a verdict line (most lines are prose)."""
    lowered = line.lower()
    return "upheld" in lowered or "overturned" in lowered


def _match_verdict_line(line: str, previous: str | None) -> re.Match[str] | None:
    if len(line) > _MAX_HEADING_LINE_CHARS:
        return None
    match = _VERDICT_LINE_RE.match(line)
    if match is None:
        return _VERDICT_BARE_RE.match(line.strip())
    if match.group("head").strip():
        return match
    # A verdict alone on its line is a heading only under an "X:" line or when capitalised like one.
    if previous is None:
        return None
    after_label = previous.rstrip().endswith((":", "-", "\u2013", "\u2014", "="))
    capitalised = match.group("verdict")[0].isupper() and not line.rstrip().endswith(".")
    return match if after_label or capitalised else None


def _is_marker_line(line: str) -> bool:
    return bool(
        _RATIONALE_RE.match(line)
        or _CLAIMS_RE.match(line)
        or _REVIEWER_RE.match(line)
        or _SECTION_RE.match(line)
        or _SUMMARY_HEAD_RE.match(line)
        or _SET_FORTH_RE.search(line)
    )


def _previous_filled(doc: _Lines, index: int, floor: int) -> int | None:
    j = index - 1
    while j > floor and not doc.lines[j].strip():
        j -= 1
    return j if j > floor else None


def _heading_start(doc: _Lines, index: int, head: str, floor: int) -> tuple[int, list[str]]:
    """Walks back from the verdict line over the lines of a wrapped heading; returns first index and lines."""
    parts = [head] if head.strip() else []
    first = index
    j = _previous_filled(doc, index, floor)
    while j is not None and len(parts) < _MAX_HEADING_LINES:
        line = doc.lines[j]
        if len(line) > _MAX_HEADING_LINE_CHARS:
            break
        if _is_marker_line(line) or _match_verdict_line(line, None) is not None:
            break
        joined = " ".join(parts)
        # "X was the original request. Y was authorized ... The remaining ... original request, Z is: Upheld"
        # holds full stops; keep walking while that boilerplate has not reached its first sentence.
        needs_origin = bool(_ORIGINAL_REQUEST_RE.search(joined)) and "was the original request" not in joined
        if (
            _TERMINATED_RE.search(line.rstrip())
            and parts
            and not (needs_origin and _AUTHORISATION_WORDS_RE.search(line))
        ):
            break
        parts.insert(0, line.strip())
        first = j
        j = _previous_filled(doc, j, floor)
    return first, parts


def _find_headings(doc: _Lines, section_start: int) -> list[_Heading]:
    headings: list[_Heading] = []
    floor = doc.index_at(section_start) - 1 if section_start else -1
    for index in range(max(floor + 1, 0), len(doc.lines)):
        line = doc.lines[index]
        if not _has_verdict_word(line) or _is_marker_line(line):
            continue
        prev_index = _previous_filled(doc, index, floor)
        previous = doc.lines[prev_index] if prev_index is not None else None
        match = _match_verdict_line(line, previous)
        if match is None:
            continue
        first, parts = _heading_start(doc, index, match.group("head"), floor)
        text = _ENUMERATION_RE.sub("", _HEADING_SEPARATOR_RE.sub("", _collapse(" ".join(parts))))
        if not text or _NOT_AN_ITEM_RE.match(text):
            continue
        headings.append(
            _Heading(
                start=doc.starts[first],
                end=doc.end_of(index),
                text=text,
                determination=_verdict_of(match.group("verdict")),
                tail=_collapse(match.group("tail")).strip(" -,;:()"),
            )
        )
        floor = index
    return headings


def _find_statements(text: str) -> list[_Statement]:
    found: dict[int, _Statement] = {}
    for pattern in (_MAXIMUS_STATEMENT_RE, _NUMBERED_STATEMENT_RE):
        for match in pattern.finditer(text):
            if match.start() in found:
                continue
            number = match.group("num")
            found[match.start()] = _Statement(
                start=match.start(),
                number=int(number) if number else None,
                item_text=_LEADING_ARTICLE_RE.sub("", _collapse(match.group("item"))),
                determination="Upheld" if match.group("neg") is not None else "Overturned",
            )
    return [found[key] for key in sorted(found)]


def _find_regarding(text: str) -> list[_Regarding]:
    return [
        _Regarding(
            start=match.start(),
            end=match.end(),
            number=int(match.group("num")) if match.group("num") else None,
            item_text=_LEADING_ARTICLE_RE.sub("", _collapse(match.group("item"))),
        )
        for match in _REGARDING_RE.finditer(text)
    ]


def _split_modification(text: str, tail: str, verdict: Determination) -> tuple[str, str | None]:
    """Separates partial-certification wording from the item text; returns (item_text, modification)."""
    notes: list[str] = []
    origin = list(_ORIGINAL_REQUEST_RE.finditer(text))
    if origin:
        last = origin[-1]
        sentence_start = text.rfind(". ", 0, last.start())
        before = text[: sentence_start + 1].strip() if sentence_start >= 0 else ""
        remainder = text[last.end() :].strip()
        if remainder:
            text = remainder
            if before:
                notes.append(before)
    parenthetical = next(
        (m for m in _PARENTHESIS_RE.finditer(text) if _MODIFICATION_WORD_RE.search(m.group("mod"))), None
    )
    if parenthetical and text[: parenthetical.start()].strip():
        notes.append(parenthetical.group("mod").strip())
        text = (text[: parenthetical.start()] + text[parenthetical.end() :]).strip()
    trailing = _TRAILING_MOD_RE.search(text)
    if trailing and text[: trailing.start()].strip():
        notes.append(trailing.group("mod").strip())
        text = text[: trailing.start()].strip()
    if tail:
        notes.append(f"{verdict} {tail.lower()}")
    return text, ("; ".join(notes) or None)
