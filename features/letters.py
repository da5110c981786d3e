"""DWC IMR Final Determination letters (PDF or text) -> one ``Item`` per disputed item.

The parser reads the *structure* of a determination letter rather than one year's wording:

* 2014+ layout: one heading per item ending in ``: Upheld`` / ``: Overturned`` (the heading may wrap over
  several lines), then ``Claims Administrator guideline:``, ``MAXIMUS guideline:`` and ``Decision rationale:``.
* 2013 layout: decisions stated as sentences ("MAXIMUS Federal Services, Inc. has determined the request for X
  is not medically necessary and appropriate"), often numbered and listed apart from the item sections, with
  ``Rationale for the Decision:`` sections.

Every item must pair one decision with one rationale section; when they cannot be paired the letter is refused
with a ``LetterError`` rather than guessed at. Letter text is never logged.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import itertools
import math
import re
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
from pydantic import ValidationError

from features.schema import Determination, Item, RecordError

__all__ = [
    "MAX_BYTES",
    "MAX_DECODED_STREAM_BYTES",
    "MAX_PAGES",
    "MAX_PDF_SECONDS",
    "MAX_TEXT_CHARS",
    "LetterError",
    "extract_text",
    "extract_text_bytes",
    "parse_date",
    "parse_folder",
    "parse_letter",
    "parse_letter_bytes",
    "parse_letter_text",
]

#: PDFs with more pages than this are refused: real letters have 2-10 pages, and pdfium's cost grows with pages.
MAX_PAGES = 200
#: Files larger than this are refused before they are read into memory.
MAX_BYTES = 64 * 1024 * 1024
#: Text longer than this is refused before any pattern runs over it.
MAX_TEXT_CHARS = 5_000_000
#: All of a PDF's streams, decompressed, may hold at most this many bytes; checked before pdfium sees the file.
#: Real letters hold under 0.2 MB; pdfium needs about 110 bytes of memory per byte of text-drawing operators, so
#: this bounds one parse to about 0.5 GB and 2 s (a 240 KB "deflate bomb" otherwise took 13 GB and 72 s).
MAX_DECODED_STREAM_BYTES = 4 * 1024 * 1024
#: Text extraction stops with a LetterError once it has run this long (checked between pages).
MAX_PDF_SECONDS = 20.0
#: Pages are joined with a form feed so that running headers/footers can be recognised per page.
PAGE_BREAK = "\f"

# pdfium is not thread-safe and the upload API may call us from a thread pool.
_PDFIUM_LOCK = threading.Lock()
# A PDF whose pages hold fewer visible characters than this has no usable text layer (a scan).
_MIN_TEXT_CHARS = 20
# Decoded text with a smaller share of printable characters is binary or mis-encoded, not a letter.
_MIN_PRINTABLE_SHARE = 0.95
# Wrapped item headings observed run to 5 lines; a bound keeps a missing full stop from swallowing a rationale.
_MAX_HEADING_LINES = 8
# Headings are short; longer lines are prose, and skipping them bounds the cost of the heading patterns.
_MAX_HEADING_LINE_CHARS = 400


class LetterError(RecordError):
    """A letter (file or text) that cannot be turned into items; the message names the file and the reason."""


# --------------------------------------------------------------------------------------------------------------
# Text extraction
# --------------------------------------------------------------------------------------------------------------


def extract_text(path: Path) -> str:
    """Text of a letter file: PDF (also AES-encrypted with an empty password) or plain text."""
    source = path.name or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise LetterError(source, f"file too large ({size} bytes, limit {MAX_BYTES})")
        data = path.read_bytes()
    except OSError as exc:
        raise LetterError(source, f"cannot read file ({exc.strerror or type(exc).__name__})") from exc
    return extract_text_bytes(data, source)


def extract_text_bytes(data: bytes, source: str) -> str:
    """Text of a letter given as bytes: PDF when it starts with ``%PDF-``, else decoded text."""
    if len(data) > MAX_BYTES:
        raise LetterError(source, f"file too large ({len(data)} bytes, limit {MAX_BYTES})")
    if not data.strip():
        raise LetterError(source, "empty file")
    if _looks_like_pdf(data):
        return _pdf_text(data, source)
    if source.lower().endswith(".pdf"):
        raise LetterError(source, "not a PDF (no %PDF- header) although named .pdf")
    return _decode_text(data, source)


def _looks_like_pdf(data: bytes) -> bool:
    # The PDF spec lets readers accept junk before the header; 1 KiB is what Acrobat tolerates.
    return b"%PDF-" in data[:1024]


def _pdf_text(data: bytes, source: str) -> str:
    # pdfium silently "repairs" truncated files and returns the pages it could find, so check the trailer here.
    if b"%%EOF" not in data[-2048:]:
        raise LetterError(source, "truncated PDF (no %%EOF trailer)")
    check_pdf_streams(data, source)
    with _PDFIUM_LOCK:
        pages = _pdf_pages(data, source)
    text = PAGE_BREAK.join(pages)
    if sum(not ch.isspace() for ch in text) < _MIN_TEXT_CHARS:
        raise LetterError(source, "PDF has no text layer (scanned image?)")
    return text


def _pdf_pages(data: bytes, source: str) -> list[str]:
    try:
        doc = pdfium.PdfDocument(data, password="")
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise LetterError(source, "password-protected PDF (the empty password was refused)") from exc
        raise LetterError(source, "corrupt or truncated PDF (pdfium cannot load it)") from exc
    try:
        n_pages = len(doc)
        if n_pages > MAX_PAGES:
            raise LetterError(source, f"PDF has {n_pages} pages (limit {MAX_PAGES})")
        if n_pages == 0:
            raise LetterError(source, "PDF has no pages")
        deadline = time.monotonic() + MAX_PDF_SECONDS
        pages = []
        for index in range(n_pages):
            if time.monotonic() > deadline:
                raise LetterError(source, f"PDF text extraction took longer than {MAX_PDF_SECONDS:.0f} s")
            pages.append(_page_text(doc, index))
        return pages
    except pdfium.PdfiumError as exc:
        raise LetterError(source, "corrupt PDF (a page cannot be read)") from exc
    finally:
        doc.close()


_STREAM_RE = re.compile(rb"stream\r?\n")
# Filters pdfium would expand that no letter generator uses; refused rather than budgeted.
_REFUSED_FILTER_RE = re.compile(rb"/(?:LZWDecode|LZW|RunLengthDecode|RL)\b")
_ARMOURED_CHAIN_RE = re.compile(rb"/Filter\s*\[\s*/(?:ASCII85Decode|A85|ASCIIHexDecode|AHx)\s*/")
_ZLIB_HEADER_FIRST = frozenset({0x08, 0x18, 0x28, 0x38, 0x48, 0x58, 0x68, 0x78})
_INFLATE_CHUNK = 64 * 1024
# How far before "stream" the stream's dictionary may start (the part searched for refused filters).
_MAX_DICT_BYTES = 4096


def _looks_like_zlib(data: bytes | memoryview) -> bool:
    return len(data) >= 2 and data[0] in _ZLIB_HEADER_FIRST and (data[0] * 256 + data[1]) % 31 == 0


def _inflated_size(data: bytes | memoryview, start: int, budget: int) -> int | None:
    """Bytes the zlib stream at ``data[start:]`` inflates to (``budget + 1`` once over it); None if it is not zlib.

    Input is fed in small chunks until the stream ends itself, so neither a missing end marker nor a hidden
    "endstream" changes the count, and the cost is linear in the stream. Nested zlib layers
    (``[/FlateDecode /FlateDecode]``) are followed too.
    """
    view = memoryview(data)
    if not _looks_like_zlib(view[start : start + 2]):
        return None
    inflater = zlib.decompressobj()
    total = 0
    head = b""
    position = start
    try:
        while total <= budget and not inflater.eof and position < len(view):
            chunk: bytes | memoryview = view[position : position + _INFLATE_CHUNK]
            position += len(chunk)
            while chunk and total <= budget and not inflater.eof:
                out = inflater.decompress(chunk, min(1 << 20, budget + 1 - total))
                head = head or out[:2]
                total += len(out)
                chunk = inflater.unconsumed_tail
    except zlib.error:
        if total == 0:
            return None  # not zlib after all: pdfium will judge it
    if total <= budget and _looks_like_zlib(head):
        # another zlib layer: inflate this one in full (it is within budget) and count the inner one instead
        outer = zlib.decompressobj()
        inner = outer.decompress(view[start:position], budget + 1)
        nested = _inflated_size(inner, 0, budget)
        if nested is not None:
            return max(total, nested)
    return total


def check_pdf_streams(data: bytes, source: str, budget: int | None = None) -> int:
    """Refuse a PDF whose streams decompress to more than ``MAX_DECODED_STREAM_BYTES`` in all (a "deflate bomb"),
    or that uses a filter letters never use. Returns the decoded total. Cost: linear in the file and the budget."""
    limit = MAX_DECODED_STREAM_BYTES if budget is None else budget
    total = 0
    position = 0  # the end of the last stream's data: stream dictionaries are searched only outside stream data
    while total <= limit:
        match = _STREAM_RE.search(data, position)
        if match is None:
            break
        start = match.end()
        if match.start() >= 3 and data[match.start() - 3 : match.start()] == b"end":
            position = start  # "endstream" followed by a newline
            continue
        dictionary = data[max(position, match.start() - _MAX_DICT_BYTES) : match.start()]
        if _REFUSED_FILTER_RE.search(dictionary) or _ARMOURED_CHAIN_RE.search(dictionary):
            raise LetterError(
                source, "PDF uses a stream compression that letters never use (LZW, run-length or chained)"
            )
        size = _inflated_size(data, start, limit - total)
        end = data.find(b"endstream", start)
        if size is None:  # stored or image data: counts as it is
            size = (end if end >= 0 else len(data)) - start
        total += size
        position = end if end >= start else len(data)
    if total > limit:
        raise LetterError(source, f"PDF streams decompress to more than {limit} bytes (a compression bomb?)")
    return total


def _page_text(doc: pdfium.PdfDocument, index: int) -> str:
    page = doc[index]
    try:
        textpage = page.get_textpage()
        try:
            return str(textpage.get_text_bounded())
        finally:
            textpage.close()
    finally:
        page.close()


def _decode_text(data: bytes, source: str) -> str:
    text = _decode_bytes(data)
    if text is None or _printable_share(text) < _MIN_PRINTABLE_SHARE:
        raise LetterError(source, "not text (binary data or an unknown encoding)")
    if not text.strip():
        raise LetterError(source, "empty file")
    return text


def _decode_bytes(data: bytes) -> str | None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # latin-1 never fails; the printable-share check decides whether the result is text at all.
        return data.decode("latin-1")


def _printable_share(text: str) -> float:
    if not text:
        return 0.0
    good = sum(ch.isprintable() or ch in "\n\r\t\f" for ch in text)
    return good / len(text)


# --------------------------------------------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------------------------------------------

_SOFT_BREAK_RE = re.compile("[\u00ad\ufffe\x02]\n")
_INVISIBLE_RE = re.compile("[\u00ad\ufffe\x02\u200b\u200c\u200d\u2060\ufeff\x00]")
_ODD_SPACE_RE = re.compile("[\t\v\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_CONTROL_RE = re.compile("[\x01-\x08\x0e-\x1f\x7f-\x9f]")
_WS_RE = re.compile(r"\s+")
# Whitespace runs are bounded before any pattern runs: a horizontal run becomes one space, spaces at a line's end go,
# and blank lines collapse to one. Every pattern then meets runs of at most a few characters, so none can backtrack
# over a long run (a label followed by 16,000 spaces took 25 s before).
_HSPACE_RE = re.compile(r"[^\S\n\f]+")
_LINE_END_SPACE_RE = re.compile(r" (?=[\n\f])")
_BLANK_LINES_RE = re.compile(r"\n{3,}")

_RUNNING_TOKEN_RE = re.compile(
    r"(?i)(?:imr\s+)?case\s*(?:number|no\.?|#)\s*:?|\bCM\d{2}-\d{4,8}\b|"
    r"\bpage\s*\d+(?:\s*(?:of|/)\s*\d+)?\b|\b\d+\s+of\s+\d+\b|^\s*[-\u2013\u2014]\s*\d{1,3}\s*[-\u2013\u2014]\s*$"
)
_INLINE_LABEL_RE = re.compile(
    r"(?i)(?<=\S)[ ]+(?=(?:claims\s+administrator\s+guideline|maximus\s+guideline|decision\s+rationale"
    r"|rationale\s+for\s+the\s+decision)[ ]*:)"
)


def _collapse(text: str) -> str:
    return _WS_RE.sub(" ", text).strip()


def _normalize_chars(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SOFT_BREAK_RE.sub("", text)
    text = _INVISIBLE_RE.sub("", text)
    text = _ODD_SPACE_RE.sub(" ", text)
    text = _CONTROL_RE.sub(" ", text)
    return _bound_whitespace(text)


def _bound_whitespace(text: str) -> str:
    """Whitespace runs cut to a few characters (lines and pages kept): what keeps every pattern linear."""
    text = _HSPACE_RE.sub(" ", text)
    text = _LINE_END_SPACE_RE.sub("", text)
    return _BLANK_LINES_RE.sub("\n\n", text)


def _is_running_line(line: str) -> bool:
    """True for page furniture: "Page 2 of 5", a bare case number, "Case Number: CM16-0213037 Page 2"."""
    if not line.strip():
        return False
    rest = _RUNNING_TOKEN_RE.sub("", line)
    return rest != line and not rest.strip(" -\u2013\u2014|,.:#")


def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", _collapse(line).lower())


def _repeated_edges(pages: Sequence[list[str]]) -> set[str]:
    """Keys of lines that open or close several pages: running headers and footers."""
    counts: Counter[str] = Counter()
    for lines in pages:
        filled = [line for line in lines if line.strip()]
        if not filled:
            continue
        counts.update({_edge_key(line) for line in filled[:2] + filled[-2:]})
    need = max(2, math.ceil(len(pages) / 2))
    # Without a digit a line needs a third page: two rationales can end on the same words by chance.
    return {
        key for key, n in counts.items() if len(key) >= 6 and n >= need and (n >= 3 or any(ch == "#" for ch in key))
    }


def _strip_page_edges(pages: list[list[str]]) -> list[list[str]]:
    if len(pages) < 2:
        return pages
    repeated = _repeated_edges(pages)
    if not repeated:
        return pages
    cleaned: list[list[str]] = []
    for lines in pages:
        filled = [i for i, line in enumerate(lines) if line.strip()]
        edges = set(filled[:2] + filled[-2:])
        cleaned.append([line for i, line in enumerate(lines) if i not in edges or _edge_key(line) not in repeated])
    return cleaned


def _drop_repeated_header(lines: list[str]) -> list[str]:
    """Drops later copies of the letter's opening case/date lines (page headers that repeat the case block)."""
    # Only lines with a digit qualify: case numbers and dates, never a field label a short letter may repeat.
    opening = itertools.islice((_collapse(line) for line in lines if line.strip()), 8)
    head = {line for line in opening if len(line) >= 8 and any(ch.isdigit() for ch in line)}
    if not head:
        return lines
    seen: set[str] = set()
    kept: list[str] = []
    for line in lines:
        key = _collapse(line)
        if key in head and key in seen:
            continue
        seen.add(key)
        kept.append(line)
    return kept


def _clean_body(text: str) -> str:
    """Normalised text with page furniture removed and inline labels moved to their own lines."""
    pages = [page.split("\n") for page in text.split(PAGE_BREAK)]
    lines = [line.rstrip() for page in _strip_page_edges(pages) for line in page]
    lines = [line for line in _drop_repeated_header(lines) if not _is_running_line(line)]
    # Page breaks became line breaks: blank lines collapse to one again (the line walks stay short).
    lines = [line for k, line in enumerate(lines) if line or k == 0 or lines[k - 1]]
    return _INLINE_LABEL_RE.sub("\n", "\n".join(lines))


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


# --------------------------------------------------------------------------------------------------------------
# Item blocks and their fields
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Markers:
    rationales: list[int]  # offsets of "Decision rationale" labels
    labels: list[tuple[int, int, str]]  # (start, end, kind) of every field label, in order
    trailers: list[int]

    def labels_between(self, start: int, end: int) -> list[tuple[int, int, str]]:
        # Bisection keeps letters with thousands of items linear; this runs once per item.
        low = bisect.bisect_left(self.labels, (start, -1, ""))
        high = bisect.bisect_left(self.labels, (end, -1, ""))
        return self.labels[low:high]

    def rationales_between(self, start: int, end: int) -> list[int]:
        return self.rationales[bisect.bisect_left(self.rationales, start) : bisect.bisect_left(self.rationales, end)]

    def first_trailer_after(self, offset: int, default: int) -> int:
        index = bisect.bisect_right(self.trailers, offset)
        return min(default, self.trailers[index]) if index < len(self.trailers) else default


def _find_markers(text: str) -> _Markers:
    labels: list[tuple[int, int, str]] = []
    for kind, pattern in (("claims", _CLAIMS_RE), ("reviewer", _REVIEWER_RE), ("rationale", _RATIONALE_RE)):
        labels.extend((m.start(), m.end(), kind) for m in pattern.finditer(text))
    labels.sort()
    return _Markers(
        rationales=[start for start, _, kind in labels if kind == "rationale"],
        labels=labels,
        trailers=[m.start() for m in _TRAILER_RE.finditer(text)],
    )


def _block_fields(text: str, markers: _Markers, start: int, end: int) -> dict[str, str | None]:
    """Claims guideline, reviewer guideline and rationale found between ``start`` and ``end``."""
    inside = markers.labels_between(start, end)
    fields: dict[str, str | None] = {"claims": None, "reviewer": None, "rationale": None}
    for position, (_, label_end, kind) in enumerate(inside):
        if fields[kind] is not None:
            continue
        stop = inside[position + 1][0] if position + 1 < len(inside) else end
        fields[kind] = _collapse(text[label_end:stop]) or None
    return fields


def _drafts_from_headings(text: str, source: str, headings: list[_Heading], markers: _Markers) -> list[_Draft]:
    rationales = markers.rationales
    if rationales and rationales[0] < headings[0].start:
        raise LetterError(source, "Decision rationale #1 has no Upheld/Overturned decision before it")
    drafts: list[_Draft] = []
    for k, heading in enumerate(headings):
        next_start = headings[k + 1].start if k + 1 < len(headings) else len(text)
        inside = markers.rationales_between(heading.end, next_start)
        if not inside:
            raise LetterError(source, f"item {k + 1} has an Upheld/Overturned decision but no Decision rationale")
        if len(inside) > 1:
            n = bisect.bisect_left(rationales, inside[1]) + 1
            raise LetterError(source, f"Decision rationale #{n} has no Upheld/Overturned decision before it")
        end = markers.first_trailer_after(inside[0], next_start)
        fields = _block_fields(text, markers, heading.end, end)
        item_text, modification = _split_modification(heading.text, heading.tail, heading.determination)
        drafts.append(_make_draft(item_text, heading.determination, modification, fields))
    return drafts


def _make_draft(
    item_text: str, determination: Determination, modification: str | None, fields: dict[str, str | None]
) -> _Draft:
    return _Draft(
        item_text=item_text,
        determination=determination,
        modification=modification,
        claims_guideline=fields["claims"],
        reviewer_guideline=fields["reviewer"],
        rationale=fields["rationale"],
    )


def _item_starts_b(markers: _Markers, regarding: list[_Regarding], statements: list[_Statement]) -> list[int]:
    starts = [label[0] for label in markers.labels if label[2] != "rationale"]
    starts += [r.start for r in regarding]
    # Numbered statements at a line start act as item headings; MAXIMUS sentences may sit after the rationale.
    starts += [s.start for s in statements if s.number is not None]
    return sorted(set(starts))


def _first_between(sorted_offsets: list[int], low: int, high: int) -> int | None:
    """The smallest offset with ``low <= offset < high``, or None."""
    index = bisect.bisect_left(sorted_offsets, low)
    return sorted_offsets[index] if index < len(sorted_offsets) and sorted_offsets[index] < high else None


def _blocks_b(
    text: str, markers: _Markers, regarding: list[_Regarding], statements: list[_Statement]
) -> list[tuple[int, int]]:
    rationales = markers.rationales
    starts = _item_starts_b(markers, regarding, statements)
    heads: list[int] = []
    for k, r in enumerate(rationales):
        head = _first_between(starts, rationales[k - 1] + 1 if k else 0, r)
        heads.append(r if head is None else head)
    blocks: list[tuple[int, int]] = []
    for k, head in enumerate(heads):
        stop = heads[k + 1] if k + 1 < len(heads) else len(text)
        blocks.append((head, markers.first_trailer_after(rationales[k], stop)))
    return blocks


@dataclass(frozen=True)
class _Decisions:
    """The decision sentences of a sentence-style letter, indexed for pairing with its rationale sections."""

    by_number: dict[int, list[_Statement]]
    unnumbered: list[_Statement]  # in text order
    unnumbered_starts: list[int]
    listed_apart: list[_Statement]  # unnumbered, outside every item block, one per distinct item

    @classmethod
    def index(cls, statements: list[_Statement], blocks: list[tuple[int, int]]) -> _Decisions:
        by_number: dict[int, list[_Statement]] = {}
        for statement in statements:
            if statement.number is not None:
                by_number.setdefault(statement.number, []).append(statement)
        unnumbered = [s for s in statements if s.number is None]
        block_starts = [a for a, _ in blocks]

        def in_block(offset: int) -> bool:
            index = bisect.bisect_right(block_starts, offset) - 1
            return index >= 0 and offset < blocks[index][1]

        # A list repeated in the notice and again in the decision section names each item twice.
        apart = {(s.item_text.lower(), s.determination): s for s in unnumbered if not in_block(s.start)}
        return cls(by_number, unnumbered, [s.start for s in unnumbered], list(apart.values()))

    def inside(self, start: int, end: int) -> list[_Statement]:
        low = bisect.bisect_left(self.unnumbered_starts, start)
        high = bisect.bisect_left(self.unnumbered_starts, end)
        return self.unnumbered[low:high]


def _decide_b(
    k: int, block: tuple[int, int], n_items: int, number: int, decisions: _Decisions, source: str
) -> _Statement:
    """The decision for item ``k`` (0-based) of a sentence-style letter; refuses to guess."""
    candidates = decisions.by_number.get(number, []) + decisions.inside(*block)
    if not candidates and len(decisions.listed_apart) == n_items:
        candidates = [decisions.listed_apart[k]]
    verdicts = {s.determination for s in candidates}
    if not verdicts:
        raise LetterError(source, f"Rationale section #{k + 1} has no decision (medically necessary or not)")
    if len(verdicts) > 1:
        raise LetterError(source, f"item {k + 1} has conflicting decisions")
    return candidates[0]


def _drafts_from_statements(text: str, source: str, markers: _Markers) -> list[_Draft]:
    statements = _find_statements(text)
    regarding = _find_regarding(text)
    regarding_starts = [r.start for r in regarding]
    blocks = _blocks_b(text, markers, regarding, statements)
    decisions = _Decisions.index(statements, blocks)
    drafts: list[_Draft] = []
    for k, block in enumerate(blocks):
        first = _first_between(regarding_starts, *block)
        head = regarding[bisect.bisect_left(regarding_starts, first)] if first is not None else None
        number = head.number if head is not None and head.number is not None else k + 1
        decision = _decide_b(k, block, len(blocks), number, decisions, source)
        item_text = head.item_text if head else decision.item_text
        item_text, modification = _split_modification(item_text, "", decision.determination)
        fields = _block_fields(text, markers, head.end if head else block[0], block[1])
        drafts.append(_make_draft(item_text, decision.determination, modification, fields))
    return drafts


def _decision_section_start(text: str) -> int:
    match = _SECTION_RE.search(text)
    if match:
        return match.start()
    summary = _SUMMARY_HEAD_RE.search(text)
    return summary.end() if summary else 0


def _drafts(text: str, source: str) -> tuple[list[_Draft], int]:
    """The items of a cleaned letter and the offset where the first item starts."""
    markers = _find_markers(text)
    doc = _Lines(text)
    headings = _find_headings(doc, _decision_section_start(text))
    if not markers.rationales:
        if headings or _find_statements(text):
            raise LetterError(source, "decisions found but no Decision rationale section")
        raise LetterError(source, "not an IMR determination letter (no decisions and no Decision rationale)")
    if headings:
        return _drafts_from_headings(text, source, headings, markers), headings[0].start
    drafts = _drafts_from_statements(text, source, markers)
    # Decision sentences may be listed before the summary, so only item headings and labels end it.
    first_item = min([r.start for r in _find_regarding(text)] + [label[0] for label in markers.labels])
    return drafts, first_item


def _summary(text: str, first_item: int) -> str:
    head = _SUMMARY_HEAD_RE.search(text)
    if head is None or head.start() >= first_item:
        return ""
    ends = [m.start() for m in _SUMMARY_END_RE.finditer(text, head.end()) if m.start() > head.end()]
    end = min([first_item, *ends])
    return _SUMMARY_BOILERPLATE_RE.sub("", _collapse(text[head.end() : end]), count=1)


# --------------------------------------------------------------------------------------------------------------
# Public parsing API
# --------------------------------------------------------------------------------------------------------------


def _fallback_case_id(text: str) -> str:
    digest = hashlib.sha256(_collapse(text).encode("utf-8")).hexdigest()
    return f"NOCASE-{digest[:12]}"


def _days_between(start: dt.date | None, end: dt.date | None) -> int | None:
    if start is None or end is None or end < start:
        return None
    return (end - start).days


def _report_year(decision: dt.date | None) -> int | None:
    return decision.year if decision is not None and 1990 <= decision.year <= 2100 else None


def parse_letter_text(text: str, source: str) -> list[Item]:
    """Items of one letter given as extracted text; raises ``LetterError`` when the letter cannot be read."""
    if len(text) > MAX_TEXT_CHARS:
        raise LetterError(source, f"text too long ({len(text)} characters, limit {MAX_TEXT_CHARS})")
    normalized = _normalize_chars(text)
    if not normalized.strip():
        raise LetterError(source, "empty text")
    body = _clean_body(normalized)
    header = _parse_header(normalized, body)
    drafts, first_item = _drafts(body, source)
    summary = _summary(body, first_item)
    case_id = header.case_id or _fallback_case_id(normalized)
    name = Path(source).name or source
    try:
        return [_to_item(draft, index, case_id, name, header, summary) for index, draft in enumerate(drafts)]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise LetterError(source, f"item does not fit the schema ({problems})") from exc


def _to_item(draft: _Draft, index: int, case_id: str, source: str, header: _Header, summary: str) -> Item:
    return Item(
        item_id=f"{case_id}#{index}",
        case_id=case_id,
        item_index=index,
        jurisdiction="dwc",
        source=source,
        determination=draft.determination,
        item_text=draft.item_text,
        summary=summary,
        claims_guideline=draft.claims_guideline,
        date_assigned=header.date_assigned,
        injury_date=header.injury_date,
        ur_date=header.ur_date,
        imr_type=header.imr_type,
        report_year=_report_year(header.decision_date),
        decision_date=header.decision_date,
        modification=draft.modification,
        reviewer_guideline=draft.reviewer_guideline,
        rationale=draft.rationale,
        reviewer_specialty=header.reviewer_specialty,
        days_to_review=_days_between(header.date_assigned, header.decision_date),
    )


def parse_letter(path: Path) -> list[Item]:
    """Items of one letter file (PDF or text)."""
    return parse_letter_text(extract_text(path), path.name or str(path))


def parse_letter_bytes(data: bytes, source: str) -> list[Item]:
    """Items of one letter given as bytes (an upload)."""
    return parse_letter_text(extract_text_bytes(data, source), source)


def parse_folder(paths: Iterable[Path]) -> tuple[list[Item], list[dict[str, str]]]:
    """Items of many letters; a letter that fails becomes one reject row and the batch goes on."""
    items: list[Item] = []
    rejects: list[dict[str, str]] = []
    for path in paths:
        try:
            items.extend(parse_letter(path))
        except RecordError as exc:
            rejects.append(exc.as_reject())
    return items, rejects
