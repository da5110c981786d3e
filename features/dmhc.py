"""Loader for the California DMHC Independent Medical Review (IMR) determinations export.

One row of the export is one IMR case about one disputed service, so each row becomes one ``Item``
(``item_id = "<ReferenceID>#0"``). Two shapes of the same dataset are accepted:

* ``"old"``: ``;``-separated, column names with spaces ("Reference ID;Report Year;..."), no Findings.
* ``"current"``: ``,``-separated CamelCase names (ReferenceID, ..., IMRType, DaysToReview, DaysToAdopt,
  Findings), multi-line quoted Findings, possibly a UTF-8 BOM or cp1252 bytes; or the same as parquet.

Columns are matched ignoring case, spaces and punctuation; columns we do not know (e.g. third-party
additions such as ``was_overturned``) are ignored because they restate the label. Problems with one row
become rejects (``RecordError.as_reject()``); problems with the whole file raise ``DmhcError``. Every
data row ends up either as an Item or as a reject.

Findings text is written by the reviewer and states the outcome, so it is split (``split_findings``):
only the pre-review statement of the case may become ``Item.summary``; the rest goes to ``rationale``.
Findings text is never logged nor put into reject reasons.
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final, Literal, cast

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import ValidationError

from features.progress import track
from features.schema import Determination, Item, RecordError

Shape = Literal["old", "current"]
Rejects = list[dict[str, str]]

#: Columns both export shapes carry (official current spelling).
REQUIRED_COLUMNS: Final[tuple[str, ...]] = (
    "ReferenceID",
    "ReportYear",
    "DiagnosisCategory",
    "DiagnosisSubCategory",
    "TreatmentCategory",
    "TreatmentSubCategory",
    "Determination",
    "Type",
    "AgeRange",
    "PatientGender",
)
#: Columns only the current export carries.
CURRENT_ONLY_COLUMNS: Final[tuple[str, ...]] = ("IMRType", "DaysToReview", "DaysToAdopt", "Findings")
KNOWN_COLUMNS: Final[tuple[str, ...]] = REQUIRED_COLUMNS + CURRENT_ONLY_COLUMNS

DETERMINATIONS: Final[dict[str, Determination]] = {
    "upheld decision of health plan": "Upheld",
    "overturned decision of health plan": "Overturned",
}
UNSPECIFIED_TREATMENT: Final = "unspecified treatment"
MIN_YEAR: Final = 1990
MAX_YEAR: Final = 2100
MAX_DAYS: Final = 100_000
_PARQUET_MAGIC: Final = b"PAR1"
_SEPARATORS: Final = (",", ";", "\t", "|")
# A reject reason may quote a bad cell only when it is short: a long cell is likely shifted Findings text.
_MAX_QUOTED_VALUE: Final = 40


class DmhcError(RecordError):
    """A file that cannot be read as a DMHC IMR export at all (not one, empty, undecodable)."""


# --------------------------------------------------------------------------------------------- columns


def _column_key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


_KNOWN_BY_KEY: Final[dict[str, str]] = {_column_key(name): name for name in KNOWN_COLUMNS}


def _resolve_columns(columns: Sequence[str], source: str) -> dict[str, str]:
    """Map each recognised file column to its official name; unknown columns are left out."""
    resolved: dict[str, str] = {}
    for column in columns:
        official = _KNOWN_BY_KEY.get(_column_key(str(column)))
        if official is None:
            continue
        if official in resolved.values():
            raise DmhcError(source, f"column {official} appears more than once (in different spellings)")
        resolved[str(column)] = official
    missing = [name for name in REQUIRED_COLUMNS if name not in resolved.values()]
    if missing:
        raise DmhcError(source, f"not a DMHC IMR export: missing required column(s) {', '.join(missing)}")
    return resolved


def detect_shape(columns: Sequence[str], *, source: str = "<columns>") -> Shape:
    """Which export shape a header belongs to; raises ``DmhcError`` naming any missing required column.

    "current" when any current-only column (IMRType, DaysToReview, DaysToAdopt, Findings) is present or
    the names are written without spaces (ReferenceID); "old" for the spaced names without those columns.
    """
    resolved = _resolve_columns(columns, source)
    if any(name in resolved.values() for name in CURRENT_ONLY_COLUMNS):
        return "current"
    spaced = any(" " in column.strip() for column in resolved)
    return "old" if spaced else "current"


# -------------------------------------------------------------------------------------------- findings

# Only "Case Summary:" is searched for; "Nature of Statutory Criteria/" before it falls in the reviewer part
# with everything else outside the summary (a leading optional group would slow the search 3x).
_CASE_HEADER = re.compile(r"case\s+summary\s*:\s*", re.I)
_REVIEWER_PREAMBLE = re.compile(
    r"findings\s*:\s*(?:the\s+)?(?:\w+\s+){0,2}?reviewers?\s+(?:found|determined|noted|concluded)\s+(?:that\b\s*)?",
    re.I,
)
# Words that only the reviewer's part contains; matched even inside other words ("aFinal Result"), since
# these are what a leak check looks for.
_VERDICT_MARKERS: Final[tuple[str, ...]] = (
    r"findings\s*:",
    r"final\s*results?",
    r"credentials",
    r"qualifications",
    r"reviewer",
    r"upheld",
    r"uphold",
    r"overturn",
    r"medically\s+necessary",
    r"medical\s+necessity",
)
# Words and shapes typical of the reviewer's analysis (whole words). Deliberately broad: cutting a
# background sentence costs a little signal, keeping an analysis sentence can leak the label.
_ANALYSIS_MARKERS: Final[tuple[str, ...]] = (
    # the review itself and its conclusion
    r"review\w*",
    r"determin(?:ed|es|ation|ations)",
    r"(?:un)?necessary",
    r"necessity",
    r"(?:contra)?indicat(?:ed|ion|ions)",
    r"criteri(?:a|on)",
    r"guidelines?",
    r"meets?",
    r"met",
    r"should",
    r"(?:the|this|these|such|said)\s+(?:requested|proposed|disputed)",
    r"(?:services?|treatments?|items?|medications?|procedures?)\s+at\s+issue",
    # connectives that open a conclusion or a counter-argument
    r"therefore|thus|hence|accordingly|consequently|however|overall",
    r"in\s+conclusion|all\s+told|in\s+summary|as\s+such|with\s+that\s+being",
    r"for\s+(?:these|this|those)\s+reasons?",
    r"given\s+(?:this|these|that|the\s+above)",
    # judgements
    r"(?:in)?appropriate\w*|warrant\w*|unwarranted|justif\w*|reasonable",
    r"(?:in)?adequate\w*|insufficient",
    r"standard\s+(?:of\s+care|therapy|therapies|treatment|practice)",
    r"experimental|investigational",
    r"(?:un)?likely|beneficial|benefits?|efficacy|effective\w*|efficacious|safe|safety",
    r"(?:in)?consistent\s+with",
    # the literature the reviewer cites
    r"literature|stud(?:y|ies)|research\w*|experts?|evidence",
    r"fda|food\s+and\s+drug|federal\s+agency",
    r"according\s+to|based\s+on|(?-i:Per)|support(?:s|ed|ing)?",
    # what the records lack
    r"lack\s+of|absence\s+of|devoid|fail(?:s|ed)?\s+to",
    r"there\s+(?:is|are|was|were)\s+no",
    r"no\s+(?:documented|documentation|compelling|clear)",
    r"(?:do|does|did)(?:\s+not|n['’]t)\s+(?:include|document|demonstrate|support|establish|show|reflect|"
    r"indicate|provide|suggest|meet|confirm)",
)
# (?=\w) is redundant for the match but halves the search time in CPython's regex engine.
_REVIEWER_MARKER = re.compile("|".join(_VERDICT_MARKERS) + r"|\b(?=\w)(?:" + "|".join(_ANALYSIS_MARKERS) + r")\b", re.I)
# The case statement is about this patient and the request. A sentence about none of them (a literature
# summary, a definition) means the reviewer's discussion has started.
_ABOUT_THE_CASE = re.compile(
    r"\b(?:patient|enrollee|member|she|he|her|hers|him|his|child|son|daughter|infant|baby|parent|mother|"
    r"father|spouse|husband|wife|records?|notes?|requests?|requested|year-old|years?\s+old)\b",
    re.I,
)
# End of a sentence: terminal punctuation (plus closing quotes/brackets) then space, or a missing space
# straight after a lowercase word ("tablets.A federal agency").
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’')\]]*\s+|(?<=[a-z]{2}[.!?])(?=[A-Z])")
_ABBREVIATIONS: Final = frozenset(
    {"dr", "mr", "mrs", "ms", "vs", "etc", "no", "st", "approx", "fig", "inc", "jr", "sr", "e.g", "i.e"}
)
_INITIALS = re.compile(r"(?:[A-Za-z]\.)+")


def _normalise_text(text: str) -> str:
    return " ".join(html.unescape(text).split())  # str.split: far faster than a regex on 100 MB


def _is_abbreviation(before: str) -> bool:
    word = before.rsplit(" ", 1)[-1]
    return _INITIALS.fullmatch(word) is not None or word.rstrip(".").lower() in _ABBREVIATIONS


def _sentence_ends(text: str) -> Iterator[int]:
    """Offsets where sentences end (each followed by the next sentence's start), then ``len(text)``."""
    for match in _SENTENCE_END.finditer(text):
        punctuation_end = match.start()
        before = text[max(0, punctuation_end - 24) : punctuation_end]  # a window: slicing the prefix is O(n)
        if match.group() and _is_abbreviation(before.rstrip("\"”’')]")):
            continue
        yield match.end()
    yield len(text)


def _case_statement_end(case: str) -> int:
    """Length of the leading run of sentences that state the case, before any reviewer sentence."""
    marker = _REVIEWER_MARKER.search(case)
    limit = marker.start() if marker else len(case)
    end = 0
    for sentence_end in _sentence_ends(case):
        if sentence_end > limit or not _ABOUT_THE_CASE.search(case, end, sentence_end):
            break
        end = sentence_end
    return end


def _case_start(text: str) -> int:
    header = _CASE_HEADER.search(text)
    if header:
        return header.end()
    preamble = _REVIEWER_PREAMBLE.match(text)
    return preamble.end() if preamble else 0


def split_findings(findings: str) -> tuple[str, str]:
    """Split DMHC Findings text into (pre-review case summary, reviewer part).

    Findings is written by the reviewer: a statement of the case (the request, the patient's background)
    and then the analysis and verdict, in varying order and often without a clean break. The rule:

    1. Normalise HTML entities and whitespace.
    2. The case statement starts right after the "(Nature of Statutory Criteria/)Case Summary:" header,
       wherever it is; without one, after a leading "Findings: The physician reviewer found that";
       otherwise at the start.
    3. From there, the summary is the longest run of whole sentences that each (a) contain no reviewer
       marker (``_VERDICT_MARKERS`` anywhere, e.g. "reviewer", "Final Result", "medically necessary",
       "upheld"; ``_ANALYSIS_MARKERS`` as words, e.g. "criteria", "guideline", "meets", "Therefore",
       "appropriate", "the requested ...", "According to", literature words) and (b) are about this
       patient or the request (a sentence about neither opens the reviewer's discussion). It stops at
       the first sentence failing either test, so it always ends before the first marker.
    4. Everything else, headers included, is the reviewer part. When unsure the rule cuts: a lost
       background sentence costs little, a kept verdict leaks the label.
    """
    text = _normalise_text(findings)
    start = _case_start(text)
    end = start + _case_statement_end(text[start:])
    summary = text[start:end].strip()
    reviewer = " ".join(part for part in (text[:start].strip(), text[end:].strip()) if part)
    if summary[:1].isascii() and summary[:1].islower():  # "found that a patient ..." -> "A patient ..."
        summary = summary[0].upper() + summary[1:]
    return summary, reviewer


# ---------------------------------------------------------------------------------------------- reading


def _without_bom(data: bytes, source: str) -> bytes:
    """The file's bytes without a byte-order mark; UTF-16 (an Excel "Unicode text" save) becomes UTF-8."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as exc:
            raise DmhcError(source, "cannot decode the file as UTF-16 text") from exc
    return data.removeprefix(codecs.BOM_UTF8)


def _cp1252_as_utf8(body: bytes, source: str) -> bytes:
    try:
        return body.decode("cp1252").encode("utf-8")
    except UnicodeDecodeError as exc:
        raise DmhcError(source, "cannot decode the file as UTF-8 or cp1252 text") from exc


def _sniff_separator(header_line: str) -> str:
    """The separator that splits the header into the most known column names (ties: most fields)."""

    def score(separator: str) -> tuple[int, int]:
        fields = [field.strip().strip('"') for field in header_line.split(separator)]
        known = sum(_column_key(field) in _KNOWN_BY_KEY for field in fields)
        return known, len(fields)

    return max(_SEPARATORS, key=score)


def _read_csv(body: bytes, separator: str) -> tuple[pd.DataFrame, list[list[str]]]:
    """Parse with the fast C reader; only a malformed file goes through the tolerant Python reader."""
    options: dict[str, object] = {
        "sep": separator,
        "dtype": str,
        "keep_default_na": False,
        "index_col": False,
        "encoding": "utf-8",
    }
    with warnings.catch_warnings():
        # A trailing separator on every line triggers a ParserWarning; the empty extra field carries nothing.
        warnings.simplefilter("ignore", pd.errors.ParserWarning)
        try:
            return pd.read_csv(io.BytesIO(body), engine="c", **options), []  # type: ignore[call-overload]
        except pd.errors.ParserError:
            pass
        bad_lines: list[list[str]] = []

        def keep_bad_line(fields: list[str]) -> None:
            bad_lines.append(fields)

        frame = pd.read_csv(  # type: ignore[call-overload]
            io.BytesIO(body), engine="python", on_bad_lines=keep_bad_line, **options
        )
        return frame, bad_lines


def _bad_line_rejects(bad_lines: list[list[str]], header: list[str], source: str) -> Rejects:
    id_column = next((i for i, name in enumerate(header) if _column_key(name) == "referenceid"), 0)
    rejects: Rejects = []
    for number, fields in enumerate(bad_lines, start=1):
        reference = fields[id_column].strip() if id_column < len(fields) else ""
        reason = f"malformed line: {len(fields)} fields, the header has {len(header)}"
        rejects.append(RecordError(source, reason, reference or f"bad line {number}").as_reject())
    return rejects


def _frame_from_csv(data: bytes, source: str) -> tuple[pd.DataFrame, Rejects]:
    body = _without_bom(data, source)
    if not body.strip():
        raise DmhcError(source, "empty file")
    if b"\x00" in body:
        raise DmhcError(source, "contains NUL characters: not a text CSV export")
    separator = _sniff_separator(body.lstrip(b"\r\n").split(b"\n", 1)[0].decode("utf-8", errors="replace"))
    try:
        try:
            # Parsing as UTF-8 is the validity check: a separate decode pass would cost as much again.
            frame, bad_lines = _read_csv(body, separator)
        except UnicodeDecodeError:
            frame, bad_lines = _read_csv(_cp1252_as_utf8(body, source), separator)
    except (ValueError, csv.Error) as exc:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise DmhcError(source, f"unreadable CSV ({type(exc).__name__}{_where(str(exc))})") from exc
    return frame, _bad_line_rejects(bad_lines, [str(c) for c in frame.columns], source)


def _where(message: str) -> str:
    # Only the position from a parser message: some parsers quote the offending (Findings) text.
    line = re.search(r"\b(?:line|row) \d+", message)
    return f" at {line.group()}" if line else ""


def _frame_from_parquet(data: bytes, source: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(io.BytesIO(data))
    except (ValueError, OSError, TypeError, pa.ArrowException) as exc:
        raise DmhcError(source, f"unreadable parquet ({type(exc).__name__})") from exc


# ------------------------------------------------------------------------------------------- row fields


def _text_column(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column as stripped strings ('' where absent or null), whatever type the file stored."""
    if name not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    column = frame[name]
    return column.astype(object).where(column.notna(), "").astype(str).str.strip()


def _strings(column: pd.Series) -> list[str]:
    return cast("list[str]", column.tolist())


def _integers(raw: pd.Series, low: int, high: int) -> tuple[list[int | None], pd.Series]:
    """(the values, None where empty; mask of non-empty cells that are not whole numbers in [low, high])."""
    numbers = pd.to_numeric(raw.where(raw.ne("")), errors="coerce")
    with np.errstate(invalid="ignore"):
        valid = numbers.mod(1).eq(0) & numbers.ge(low) & numbers.le(high)
    values = [int(n) if ok else None for n, ok in zip(numbers.tolist(), valid.tolist(), strict=True)]
    return values, raw.ne("") & ~valid


def _normalise_age(raw: pd.Series) -> pd.Series:
    spaced = raw.str.replace(r"\s+", " ", regex=True)
    ranged = spaced.str.replace(r"(?i)^(\d+) ?(?:-|–|_|to) ?(\d+)$", r"\1-\2", regex=True)
    return ranged.str.replace(r"^(\d+) ?\+$", r"\1+", regex=True)


def _determination(cell: str) -> Determination | None:
    return DETERMINATIONS.get(" ".join(cell.lower().split()))


def _quoted(value: str) -> str:
    return repr(value) if len(value) <= _MAX_QUOTED_VALUE else f"({len(value)} characters)"


def _reject_reasons(checks: list[tuple[pd.Series, str, pd.Series | None]], size: int) -> list[str]:
    """Per row, every failed check joined with '; ' ('' when the row is fine)."""
    reasons = [""] * size
    for mask, reason, cells in checks:
        for row in map(int, np.flatnonzero(mask.to_numpy(dtype=bool))):
            text = f"{reason} {_quoted(str(cells.iat[row]))}" if cells is not None else reason
            reasons[row] = f"{reasons[row]}; {text}" if reasons[row] else text
    return reasons


def _validation_reason(exc: ValidationError) -> str:
    # Field names and messages only: the offending input can be Findings text.
    problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False)]
    return "invalid record: " + "; ".join(problems)


# ---------------------------------------------------------------------------------------------- loading


def _items_from_frame(frame: pd.DataFrame, source: str) -> tuple[list[Item], Rejects]:
    resolved = _resolve_columns([str(c) for c in frame.columns], source)
    frame = frame.rename(columns={c: resolved[str(c)] for c in frame.columns if str(c) in resolved})
    frame = frame.loc[:, [c for c in frame.columns if c in KNOWN_COLUMNS]].reset_index(drop=True)
    columns = {name: _text_column(frame, name) for name in KNOWN_COLUMNS}
    reference = columns["ReferenceID"]
    determination = columns["Determination"]
    year, bad_year = _integers(columns["ReportYear"], MIN_YEAR, MAX_YEAR)
    review_days, bad_review = _integers(columns["DaysToReview"], 0, MAX_DAYS)
    adopt_days, bad_adopt = _integers(columns["DaysToAdopt"], 0, MAX_DAYS)
    outcomes = [_determination(cell) for cell in _strings(determination)]
    unknown = determination.ne("") & pd.Series([o is None for o in outcomes], index=determination.index)
    reasons = _reject_reasons(
        [
            (reference.eq(""), "empty ReferenceID", None),
            (reference.ne("") & reference.duplicated(keep="first"), "duplicate ReferenceID", None),
            (determination.eq(""), "missing Determination", None),
            (unknown, "unknown Determination", determination),
            (bad_year, "bad ReportYear", columns["ReportYear"]),
            (bad_review, "bad DaysToReview", columns["DaysToReview"]),
            (bad_adopt, "bad DaysToAdopt", columns["DaysToAdopt"]),
        ],
        len(frame),
    )
    treatment = columns["TreatmentSubCategory"].where(
        columns["TreatmentSubCategory"].ne(""), columns["TreatmentCategory"]
    )
    cells = {name: _strings(column) for name, column in columns.items()}
    cells["item_text"] = _strings(treatment.where(treatment.ne(""), UNSPECIFIED_TREATMENT))
    cells["AgeRange"] = _strings(_normalise_age(columns["AgeRange"]))

    items: list[Item] = []
    rejects: Rejects = []
    rows = enumerate(zip(reasons, outcomes, strict=True))
    for row, (reason, outcome) in track(rows, f"loading DMHC rows ({source})", total=len(outcomes)):
        locator = cells["ReferenceID"][row] or f"row {row + 1}"
        if reason or outcome is None:  # no reason but no outcome cannot happen: the checks cover it
            rejects.append(RecordError(source, reason or "unknown Determination", locator).as_reject())
            continue
        try:
            row_cells = {name: values[row] for name, values in cells.items()}
            items.append(_item(source, row_cells, outcome, year[row], review_days[row], adopt_days[row]))
        except ValidationError as exc:
            rejects.append(RecordError(source, _validation_reason(exc), locator).as_reject())
    return items, rejects


def _item(
    source: str,
    cell: dict[str, str],
    outcome: Determination,
    year: int | None,
    review_days: int | None,
    adopt_days: int | None,
) -> Item:
    """One row that passed the row checks as an Item (pydantic still validates it)."""
    summary, rationale = split_findings(cell["Findings"])
    return Item(
        item_id=f"{cell['ReferenceID']}#0",
        case_id=cell["ReferenceID"],
        item_index=0,
        jurisdiction="dmhc",
        source=source,
        determination=outcome,
        item_text=cell["item_text"],
        summary=summary,
        treatment_category=cell["TreatmentCategory"] or None,
        treatment_subcategory=cell["TreatmentSubCategory"] or None,
        diagnosis_category=cell["DiagnosisCategory"] or None,
        diagnosis_subcategory=cell["DiagnosisSubCategory"] or None,
        review_type=cell["Type"] or None,
        imr_type=cell["IMRType"] or None,
        age_range=cell["AgeRange"] or None,
        gender=cell["PatientGender"] or None,
        report_year=year,
        rationale=rationale or None,
        days_to_review=review_days,
        days_to_adopt=adopt_days,
    )


def load_dmhc_bytes(data: bytes, source: str) -> tuple[list[Item], Rejects]:
    """Load a DMHC export held in memory: CSV (separator , ; tab or | sniffed from the header) or parquet.

    ``source`` is the file name recorded on every Item and reject. Returns (items, rejects), together one
    entry per data row (plus malformed lines); raises ``DmhcError`` when the file as a whole is not a
    readable DMHC export.
    """
    rejects: Rejects = []
    if data.startswith(_PARQUET_MAGIC):
        frame = _frame_from_parquet(data, source)
    else:
        frame, rejects = _frame_from_csv(data, source)
    items, row_rejects = _items_from_frame(frame, source)
    if not items and not rejects and not row_rejects:
        raise DmhcError(source, "no data rows")
    return items, rejects + row_rejects


def load_dmhc(path: Path) -> tuple[list[Item], Rejects]:
    """Load a DMHC export file (.csv or .parquet; the content decides). See ``load_dmhc_bytes``."""
    name = Path(path).name
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DmhcError(name, f"cannot read file ({exc.strerror or type(exc).__name__})") from exc
    return load_dmhc_bytes(data, name)
