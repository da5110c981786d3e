"""The letter header: dates, case number, priority and the reviewer's specialty."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from features.letters.extract import _collapse

# --------------------------------------------------------------------------------------------------------------
# Dates and header fields
# --------------------------------------------------------------------------------------------------------------

_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_WORD = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
DATE_PATTERN = (
    r"(?:\d{4}-\d{1,2}-\d{1,2}(?!\d)"
    r"|\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?!\d)"
    rf"|{_MONTH_WORD}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\d{{1,2}}\s+{_MONTH_WORD},?\s+\d{{4}})"
)
_DATE_RE = re.compile(DATE_PATTERN, re.I)
_NUMERIC_DATE_RE = re.compile(r"(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})")
_WORD_DATE_RE = re.compile(r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})", re.I)
_DAY_FIRST_DATE_RE = re.compile(r"(\d{1,2})\s+([a-z]+)\.?,?\s+(\d{4})", re.I)


def parse_date(value: str) -> dt.date | None:
    """The first date in ``value`` (MM/DD/YYYY, M-D-YY, YYYY-MM-DD, "June 10, 2010", "10 June 2010"), or None."""
    match = _DATE_RE.search(value)
    if match is None:
        return None
    token = match.group(0)
    try:
        return _date_from_token(token)
    except ValueError:
        return None


def _month_number(word: str) -> int:
    word = word.lower().rstrip(".")
    for number, name in enumerate(_MONTHS, start=1):
        if len(word) >= 3 and name.startswith(word):
            return number
    raise ValueError(f"unknown month {word!r}")


def _full_year(year: int) -> int:
    # Two-digit years: injuries go back decades, decisions are recent; 70 splits them without a calendar.
    if year < 100:
        return 2000 + year if year < 70 else 1900 + year
    return year


def _date_from_token(token: str) -> dt.date:
    numeric = _NUMERIC_DATE_RE.fullmatch(token)
    if numeric:
        a, b, c = (int(x) for x in numeric.groups())
        if len(numeric.group(1)) == 4:
            return dt.date(a, b, c)
        return dt.date(_full_year(c), a, b)
    worded = _WORD_DATE_RE.fullmatch(token)
    if worded:
        return dt.date(int(worded.group(3)), _month_number(worded.group(1)), int(worded.group(2)))
    day_first = _DAY_FIRST_DATE_RE.fullmatch(token)
    if day_first:
        return dt.date(int(day_first.group(3)), _month_number(day_first.group(2)), int(day_first.group(1)))
    raise ValueError(f"not a date: {token!r}")


def _labelled(label: str) -> re.Pattern[str]:
    # "\s*(?:[:#]\s*)?", not "\s*[:#]?\s*": two adjacent optional runs backtrack quadratically over whitespace.
    return re.compile(rf"(?i)\b(?:{label})\s*(?:[:#]\s*)?(?P<date>{DATE_PATTERN})")


# Header labels first, then the phrasings older letters use in running text.
_DATE_LABELS: dict[str, tuple[re.Pattern[str], ...]] = {
    "date_assigned": (
        _labelled(r"date\s+assigned|assignment\s+date|date\s+of\s+assignment"),
        _labelled(r"notice\s+of\s+assignment[^.]{0,120}?\bon"),
    ),
    "injury_date": (
        _labelled(r"date\s+of\s+injury|injury\s+date|DOI"),
        _labelled(r"date\s+of\s+(?:industrial\s+)?injury\s+of|industrial\s+injury\s+date\s+of"),
    ),
    "ur_date": (
        _labelled(r"UR\s+denial\s+date|date\s+of\s+UR(?:\s+(?:decision|denial))?|UR\s+date"),
        _labelled(r"utilization\s+review\s+(?:denial|determination|decision)(?:/modification)?\s+dated"),
        _labelled(r"utilization\s+review\s+(?:\(UR\)\s+)?(?:dated|from|of)"),
    ),
    "decision_date": (
        _labelled(r"decision\s+date|determination\s+date|date\s+of\s+(?:final\s+)?determination"),
        _labelled(r"determination\s+dated"),
    ),
}
_CASE_RE = re.compile(r"(?i)\b(?:imr\s+)?case\s*(?:number|no\.?|#)\s*(?::\s*)?(?P<case>[A-Z]{2}\d{2}-\d{4,8})\b")
_CASE_FALLBACK_RE = re.compile(r"\bCM\d{2}-\d{5,8}\b")
_PRIORITY_RE = re.compile(r"(?i)\bpriority\s*:\s*(?P<priority>standard|expedited|urgent)\b")
_CERT_LABEL_RE = re.compile(r"(?im)certifications?(?:\s*\(s\))?\s*/\s*specialt(?:y|ies)\s*:[ ]*(?P<value>.*)$")
_BOARD_RE = re.compile(
    r"(?i)\bboard[- ]certified\s+in\s+(?P<value>[^.;]{2,150}?)"
    r"(?=\s+and\s+(?:is\s+)?licensed|\s+and\s+has\b|\s*[.;]|$)"
)
_CONTINUES_RE = re.compile(r"(?:[&,/-]|\band)\s*$")


@dataclass(frozen=True)
class _Header:
    case_id: str | None
    date_assigned: dt.date | None
    injury_date: dt.date | None
    ur_date: dt.date | None
    decision_date: dt.date | None
    imr_type: str | None
    reviewer_specialty: str | None


def _find_date(text: str, field: str) -> dt.date | None:
    for pattern in _DATE_LABELS[field]:
        for match in pattern.finditer(text):
            value = parse_date(match.group("date"))
            if value is not None:
                return value
    return None


def _find_case(text: str) -> str | None:
    match = _CASE_RE.search(text) or _CASE_FALLBACK_RE.search(text)
    if match is None:
        return None
    return (match.group("case") if match.re is _CASE_RE else match.group(0)).upper()


def _continues_specialty(previous: str, line: str) -> bool:
    """A wrapped specialty list goes on over short lines that are not a heading or a label."""
    text = line.strip()
    if not text or ":" in text or text.isupper() or len(text) > 60 or text.endswith("."):
        return False
    return bool(_CONTINUES_RE.search(previous)) or len(previous) >= 40


def _find_specialty(text: str) -> str | None:
    label = _CERT_LABEL_RE.search(text)
    if label:
        parts = [label.group("value").strip()]
        following = [line for line in text[label.end() :].split("\n", 8)[1:8] if line.strip()]
        for line in following[:2]:
            if not _continues_specialty(parts[-1], line):
                break
            parts.append(line.strip())
        value = _collapse(" ".join(parts)).strip(" ,&")
        return value or None
    board = _BOARD_RE.search(_collapse(text))
    return board.group("value").strip() if board else None


def _parse_header(full: str, body: str) -> _Header:
    """Header fields: the case number from the full text (page furniture repeats it), the rest from the body."""
    priority = _PRIORITY_RE.search(body)
    return _Header(
        case_id=_find_case(full),
        date_assigned=_find_date(body, "date_assigned"),
        injury_date=_find_date(body, "injury_date"),
        ur_date=_find_date(body, "ur_date"),
        decision_date=_find_date(body, "decision_date"),
        imr_type=priority.group("priority").title() if priority else None,
        reviewer_specialty=_find_specialty(body),
    )
