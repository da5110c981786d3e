"""Property tests: whatever comes in, the letter parser returns valid items or raises LetterError, nothing else.

Also invariances: page furniture, line-ending style and double spacing must not change what is parsed.
"""

from __future__ import annotations

import ctypes
import io
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.letters import LetterError, parse_letter_bytes, parse_letter_text
from features.schema import Item

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "letters"
LETTERS = {path.name: path.read_text() for path in sorted(FIXTURES.glob("*.txt"))}
MULTI = LETTERS["letter_2016_multi.txt"]

# Fragments a real letter is built from, so that random text often looks like half a letter.
STRUCTURAL = [
    "Decision rationale:",
    "Rationale for the Decision:",
    "Claims Administrator guideline:",
    "MAXIMUS guideline:",
    "IMR ISSUES, DECISIONS AND RATIONALES",
    "CLINICAL CASE SUMMARY",
    "Case Number: CM99-0000009",
    "Decision Date: 13/45/2016",
    "Date of Injury: February 30, 2015",
    "X-ray of the knee: Upheld",
    ": Overturned",
    "UPHELD",
    "is: Upheld in part",
    "was the original request. The remaining IMR eligible portion of the original request, ",
    "1) MAXIMUS Federal Services, Inc. has determined the request for",
    "is not medically necessary and appropriate.",
    "2) Regarding the request for a cane:",
    "Page 2 of 5",
    "Certification(s)/Specialty: ",
    "\f",
    "",
]

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(result: list[Item], source: str) -> None:
    """What every successful parse must satisfy."""
    assert result, "a parse that succeeds yields at least one item"
    assert [item.item_index for item in result] == list(range(len(result)))
    assert len({item.item_id for item in result}) == len(result)
    assert len({item.case_id for item in result}) == 1
    for item in result:
        assert isinstance(item, Item)
        assert item.item_id == f"{item.case_id}#{item.item_index}"
        assert item.determination in ("Upheld", "Overturned")
        assert item.item_text.strip()
        assert item.source == Path(source).name
        assert item.jurisdiction == "dwc"


def parse_or_refuse_text(text: str, source: str = "fuzz.txt") -> list[Item] | None:
    try:
        result = parse_letter_text(text, source)
    except LetterError as exc:
        assert exc.source == source and exc.reason
        return None
    check(result, source)
    return result


def parse_or_refuse_bytes(data: bytes, source: str) -> list[Item] | None:
    try:
        result = parse_letter_bytes(data, source)
    except LetterError as exc:
        assert exc.source == source and exc.reason
        return None
    check(result, source)
    return result


line_soup = st.lists(st.one_of(st.sampled_from(STRUCTURAL), st.text(max_size=60)), max_size=40)


@SETTINGS
@given(st.text(max_size=2000))
def test_random_text(text: str) -> None:
    parse_or_refuse_text(text)


@SETTINGS
@given(line_soup)
def test_random_letter_like_text(lines: list[str]) -> None:
    parse_or_refuse_text("\n".join(lines))


@SETTINGS
@given(st.binary(max_size=2000), st.sampled_from(["fuzz.txt", "fuzz.pdf", "fuzz"]))
def test_random_bytes(data: bytes, source: str) -> None:
    parse_or_refuse_bytes(data, source)


@SETTINGS
@given(st.binary(max_size=500))
def test_random_bytes_behind_a_pdf_header(tail: bytes) -> None:
    parse_or_refuse_bytes(b"%PDF-1.7\n" + tail + b"\n%%EOF\n", "fuzz.pdf")


@st.composite
def garbled(draw: st.DrawFn) -> str:
    """A fixture letter with lines deleted, moved, duplicated, cut and noise inserted."""
    lines = LETTERS[draw(st.sampled_from(sorted(LETTERS)))].split("\n")
    for _ in range(draw(st.integers(0, 6))):
        if not lines:
            break
        op = draw(st.sampled_from(["delete", "swap", "duplicate", "insert", "cut", "shuffle"]))
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines) - 1))
        if op == "delete":
            del lines[i]
        elif op == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "duplicate":
            lines.insert(j, lines[i])
        elif op == "insert":
            lines.insert(i, draw(st.one_of(st.sampled_from(STRUCTURAL), st.text(max_size=40))))
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        else:
            lines = draw(st.permutations(lines))
    return "\n".join(lines)


@SETTINGS
@given(garbled())
def test_garbled_fixture_letters(text: str) -> None:
    parse_or_refuse_text(text)


@SETTINGS
@given(garbled(), st.sampled_from(["utf-8", "cp1252", "utf-16"]))
def test_garbled_fixture_letters_as_bytes(text: str, encoding: str) -> None:
    parse_or_refuse_bytes(text.encode(encoding, errors="replace"), "garbled.txt")


def _pdf_of(text: str) -> bytes:
    """A PDF with a real text layer, one text object per line, so that mutations hit text streams too."""
    doc = pdfium.PdfDocument.new()
    page = doc.new_page(612, 792)
    for n, line in enumerate(text.split("\n")[:50]):
        obj = pdfium_raw.FPDFPageObj_NewTextObj(doc.raw, b"Helvetica", 8.0)
        encoded = (line + "\0").encode("utf-16-le")
        pdfium_raw.FPDFText_SetText(obj, (ctypes.c_ushort * (len(encoded) // 2)).from_buffer_copy(encoded))
        pdfium_raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 30, 770 - 10 * n)
        pdfium_raw.FPDFPage_InsertObject(page.raw, obj)
    pdfium_raw.FPDFPage_GenerateContent(page.raw)
    page.close()
    out = io.BytesIO()
    doc.save(out)
    doc.close()
    return out.getvalue()


PDF = _pdf_of(MULTI)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(PDF) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_pdf_bytes(flips: list[tuple[int, int]]) -> None:
    data = bytearray(PDF)
    for position, value in flips:
        data[position] = value
    parse_or_refuse_bytes(bytes(data), "mutated.pdf")


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(PDF)))
def test_truncated_pdf_bytes(cut: int) -> None:
    parse_or_refuse_bytes(PDF[:cut], "cut.pdf")


# ---- invariances ---------------------------------------------------------------------------------------------------

BASELINE = [item.model_dump() for item in parse_letter_text(MULTI, "multi.txt")]
FURNITURE = ["Page 3 of 9", "Case Number: CM99-0000001", "CM99-0000001", "- 4 -", "Page 7", ""]


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 200), st.sampled_from(FURNITURE)), max_size=6))
def test_page_furniture_does_not_change_items(inserts: list[tuple[int, str]]) -> None:
    lines = MULTI.split("\n")
    for position, furniture in inserts:
        lines.insert(min(position, len(lines)), furniture)
    result = parse_letter_text("\n".join(lines), "multi.txt")
    assert [item.model_dump() for item in result] == BASELINE


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["\r\n", "\r", "\n \n", "\n\n\n", "  \n"]))
def test_line_endings_and_spacing_do_not_change_items(newline: str) -> None:
    result = parse_letter_text(MULTI.replace("\n", newline), "multi.txt")
    assert [item.model_dump() for item in result] == BASELINE
