"""Letter bytes -> text: PDF and text extraction within size, page, time and decompression budgets, then
normalisation (invisible characters, bounded whitespace, running headers and page edges)."""

from __future__ import annotations

import itertools
import math
import re
import threading
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pypdfium2 as pdfium

from features.schema import RecordError

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
