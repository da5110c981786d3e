"""DWC letter parser on invented fixture letters: both layouts, noise, partial wording and every bad input."""

from __future__ import annotations

import ctypes
import datetime as dt
import io
import math
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
from pypdf import PdfReader, PdfWriter

from features.letters import (
    MAX_PAGES,
    LetterError,
    extract_text,
    extract_text_bytes,
    parse_date,
    parse_folder,
    parse_letter,
    parse_letter_bytes,
    parse_letter_text,
)
from features.schema import RecordError

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "letters"
MULTI = FIXTURES / "letter_2016_multi.txt"
SENTENCES = FIXTURES / "letter_2013_sentences.txt"
VARIANTS = FIXTURES / "letter_variants.txt"

MINIMAL = """CLINICAL CASE SUMMARY
A 30 year old cook burned her hand on a grill. Utilization review denied a splint.
IMR ISSUES, DECISIONS AND RATIONALES
Hand splint: Upheld
Claims Administrator guideline: Decision based on ACOEM Hand Complaints.
MAXIMUS guideline: Decision based on ACOEM Hand Complaints.
Decision rationale: A splint is not needed for a superficial burn. The request is not medically necessary.
"""


def text_pdf(lines: list[str], per_page: int = 45) -> bytes:
    """A real PDF with a text layer, one text object per line, built with pdfium itself."""
    doc = pdfium.PdfDocument.new()
    for first in range(0, max(len(lines), 1), per_page):
        page = doc.new_page(612, 792)
        y = 750.0
        for line in lines[first : first + per_page]:
            obj = pdfium_raw.FPDFPageObj_NewTextObj(doc.raw, b"Helvetica", 10.0)
            encoded = (line + "\0").encode("utf-16-le")
            pdfium_raw.FPDFText_SetText(obj, (ctypes.c_ushort * (len(encoded) // 2)).from_buffer_copy(encoded))
            pdfium_raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 50, y)
            pdfium_raw.FPDFPage_InsertObject(page.raw, obj)
            y -= 14
        pdfium_raw.FPDFPage_GenerateContent(page.raw)
        page.close()
    out = io.BytesIO()
    doc.save(out)
    doc.close()
    return out.getvalue()


def blank_pdf(pages: int = 1) -> bytes:
    doc = pdfium.PdfDocument.new()
    for _ in range(pages):
        doc.new_page(612, 792).close()
    out = io.BytesIO()
    doc.save(out)
    doc.close()
    return out.getvalue()


def encrypted(data: bytes, user_password: str = "") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# ---- 2014+ layout ------------------------------------------------------------------------------------------------


def test_multi_item_letter_items_and_determinations() -> None:
    items = parse_letter(MULTI)
    assert [(i.item_index, i.determination) for i in items] == [(0, "Upheld"), (1, "Overturned"), (2, "Upheld")]
    assert [i.item_id for i in items] == ["CM99-0000001#0", "CM99-0000001#1", "CM99-0000001#2"]
    assert {i.case_id for i in items} == {"CM99-0000001"}
    assert {i.source for i in items} == {"letter_2016_multi.txt"}
    assert {i.jurisdiction for i in items} == {"dwc"}
    assert all(i.treatment_category is None for i in items)


def test_multi_item_letter_header_fields() -> None:
    item = parse_letter(MULTI)[0]
    assert item.date_assigned == dt.date(2016, 3, 2)
    assert item.injury_date == dt.date(2014, 7, 15)
    assert item.decision_date == dt.date(2016, 3, 30)
    assert item.ur_date == dt.date(2016, 2, 20)
    assert item.report_year == 2016
    assert item.imr_type == "Standard"
    assert item.days_to_review == 28
    assert item.reviewer_specialty == "Physical Medicine & Rehabilitation, Pain Management"


def test_summary_drops_boilerplate_and_keeps_the_case() -> None:
    summary = parse_letter(MULTI)[0].summary
    assert summary.startswith("The injured worker is a 41 year old warehouse clerk")
    assert "developed the following clinical case summary" not in summary
    assert summary.endswith("aquatic therapy and a topical cream.")
    assert "\n" not in summary and "  " not in summary


def test_fields_are_split_at_their_labels_and_whitespace_collapsed() -> None:
    first = parse_letter(MULTI)[0]
    assert first.item_text == "MRI of the lumbar spine without contrast"
    assert first.claims_guideline == "Decision based on MTUS Low Back Complaints 2004."
    assert first.reviewer_guideline == "Decision based on MTUS Low Back Complaints 2004, Section(s): Special Studies."
    assert first.rationale is not None
    assert first.rationale.startswith("Imaging of the low back")
    assert first.rationale.endswith("is not medically necessary.")


def test_wrapped_heading_with_partial_authorisation_goes_to_modification() -> None:
    item = parse_letter(MULTI)[1]
    assert item.item_text == "Aquatic therapy 6 sessions"
    assert item.determination == "Overturned"
    assert item.modification == (
        "Aquatic therapy 12 sessions was the original request. "
        "Aquatic therapy 6 sessions was authorized by the Claims Administrator."
    )


def test_wrapped_is_colon_heading() -> None:
    item = parse_letter(MULTI)[2]
    assert item.item_text == (
        "Retrospective request for compounded cream (flurbiprofen 20%, lidocaine 5%) 120gm, DOS 01/12/2016"
    )
    assert item.determination == "Upheld"
    assert item.modification is None


def test_page_footers_and_repeated_case_headers_do_not_leak_into_fields() -> None:
    for item in parse_letter(MULTI):
        for value in (item.rationale, item.item_text, item.claims_guideline, item.reviewer_guideline):
            assert value is not None
            assert "Page" not in value
            assert "Case Number" not in value


def test_crlf_and_form_feeds_give_the_same_items() -> None:
    text = MULTI.read_text()
    plain = parse_letter_text(text, "a.txt")
    crlf = parse_letter_text(text.replace("\n", "\r\n").replace("\f", "\r\n"), "a.txt")
    assert [i.model_dump() for i in plain] == [i.model_dump() for i in crlf]


def test_source_is_the_file_name_without_directory() -> None:
    items = parse_letter_text(MINIMAL, "/uploads/2016/letter one.txt")
    assert items[0].source == "letter one.txt"


# ---- variants: case, separators, bare verdict lines, double spacing ---------------------------------------------


def test_variant_letter_headings() -> None:
    items = parse_letter(VARIANTS)
    assert [(i.item_text, i.determination) for i in items] == [
        ("NORCO 10/325MG #90", "Upheld"),
        ("Knee brace", "Overturned"),
        ("Home health aide four hours a day for the right knee", "Upheld"),
    ]


def test_variant_letter_modification_wording() -> None:
    items = parse_letter(VARIANTS)
    assert items[0].modification == "Upheld in part"
    assert items[1].modification == "partially certified"
    assert items[2].modification is None


def test_variant_letter_header_and_noise() -> None:
    items = parse_letter(VARIANTS)
    assert {i.case_id for i in items} == {"CM15-0123456"}
    assert items[0].decision_date == dt.date(2015, 6, 29)
    assert items[0].date_assigned == dt.date(2015, 6, 1)
    assert items[0].reviewer_specialty == "Orthopedic Surgery"
    assert items[0].rationale == (
        "Ongoing opioids need documented functional gains. A weaning supply is reasonable, the full quantity is not."
    )
    assert all("CM15" not in (i.rationale or "") and "Page" not in (i.rationale or "") for i in items)


@pytest.mark.parametrize(
    "heading",
    [
        "Hand splint: Upheld",
        "Hand splint:Upheld",
        "Hand splint is: Upheld",
        "Hand splint is:  UPHELD",
        "HAND SPLINT: upheld",
        "Hand splint - Upheld",
        "Hand splint \u2013 Upheld",
        "HAND SPLINT UPHELD",
        "Hand splint is Upheld",
        "Hand splint:\n\nUpheld",
        "Hand\nsplint: Upheld.",
        "1. Hand splint: Upheld",
        "(1) Hand splint: Upheld",
    ],
)
def test_heading_spellings(heading: str) -> None:
    items = parse_letter_text(MINIMAL.replace("Hand splint: Upheld", heading), "h.txt")
    assert [(i.item_text.lower(), i.determination) for i in items] == [("hand splint", "Upheld")]


@pytest.mark.parametrize(
    ("heading", "determination", "modification"),
    [
        ("Hand splint: Overturned in part", "Overturned", "Overturned in part"),
        ("Hand splint (modified to one splint): Upheld", "Upheld", "modified to one splint"),
        ("Hand splint, partially certified: Upheld", "Upheld", "partially certified"),
        ("Hand splint: Upheld (certified with modification)", "Upheld", "Upheld certified with modification"),
    ],
)
def test_modification_wording_keeps_the_determination(heading: str, determination: str, modification: str) -> None:
    item = parse_letter_text(MINIMAL.replace("Hand splint: Upheld", heading), "m.txt")[0]
    assert (item.item_text, item.determination) == ("Hand splint", determination)
    assert item.modification == modification


@pytest.mark.parametrize(
    "label", ["Decision rationale:", "Decision Rationale:", "DECISION RATIONALE:", "Decision Rationale"]
)
def test_rationale_label_spellings(label: str) -> None:
    text = MINIMAL.replace("Decision rationale: A splint", f"{label}\nA splint")
    item = parse_letter_text(text, "r.txt")[0]
    assert item.rationale is not None and item.rationale.startswith("A splint is not needed")


def test_label_glued_to_previous_line_is_still_found() -> None:
    text = MINIMAL.replace("Hand Complaints.\nDecision rationale:", "Hand Complaints. Decision rationale:")
    item = parse_letter_text(text, "g.txt")[0]
    assert item.reviewer_guideline == "Decision based on ACOEM Hand Complaints."
    assert item.rationale is not None and item.rationale.startswith("A splint")


def test_double_spaced_seed_style_text() -> None:
    text = "\n \n".join(MINIMAL.splitlines())
    item = parse_letter_text(text, "d.txt")[0]
    assert (item.item_text, item.determination) == ("Hand splint", "Upheld")
    assert item.summary.startswith("A 30 year old cook")


def test_letter_without_case_number_gets_a_stable_hash_id() -> None:
    first = parse_letter_text(MINIMAL, "a.txt")
    again = parse_letter_text(MINIMAL.replace("\n", "\r\n"), "b.txt")
    assert first[0].case_id.startswith("NOCASE-") and len(first[0].case_id) == len("NOCASE-") + 12
    assert first[0].case_id == again[0].case_id
    assert first[0].item_id == f"{first[0].case_id}#0"
    assert first[0].report_year is None and first[0].decision_date is None


# ---- 2013 sentence layout ------------------------------------------------------------------------------------------


def test_sentence_style_letter() -> None:
    items = parse_letter(SENTENCES)
    assert [(i.item_text, i.determination) for i in items] == [
        ("twelve sessions of aquatic therapy", "Upheld"),
        ("lumbar support brace", "Overturned"),
    ]
    first = items[0]
    assert first.case_id == "CM13-0099999"
    assert first.decision_date == dt.date(2013, 10, 15)
    assert first.injury_date == dt.date(2011, 3, 4)
    assert first.ur_date == dt.date(2013, 8, 30)
    assert first.report_year == 2013
    assert first.reviewer_specialty == "Physical Medicine and Rehabilitation"
    assert first.claims_guideline is not None and "Aquatic Therapy" in first.claims_guideline
    assert first.reviewer_guideline is not None and first.reviewer_guideline.startswith("The Expert Reviewer")
    assert first.summary.startswith("The patient is a 52 year old bus driver")
    assert first.summary.endswith("lumbar brace.")


def test_sentence_style_rationale_stops_before_closing_boilerplate() -> None:
    last = parse_letter(SENTENCES)[1]
    assert last.rationale is not None
    assert last.rationale.endswith("is medically necessary and appropriate.")
    assert "Effect of the Decision" not in last.rationale and "cc:" not in last.rationale


def test_sentence_style_unnumbered_list_is_matched_in_order() -> None:
    text = (
        "CLINICAL CASE SUMMARY\nA clerk with wrist pain.\n"
        "IMR ISSUES, DECISIONS AND RATIONALES\n"
        "MAXIMUS Federal Services, Inc. has determined the request for a wrist splint is medically necessary "
        "and appropriate.\n"
        "MAXIMUS Federal Services, Inc. has determined the request for an EMG is not medically necessary "
        "and appropriate.\n"
        "Claims Administrator guideline: ACOEM.\nRationale for the Decision:\nSplints help.\n"
        "Claims Administrator guideline: ACOEM.\nRationale for the Decision:\nNo deficit.\n"
    )
    items = parse_letter_text(text, "s.txt")
    assert [(i.item_text, i.determination) for i in items] == [
        ("wrist splint", "Overturned"),
        ("EMG", "Upheld"),
    ]


def test_numbered_plain_statements() -> None:
    text = (
        "Case Summary:\nA clerk with wrist pain.\n"
        "1. A wrist splint is medically necessary and appropriate.\n"
        "Rationale for the Decision: Splints help.\n"
        "2. An EMG of the right arm is not medically necessary and appropriate.\n"
        "Rationale for the Decision: No deficit.\n"
    )
    items = parse_letter_text(text, "n.txt")
    assert [(i.item_text, i.determination) for i in items] == [
        ("wrist splint", "Overturned"),
        ("EMG of the right arm", "Upheld"),
    ]


# ---- dates ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12/09/2016", dt.date(2016, 12, 9)),
        ("1-3-16", dt.date(2016, 1, 3)),
        ("10-13-98", dt.date(1998, 10, 13)),
        ("2016-12-09", dt.date(2016, 12, 9)),
        ("June 10, 2010", dt.date(2010, 6, 10)),
        ("Sept. 3 2013", dt.date(2013, 9, 3)),
        ("on 4 March 2014", dt.date(2014, 3, 4)),
        ("13/45/2016", None),
        ("no date here", None),
        ("Foo 10, 2010", None),
    ],
)
def test_parse_date(value: str, expected: dt.date | None) -> None:
    assert parse_date(value) == expected


# ---- PDFs ----------------------------------------------------------------------------------------------------------


def test_text_pdf_parses_like_the_text() -> None:
    lines = MULTI.read_text().replace("\f", "").splitlines()
    from_pdf = parse_letter_bytes(text_pdf(lines), "CM99-0000001.pdf")
    from_text = parse_letter_text(MULTI.read_text(), "CM99-0000001.pdf")
    assert [(i.item_text, i.determination, i.rationale) for i in from_pdf] == [
        (i.item_text, i.determination, i.rationale) for i in from_text
    ]


def test_pdf_pages_are_joined_with_form_feeds() -> None:
    lines = MINIMAL.splitlines()
    text = extract_text_bytes(text_pdf(lines, per_page=3), "p.pdf")
    assert text.count("\f") == math.ceil(len(lines) / 3) - 1
    assert len(parse_letter_text(text, "p.pdf")) == 1


def test_encrypted_pdf_with_empty_password() -> None:
    data = encrypted(text_pdf(MINIMAL.splitlines()))
    assert b"/Encrypt" in data
    assert [i.item_text for i in parse_letter_bytes(data, "enc.pdf")] == ["Hand splint"]


def test_pdf_with_a_real_password_is_refused() -> None:
    with pytest.raises(LetterError, match="password"):
        parse_letter_bytes(encrypted(text_pdf(MINIMAL.splitlines()), user_password="secret"), "pw.pdf")


def test_pdf_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "CM99-0000002.pdf"
    path.write_bytes(text_pdf(MINIMAL.splitlines()))
    assert "Hand splint" in extract_text(path)
    assert parse_letter(path)[0].source == "CM99-0000002.pdf"


# ---- bad inputs ----------------------------------------------------------------------------------------------------


def _error(data: bytes, source: str) -> LetterError:
    with pytest.raises(LetterError) as info:
        parse_letter_bytes(data, source)
    assert source in str(info.value)
    assert isinstance(info.value, RecordError)
    return info.value


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(LetterError, match=r"empty\.txt: empty file"):
        parse_letter(path)
    assert "empty" in _error(b"  \r\n\t", "blank.txt").reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LetterError, match="cannot read"):
        parse_letter(tmp_path / "nope.pdf")


def test_not_a_letter() -> None:
    reason = _error(b"Shopping list: eggs, milk, bread.\nCall the plumber on Monday.\n", "list.txt").reason
    assert "not an IMR determination letter" in reason


def test_binary_garbage_is_not_text() -> None:
    assert "not text" in _error(bytes(range(256)) * 8, "blob.bin").reason


def test_cp1252_text_is_decoded() -> None:
    data = MINIMAL.replace("Hand splint", "Hand splint \u2013 caf\u00e9").encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert extract_text_bytes(data, "w.txt").count("caf\u00e9") == 1


def test_utf16_text_is_decoded() -> None:
    assert len(parse_letter_bytes(MINIMAL.encode("utf-16"), "u16.txt")) == 1


def test_truncated_pdf() -> None:
    data = text_pdf(MINIMAL.splitlines())
    for cut in (len(data) // 3, len(data) // 2, len(data) - 10):
        assert "truncated" in _error(data[:cut], "cut.pdf").reason


def test_corrupt_pdf_with_trailer() -> None:
    assert "corrupt" in _error(b"%PDF-1.7\nthis is not a pdf body\n%%EOF\n", "bad.pdf").reason


def test_pdf_named_file_without_pdf_header() -> None:
    assert "not a PDF" in _error(MINIMAL.encode(), "letter.pdf").reason


def test_pdf_without_text_layer() -> None:
    assert "no text layer" in _error(blank_pdf(2), "scan.pdf").reason


def test_pdf_over_the_page_limit() -> None:
    assert f"limit {MAX_PAGES}" in _error(blank_pdf(MAX_PAGES + 1), "huge.pdf").reason


def test_rationale_without_decision() -> None:
    text = MINIMAL.replace("Hand splint: Upheld\n", "Hand splint\n")
    with pytest.raises(LetterError, match=r"no decision|no Upheld/Overturned"):
        parse_letter_text(text, "nodecision.txt")


def test_extra_rationale_without_decision() -> None:
    text = MINIMAL + "Decision rationale: A second rationale with no heading of its own.\n"
    with pytest.raises(LetterError, match=r"Decision rationale #2 has no Upheld/Overturned"):
        parse_letter_text(text, "extra.txt")


def test_decision_without_rationale() -> None:
    text = MINIMAL + "Wrist brace: Overturned\nClaims Administrator guideline: ACOEM.\n"
    with pytest.raises(LetterError, match="no Decision rationale"):
        parse_letter_text(text, "norationale.txt")


def test_decisions_but_no_rationale_sections() -> None:
    text = MINIMAL.replace("Decision rationale:", "Comment:")
    with pytest.raises(LetterError, match="no Decision rationale section"):
        parse_letter_text(text, "nosections.txt")


def test_sentence_style_count_mismatch_is_refused() -> None:
    text = (
        "Case Summary:\nA clerk.\n"
        "MAXIMUS Federal Services, Inc. has determined the request for a splint is medically necessary.\n"
        "Rationale for the Decision: Splints help.\n"
        "Claims Administrator guideline: ACOEM.\n"
        "Rationale for the Decision: A second section with no decision anywhere.\n"
    )
    with pytest.raises(LetterError, match="no decision"):
        parse_letter_text(text, "mismatch.txt")


def test_conflicting_numbered_decisions_are_refused() -> None:
    text = (
        "1) MAXIMUS Federal Services, Inc. has determined the request for a splint is medically necessary.\n"
        "1) MAXIMUS Federal Services, Inc. has determined the request for a splint is not medically necessary.\n"
        "1) Regarding the request for a splint:\n"
        "Rationale for the Decision: Splints help.\n"
    )
    with pytest.raises(LetterError, match="conflicting"):
        parse_letter_text(text, "conflict.txt")


# ---- batch ---------------------------------------------------------------------------------------------------------


def test_parse_folder_goes_on_past_bad_files(tmp_path: Path) -> None:
    good_pdf = tmp_path / "a_good.pdf"
    good_pdf.write_bytes(text_pdf(MINIMAL.splitlines()))
    empty = tmp_path / "b_empty.txt"
    empty.write_bytes(b"")
    scan = tmp_path / "c_scan.pdf"
    scan.write_bytes(blank_pdf())
    truncated = tmp_path / "d_cut.pdf"
    truncated.write_bytes(text_pdf(MINIMAL.splitlines())[:300])
    paths = [good_pdf, empty, MULTI, scan, truncated, tmp_path / "e_missing.txt", SENTENCES]

    items, rejects = parse_folder(paths)

    assert [i.source for i in items] == ["a_good.pdf"] + ["letter_2016_multi.txt"] * 3 + [
        "letter_2013_sentences.txt"
    ] * 2
    assert [r["source"] for r in rejects] == ["b_empty.txt", "c_scan.pdf", "d_cut.pdf", "e_missing.txt"]
    assert all(set(r) == {"source", "locator", "reason"} and r["reason"] for r in rejects)
    assert len({i.source for i in items}) + len(rejects) == len(paths)


def test_parse_folder_of_nothing() -> None:
    assert parse_folder([]) == ([], [])
