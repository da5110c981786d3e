"""A result to keep: print, the PDF report, CSV and JSON export, and cases saved in the browser's own storage."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser]

SUMMARY = "The patient is a 52-year-old warehouse worker with chronic low back pain and reduced lumbar flexion."


def score(page: Any, *items: str) -> None:
    page.fill("#summary", SUMMARY)
    for i, text in enumerate(items):
        if i:
            page.click("#add-item")
        page.locator("#items .item-text").nth(i).fill(text)
    page.click("#submit")
    expect(page.locator("#results .result")).to_have_count(len(items))


def downloaded(page: Any, button: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.click(button)
    download = info.value
    return str(download.suggested_filename), Path(download.path()).read_bytes()


def test_print_shows_the_case_and_bar_without_controls(page: Any) -> None:
    page.locator("#items details.rfa summary").first.click()
    page.locator("#items [data-field='cpt']").first.fill("J1100")
    score(page, "Compounded topical cream")
    page.click("#add-item")
    page.locator("#items details.rfa summary").nth(1).click()  # opened, left empty
    page.emulate_media(media="print")
    assert page.locator("#items [data-field='cpt']").first.is_visible()  # what was entered is printed
    assert page.locator("#items [data-field='body_part']").first.is_hidden()  # an empty field is left out
    assert page.locator("#items details.rfa").nth(1).is_hidden()  # an item without RFA details prints without them
    for hidden in ("#submit", "#add-item", ".tabs", "#download-pdf", "#export-csv", ".remove-item", "#saved"):
        assert page.locator(hidden).first.is_hidden(), hidden
    bar = page.locator("#results .result .bar .fill").first
    assert bar.is_visible() and bar.bounding_box()["width"] > 0
    assert page.locator("#results .result .probability").first.is_visible()
    placeholder = page.eval_on_selector("#ur-text", "e => getComputedStyle(e, '::placeholder').color")
    assert placeholder == "rgba(0, 0, 0, 0)"  # an empty field prints empty, not its example as if typed
    assert page.eval_on_selector("#view-prescreen", "e => getComputedStyle(e).breakAfter") == "page"
    page.emulate_media(media="screen")
    assert page.locator("#submit").is_visible()


def test_export_csv_and_json(page: Any) -> None:
    score(page, "Compounded topical cream", 'MRI of the lumbar spine, "urgent"')
    name, data = downloaded(page, "#export-csv")
    assert name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert [r["item_text"] for r in rows] == ["Compounded topical cream", 'MRI of the lumbar spine, "urgent"']
    assert [r["p_upheld"] for r in rows] == ["0.85", "0.15"]
    assert rows[0]["model"] == "imr-dwc" and rows[0]["band"].startswith("Likely upheld")
    name, data = downloaded(page, "#export-json")
    assert name.endswith(".json")
    kept = json.loads(data)
    assert kept["request"]["summary"] == SUMMARY
    assert [i["p_upheld"] for i in kept["answer"]["items"]] == [0.85, 0.15]


def test_pdf_report_download(page: Any) -> None:
    score(page, "Compounded topical cream")
    with page.expect_request(lambda r: r.url.endswith("/v1/report")) as sent:
        name, data = downloaded(page, "#download-pdf")
    assert sent.value.method == "POST" and sent.value.post_data_json["summary"] == SUMMARY
    assert name.endswith(".pdf")
    assert data.startswith(b"%PDF")


def test_saved_cases_reopen_and_delete(page: Any, live_server: LiveServer) -> None:
    score(page, "Compounded topical cream")
    page.click("#save-case")
    saved = page.evaluate("JSON.parse(localStorage.getItem('imr-saved-cases'))")
    assert len(saved) == 1 and saved[0]["request"]["items"] == [{"item_text": "Compounded topical cream"}]
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    assert page.input_value("#summary") == ""
    entry = page.locator("#saved-list .saved-case")
    expect(entry).to_have_count(1)
    page.click("#saved summary")
    entry.locator(".open-case").click()
    expect(page.locator("#results .result .probability")).to_have_text("85%")
    assert page.input_value("#summary") == SUMMARY
    assert page.url == live_server.url + "/"  # nothing of the case in the address
    entry.locator(".delete-case").click()
    expect(page.locator("#saved-list .saved-case")).to_have_count(0)
    assert page.evaluate("JSON.parse(localStorage.getItem('imr-saved-cases'))") == []
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"  # focus stays in the list, not the body
