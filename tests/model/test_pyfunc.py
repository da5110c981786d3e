"""The logged model loads on its own, takes raw request fields and keeps serving's output contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.view import view_frame
from tests.synthetic_items import synthetic_items
from training.candidates import Calibrated, RationaleSupervised, TextLR
from training.pyfunc import OUTPUT_COLUMNS, REQUEST_COLUMNS, PrescreenModel, build_metadata, input_schema, log_pyfunc

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def training_frame() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    items = synthetic_items(cases=48)
    X = view_frame(items)
    y = np.array([i.label for i in items])
    groups = np.array([i.case_id for i in items])
    rationale = np.array([i.rationale or "" for i in items], dtype=object)
    return X, y, groups, rationale


def _log_and_load(tmp_path: Path, empty_db: Path, estimator: object, threshold: float) -> object:
    import mlflow

    shutil.copy(empty_db, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("t", artifact_location=(tmp_path / "artifacts").as_uri())
    reasons = {
        "no_functional_improvement": "No documented functional improvement",
        "quantity_unspecified": "Quantity not stated",
    }
    with mlflow.start_run(experiment_id=experiment):
        info = log_pyfunc(estimator, build_metadata("dwc", "test", threshold, reasons), tmp_path / "work")
    return mlflow.pyfunc.load_model(info.model_uri)


def test_logged_model_scores_raw_requests(
    tmp_path: Path, _empty_tracking_db: Path, training_frame: tuple[Any, ...]
) -> None:
    X, y, groups, _ = training_frame
    estimator = Calibrated(TextLR(text={"char_ngrams": None, "min_df": 1}), folds=2).fit(X, y, groups)
    loaded = _log_and_load(tmp_path, _empty_tracking_db, estimator, threshold=float(y.mean()))

    requests = pd.DataFrame(
        [
            {
                "jurisdiction": "dwc",
                "item_text": "Compounded topical cream",
                "summary": "chronic low back pain for years",
            },
            {"jurisdiction": "dwc", "item_text": "Pre-operative labs: CBC", "summary": "the surgery was certified"},
        ]
    )
    out = loaded.predict(requests)  # type: ignore[attr-defined]
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert out["p_upheld"].between(0, 1).all()
    assert out["p_upheld"].iloc[0] != out["p_upheld"].iloc[1]  # two different texts, two different probabilities
    assert set(out["label"]) <= {"Upheld", "Overturned"}
    assert json.loads(out["reasons"].iloc[0]) == []  # no reason head in this model

    # Only item_text is required; report_year may be missing or null.
    minimal = loaded.predict(pd.DataFrame([{"item_text": "MRI of the right knee"}]))  # type: ignore[attr-defined]
    assert len(minimal) == 1

    # The fast path gives the same numbers as predict, without the DataFrame.
    model = loaded.unwrap_python_model()  # type: ignore[attr-defined]
    fast = model.predict_records([*requests.to_dict(orient="records"), {"item_text": "x", "report_year": None}])
    assert [round(r["p_upheld"], 10) for r in fast[:2]] == [round(p, 10) for p in out["p_upheld"]]
    assert model.metadata["labels"] == {"Upheld": 1, "Overturned": 0}
    assert model.predict_records([]) == []

    signature = loaded.metadata.get_input_schema()  # type: ignore[attr-defined]
    assert signature.input_names() == list(REQUEST_COLUMNS)
    assert signature.required_input_names() == ["item_text"]


def test_reasons_come_from_the_reason_head(training_frame: tuple[Any, ...]) -> None:
    X, y, groups, rationale = training_frame
    estimator = RationaleSupervised(text={"char_ngrams": None, "min_df": 1}, min_reason_count=2, stack_folds=2)
    estimator.fit(X, y, groups, rationale)
    model = PrescreenModel(estimator, build_metadata("dwc", "rs", 0.7, {"quantity_unspecified": "Quantity not stated"}))
    [row] = model.predict_records([{"jurisdiction": "dwc", "item_text": "Norco", "summary": "chronic pain"}])
    reasons = json.loads(row["reasons"])
    assert 1 <= len(reasons) <= 3
    assert [r["probability"] for r in reasons] == sorted((r["probability"] for r in reasons), reverse=True)
    assert {"code", "label", "probability"} == set(reasons[0])
    assert any(r["label"] == "Quantity not stated" for r in reasons) or reasons[0]["label"] == reasons[0]["code"]


def test_signature_has_one_column_per_request_field() -> None:
    schema = input_schema()
    assert len(schema.inputs) == len(REQUEST_COLUMNS) > 1


def test_logged_model_ships_similar_index_and_attribution(
    tmp_path: Path, _empty_tracking_db: Path, training_frame: tuple[Any, ...]
) -> None:
    import mlflow

    from features.dataset import items_to_frame

    items = synthetic_items(cases=48)
    X, y, groups, _ = training_frame
    estimator = Calibrated(TextLR(text={"char_ngrams": None, "min_df": 1}), folds=2).fit(X, y, groups)
    shutil.copy(_empty_tracking_db, tmp_path / "mlflow.db")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.create_experiment("s", artifact_location=(tmp_path / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = log_pyfunc(
            estimator,
            build_metadata("dwc", "test", float(y.mean()), {}),
            tmp_path / "work",
            similar_table=items_to_frame(items),
        )
    model = mlflow.pyfunc.load_model(info.model_uri).unwrap_python_model()
    request = {"jurisdiction": "dwc", "item_text": items[0].item_text, "summary": items[0].summary}
    [row] = model.predict_records([request])
    assert row["top_terms"], "a linear champion explains itself with its own features"
    assert all(t["feature"] and t["weight"] != 0 for t in row["top_terms"])
    assert all("char" not in t["feature"] for t in row["top_terms"])
    [hits] = model.similar([request], k=3)
    assert 1 <= len(hits) <= 3
    assert {"item_text", "determination", "case_id", "rationale_excerpt"} <= set(hits[0])
