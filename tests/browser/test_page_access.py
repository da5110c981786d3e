"""The page on a 390-px phone and by keyboard, the evaluation tab in plain words, the favicon and /docs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from tests.letter_text import LETTER

pytestmark = [pytest.mark.browser]

SUMMARY = "The patient is a 52-year-old warehouse worker with chronic low back pain and reduced lumbar flexion."
LONG_WORD = "Supercalifragilisticexpialidociousnessxyz" * 2  # 82 characters without a break


@pytest.fixture
def phone(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(live_server.url + "/")
    page.wait_for_selector("body[data-ready='true']")
    yield page
    context.close()


def page_width(page: Any) -> int:
    return int(page.evaluate("document.scrollingElement.scrollWidth"))


def test_no_horizontal_scroll_at_390_px(phone: Any) -> None:
    phone.fill("#summary", f"{SUMMARY} {LONG_WORD}")
    phone.locator("#items .item-text").first.fill(f"Compounded topical cream {LONG_WORD}")
    phone.click("#add-item")
    phone.locator("#items .item-text").nth(1).fill("MRI of the lumbar spine")
    phone.locator("#items details.rfa summary").first.click()
    phone.click("#case-details summary")
    phone.click("#submit")
    expect(phone.locator("#results .result")).to_have_count(2)
    assert page_width(phone) <= 390
    remove = phone.locator("#items .remove-item").first.bounding_box()
    assert remove["x"] + remove["width"] <= 390  # the Remove buttons are on screen
    phone.click("#tab-letter")
    phone.set_input_files(
        "#letter-file", files=[{"name": "cm99.txt", "mimeType": "text/plain", "buffer": LETTER.encode()}]
    )
    phone.click("#letter-submit")
    phone.wait_for_selector(".letter-table tbody tr")
    assert page_width(phone) <= 390  # the letter table scrolls inside its own box
    phone.click("#tab-evaluation")
    phone.locator(".eval tr[data-metric='roc_auc']").first.wait_for()
    assert page_width(phone) <= 390


def test_arrow_keys_home_and_end_move_between_tabs(page: Any) -> None:
    tabs = page.locator("[role=tab]")
    assert [tabs.nth(i).get_attribute("tabindex") for i in range(3)] == ["0", "-1", "-1"]
    page.focus("#tab-prescreen")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-letter")).to_be_focused()
    assert page.get_attribute("#tab-letter", "aria-selected") == "true"
    assert page.locator("#view-letter").is_visible() and page.locator("#view-prescreen").is_hidden()
    page.keyboard.press("End")
    expect(page.locator("#tab-evaluation")).to_be_focused()
    page.keyboard.press("ArrowRight")  # wraps around
    expect(page.locator("#tab-prescreen")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#tab-evaluation")).to_be_focused()
    page.keyboard.press("Home")
    expect(page.locator("#tab-prescreen")).to_be_focused()
    assert [tabs.nth(i).get_attribute("tabindex") for i in range(3)] == ["0", "-1", "-1"]
    assert page.get_attribute("#view-prescreen", "aria-labelledby") == "tab-prescreen"


def test_focus_after_remove_and_after_scoring(page: Any) -> None:
    page.fill("#summary", SUMMARY)
    for i, text in enumerate(("Compounded topical cream", "MRI of the lumbar spine", "Follow-up visit")):
        if i:
            page.click("#add-item")
        page.locator("#items .item-text").nth(i).fill(text)
    page.locator("#items .remove-item").first.click()
    assert page.evaluate("document.activeElement.value") == "MRI of the lumbar spine"  # the next item
    page.locator("#items .remove-item").last.click()
    expect(page.locator("#add-item")).to_be_focused()  # no next item: Add
    page.locator("#items .item-text").first.press("Enter")  # submits the form from the keyboard
    expect(page.locator("#results .result")).to_have_count(1)
    expect(page.locator("#results-heading")).to_be_focused()


def test_long_words_wrap(page: Any) -> None:
    page.fill("#summary", SUMMARY)
    page.locator("#items .item-text").first.fill(f"Compounded topical cream {LONG_WORD * 3}")
    page.click("#submit")
    expect(page.locator("#results .result")).to_have_count(1)
    assert page.eval_on_selector("body", "e => getComputedStyle(e).overflowWrap") == "anywhere"
    title = page.locator("#results .result .item-title").bounding_box()
    assert title["width"] <= page.viewport_size["width"]


def test_evaluation_in_plain_language(page: Any) -> None:
    def with_internal_metrics(route: Any) -> None:
        answer = route.fetch().json()
        for model in answer["models"]:
            model["metrics"]["n_items"] = {"value": 164.0, "ci_low": None, "ci_high": None}
            model["metrics"]["behaviour_minimum_functionality_p_0"] = {"value": 0.5, "ci_low": None, "ci_high": None}
            model["metrics"]["cv_seconds"] = {"value": 12.345, "ci_low": None, "ci_high": None}
            model["tags"]["brier_minus_constant"] = "-0.0011 [-0.0073, +0.0076]"
        route.fulfill(status=200, content_type="application/json", body=json.dumps(answer))

    page.route("**/v1/models", with_internal_metrics)
    page.click("#tab-evaluation")
    section = page.locator(".eval[data-jurisdiction='dwc']")
    section.locator("tr[data-metric='brier']").wait_for()
    key = section.locator("table.metrics")
    assert key.locator("tr[data-metric='n_items'] .value").inner_text() == "164"
    assert "0 is perfect" in key.locator("tr[data-metric='brier']").inner_text()  # each number says what it means
    assert "behaviour_" not in key.inner_text() and "cv_seconds" not in key.inner_text()
    versus = section.locator(".versus li[data-versus='brier_minus_constant']").inner_text()
    assert "−0.0011" in versus and "within noise" in versus
    every = section.locator("details.all-metrics")
    assert every.get_attribute("open") is None and not every.locator("table").is_visible()
    every.locator("summary").click()
    assert "behaviour_minimum_functionality_p_0" in every.inner_text()


def test_favicon_and_docs_rendered(page: Any, live_server: LiveServer) -> None:
    assert (page.get_attribute("link[rel=icon]", "href") or "").startswith("data:image/svg+xml")
    page.goto(live_server.url + "/docs")
    page.wait_for_selector("body[data-ready='true']")
    assert "`" not in page.inner_text("#docs-intro")
    assert page.locator("#docs-intro code").count() >= 1  # X-API-Key as code, not in backticks
    for description in page.locator(".op .description").all_inner_texts():
        assert "`" not in description
    fields = page.locator("#request-fields table.fields")
    assert "100,000 bytes" in fields.locator("tr[data-field='summary'] .limits").inner_text()
    assert fields.locator("tr[data-field='items[].cpt']").count() == 1
    assert "at least 1" in fields.locator("tr[data-field='items'] .limits").inner_text()
