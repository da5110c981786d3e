"""Smoke test: the real training entry on a small synthetic table, into a temporary tracking store.

Asserts what `make train` promises: one run per candidate with metrics and plots, the best eligible candidate
registered as imr-dwc with the alias champion, a metric floor, and that a failing gate leaves the old champion.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from features.dataset import DatasetMissingError
from tests.synthetic_items import write_items
from training.config import EXPERIMENTS_DIR
from training.train import run_training

pytestmark = pytest.mark.model


@pytest.fixture
def store(tmp_path: Path, _empty_tracking_db: Path) -> str:
    shutil.copy(_empty_tracking_db, tmp_path / "mlflow.db")  # migrated once per session: saves seconds per test
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def items(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "items.parquet"
    write_items(path, cases=60, dmhc_rows=20)
    return path


def _config(tmp_path: Path, tfidf_C: float = 1.0, **gates: Any) -> Path:
    data = yaml.safe_load((EXPERIMENTS_DIR / "smoke.yaml").read_text())
    data["gates"].update(gates)
    data["candidates"][1]["C"] = tfidf_C
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_train_registers_and_promotes_then_a_failed_gate_keeps_the_champion(
    tmp_path: Path, store: str, items: Path
) -> None:
    from mlflow import MlflowClient

    started = time.perf_counter()
    lines: list[str] = []
    result = run_training(EXPERIMENTS_DIR / "smoke.yaml", tracking_uri=store, data_path=items, say=lines.append)

    client = MlflowClient(store, store)
    assert result.jurisdiction == "dwc" and result.best in {"prior", "tfidf-lr"}
    assert result.registered_version == "1" and result.promoted
    champion = client.get_model_version_by_alias("imr-dwc", "champion")
    assert str(champion.version) == "1"
    assert champion.tags["data_digest"].startswith("sha256:") and champion.tags["git_commit"]
    assert "roc_auc" in champion.tags and champion.tags["gates"] == "passed"
    assert result.decision is not None
    assert {g.name for g in result.decision.gates} == {
        "eligible",
        "beats_champion",
        "beats_prior",
        "calibration",
        "behaviour_invariance",
        "behaviour_directional",
        "behaviour_minimum_functionality",
    }

    runs = client.search_runs([result.experiment_id])
    assert {r.info.run_name for r in runs} == {"prior", "tfidf-lr"}
    for run in runs:
        metrics = run.data.metrics
        assert {
            "roc_auc",
            "roc_auc_ci_low",
            "roc_auc_ci_high",
            "pr_auc_overturned",
            "brier",
            "ece",
            "balanced_accuracy",
            "temporal_roc_auc",
        } <= set(metrics)
        plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
        assert plots == {f"plots/{p}.png" for p in ("roc", "pr", "reliability", "confusion")}
        assert (
            run.inputs is not None and run.inputs.dataset_inputs
        )  # the dataset (with its digest) is logged with every run
    assert result.candidates["tfidf-lr"].metrics["roc_auc"].value > 0.6  # floor: the synthetic signal is easy

    # The champion loads by alias on its own and explains with reasons mined from the (synthetic) rationales.
    import json

    import mlflow

    loaded = mlflow.pyfunc.load_model("models:/imr-dwc@champion")
    [row] = loaded.unwrap_python_model().predict_records([{"item_text": "Norco", "summary": "chronic pain"}])
    codes = {r["code"] for r in json.loads(row["reasons"])}
    assert codes and codes <= {"no_functional_improvement", "quantity_unspecified", "criteria_not_met"}
    assert any("fold 2/2" in line for line in lines) and "DWC candidates" in result.table

    # A second training whose calibration gate cannot pass registers v2 but leaves the alias on v1.
    strict = run_training(_config(tmp_path, max_ece=0.0001), tracking_uri=store, data_path=items, say=lines.append)
    assert strict.registered_version == "2" and not strict.promoted
    assert strict.decision is not None and [g.name for g in strict.decision.failed] == ["calibration"]
    assert str(client.get_model_version_by_alias("imr-dwc", "champion").version) == "1"
    assert client.get_model_version("imr-dwc", "2").tags["gates"].startswith("failed: calibration")

    # A third training with another configuration re-evaluates the champion's own configuration on its folds.
    lines.clear()
    other = run_training(_config(tmp_path, tfidf_C=7.0), tracking_uri=store, data_path=items, say=lines.append)
    if result.best == "tfidf-lr":
        assert any("re-evaluating champion v1" in line for line in lines)
    assert other.decision is not None
    [champion_gate] = [g for g in other.decision.gates if g.name == "beats_champion"]
    assert "v1" in champion_gate.detail
    assert time.perf_counter() - started < 60


def test_missing_or_empty_dataset_is_a_clear_error(tmp_path: Path, store: str) -> None:
    with pytest.raises(DatasetMissingError, match="make data"):
        run_training(EXPERIMENTS_DIR / "smoke.yaml", tracking_uri=store, data_path=tmp_path / "none.parquet")
    only_dmhc = tmp_path / "dmhc.parquet"
    table = write_items(only_dmhc, cases=0, dmhc_rows=10)
    assert set(table["jurisdiction"]) == {"dmhc"}
    with pytest.raises(DatasetMissingError, match="no DWC items"):
        run_training(EXPERIMENTS_DIR / "smoke.yaml", tracking_uri=store, data_path=only_dmhc, say=lambda _: None)
