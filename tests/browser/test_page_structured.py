"""The structured request on the page: RFA fields per item, the IMR application per case, health-plan fields,
code-format and size checks that say what the server says, and the filing deadline."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser]

SUMMARY = "The patient is a 52-year-old warehouse worker with chronic low back pain and reduced lumbar flexion."


def score_with_request(page: Any) -> dict[str, Any]:
    """Click Pre-screen and return the JSON body the page sent."""
    with page.expect_request(lambda r: r.url.endswith("/v1/prescreen") and r.method == "POST") as sent:
        page.click("#submit")
    body: dict[str, Any] = sent.value.post_data_json
    return body


def fill_rfa(page: Any) -> None:
    row = page.locator("#items .item-row").first
    row.locator(".item-text").fill("Physical therapy lumbar spine")
    row.locator("details.rfa summary").click()
    row.locator("[data-field='cpt']").fill("97110")
    row.locator("[data-field='icd10']").fill("M54.5; s39.012a")
    row.locator("[data-field='body_part']").fill("lumbar spine")
    row.locator("[data-field='side']").select_option("left")
    row.locator("[data-field='quantity']").fill("12")
    row.locator("[data-field='frequency']").fill("2 times a week")
    row.locator("[data-field='duration']").fill("6 weeks")
    row.locator("[data-field='prior_sessions']").fill("6")
    row.locator("[data-field='prior_outcome']").fill("walking tolerance improved")


def test_rfa_fields_are_sent_structured_and_the_deadline_is_shown(page: Any) -> None:
    page.fill("#summary", SUMMARY)
    fill_rfa(page)
    ur_date = dt.date.today() - dt.timedelta(days=10)
    page.click("#case-details summary")
    page.fill("#date-of-injury", "2024-01-15")
    page.fill("#ur-decision-date", ur_date.isoformat())
    page.fill("#provider-specialty", "Physical medicine")
    page.fill("#claim-number", "CLM-0001")
    page.check("#expedited")
    body = score_with_request(page)
    item = body["items"][0]
    assert item == {
        "item_text": "Physical therapy lumbar spine",
        "cpt": "97110",
        "icd10": ["M54.5", "S39.012A"],
        "body_part": "lumbar spine",
        "side": "left",
        "quantity": 12,
        "frequency": "2 times a week",
        "duration": "6 weeks",
        "prior_sessions": 6,
        "prior_outcome": "walking tolerance improved",
    }
    assert body["date_of_injury"] == "2024-01-15" and body["ur_decision_date"] == ur_date.isoformat()
    assert body["expedited"] is True and body["claim_number"] == "CLM-0001"
    assert "imr_type" not in body  # workers' comp: the server maps expedited itself
    deadline = (ur_date + dt.timedelta(days=30)).isoformat()
    expect(page.locator("#deadline")).to_have_text(f"File the IMR application by {deadline} (20 days left).")
    quantity = page.locator("#results .result[data-index='0'] .checklist li[data-code='quantity_stated']")
    expect(quantity).to_have_attribute("data-status", "passed")  # the structured quantity satisfies the check


def test_the_simple_path_sends_no_structured_field_and_shows_no_deadline(page: Any) -> None:
    page.fill("#summary", SUMMARY)
    page.locator("#items .item-text").first.fill("MRI of the lumbar spine")
    body = score_with_request(page)
    assert body["items"] == [{"item_text": "MRI of the lumbar spine"}]
    assert set(body) == {"jurisdiction", "summary", "ur_text", "claims_guideline", "items"}
    page.locator("#results .result").first.wait_for()
    assert page.locator("#deadline").is_hidden()
    assert page.locator("details.rfa").first.get_attribute("open") is None  # collapsed: the simple path stays simple


def test_code_formats_are_checked_with_the_servers_words(page: Any, live_server: LiveServer) -> None:
    page.fill("#summary", SUMMARY)
    row = page.locator("#items .item-row").first
    row.locator(".item-text").fill("Physical therapy")
    row.locator("details.rfa summary").click()
    row.locator("[data-field='cpt']").fill("9711")
    row.locator("[data-field='icd10']").fill("M54.5; 12")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.url.endswith("/v1/prescreen") else None)
    page.click("#submit")
    cpt = page.locator("#alert li[data-field='items[0].cpt']")
    icd = page.locator("#alert li[data-field='items[0].icd10[1]']")
    expect(cpt).to_have_count(1)
    expect(icd).to_have_count(1)
    assert requests == []  # refused before sending
    assert row.locator("[data-field='cpt']").get_attribute("aria-invalid") == "true"
    assert row.locator(".field-errors li[data-error='items[0].cpt']").inner_text() == cpt.inner_text()
    server = page.request.post(
        live_server.url + "/v1/prescreen",
        data={"jurisdiction": "dwc", "items": [{"item_text": "x", "cpt": "9711", "icd10": ["M54.5", "12"]}]},
    )
    assert server.status == 422
    reasons = {e["field"]: e["reason"] for e in server.json()["errors"]}
    assert cpt.inner_text() == f"items[0].cpt: {reasons['items[0].cpt']}"
    assert icd.inner_text() == f"items[0].icd10[1]: {reasons['items[0].icd10[1]']}"


def test_byte_counter_and_stale_results_cleared_on_error(page: Any) -> None:
    page.fill("#summary", SUMMARY)
    page.locator("#items .item-text").first.fill("MRI of the lumbar spine")
    page.click("#submit")
    page.locator("#results .result").first.wait_for()
    counter = page.locator(".bytes[data-for='summary']")
    assert counter.inner_text() == f"{len(SUMMARY.encode())} of 100,000 bytes"
    page.fill("#summary", "é" * 60_000)  # 60,000 characters, 120,000 bytes
    expect(counter).to_have_text("120,000 of 100,000 bytes")
    assert "over" in (counter.get_attribute("class") or "")
    page.click("#submit")
    expect(page.locator("#alert li[data-field='summary']")).to_have_text("summary: is longer than 100000 bytes")
    expect(page.locator("#results .result")).to_have_count(0)
    assert page.locator("#result-area").is_hidden()


def test_health_plan_requests_ask_what_the_dmhc_model_reads(page: Any) -> None:
    page.select_option("#jurisdiction", "dmhc")
    assert page.locator("#dmhc-fields").is_visible()
    assert page.locator("details.rfa").first.is_hidden() and page.locator("#case-details").is_hidden()
    assert "MTUS" not in (page.get_attribute("#guideline", "placeholder") or "")
    assert page.locator("label[for='guideline']").inner_text().startswith("Plan criteria")
    page.fill("#summary", "A 45-year-old woman with lumbar stenosis after failed conservative care.")
    page.locator("#items .item-text").first.fill("Lumbar spine surgery")
    for name, value in (
        ("diagnosis_category", "Orthopedic/Musculoskeletal"),
        ("treatment_category", "Orthopedic Procedure"),
        ("age_range", "41-50"),
        ("gender", "Female"),
    ):
        field = page.locator(f"[data-dmhc-input='{name}']")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(index=1)
        else:
            field.fill(value)
    page.select_option("#imr-type", "Expedited")
    body = score_with_request(page)
    assert body["jurisdiction"] == "dmhc" and body["imr_type"] == "Expedited"
    assert all(body.get(name) for name in ("diagnosis_category", "age_range", "gender"))
    assert set(body["items"][0]) == {"item_text", "treatment_category"}  # no RFA field on a health-plan request
    expect(page.locator("#results .result")).to_have_count(1)


def test_dmhc_categories_from_ui_config_are_choices(page: Any) -> None:
    def with_categories(route: Any) -> None:
        config = route.fetch().json()
        config["dmhc_categories"] = {
            "diagnosis_category": ["Cancer", "Orthopedic/Musculoskeletal"],
            "treatment_categories": [{"name": "Orthopedic Procedure"}, {"name": "Pharmacy"}],
        }
        route.fulfill(status=200, content_type="application/json", body=json.dumps(config))

    page.route("**/ui-config", with_categories)
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.select_option("#jurisdiction", "dmhc")
    diagnosis = page.locator("select[data-dmhc-input='diagnosis_category'] option")
    assert diagnosis.all_inner_texts() == ["Not stated (from the text)", "Cancer", "Orthopedic/Musculoskeletal"]
    assert page.locator("select[data-dmhc-input='treatment_category'] option").count() == 3
    assert page.locator("input[data-dmhc-input='age_range']").count() == 1  # not listed: free text
    page.select_option("select[data-dmhc-input='diagnosis_category']", "Cancer")
    page.fill("#summary", "A 60-year-old man with metastatic cancer.")
    page.locator("#items .item-text").first.fill("Proton beam therapy")
    assert score_with_request(page)["diagnosis_category"] == "Cancer"


CODES = {
    "cpt": ["97110", "97110-GP", "97110 59", "J1100", "j1100", "V2020", "W1234", "9711", "971100", "ABCDE"],
    "icd10": ["M54.5", "s39.012a", "M545", "Z99.89", "M5", "12.3", "M54.12345", "M54..5"],
}


@pytest.mark.parametrize("kind", sorted(CODES))
def test_the_page_and_the_server_agree_on_code_formats(page: Any, live_server: LiveServer, kind: str) -> None:
    for code in CODES[kind]:
        in_page = page.evaluate("([kind, code]) => window.IMR.form.codeReason(kind, code)", [kind, code])
        value: Any = [code] if kind == "icd10" else code
        answer = page.request.post(
            live_server.url + "/v1/prescreen", data={"jurisdiction": "dwc", "items": [{"item_text": "x", kind: value}]}
        )
        field = "items[0].icd10[0]" if kind == "icd10" else "items[0].cpt"
        by_server = {e["field"]: e["reason"] for e in answer.json().get("errors", [])}.get(field)
        assert in_page == by_server, code
