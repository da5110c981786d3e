"""The PDF report (serving.report): what it shows, long words wrapped, any Unicode printable, a safe file name."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from pypdf import PdfReader

from serving.report import latin1, render_report, report_filename
from serving.schemas import EXAMPLE_ITEM_RESULT

pytestmark = pytest.mark.unit

TODAY = dt.date(2026, 12, 2)


def _answer(items: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": "4f3c2a1b0e9d8c7b6a5f",
        "model": {"jurisdiction": "dwc", "name": "imr-dwc", "version": "7", "source": "registry"},
        "items": [{**EXAMPLE_ITEM_RESULT, "index": i} for i in range(items)],
        "claim_number": "CLM-1",
        "filing_deadline": "2026-12-20",
        "days_left": 18,
        **extra,
    }


def _pages(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def test_the_report_shows_items_estimates_checklist_fixes_similar_model_and_deadline() -> None:
    pdf = render_report(_answer(), ["Physical therapy lumbar spine", "Topical cream"], "dwc", TODAY)
    assert pdf.startswith(b"%PDF")
    (text,) = _pages(pdf)
    assert "Item 1: Physical therapy lumbar spine" in text and "Item 2: Topical cream" in text
    assert "P(denial upheld) 38 % (95 % interval 25 % to 52 %); category prior 91 %, base rate 89 %" in text
    assert "Band: Uncertain" in text and "[x] Number, frequency and duration stated" in text
    assert "Similar past determinations" in text and "CM16-0000001" in text
    assert "imr-dwc version 7" in text and "Report date: 2026-12-02" in text
    assert "IMR filing deadline: 2026-12-20 (18 days left)" in text and "Claim number: CLM-1" in text


def test_fixes_and_a_passed_deadline_are_shown() -> None:
    fix = {
        "check": "quantity_stated",
        "title": "Quantity",
        "advice": "State it",
        "p_after": 0.2,
        "changes_estimate": True,
    }
    answer = _answer(1, days_left=-3)
    answer["items"][0] = {**answer["items"][0], "fixes": [fix], "p_all_fixed": 0.2}
    (text,) = _pages(render_report(answer, ["PT"], "dwc", TODAY))
    assert "1. Quantity: State it (P(upheld) after it 20 %)" in text and "(with every fix: 20 %)" in text
    assert "(passed 3 days ago)" in text


def test_long_words_wrap_and_any_unicode_prints() -> None:
    word = "Physicaltherapy" * 20  # a 300-character word: wider than the page
    pdf = render_report(_answer(1), [f"{word} naïve “quoted” Ω 中文 😀 \x00\x07"], "dmhc", TODAY)
    (text,) = _pages(pdf)
    assert 'naïve "quoted" ? ?? ?' in text
    lines = PdfReader(io.BytesIO(pdf)).pages[0].extract_text().splitlines()
    assert sum("Physicaltherapy" in line for line in lines) >= 3  # broken over lines, not cut off


def test_latin1_keeps_accents_and_plain_punctuation() -> None:
    assert latin1("José’s “MRI” – 3 … • ā ﬁ Ω") == 'José\'s "MRI" - 3 ... * a fi ?'


def test_the_file_name_carries_the_date_and_request_id_only() -> None:
    name = report_filename({"request_id": 'ab/../c"d', "claim_number": "CLM-1"}, TODAY)
    assert name == "imr-prescreen-2026-12-02-abcd.pdf"
