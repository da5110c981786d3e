"""Every route of the API, on the fake champions (see tests/conftest.py)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from serving.schemas import BatchOut, LetterOut, ModelsOut, PageConfig, PrescreenOut, Readiness
from tests.letter_text import LETTER, make_pdf

pytestmark = pytest.mark.api

SUMMARY = "The patient has chronic low back pain after a lifting injury with reduced lumbar flexion and spasm."


def case(*items: str, jurisdiction: str = "dwc", **extra: Any) -> dict[str, Any]:
    return {"jurisdiction": jurisdiction, "summary": SUMMARY, "items": [{"item_text": t} for t in items], **extra}


def test_healthz(api_client: Any) -> None:
    response = api_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_champion(api_client: Any) -> None:
    response = api_client.get("/readyz")
    assert response.status_code == 200
    body = Readiness.model_validate(response.json())
    assert body.ready
    assert {j: m["source"] for j, m in body.models.items()} == {"dwc": "registry", "dmhc": "registry"}


def test_prescreen_scores_each_item_in_order(api_client: Any) -> None:
    response = api_client.post(
        "/v1/prescreen", json=case("Compounded topical cream", "MRI of the lumbar spine", "Follow-up visit")
    )
    assert response.status_code == 200, response.text
    body = PrescreenOut.model_validate(response.json())
    assert [i.index for i in body.items] == [0, 1, 2]
    assert [i.p_upheld for i in body.items] == [0.85, 0.15, 0.5]
    assert [i.band for i in body.items] == ["likely_upheld", "likely_overturned", "uncertain"]
    # The band is the only verdict: "uncertain" has no label.
    assert [i.label for i in body.items] == ["Upheld", "Overturned", None]
    assert body.items[0].reasons[0].code == "quantity_unspecified"
    assert body.model.name == "imr-dwc" and body.model.version == "1" and body.model.source == "registry"
    assert response.headers["x-request-id"] == body.request_id
    assert response.headers["cache-control"] == "no-store"


def test_prescreen_thin_item_is_insufficient_not_scored(api_client: Any) -> None:
    response = api_client.post("/v1/prescreen", json={"jurisdiction": "dwc", "items": [{"item_text": "therapy"}]})
    assert response.status_code == 200
    item = response.json()["items"][0]
    assert item["band"] == "insufficient_information"
    assert item["p_upheld"] is None and item["label"] is None
    assert item["missing_information"]


def test_prescreen_uses_the_jurisdictions_champion(api_client: Any) -> None:
    response = api_client.post("/v1/prescreen", json=case("MRI of the knee", jurisdiction="dmhc"))
    assert response.status_code == 200
    assert response.json()["model"]["name"] == "imr-dmhc"


def test_request_id_is_kept_when_sane(api_client: Any) -> None:
    response = api_client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    response = api_client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert response.headers["x-request-id"] != "bad id with spaces"


def test_batch_json_keeps_order_and_reports_a_bad_row(api_client: Any) -> None:
    rows = [
        case("Compounded topical cream"),
        {"jurisdiction": "nowhere", "items": [{"item_text": "MRI"}]},
        case("MRI of the lumbar spine", "Norco 10/325"),
    ]
    response = api_client.post("/v1/prescreen/batch", json=rows)
    assert response.status_code == 200, response.text
    body = BatchOut.model_validate(response.json())
    assert (body.count, body.failed) == (3, 1)
    assert [r.ok for r in body.results] == [True, False, True]
    assert [r.index for r in body.results] == [0, 1, 2]
    assert body.results[1].errors[0].field == "jurisdiction"
    assert body.results[0].result is not None and body.results[0].result.items[0].p_upheld == 0.85
    third = body.results[2].result
    assert third is not None and [i.p_upheld for i in third.items] == [0.15, 0.85]
    assert [i.index for i in third.items] == [0, 1]


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["jurisdiction", "item_text", "summary", "report_year"])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


CSV_ROWS = [
    {"jurisdiction": "dwc", "item_text": "Compounded topical cream", "summary": SUMMARY, "report_year": "2015"},
    {"jurisdiction": "dwc", "item_text": "", "summary": SUMMARY, "report_year": ""},
    {"jurisdiction": "dmhc", "item_text": "MRI of the lumbar spine", "summary": SUMMARY, "report_year": "not a year"},
    {"jurisdiction": "dmhc", "item_text": "MRI of the lumbar spine", "summary": SUMMARY, "report_year": ""},
]


def test_batch_csv_body(api_client: Any) -> None:
    response = api_client.post(
        "/v1/prescreen/batch", content=_csv(CSV_ROWS).encode(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    body = BatchOut.model_validate(response.json())
    assert [r.ok for r in body.results] == [True, False, False, True]
    assert body.results[1].errors[0].field == "item_text"
    assert body.results[2].errors[0].field == "report_year"
    last = body.results[3].result
    assert last is not None and last.model.name == "imr-dmhc" and last.items[0].p_upheld == 0.15


def test_batch_csv_upload(api_client: Any) -> None:
    files = {"file": ("items.csv", _csv(CSV_ROWS[:1]).encode(), "text/csv")}
    response = api_client.post("/v1/prescreen/batch", files=files)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["result"]["items"][0]["p_upheld"] == 0.85


def test_letter_text_upload_shows_predicted_and_actual(api_client: Any) -> None:
    files = {"file": ("cm99-42.txt", LETTER.encode(), "text/plain")}
    response = api_client.post("/v1/letters", files=files)
    assert response.status_code == 200, response.text
    body = LetterOut.model_validate(response.json())
    # The answer keeps the upload's own name (it goes back to whoever sent it; errors and logs never repeat it).
    assert body.case_id == "CM99-0000042" and body.source == "cm99-42.txt"
    assert [i.actual for i in body.items] == ["Upheld", "Overturned"]
    assert [i.prediction.p_upheld for i in body.items] == [0.85, 0.15]
    assert [i.agrees for i in body.items] == [True, True]


def test_letter_in_cp1252(api_client: Any) -> None:
    """Letters exported by older tools are often Windows-1252, not UTF-8: the parser decodes them."""
    data = LETTER.replace("bus mechanic", "bus mechanic at the depot’s café").encode("cp1252")
    response = api_client.post("/v1/letters", files={"file": ("old.txt", data, "text/plain")})
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 2


def test_letter_pdf_body(api_client: Any) -> None:
    response = api_client.post("/v1/letters", content=make_pdf(LETTER), headers={"Content-Type": "application/pdf"})
    assert response.status_code == 200, response.text
    assert [i["actual"] for i in response.json()["items"]] == ["Upheld", "Overturned"]


def test_letter_parser_never_sees_more_than_the_view(api_client: Any) -> None:
    """The model gets the request fields of each parsed item, never the reviewer's rationale."""
    from serving.scoring import REQUEST_FIELDS, record_from

    record = record_from({"item_text": "MRI", "rationale": "the reviewer's words", "determination": "Upheld"})
    assert set(record) == set(REQUEST_FIELDS)
    assert "rationale" not in record and "determination" not in record


def test_models_lists_versions_metrics_and_plots(api_client: Any) -> None:
    response = api_client.get("/v1/models")
    assert response.status_code == 200
    body = ModelsOut.model_validate(response.json())
    dwc = next(m for m in body.models if m.jurisdiction == "dwc")
    assert dwc.loaded and dwc.version == "1" and dwc.source == "registry"
    assert dwc.data_digest == "sha256:fakedwc" and dwc.git_commit == "0123456789abcdef"
    assert dwc.trained_at is not None
    auc = dwc.metrics["roc_auc"]
    assert (auc.value, auc.ci_low, auc.ci_high) == (0.81, 0.74, 0.87)
    assert "roc_auc_ci_low" not in dwc.metrics and dwc.metrics["brier"].value == 0.19
    assert set(dwc.plots) == {"roc", "pr", "reliability", "confusion"}
    plot = api_client.get(dwc.plots["roc"])
    assert plot.status_code == 200
    assert plot.headers["content-type"] == "image/png" and plot.content.startswith(b"\x89PNG")


@pytest.mark.parametrize("name", ["nope.png", "..%2Fchampion.json", "champion.json"])
def test_unknown_plot_is_404(api_client: Any, name: str) -> None:
    response = api_client.get(f"/v1/models/dwc/plots/{name}")
    assert response.status_code == 404
    assert set(response.json()) == {"errors", "request_id"}


def test_metrics_prometheus_text(api_client: Any) -> None:
    api_client.post("/v1/prescreen", json=case("MRI of the lumbar spine"))
    api_client.post("/v1/prescreen", content=b"{", headers={"Content-Type": "application/json"})
    text = api_client.get("/metrics").text
    assert 'imr_requests_total{method="POST",route="/v1/prescreen",status="200"} 1' in text
    assert 'imr_request_errors_total{route="/v1/prescreen",kind="client"} 1' in text
    assert 'imr_request_duration_seconds_bucket{route="/v1/prescreen",le="+Inf"} 2' in text
    assert 'imr_model_info{jurisdiction="dwc",name="imr-dwc",version="1",source="registry"} 1' in text
    assert 'imr_predictions_total{jurisdiction="dwc",band="likely_overturned"} 1' in text
    assert "# TYPE imr_request_duration_seconds histogram" in text


def test_ui_config(api_client: Any) -> None:
    body = PageConfig.model_validate(api_client.get("/ui-config").json())
    assert body.jurisdictions == ["dwc", "dmhc"] and not body.auth_required and body.max_items == 21


def test_page_and_assets(api_client: Any) -> None:
    page = api_client.get("/")
    assert page.status_code == 200 and "IMR Prescreen" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset, kind in (("/page/app.js", "javascript"), ("/page/style.css", "text/css")):
        response = api_client.get(asset)
        assert response.status_code == 200 and kind in response.headers["content-type"]


def test_openapi_documents_every_route_with_examples(api_client: Any) -> None:
    spec = api_client.get("/openapi.json").json()
    operations = [(path, op) for path, ops in spec["paths"].items() for op in ops.values()]
    assert {p for p, _ in operations} >= {
        "/v1/prescreen",
        "/v1/prescreen/batch",
        "/v1/letters",
        "/v1/models",
        "/v1/admin/reload",
        "/healthz",
        "/readyz",
        "/metrics",
    }
    for path, op in operations:
        assert op.get("description"), f"{path} has no docstring"
    assert spec["components"]["schemas"]["PrescreenIn"]["examples"]
    assert "X-API-Key" in str(spec["components"]["securitySchemes"])
    assert "text/csv" in spec["paths"]["/v1/prescreen/batch"]["post"]["requestBody"]["content"]


def test_unknown_route_and_method_have_the_error_shape(api_client: Any) -> None:
    response = api_client.get("/v1/nothing-here")
    assert response.status_code == 404 and response.json()["errors"][0]["field"] == "path"
    response = api_client.delete("/v1/prescreen")
    assert response.status_code == 405 and response.json()["errors"][0]["field"] == "method"
