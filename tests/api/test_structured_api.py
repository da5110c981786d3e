"""The structured request through the API: a structured quantity satisfies the quantity check, the answer carries
the filing deadline, and the claim number is echoed but never logged."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.schemas import PrescreenOut

pytestmark = pytest.mark.api

CLAIM = "CLM-HERON-55821"


def _checks(result: dict[str, Any]) -> dict[str, str]:
    return {c["code"]: c["status"] for c in result["checklist"]}


def _post(client: TestClient, item: dict[str, Any], **case: Any) -> dict[str, Any]:
    body = {"jurisdiction": "dwc", "summary": "Chronic low back pain after lifting.", "items": [item], **case}
    response = client.post("/v1/prescreen", json=body)
    assert response.status_code == 200, response.text
    PrescreenOut.model_validate(response.json())
    answer: dict[str, Any] = response.json()
    return answer


def test_a_structured_quantity_satisfies_the_quantity_check(api_client: TestClient) -> None:
    plain = _post(api_client, {"item_text": "Physical therapy"})["items"][0]
    assert _checks(plain)["quantity_stated"] == "missing"
    given = _post(api_client, {"item_text": "Physical therapy", "quantity": 12, "body_part": "lumbar spine"})
    checks = _checks(given["items"][0])
    assert checks["quantity_stated"] == "passed" and checks["body_part_stated"] == "passed"


def test_the_answer_carries_the_filing_deadline_and_echoes_the_claim_number(
    api_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    decided = dt.date.today() - dt.timedelta(days=10)
    with caplog.at_level(logging.DEBUG):
        answer = _post(
            api_client,
            {"item_text": "MRI of the lumbar spine", "cpt": "72148", "icd10": ["M54.16"]},
            ur_decision_date=decided.isoformat(),
            expedited=False,
            claim_number=CLAIM,
        )
    assert answer["filing_deadline"] == (decided + dt.timedelta(days=30)).isoformat()
    assert answer["days_left"] == 20
    assert answer["claim_number"] == CLAIM
    assert caplog.records and all(CLAIM not in r.getMessage() and CLAIM not in str(r.__dict__) for r in caplog.records)
    assert _post(api_client, {"item_text": "MRI"})["filing_deadline"] is None


def test_a_malformed_code_gets_a_422_naming_the_field(api_client: TestClient) -> None:
    body = {"jurisdiction": "dwc", "items": [{"item_text": "PT", "icd10": ["M54.5", "not a code"]}]}
    response = api_client.post("/v1/prescreen", json=body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["items[0].icd10[1]"] and "ICD-10-CM" in errors[0]["reason"]
