"""The pre-submission view: only pre-review fields reach the model, and reviewer wording is caught."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.schema import PRE_REVIEW_FIELDS, REVIEWER_FIELDS, Item
from features.view import (
    MODEL_INPUT_COLUMNS,
    LeakError,
    PrescreenRequest,
    assert_no_leaks,
    find_leaks,
    view,
    view_frame,
)

pytestmark = pytest.mark.unit

MARKER = "ZEBRA-LEAK-MARKER"


def _item(**overrides: object) -> Item:
    fields: dict[str, object] = {
        "item_id": "CM16-0000001#0",
        "case_id": "CM16-0000001",
        "item_index": 0,
        "jurisdiction": "dwc",
        "source": "CM16-0000001.pdf",
        "determination": "Upheld",
        "item_text": "Physical therapy cervical",
        "summary": "On 11-3-16, utilization review determined the MRI was not medically necessary.",
        "claims_guideline": "MTUS ACOEM",
        "decision_date": dt.date(2016, 12, 9),
        "rationale": f"{MARKER} Therefore, the request for physical therapy is not medically necessary.",
        "reviewer_guideline": f"{MARKER} MTUS Chronic Pain",
        "reviewer_specialty": f"{MARKER} Family Practice",
        "modification": f"{MARKER} certified in part",
        "days_to_review": 12345,
        "days_to_adopt": 54321,
    }
    fields.update(overrides)
    return Item.model_validate(fields)


def test_reviewer_fields_never_reach_model_input() -> None:
    row = view(_item())
    assert set(row) == set(MODEL_INPUT_COLUMNS)
    assert not REVIEWER_FIELDS & set(MODEL_INPUT_COLUMNS)
    rendered = " ".join(str(v) for v in row.values())
    assert MARKER not in rendered
    assert "12345" not in rendered and "54321" not in rendered


def test_every_input_column_is_a_pre_review_field() -> None:
    assert set(MODEL_INPUT_COLUMNS) <= PRE_REVIEW_FIELDS


def test_request_and_item_give_the_same_input() -> None:
    item = _item()
    request = PrescreenRequest(
        jurisdiction="dwc", item_text=item.item_text, summary=item.summary, claims_guideline="MTUS ACOEM"
    )
    assert view(item) == view(request)


def test_ur_text_joins_the_summary_and_dwc_gets_a_category() -> None:
    row = view(PrescreenRequest(jurisdiction="dwc", item_text="MRI of the lumbar spine", ur_text="UR denied it."))
    assert row["summary"] == "UR denied it."
    assert row["treatment_category"] == "Imaging"
    assert row["report_year"] == -1


def test_view_frame_keeps_order_and_columns() -> None:
    frame = view_frame([_item(item_text="A first"), _item(item_text="B second")])
    assert list(frame.columns) == list(MODEL_INPUT_COLUMNS)
    assert frame["item_text"].tolist() == ["A first", "B second"]


def test_utilization_review_quote_is_not_a_leak() -> None:
    frame = view_frame([_item()])
    assert find_leaks(frame) == []
    assert_no_leaks(frame)


@pytest.mark.parametrize(
    "planted",
    [
        "Final Result: The reviewer determined that the services were not medically necessary.",
        "Therefore, the Health Plan's denial should be upheld.",
        "Therefore, the request for physical therapy 12 sessions is not medically necessary.",
        "MAXIMUS Federal Services, Inc. has determined the request for an MRI is medically necessary.",
        "Decision rationale: guidelines recommend ...",
        "The physician reviewer found that the patient ...",
    ],
)
def test_planted_outcome_wording_fails_loudly(planted: str) -> None:
    frame = view_frame([_item(summary=f"Patient with neck pain. {planted}")])
    with pytest.raises(LeakError, match="reviewer outcome wording") as caught:
        assert_no_leaks(frame, ids=["CM16-0000001#0"])
    assert "CM16-0000001#0" in str(caught.value)
    assert "neck pain" not in str(caught.value)  # names the row, never echoes its text


def test_nan_and_missing_values_become_empty() -> None:
    row = view({"jurisdiction": "dmhc", "item_text": "Mammography", "summary": float("nan"), "report_year": None})
    assert row["summary"] == ""
    assert row["diagnosis_category"] == "unknown"
    assert isinstance(view_frame(pd.DataFrame([row]))["report_year"].iloc[0].item(), int)
