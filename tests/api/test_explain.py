"""Explanations in the API: checklist, reasons in words, top terms, similar past determinations, what-if, explain=false,
and a model without (or with a broken) ``similar`` / ``top_terms``."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from features.reasons import REASONS
from serving.app import create_app
from serving.champions import Champion, ChampionStore
from serving.logs import JsonFormatter
from serving.models import load_pyfunc
from serving.schemas import EXAMPLE_CASE, EXAMPLE_ITEM_RESULT, BatchOut, LetterOut, PrescreenIn, PrescreenOut
from serving.scoring import case_records
from tests.conftest import FakeRegistry, make_settings
from tests.letter_text import LETTER

pytestmark = pytest.mark.api

SUMMARY = "The patient has chronic low back pain after a lifting injury with reduced lumbar flexion and spasm."
PT = "Physical therapy lumbar spine"
PT_DOSED = "Physical therapy lumbar spine 2 times a week for 6 weeks"
MARKER = "OSPREY-MARZIPAN-7731"


def case(*items: str, **extra: Any) -> dict[str, Any]:
    return {"jurisdiction": "dwc", "summary": SUMMARY, "items": [{"item_text": t} for t in items], **extra}


def only_item(client: TestClient, item: str, params: str = "") -> dict[str, Any]:
    response = client.post(f"/v1/prescreen{params}", json=case(item))
    assert response.status_code == 200, response.text
    PrescreenOut.model_validate(response.json())
    result: dict[str, Any] = response.json()["items"][0]
    return result


def checks(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["code"]: c for c in result["checklist"]}


def test_checklist_says_what_is_missing_and_how_to_fix_it(api_client: TestClient) -> None:
    result = only_item(api_client, PT)
    quantity = checks(result)["quantity_stated"]
    assert quantity["status"] == "missing" and quantity["evidence"] is None
    assert "2 times a week for 6 weeks" in quantity["advice"]
    assert quantity["reason_code"] == "quantity_unspecified"
    body_part = checks(result)["body_part_stated"]
    assert (body_part["status"], body_part["evidence"], body_part["evidence_in"]) == ("passed", "lumbar", "item_text")
    assert all(c["status"] in ("passed", "missing") for c in result["checklist"])  # not_applicable left out
    assert "opioid_monitoring" not in checks(result)


def test_what_if_stating_the_sessions_flips_the_quantity_check_and_the_probability(api_client: TestClient) -> None:
    before, after = only_item(api_client, PT), only_item(api_client, PT_DOSED)
    assert (before["p_upheld"], after["p_upheld"]) == (0.5, 0.15)
    quantity = checks(after)["quantity_stated"]
    assert quantity["status"] == "passed"
    assert (quantity["evidence"], quantity["evidence_in"]) == ("2 times a week for 6 weeks", "item_text")
    assert "quantity_unspecified" in [r["code"] for r in before["reasons"]]
    assert "quantity_unspecified" not in [r["code"] for r in after["reasons"]]


def test_reasons_merge_the_model_and_the_checklist_in_plain_words(api_client: TestClient) -> None:
    result = only_item(api_client, "Physical therapy lumbar spine, quantity unspecified")
    first = result["reasons"][0]
    assert first["code"] == "quantity_unspecified" and first["source"] == "model"
    assert first["label"] == REASONS["quantity_unspecified"]  # the taxonomy's words, not the model's label
    assert first["probability"] == 0.7
    assert first["checks"] == ["quantity_stated"]  # a failed check confirms it
    assert [r["code"] for r in result["reasons"]].count("quantity_unspecified") == 1
    overturned = only_item(api_client, "MRI of the lumbar spine")
    by_code = {r["code"]: r for r in overturned["reasons"]}
    assert by_code["guideline_met"]["source"] == "model"  # a code outside the taxonomy keeps the model's words
    assert by_code["guideline_met"]["label"] == "Request matches the guideline"
    imaging = by_code["no_red_flags_imaging"]
    assert (imaging["source"], imaging["probability"], imaging["checks"]) == ("checklist", None, ["objective_findings"])
    assert imaging["label"] == REASONS["no_red_flags_imaging"]


def test_top_terms_are_the_models_attribution_made_readable(api_client: TestClient) -> None:
    result = only_item(api_client, "MRI of the lumbar spine")
    assert result["top_terms"] == [
        {"feature": "item_text__mri", "label": "mri", "weight": -0.9, "toward": "overturned"}
    ]


def test_similar_past_determinations(api_client: TestClient) -> None:
    result = only_item(api_client, "Compounded topical cream with flurbiprofen")
    hits = result["similar"]
    assert len(hits) == 5  # SIMILAR_K
    first = hits[0]
    assert first["case_id"] == "CM15-0000202" and first["determination"] == "Upheld"
    assert first["decision_date"] == "2015-09-14" and first["similarity"] == 1.0
    assert first["item_text"] == "Compounded topical cream with flurbiprofen"
    assert first["rationale_excerpt"].startswith("Any compounded product")
    assert first["reviewer_guideline"] == "MTUS Chronic Pain Topical Analgesics"
    assert [h["similarity"] for h in hits] == sorted((h["similarity"] for h in hits), reverse=True)


def test_thin_item_still_gets_its_checklist_but_no_model_explanations(api_client: TestClient) -> None:
    response = api_client.post(
        "/v1/prescreen", json={"jurisdiction": "dwc", "items": [{"item_text": "physical therapy"}]}
    )
    result = response.json()["items"][0]
    assert result["band"] == "insufficient_information"
    assert checks(result)["quantity_stated"]["status"] == "missing"
    assert {r["source"] for r in result["reasons"]} == {"checklist"}
    assert result["similar"] == [] and result["top_terms"] == []


def test_explain_false_skips_explanations(api_client: TestClient) -> None:
    result = only_item(api_client, "Physical therapy lumbar spine, quantity unspecified", "?explain=false")
    assert result["checklist"] == [] and result["similar"] == [] and result["top_terms"] == []
    assert [(r["code"], r["source"], r["checks"]) for r in result["reasons"]] == [("quantity_unspecified", "model", [])]
    assert result["p_upheld"] == 0.85


def test_batch_items_are_explained_unless_told_not_to(api_client: TestClient) -> None:
    rows = [case(PT_DOSED), case("Compounded topical cream", "MRI of the lumbar spine")]
    body = BatchOut.model_validate(api_client.post("/v1/prescreen/batch", json=rows).json())
    results = [r.result for r in body.results]
    assert all(r is not None for r in results)
    assert results[0] is not None and results[0].items[0].similar and results[0].items[0].checklist
    assert results[1] is not None and [len(i.similar) for i in results[1].items] == [5, 5]
    bare = api_client.post("/v1/prescreen/batch?explain=false", json=rows).json()
    for row in bare["results"]:
        for item in row["result"]["items"]:
            assert item["checklist"] == [] and item["similar"] == [] and item["top_terms"] == []


def test_letter_items_are_explained_without_the_letters_own_case_or_later_decisions(api_client: TestClient) -> None:
    response = api_client.post("/v1/letters", files={"file": ("cm99-42.txt", LETTER.encode(), "text/plain")})
    assert response.status_code == 200, response.text
    body = LetterOut.model_validate(response.json())
    for item in body.items:
        prediction = item.prediction
        assert prediction.checklist and prediction.reasons
        cases = [h.case_id for h in prediction.similar]
        assert cases, item.item_text
        assert "CM99-0000042" not in cases  # the letter's own case
        assert "CM17-0000303" not in cases  # decided after the letter (2016-03-28)
        assert all(h.decision_date is not None and h.decision_date < "2016-03-28" for h in prediction.similar)
    mri = body.items[1].prediction
    assert {c.code: c.status for c in mri.checklist}["body_part_stated"] == "passed"


def test_similar_k_setting(fake_registry: FakeRegistry, tmp_path: Path) -> None:
    for k, expected in ((2, 2), (0, 0)):
        settings = make_settings(fake_registry.uri, tmp_path / f"models-{k}", similar_k=k)
        with TestClient(create_app(settings)) as client:
            assert len(only_item(client, "MRI of the lumbar spine")["similar"]) == expected


# -- a model without similar() / top_terms, or with broken ones ---------------------------------------------------


def _plain_predictor(records: list[dict[str, Any]]) -> list[Mapping[str, Any]]:
    return [{"p_upheld": 0.42, "label": "Overturned", "reasons": "[]"} for _ in records]


@pytest.fixture
def swap_dwc(api_client: TestClient) -> Iterator[Any]:
    """Serve another champion for dwc in this test's app."""
    store = api_client.app.state.services.store  # type: ignore[attr-defined]
    original = store.get("dwc")

    def swap(**changes: Any) -> None:
        store.install("dwc", replace(original, **changes))

    yield swap
    store.install("dwc", original)


def test_a_model_without_similar_or_top_terms_still_answers_with_the_checklist(
    api_client: TestClient, swap_dwc: Any
) -> None:
    swap_dwc(predictor=_plain_predictor, similar=None)
    result = only_item(api_client, PT)
    assert result["p_upheld"] == 0.42
    assert result["similar"] == [] and result["top_terms"] == []
    assert checks(result)["quantity_stated"]["status"] == "missing"
    assert {r["source"] for r in result["reasons"]} == {"checklist"}
    assert "quantity_unspecified" in [r["code"] for r in result["reasons"]]


def test_malformed_model_explanations_are_dropped(api_client: TestClient, swap_dwc: Any) -> None:
    def predictor(records: list[dict[str, Any]]) -> list[Mapping[str, Any]]:
        terms = [{"feature": "ok", "weight": 0.3}, {"feature": "", "weight": 1}, {"feature": "x", "weight": "nan"}, 7]
        return [{"p_upheld": 0.6, "reasons": "[]", "top_terms": terms} for _ in records]

    def similar(records: list[dict[str, Any]], k: int = 5) -> list[list[Any]]:
        good = {"item_text": "MRI", "determination": "Upheld", "case_id": "CM1", "decision_date": "2015-01-01"}
        return [[{"item_text": "no outcome"}, "junk", good, {**good, "determination": "Maybe"}] for _ in records]

    swap_dwc(predictor=predictor, similar=similar)
    result = only_item(api_client, "MRI of the lumbar spine")
    assert [t["feature"] for t in result["top_terms"]] == ["ok"]
    assert [h["case_id"] for h in result["similar"]] == ["CM1"]


def test_a_failing_similar_is_logged_by_type_without_request_text(
    api_client: TestClient, swap_dwc: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def similar(records: list[dict[str, Any]], k: int = 5) -> list[list[Any]]:
        raise ValueError(f"cannot index {records[0]['item_text']}")

    original = api_client.app.state.services.store.get("dwc")  # type: ignore[attr-defined]
    swap_dwc(similar=similar)
    caplog.set_level(logging.DEBUG)
    result = only_item(api_client, f"MRI of the lumbar spine {MARKER}")
    assert result["similar"] == [] and result["p_upheld"] == 0.15 and result["checklist"]
    lines = [JsonFormatter().format(r) for r in caplog.records]
    assert any('"exc_type":"ValueError"' in line and original.ref in line for line in lines)
    assert all(MARKER not in line for line in lines)
    swap_dwc(similar=lambda records, k=5: [[] for _ in range(len(records) + 1)])  # wrong number of lists
    assert only_item(api_client, "MRI of the lumbar spine")["similar"] == []


def test_a_registered_model_without_explanations(fresh_fake_registry: FakeRegistry, tmp_path: Path) -> None:
    """Through MLflow: a pyfunc that ships no index (similar() answers empty lists) and no top_terms loads and serves
    the checklist."""
    fresh_fake_registry.register("dwc", explain=False)
    with TestClient(create_app(make_settings(fresh_fake_registry.uri, tmp_path / "models"))) as client:
        champion: Champion = client.app.state.services.store.get("dwc")  # type: ignore[attr-defined]
        assert champion.info.version == "2" and champion.similar is not None
        result = only_item(client, PT_DOSED)
        assert result["p_upheld"] == 0.15 and result["similar"] == [] and result["top_terms"] == []
        assert checks(result)["quantity_stated"]["status"] == "passed"


class NotServed:
    """A python model that breaks the contract: it predicts but cannot find similar past determinations."""

    def predict_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"p_upheld": 0.5} for _ in records]


def test_a_model_that_breaks_the_contract_is_refused_with_a_clear_error(
    fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    """A loaded model that is not a ``features.contract.ServedModel`` is never served; /v1/models says why."""
    settings = make_settings(fake_registry.uri, tmp_path / "models")
    with TestClient(create_app(settings, ChampionStore(settings, loader=lambda path: NotServed()))) as client:
        assert client.app.state.services.store.get("dwc") is None  # type: ignore[attr-defined]
        [dwc] = [m for m in client.get("/v1/models").json()["models"] if m["jurisdiction"] == "dwc"]
        assert "ModelContractError" in dwc["last_error"] and "ServedModel" in dwc["last_error"]
        assert "NotServed" in dwc["last_error"]


def test_a_model_whose_similar_fails_at_load_serves_without_it(fake_registry: FakeRegistry, tmp_path: Path) -> None:
    def broken(records: list[dict[str, Any]], k: int = 5) -> Any:
        raise RuntimeError("index missing")

    def loader(path: Path) -> Any:
        loaded = load_pyfunc(path)
        loaded.unwrap_python_model().similar = broken
        return loaded

    settings = make_settings(fake_registry.uri, tmp_path / "models")
    with TestClient(create_app(settings, ChampionStore(settings, loader=loader))) as client:
        champion = client.app.state.services.store.get("dwc")  # type: ignore[attr-defined]
        assert champion is not None and champion.similar is None
        assert only_item(client, PT)["p_upheld"] == 0.5


# -- documentation ------------------------------------------------------------------------------------------------


def test_openapi_documents_the_explanations(api_client: TestClient) -> None:
    spec = api_client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"CheckOut", "TopTerm", "SimilarDetermination", "Reason"} <= set(schemas)
    example = schemas["PrescreenOut"]["examples"][0]
    PrescreenOut.model_validate(example)
    for path in ("/v1/prescreen", "/v1/prescreen/batch", "/v1/letters"):
        params = {p["name"]: p for p in spec["paths"][path]["post"].get("parameters", [])}
        assert params["explain"]["in"] == "query" and params["explain"]["schema"]["default"] is True, path


def test_the_example_checklist_is_what_the_checklist_gives(api_client: TestClient) -> None:
    record = case_records(PrescreenIn.model_validate(EXAMPLE_CASE))[0]
    response = api_client.post("/v1/prescreen", json={**EXAMPLE_CASE, "items": [EXAMPLE_CASE["items"][0]]})
    served = checks(response.json()["items"][0])
    assert record["item_text"] == EXAMPLE_CASE["items"][0]["item_text"]
    for check in EXAMPLE_ITEM_RESULT["checklist"]:
        assert served[check["code"]] == check


def test_docs_is_a_page_of_our_own_without_a_cdn(api_client: TestClient) -> None:
    page = api_client.get("/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert api_client.get("/page/docs.js").status_code == 200
    assert api_client.get("/redoc").status_code == 404


def test_every_estimate_comes_with_its_interval_prior_and_base_rate(api_client: TestClient) -> None:
    result = only_item(api_client, "Norco quantity unspecified")
    assert result["p_low"] <= result["p_upheld"] <= result["p_high"]
    assert result["prior"] == 0.9 and result["base_rate"] == 0.89


def test_ranked_fixes_never_promise_more_than_the_item_and_come_biggest_first(api_client: TestClient) -> None:
    result = only_item(api_client, "Norco quantity unspecified")
    fixes = result["fixes"]
    assert [f["check"] for f in fixes] == ["quantity_stated", "guideline_named"]
    assert fixes[0]["p_after"] == pytest.approx(result["p_upheld"] - 0.2) and fixes[0]["changes_estimate"]
    assert fixes[1]["p_after"] == result["p_upheld"] and not fixes[1]["changes_estimate"]
    assert all(f["p_after"] <= result["p_upheld"] for f in fixes)
    assert result["p_all_fixed"] <= result["p_upheld"]
    assert result["attributions"][0]["direction"] == "raises"


def test_the_band_is_the_only_verdict(api_client: TestClient) -> None:
    expected = {"likely_upheld": "Upheld", "likely_overturned": "Overturned", "uncertain": None}
    for item in ("Norco quantity unspecified", "MRI of the lumbar spine", "Acupuncture for the neck"):
        result = only_item(api_client, item)
        assert result["label"] == expected[result["band"]], item
    bands = api_client.get("/v1/models").json()["bands"]
    assert bands == {"upheld_min": 0.65, "overturned_max": 0.35}


def test_an_item_the_model_cannot_judge_is_insufficient_with_the_reason(api_client: TestClient) -> None:
    result = only_item(api_client, "Physicaltherapy " * 40)
    assert result["band"] == "insufficient_information" and result["label"] is None
    assert result["missing_information"] == ["The item text names no treatment."]


def test_an_item_unlike_any_past_determination_cannot_be_judged(api_client: TestClient) -> None:
    from serving.scoring import UNLIKE_ANYTHING

    result = only_item(api_client, "Xyzzy plugh treatment")
    assert result["band"] == "insufficient_information" and result["label"] is None
    assert UNLIKE_ANYTHING in result["missing_information"]
    assert result["p_upheld"] is not None  # the estimate is still shown, as context
    assert only_item(api_client, "Xyzzy plugh treatment", "?explain=false")["band"] != "insufficient_information"
