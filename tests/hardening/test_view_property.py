"""Property tests for the pre-submission view (the one function between a request or an item and the model),
with random and garbled text: it never raises on text, always yields exactly the model's columns, normalises
whitespace, is idempotent, ignores what must not matter, and is the same one at a time or as a frame.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.view import CATEGORY_COLUMNS, MODEL_INPUT_COLUMNS, TEXT_COLUMNS, PrescreenRequest, view, view_frame

pytestmark = pytest.mark.unit

garbled = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300) | st.binary(
    max_size=200
).map(lambda b: b.decode("latin-1"))
maybe_text = st.none() | garbled | st.just(float("nan"))
whitespace = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u3000", "\x0b", "\x0c"])


@st.composite
def records(draw: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "jurisdiction": draw(st.sampled_from(["dwc", "dmhc", "DWC", " dmhc ", ""]) | garbled),
        "item_text": draw(garbled),
        "summary": draw(maybe_text),
        "ur_text": draw(maybe_text),
        "claims_guideline": draw(maybe_text),
        "report_year": draw(st.none() | st.integers(1990, 2100) | st.just(float("nan"))),
    }
    for column in CATEGORY_COLUMNS:
        if column != "jurisdiction" and draw(st.booleans()):
            record[column] = draw(maybe_text)
    return record


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(records())
def test_view_of_garbled_records_has_exactly_the_model_columns_normalised(record: dict[str, Any]) -> None:
    out = view(record)
    assert tuple(out) == MODEL_INPUT_COLUMNS
    for column in TEXT_COLUMNS:
        value = out[column]
        assert isinstance(value, str)
        assert value == value.strip() and "  " not in value and "\n" not in value and "\t" not in value
    for column in CATEGORY_COLUMNS:
        assert isinstance(out[column], str)
        assert out[column] or column == "jurisdiction"  # a category is never empty: "unknown" at least
    assert isinstance(out["report_year"], int)
    assert out["jurisdiction"] == out["jurisdiction"].lower()


@SETTINGS
@given(records())
def test_view_is_idempotent(record: dict[str, Any]) -> None:
    once = view(record)
    assert view(once) == once


@SETTINGS
@given(records(), whitespace, whitespace)
def test_whitespace_around_and_inside_text_does_not_matter(record: dict[str, Any], left: str, inner: str) -> None:
    padded = dict(record)
    for column in ("item_text", "summary", "claims_guideline"):
        value = record.get(column)
        if isinstance(value, str):
            padded[column] = left + value.replace(" ", f" {inner}") + left
    assert view(padded) == view(record)


@SETTINGS
@given(st.lists(records(), min_size=1, max_size=8))
def test_frame_is_the_same_as_one_at_a_time(rows: list[dict[str, Any]]) -> None:
    frame = view_frame(rows)
    assert list(frame.columns) == list(MODEL_INPUT_COLUMNS)
    assert frame.to_dict(orient="records") == [view(r) for r in rows]


@SETTINGS
@given(garbled, garbled, garbled)
def test_a_request_and_the_same_fields_as_a_mapping_give_the_same_input(item: str, summary: str, ur: str) -> None:
    if not item:
        item = "x"
    request = PrescreenRequest(jurisdiction="dwc", item_text=item, summary=summary, ur_text=ur)
    assert view(request) == view(request.model_dump())


def test_nan_and_none_are_empty() -> None:
    out = view({"jurisdiction": "dmhc", "item_text": "MRI", "summary": math.nan, "report_year": math.nan})
    assert out["summary"] == "" and out["report_year"] == -1
