"""``POST /v1/report``: a PDF of the scored case (items, estimates, deadline, model), and the same 422 as
``/v1/prescreen`` for bad input."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

pytestmark = pytest.mark.api

SUMMARY = "The patient has chronic low back pain after a lifting injury with reduced lumbar flexion and spasm."


def _case(**extra: Any) -> dict[str, Any]:
    return {
        "jurisdiction": "dwc",
        "summary": SUMMARY,
        "items": [
            {"item_text": "Physical therapy lumbar spine", "quantity": 12, "frequency": "2 times a week"},
            {"item_text": "MRI of the lumbar spine – naïve “quotes” " + "Ω" * 150},
        ],
        "ur_decision_date": "2026-11-20",
        "claim_number": "CLM-77-REPORT",
        **extra,
    }


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_a_pdf_report_comes_back_with_the_items_and_the_estimates(api_client: TestClient) -> None:
    response = api_client.post("/v1/report", json=_case())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and ".pdf" in disposition and "CLM-77" not in disposition
    assert response.content.startswith(b"%PDF")
    assert len(PdfReader(io.BytesIO(response.content)).pages) == 1
    scored = api_client.post("/v1/prescreen", json=_case()).json()
    text = " ".join(_text(response.content).split())
    assert "Physical therapy lumbar spine" in text
    p = scored["items"][0]["p_upheld"]
    assert f"P(denial upheld) {100 * p:.0f} %" in text
    assert "IMR filing deadline: 2026-12-20" in text and "Claim number: CLM-77-REPORT" in text
    model = scored["model"]
    assert f"{model['name']} version {model['version']}" in text
    assert "Documentation checklist" in text and "naïve" in text


@pytest.mark.parametrize(
    "bad",
    [
        {"items": []},
        {"jurisdiction": "nowhere"},
        {"items": [{"item_text": "PT", "cpt": "123"}]},
        {"ur_decision_date": "20-11-2026"},
    ],
)
def test_bad_input_gets_the_same_422_as_prescreen(api_client: TestClient, bad: dict[str, Any]) -> None:
    body = {**_case(), **bad}
    report = api_client.post("/v1/report", json=body)
    prescreen = api_client.post("/v1/prescreen", json=body)
    assert report.status_code == prescreen.status_code == 422
    assert report.json()["errors"] == prescreen.json()["errors"]
