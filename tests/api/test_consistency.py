"""API consistency (issue 14, item 6): 400 for unreadable bodies, unknown CSV columns refused like unknown JSON
fields, ``case_id`` groups batch rows into cases, ``Accept: text/csv`` on batch, letters keep their file name in
answers, and GET routes do not document body errors."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from serving.batch_cases import ANSWER_COLUMNS
from tests.letter_text import LETTER

pytestmark = pytest.mark.api

SUMMARY = "The patient has chronic low back pain after a lifting injury with reduced lumbar flexion and spasm."
JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _row(item_text: str, **extra: Any) -> dict[str, Any]:
    return {"jurisdiction": "dwc", "item_text": item_text, "summary": SUMMARY, **extra}


def _case(*items: str, **extra: Any) -> dict[str, Any]:
    return {"jurisdiction": "dwc", "summary": SUMMARY, "items": [{"item_text": t} for t in items], **extra}


@pytest.mark.parametrize("path", ["/v1/prescreen", "/v1/prescreen/batch"])
@pytest.mark.parametrize("body", [b'{"jurisdiction": "dwc", ', b"", b"not json", b'{"a": 1}}'])
def test_an_unreadable_json_body_is_a_400(api_client: Any, path: str, body: bytes) -> None:
    response = api_client.post(path, content=body, headers=JSON)
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "body"
    assert error["reason"] in ("is not valid JSON", "is empty or null (a JSON object is required)")
    assert error["reason"] == "is not valid JSON" or not body


def test_a_readable_body_with_a_bad_field_is_still_a_422(api_client: Any) -> None:
    response = api_client.post("/v1/prescreen", json={"jurisdiction": "dwc", "items": []})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "items"


def test_an_unknown_csv_column_is_refused_by_name_as_json_refuses_an_unknown_field(api_client: Any) -> None:
    text = _csv([_row("MRI of the lumbar spine", item_txt="typo column")])
    response = api_client.post("/v1/prescreen/batch", content=text, headers=CSV)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "file" and "item_txt" in error["reason"]
    row = {**_case("MRI of the lumbar spine"), "item_txt": "typo field"}
    [result] = api_client.post("/v1/prescreen/batch", json=[row]).json()["results"]
    assert not result["ok"] and result["errors"] == [{"field": "item_txt", "reason": "is not a known field"}]


def test_an_unknown_column_that_is_not_a_field_name_is_counted_not_repeated(api_client: Any) -> None:
    text = _csv([{**_row("MRI of the lumbar spine"), "Jane Doe DOB 1970": "x"}])
    response = api_client.post("/v1/prescreen/batch", content=text, headers=CSV)
    assert response.status_code == 422
    reason = response.json()["errors"][0]["reason"]
    assert "Jane" not in reason and "1 more that are not field names" in reason


def test_csv_rows_sharing_a_case_id_are_one_case(api_client: Any) -> None:
    shared = {"case_id": "A1", "ur_decision_date": "2026-11-20", "claim_number": "CLM-77"}
    rows = [
        _row("Compounded topical cream", **shared),
        _row("Follow-up visit", case_id="B2", ur_decision_date="", claim_number=""),
        _row("MRI of the lumbar spine", **shared),
    ]
    response = api_client.post("/v1/prescreen/batch", content=_csv(rows), headers=CSV)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["ok"] for r in results] == [True, True, True] and [r["index"] for r in results] == [0, 1, 2]
    first, _, third = (r["result"] for r in results)
    # Each row keeps its own item, numbered within the row; the case's answer is the same on both rows.
    assert [i["p_upheld"] for i in first["items"]] == [0.85] and [i["p_upheld"] for i in third["items"]] == [0.15]
    assert first["items"][0]["index"] == third["items"][0]["index"] == 0
    assert first["filing_deadline"] == third["filing_deadline"] == "2026-12-20"
    assert first["claim_number"] == third["claim_number"] == "CLM-77"
    assert results[1]["result"]["filing_deadline"] is None


def test_rows_of_one_case_whose_case_fields_differ_fail_together_naming_the_field(api_client: Any) -> None:
    rows = [
        _case("Compounded topical cream", case_id="A1", claim_number="CLM-1"),
        _case("MRI of the lumbar spine", case_id="A1", claim_number="CLM-2"),
        _case("Follow-up visit"),
    ]
    results = api_client.post("/v1/prescreen/batch", json=rows).json()["results"]
    assert [r["ok"] for r in results] == [False, False, True]
    expected = [{"field": "[1].claim_number", "reason": "differs from the first row of its case (same case_id)"}]
    assert results[0]["errors"] == results[1]["errors"] == expected


def test_a_case_over_the_item_limit_when_grouped_is_refused(small_client_items: Any) -> None:
    rows = [_row(text, case_id="A1") for text in ("MRI of the lumbar spine", "Follow-up visit", "Acupuncture")]
    results = small_client_items.post("/v1/prescreen/batch", content=_csv(rows), headers=CSV).json()["results"]
    assert [r["ok"] for r in results] == [False, False, False]
    assert all(r["errors"] and r["errors"][0]["field"] == "items" for r in results)


@pytest.fixture
def small_client_items(fake_registry: Any, tmp_path: Any) -> Any:
    """At most two items a case."""
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from tests.conftest import make_settings

    with TestClient(create_app(make_settings(fake_registry.uri, tmp_path / "models", max_items=2))) as client:
        yield client


def test_accept_text_csv_answers_one_line_per_item(api_client: Any) -> None:
    body = [_case("Compounded topical cream", "MRI of the lumbar spine", claim_number="CLM-9"), {"jurisdiction": "x"}]
    response = api_client.post("/v1/prescreen/batch", json=body, headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert tuple(lines[0]) == ANSWER_COLUMNS
    assert [(line["index"], line["item"], line["ok"]) for line in lines] == [
        ("0", "0", "true"),
        ("0", "1", "true"),
        ("1", "", "false"),
    ]
    assert [line["p_upheld"] for line in lines[:2]] == ["0.85", "0.15"]
    assert lines[0]["item_text"] == "Compounded topical cream" and lines[0]["claim_number"] == "CLM-9"
    assert lines[0]["model_version"] == "imr-dwc/1" and lines[0]["band"] == "likely_upheld"
    assert "jurisdiction" in lines[2]["errors"]


@pytest.mark.parametrize(
    ("accept", "csv_answer"),
    [
        (None, False),
        ("application/json", False),
        ("text/csv", True),
        ("text/csv;q=0.5, application/json", False),
        ("application/json;q=0.2, text/csv", True),
        ("*/*", False),
    ],
)
def test_the_batch_answer_follows_the_accept_header(api_client: Any, accept: str | None, csv_answer: bool) -> None:
    headers = {"Accept": accept} if accept else {}
    response = api_client.post("/v1/prescreen/batch", json=[_case("Follow-up visit")], headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv" if csv_answer else "application/json")


def test_an_uploaded_letter_keeps_its_own_file_name_in_the_answer(api_client: Any) -> None:
    files = {"file": ("C:\\scans\\cm99-42 letter.txt", LETTER.encode(), "text/plain")}
    response = api_client.post("/v1/letters", files=files)
    assert response.status_code == 200, response.text
    assert response.json()["source"] == "cm99-42 letter.txt"  # the last path part only
    raw = api_client.post("/v1/letters", content=LETTER.encode(), headers={"Content-Type": "text/plain"})
    assert raw.json()["source"] == "letter.txt"  # no file name: what the letter is


def test_get_routes_document_no_body_errors_and_post_routes_do(api_client: Any) -> None:
    paths = api_client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if method == "get":
                assert not codes & {"400", "413", "415"}, (path, codes)
            elif "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= codes, (path, codes)
            else:  # a POST without a body (the admin reload) cannot send one that is too large or mistyped
                assert not codes & {"400", "413", "415"}, (path, codes)
            if "422" in codes:  # every 422 is in the one error shape, not FastAPI's own
                assert "ErrorResponse" in str(operation["responses"]["422"]), (path, method)
    assert "text/csv" in paths["/v1/prescreen/batch"]["post"]["responses"]["200"]["content"]
    assert "404" in paths["/v1/models/{jurisdiction}/plots/{name}"]["get"]["responses"]
