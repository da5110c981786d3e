"""The pre-screening page in a real headless Chromium (Debian's), driven by Playwright, against a live server.

The browser and the live server are fixtures of ``tests/browser/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from features.reasons import REASONS
from tests.browser.conftest import LiveServer
from tests.conftest import FakeRegistry, make_settings
from tests.letter_text import LETTER

pytestmark = [pytest.mark.browser]

KEY = "browser-key-0123456789abcdef"
SUMMARY = "The patient is a 52-year-old warehouse worker with chronic low back pain and reduced lumbar flexion."


def fill_case(page: Any, *items: str) -> None:
    page.select_option("#jurisdiction", "dwc")
    page.fill("#summary", SUMMARY)
    page.fill("#ur-text", "Utilization review denied the request.")
    for i, text in enumerate(items):
        if i:
            page.click("#add-item")
        page.locator("#items .item-text").nth(i).fill(text)


def probabilities(page: Any, count: int) -> list[str]:
    page.wait_for_selector(f"#results .result[data-index='{count - 1}']")
    return [page.locator(f"#results .result[data-index='{i}'] .probability").inner_text() for i in range(count)]


def test_fill_submit_and_read_probabilities(page: Any) -> None:
    fill_case(page, "Compounded topical cream", "MRI of the lumbar spine", "Follow-up visit")
    page.click("#submit")
    assert probabilities(page, 3) == ["85%", "15%", "50%"]
    first = page.locator("#results .result[data-index='0']")
    assert first.get_attribute("data-band") == "likely_upheld"
    assert "Likely upheld" in first.locator(".band").inner_text()
    assert REASONS["quantity_unspecified"] in first.locator(".reasons").inner_text()
    width = first.locator(".bar .fill").evaluate("e => e.style.width")
    assert float(width.rstrip("%")) == 85
    assert "imr-dwc version 1" in page.inner_text("#model-line")


def test_thin_item_shows_what_is_missing(page: Any) -> None:
    page.locator("#items .item-text").first.fill("therapy")
    page.click("#submit")
    card = page.locator("#results .result[data-index='0']")
    card.wait_for()
    assert card.get_attribute("data-band") == "insufficient_information"
    assert card.locator(".probability").inner_text() == "—"
    assert "clinical context" in card.locator(".missing").inner_text()


def test_what_if_rescores_while_editing(page: Any) -> None:
    fill_case(page, "Physical therapy lumbar spine")
    page.click("#submit")
    assert probabilities(page, 1) == ["50%"]
    page.locator("#items .item-text").first.fill("Physical therapy lumbar spine 2 times a week for 6 weeks")
    expect(page.locator("#results .result[data-index='0'] .probability")).to_have_text("15%")
    assert "-35 points" in page.inner_text("#results .result[data-index='0'] .delta").replace("▼ ", "-")


def test_what_if_typing_the_sessions_updates_probability_and_checklist_at_once(page: Any) -> None:
    fill_case(page, "Physical therapy lumbar spine")
    page.click("#submit")
    assert probabilities(page, 1) == ["50%"]
    card = page.locator("#results .result[data-index='0']")
    quantity = card.locator(".checklist li[data-code='quantity_stated']")
    expect(quantity).to_have_attribute("data-status", "missing")
    assert "2 times a week for 6 weeks" in quantity.locator(".advice").inner_text()  # the advice says what to add
    assert card.locator(".reasons li[data-code='quantity_unspecified'][data-source='checklist']").count() == 1
    item = page.locator("#items .item-text").first
    item.press("End")
    item.press_sequentially(" 2 times a week for 6 weeks", delay=15)  # typed, no submit: the debounced what-if
    expect(card.locator(".probability")).to_have_text("15%")
    expect(quantity).to_have_attribute("data-status", "passed")
    assert quantity.locator("q.evidence").inner_text() == "2 times a week for 6 weeks"
    assert card.locator(".item-title mark.evidence").all_inner_texts() == ["lumbar", "2 times a week for 6 weeks"]
    assert float(card.locator(".bar .fill").evaluate("e => e.style.width").rstrip("%")) == 15
    assert card.locator(".reasons li[data-code='quantity_unspecified']").count() == 0
    assert "-35 points" in card.locator(".delta").inner_text().replace("▼ ", "-")


def test_explanations_are_shown(page: Any) -> None:
    fill_case(page, "Compounded topical cream with flurbiprofen")
    page.click("#submit")
    card = page.locator("#results .result[data-index='0']")
    hits = card.locator(".similar li.similar-hit")
    expect(hits).to_have_count(5)
    first = hits.first
    assert first.locator(".outcome-badge").inner_text() == "Upheld"
    assert "upheld" in (first.locator(".outcome-badge").get_attribute("class") or "")
    assert first.locator(".hit-date").inner_text() == "2015-09-14"
    assert first.locator(".hit-case").inner_text() == "Case CM15-0000202"
    assert first.locator(".hit-item").inner_text() == "Compounded topical cream with flurbiprofen"
    assert first.locator(".hit-excerpt").inner_text().startswith("Any compounded product")
    assert "MTUS Chronic Pain Topical Analgesics" in first.locator(".hit-guideline").inner_text()
    terms = card.locator(".top-terms li.term")
    assert terms.all_inner_texts() == ["compound ↑ upheld", "topical ↑ upheld"]
    recommended = card.locator(".checklist li[data-code='guideline_recommended']")
    assert recommended.get_attribute("data-status") == "missing"
    assert recommended.locator(".advice").inner_text()
    assert "passed" in card.locator(".checklist .count").inner_text()
    reasons = card.locator(".reasons li")
    assert reasons.first.get_attribute("data-source") == "model"
    assert "reviewers would cite: 70%" in reasons.first.inner_text()
    assert reasons.first.locator(".source-badge").get_attribute("title")  # every badge says what it means


def test_the_way_to_approvable_and_the_context_of_the_estimate(page: Any) -> None:
    fill_case(page, "Norco quantity unspecified")
    page.click("#submit")
    card = page.locator("#results .result[data-index='0']")
    card.wait_for()
    context = card.locator(".context").inner_text()
    assert "95 % interval 80%–90%" in context and "90% upheld" in context and "all IMR items: 89% upheld" in context
    fixes = card.locator(".fixes li.fix")
    expect(fixes).to_have_count(2)
    assert fixes.first.get_attribute("data-check") == "quantity_stated"
    assert "85% → 65%" in fixes.first.inner_text()
    assert "does not read it" in fixes.nth(1).inner_text()
    assert "With every fix: 65%" in card.locator(".fixes .all-fixed").inner_text()
    attribution = card.locator(".attributions li").first
    assert "not documented" in attribution.inner_text() and "raises the risk" in attribution.inner_text()


def test_remove_an_item(page: Any) -> None:
    fill_case(page, "Compounded topical cream", "MRI of the lumbar spine")
    page.locator("#items .remove-item").first.click()
    page.click("#submit")
    assert probabilities(page, 1) == ["15%"]
    assert page.locator("#results .result").count() == 1


def test_errors_are_shown(page: Any) -> None:
    page.click("#submit")
    assert "add at least one disputed item" in page.inner_text("#alert")
    page.locator("#items .item-text").first.fill("MRI " + "x" * 200_000)
    page.click("#submit")
    page.wait_for_selector("#alert li[data-field='items[0].item_text']")


def test_upload_a_letter(page: Any) -> None:
    page.click("#tab-letter")
    page.set_input_files(
        "#letter-file", files=[{"name": "cm99.txt", "mimeType": "text/plain", "buffer": LETTER.encode()}]
    )
    page.click("#letter-submit")
    page.wait_for_selector(".letter-table tbody tr")
    rows = page.locator(".letter-table tbody tr")
    assert rows.count() == 2
    assert [rows.nth(i).locator(".predicted").inner_text() for i in range(2)] == ["85%", "15%"]
    assert [rows.nth(i).locator(".actual").inner_text() for i in range(2)] == ["Upheld", "Overturned"]
    assert [rows.nth(i).locator(".agrees").inner_text() for i in range(2)] == ["yes", "yes"]
    assert "CM99-0000042" in page.inner_text(".letter-summary")
    cards = page.locator("#letter-cards .result")
    expect(cards).to_have_count(2)
    mri = cards.nth(1)
    assert "Letter's outcome: Overturned" in mri.inner_text()
    assert mri.locator(".checklist li[data-code='body_part_stated']").get_attribute("data-status") == "passed"
    assert mri.locator(".checklist li[data-code='objective_findings']").count() == 1
    cases = mri.locator(".similar .hit-case").all_inner_texts()
    assert cases and "Case CM99-0000042" not in cases  # never the letter's own case


def test_upload_a_file_that_is_not_a_letter(page: Any) -> None:
    page.click("#tab-letter")
    page.set_input_files(
        "#letter-file", files=[{"name": "list.txt", "mimeType": "text/plain", "buffer": b"milk\neggs\n"}]
    )
    page.click("#letter-submit")
    page.wait_for_selector("#alert li[data-field='file']")
    alert = page.inner_text("#alert")
    assert "not an IMR determination letter" in alert and "list.txt" not in alert  # never the upload's own name


def test_evaluation_view(page: Any) -> None:
    page.click("#tab-evaluation")
    row = page.locator(".eval[data-jurisdiction='dwc'] tr[data-metric='roc_auc']")
    row.wait_for()
    assert row.locator(".value").inner_text() == "0.810"
    assert "0.740 – 0.870" in row.inner_text()
    section = page.locator(".eval[data-jurisdiction='dwc']")
    assert "imr-dwc version 1" in section.inner_text()
    expect(section.locator("img.loaded")).to_have_count(4)  # CSP forbids eval: no wait_for_function strings
    for plot in ("roc", "reliability"):
        width = section.locator(f".plot-{plot} img").evaluate("img => img.naturalWidth")
        assert width > 0


def test_docs_page_lists_the_routes_offline(page: Any, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/docs")
    page.wait_for_selector("body[data-ready='true']")
    prescreen = page.locator(".op[data-path='/v1/prescreen']")
    assert "explain" in prescreen.inner_text()
    assert "similar" in prescreen.locator("pre.example").last.inner_text()


def test_page_asks_for_the_key_when_one_is_configured(
    browser: Any, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    settings = make_settings(fake_registry.uri, tmp_path / "models", api_key=KEY)
    with LiveServer(settings) as server:
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(server.url + "/")
        page.wait_for_selector("body[data-ready='true']")
        assert page.is_visible("#key-panel")
        page.fill("#api-key", "wrong")
        page.click("#key-form button")
        fill_case(page, "Compounded topical cream")
        page.click("#submit")
        page.wait_for_selector("#alert li[data-field='X-API-Key']")
        assert page.is_visible("#key-panel")
        page.fill("#api-key", KEY)
        page.click("#key-form button")
        page.click("#submit")
        assert probabilities(page, 1) == ["85%"]
        assert page.evaluate("sessionStorage.getItem('imr-api-key')") == KEY
        page.click("#tab-evaluation")
        page.locator(".eval[data-jurisdiction='dwc'] tr[data-metric='roc_auc']").wait_for()
        context.close()
