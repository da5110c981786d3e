"""Health-plan (DMHC) requests through the API: the checklist and advice speak the plan's language (never MTUS /
ACOEM / ODG), and the page gets the category choices from /v1/ui-config."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from features.dmhc_mapper import TREATMENT_CATEGORIES
from serving.schemas import PageConfig, PrescreenOut

pytestmark = pytest.mark.api

MTUS = re.compile(r"MTUS|ACOEM|ODG", re.IGNORECASE)
#: What our answer says in its own words (similar determinations quote public decisions as they are).
OWN_WORDS = ("band_label", "reasons", "missing_information", "checklist", "fixes", "attributions")


def _answer(client: TestClient, item: str, summary: str) -> dict[str, Any]:
    body = {"jurisdiction": "dmhc", "summary": summary, "items": [{"item_text": item}], "expedited": True}
    response = client.post("/v1/prescreen", json=body)
    assert response.status_code == 200, response.text
    PrescreenOut.model_validate(response.json())
    result: dict[str, Any] = response.json()["items"][0]
    return result


@pytest.mark.parametrize(
    ("item", "summary"),
    [
        (
            "Physical therapy, quantity unspecified",
            "Chronic low back pain; the plan denied it as not medically necessary.",
        ),
        ("Lumbar MRI", "Back pain with radiculopathy; conservative care tried for 6 weeks."),
        ("Tramadol 50 mg", "Chronic knee pain; NSAIDs failed. MTUS cited by the plan."),
    ],
)
def test_a_dmhc_answer_never_speaks_mtus(api_client: TestClient, item: str, summary: str) -> None:
    result = _answer(api_client, item, summary)
    said = {name: result[name] for name in OWN_WORDS}
    assert result["checklist"], result
    assert not MTUS.search(str(said)), said
    codes = {c["code"] for c in result["checklist"]}
    assert "visits_within_guideline" not in codes and "guideline_recommended" not in codes
    named = next(c for c in result["checklist"] if c["code"] == "guideline_named")
    assert "plan" in named["title"].lower() and "medically necessary under the plan's criteria" in named["advice"]


def test_a_dmhc_request_citing_plan_criteria_passes_the_criteria_check(api_client: TestClient) -> None:
    result = _answer(api_client, "Knee arthroscopy", "Meets the plan's medical policy; FDA-approved device.")
    named = next(c for c in result["checklist"] if c["code"] == "guideline_named")
    assert named["status"] == "passed" and named["evidence"] == "medical policy"


def test_ui_config_lists_the_dmhc_categories(api_client: TestClient) -> None:
    response = api_client.get("/ui-config")
    assert response.status_code == 200
    config = PageConfig.model_validate(response.json())
    assert config.dmhc_categories["treatment_category"] == list(TREATMENT_CATEGORIES)
    assert {"diagnosis_category", "age_range", "gender", "imr_type"} <= set(config.dmhc_categories)
