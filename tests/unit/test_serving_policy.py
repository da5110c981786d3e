"""Serving's business rules and helpers, as pure functions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from serving.errors import field_path, validation_errors
from serving.metrics import Metrics
from serving.models import ModelOutputError, normalize_output, parse_reasons
from serving.policy import BandThresholds, InformationRule, band_for, meaningful_words, missing_information
from serving.schemas import PrescreenIn
from serving.scoring import REQUEST_FIELDS, Rules, case_records, check_case, parse_csv

pytestmark = pytest.mark.unit

T = BandThresholds(upheld_min=0.65, overturned_max=0.35)
RULE = InformationRule(min_item_words=1, min_item_words_alone=3, min_context_words=8)


@pytest.mark.parametrize(
    ("p", "band"),
    [
        (0.0, "likely_overturned"),
        (0.35, "likely_overturned"),
        (0.3501, "uncertain"),
        (0.5, "uncertain"),
        (0.6499, "uncertain"),
        (0.65, "likely_upheld"),
        (1.0, "likely_upheld"),
    ],
)
def test_band_for(p: float, band: str) -> None:
    assert band_for(p, T) == band


def test_meaningful_words_ignore_fillers_numbers_and_letters() -> None:
    assert meaningful_words("") == 0
    assert meaningful_words("n/a x 12 ???") == 0
    assert meaningful_words("the request for the item") == 0
    assert meaningful_words("MRI lumbar spine") == 3
    assert meaningful_words("Physical therapy 2x6 weeks") == 4  # "x6" of a quantity counts


@pytest.mark.parametrize(
    ("item", "summary", "insufficient"),
    [
        ("", "long enough clinical summary about chronic pain after injury at work today", True),
        ("n/a", "long enough clinical summary about chronic pain after injury at work today", True),
        ("therapy", "", True),
        ("physical therapy", "back pain", True),
        ("physical therapy lumbar spine", "", False),
        ("therapy", "long enough clinical summary about chronic pain after injury at work today", False),
    ],
)
def test_missing_information(item: str, summary: str, insufficient: bool) -> None:
    assert bool(missing_information(item, summary, "", "", RULE)) is insufficient


def test_context_counts_ur_text_and_guideline() -> None:
    ur = "denied because no documented functional improvement"
    guideline = "MTUS chronic pain guidelines"
    assert missing_information("therapy", "", ur, guideline, RULE) == []


RULES = Rules(T, RULE, max_text_bytes=100, max_items=2, jurisdictions=("dwc",))


def test_check_case_limits() -> None:
    case = PrescreenIn.model_validate(
        {
            "jurisdiction": "dmhc",
            "summary": "é" * 60,
            "items": [{"item_text": "a"}, {"item_text": "b"}, {"item_text": "c"}],
        }
    )
    fields = [e["field"] for e in check_case(case, RULES)]
    assert fields == ["jurisdiction", "items", "summary"]


def test_case_records_are_prescreen_requests_per_item() -> None:
    case = PrescreenIn.model_validate(
        {
            "jurisdiction": "dwc",
            "summary": "s",
            "claims_guideline": "case guideline",
            "gender": "F",
            "items": [
                {"item_text": "a"},
                {"item_text": "b", "claims_guideline": "own", "treatment_category": "Imaging"},
            ],
        }
    )
    first, second = case_records(case)
    assert tuple(first) == REQUEST_FIELDS
    assert (first["item_text"], first["claims_guideline"], first["gender"]) == ("a", "case guideline", "F")
    assert (second["claims_guideline"], second["treatment_category"]) == ("own", "Imaging")


def test_parse_csv_rows_and_file_errors() -> None:
    rows, errors = parse_csv("jurisdiction,item_text\ndwc,MRI\ndwc,\n", max_rows=10)
    assert errors == []
    assert isinstance(rows[0], PrescreenIn) and rows[0].items[0].item_text == "MRI"
    assert rows[1] == [{"field": "item_text", "reason": "is required"}]
    assert parse_csv("summary\nx\n", 10)[1][0]["field"] == "file"
    # a misspelt column is refused, not scored as if the office had left it out
    assert parse_csv("jurisdiction,item_text,quantitiy\ndwc,MRI,6\n", 10) == (
        [],
        [
            {
                "field": "file",
                "reason": "has unknown column(s): quantitiy (see PrescreenIn and ItemIn for the names)",
            }
        ],
    )
    assert parse_csv("jurisdiction,item_text\n", 10)[1] == [{"field": "file", "reason": "has no data rows"}]
    assert parse_csv("jurisdiction,item_text\ndwc,a\ndwc,b\n", 1)[1][0]["reason"] == "has more than 1 rows"
    assert parse_csv("jurisdiction,item_text\ndwc,a,surplus\n", 5)[0][0] == [
        {"field": "row", "reason": "has more cells than the header"}
    ]


def test_field_path_and_validation_errors_drop_inputs() -> None:
    assert field_path(("body", "items", 0, "item_text")) == "items[0].item_text"
    assert field_path(("body",)) == "body"
    errors = validation_errors(
        [{"type": "string_type", "loc": ("body", "summary"), "msg": "Input should be a string", "input": "SECRET"}]
    )
    assert errors == [{"field": "summary", "reason": "must be a string"}]


def test_normalize_output() -> None:
    out = normalize_output({"p_upheld": 0.7, "reasons": '[{"code": "c", "label": "L", "probability": 0.5}]'})
    assert out["label"] == "Upheld" and out["reasons"] == [{"code": "c", "label": "L", "probability": 0.5}]
    assert normalize_output({"p_upheld": 0.2, "label": "weird", "reasons": "not json"})["label"] == "Overturned"
    assert normalize_output({"p_upheld": 0.2, "top_terms": '[{"feature": "f", "weight": 1}]'})["top_terms"] == [
        {"feature": "f", "weight": 1}
    ]
    assert normalize_output({"p_upheld": 0.2})["top_terms"] == []
    for bad in ({"p_upheld": float("nan")}, {"p_upheld": 1.5}, {"p_upheld": "x"}, {}):
        with pytest.raises(ModelOutputError):
            normalize_output(bad)


def test_parse_reasons_is_tolerant() -> None:
    assert parse_reasons(None) == []
    assert parse_reasons([{"code": "a"}, "junk", {"label": "B", "probability": float("inf")}]) == [
        {"code": "a", "label": "a", "probability": None},
        {"code": "", "label": "B", "probability": None},
    ]


def test_metrics_render_prometheus_text() -> None:
    metrics = Metrics()
    metrics.observe("POST", "/v1/prescreen", 200, 0.003)
    metrics.observe("POST", "/v1/prescreen", 422, 0.02)
    metrics.count_predictions("dwc", ["uncertain", "uncertain"])
    text = metrics.render(None)
    assert 'imr_requests_total{method="POST",route="/v1/prescreen",status="422"} 1' in text
    assert 'imr_request_duration_seconds_bucket{route="/v1/prescreen",le="0.005"} 1' in text
    assert 'imr_request_duration_seconds_bucket{route="/v1/prescreen",le="0.025"} 2' in text
    assert 'imr_request_duration_seconds_count{route="/v1/prescreen"} 2' in text
    assert 'imr_predictions_total{jurisdiction="dwc",band="uncertain"} 2' in text
    assert text.endswith("\n")


def test_metrics_of_several_workers_add_up(tmp_path: Path) -> None:
    """Each worker publishes its counters; whichever answers /metrics adds the others' latest snapshots."""
    one, other = Metrics(tmp_path), Metrics()
    one.observe("POST", "/v1/prescreen", 200, 0.003)
    one.count_predictions("dwc", ["uncertain"])
    other.observe("POST", "/v1/prescreen", 200, 0.02)
    other.observe("POST", "/v1/prescreen", 500, 0.2)
    other.count_predictions("dwc", ["uncertain", "likely_upheld"])
    (tmp_path / "worker-1.json").write_text(json.dumps(other.snapshot()), encoding="utf-8")  # another worker
    one.write_snapshot()  # its own file: never added to its own live counters a second time
    assert json.loads((tmp_path / f"worker-{os.getpid()}.json").read_text(encoding="utf-8")) == one.snapshot()
    text = one.render(None)
    assert 'imr_requests_total{method="POST",route="/v1/prescreen",status="200"} 2' in text
    assert 'imr_requests_total{method="POST",route="/v1/prescreen",status="500"} 1' in text
    assert 'imr_request_errors_total{route="/v1/prescreen",kind="server"} 1' in text
    assert 'imr_request_duration_seconds_bucket{route="/v1/prescreen",le="0.005"} 1' in text
    assert 'imr_request_duration_seconds_count{route="/v1/prescreen"} 3' in text
    assert 'imr_predictions_total{jurisdiction="dwc",band="uncertain"} 2' in text
    assert 'imr_predictions_total{jurisdiction="dwc",band="likely_upheld"} 1' in text
    (tmp_path / "worker-2.json").write_text("{not json", encoding="utf-8")  # a worker caught mid-write: skipped
    assert 'imr_request_duration_seconds_count{route="/v1/prescreen"} 3' in one.render(None)
    assert one.requests[("POST", "/v1/prescreen", "200")] == 1  # its own live counters are untouched
