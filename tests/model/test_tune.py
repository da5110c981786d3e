"""Ray Tune over a candidate: trials on the training's grouped CV, nested MLflow runs, a valid tuned experiment file.

Runs on a tiny synthetic item table (invented text) with 2 samples on the shared local Ray.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from features.dataset import items_to_frame
from features.schema import Item
from tests.ray_session import ray_local_fixture  # noqa: F401 (provides the ray_local fixture)
from training.config import TfidfLRCandidate, load_config
from training.tune import (
    SEARCH_SPACES,
    Trial,
    TuningError,
    apply_params,
    best_trial,
    evaluate_candidate,
    prepare_data,
    tune_experiment,
)

pytestmark = pytest.mark.model

UPHELD = ["compounded topical cream", "norco quantity unspecified", "lidoderm patches", "soma muscle relaxant"]
OVERTURNED = ["physical therapy six sessions", "mri lumbar spine", "knee arthroscopy", "epidural injection L5"]
CONFIG: dict[str, Any] = {
    "jurisdiction": "dwc",
    "description": "tiny synthetic tuning test",
    "register": False,
    "cv": {"folds": 2, "repeats": 1, "seed": 3},
    "temporal": {"enabled": False},
    "evaluation": {"bootstrap": 0},
    "candidates": [
        {"name": "prior", "kind": "prior"},
        {
            "name": "tfidf-lr",
            "kind": "tfidf-lr",
            "calibration_folds": 2,
            "text": {"char_ngrams": None, "min_df": 1, "max_features": 500},
        },
    ],
}


def _items(cases: int = 24, seed: int = 5) -> list[Item]:
    rng = random.Random(seed)
    items: list[Item] = []
    for case in range(cases):
        upheld = case % 3 != 0
        for index in range(1 + case % 2):
            text = rng.choice(UPHELD if upheld else OVERTURNED)
            items.append(
                Item(
                    item_id=f"CM{case:04d}#{index}",
                    case_id=f"CM{case:04d}",
                    item_index=index,
                    jurisdiction="dwc",
                    source="synthetic.jsonl",
                    determination="Upheld" if upheld else "Overturned",
                    item_text=text,
                    summary=f"Patient with chronic pain, visit {case}. Request for {text}.",
                    rationale="invented rationale",
                )
            )
    return items


@pytest.fixture
def experiment(tmp_path: Path) -> tuple[Path, Path]:
    items = tmp_path / "items.parquet"
    items_to_frame(_items()).to_parquet(items, index=False)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    return config, items


def test_params_apply_and_validate() -> None:
    base = TfidfLRCandidate(name="tfidf-lr")
    tuned = apply_params(base, {"C": 0.5, "text.word_ngrams": [1, 3], "text.char_ngrams": None}, name="x-tuned")
    assert isinstance(tuned, TfidfLRCandidate)
    assert (tuned.C, tuned.text.word_ngrams, tuned.text.char_ngrams, tuned.name) == (0.5, (1, 3), None, "x-tuned")
    with pytest.raises(KeyError):
        apply_params(base, {"text.nonsense": 1})
    with pytest.raises(ValueError):
        apply_params(base, {"C": -1.0})
    assert "leakage-ceiling" not in SEARCH_SPACES


def test_best_trial_prefers_auc_then_brier_and_refuses_all_failed() -> None:
    trials = [
        Trial(0, {"C": 1}, {"roc_auc": 0.7, "brier": 0.2}),
        Trial(1, {"C": 2}, {"roc_auc": 0.8, "brier": 0.25}),
        Trial(2, {"C": 3}, {"roc_auc": 0.8, "brier": 0.21}),
        Trial(3, {"C": 4}, {}, "ValueError: boom"),
    ]
    assert best_trial(trials).number == 2
    with pytest.raises(TuningError, match="boom"):
        best_trial(trials[3:])


@pytest.mark.slow
def test_tuning_two_samples_logs_nested_runs_and_writes_a_trainable_config(
    experiment: tuple[Path, Path], tmp_path: Path, ray_local: Any
) -> None:
    from mlflow import MlflowClient

    config_path, items = experiment
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    output = tmp_path / "experiments" / "tiny-tuned.yaml"
    result = tune_experiment(config_path, "tfidf-lr", 2, uri, output, num_workers=2, items_path=items)

    # the written file is a valid experiment: the original candidates plus the tuned one, right after its source
    assert result.output_config == output
    tuned_config = load_config(output)
    assert [c.name for c in tuned_config.candidates] == ["prior", "tfidf-lr", "tfidf-lr-tuned"]
    tuned = tuned_config.candidate("tfidf-lr-tuned")
    expected = apply_params(load_config(config_path).candidate("tfidf-lr"), result.best.params, name=tuned.name)
    assert tuned.model_dump(exclude={"description"}) == expected.model_dump(exclude={"description"})
    assert "best of 2 trials" in tuned.description and result.parent_run_id in tuned.description
    assert tuned_config.cv == load_config(config_path).cv

    # each trial was scored with the training's grouped CV: re-evaluating the best setting gives the same numbers
    assert len(result.trials) == 2 and all(t.ok for t in result.trials)
    import pandas as pd

    data = prepare_data(load_config(config_path), pd.read_parquet(items), items)
    again = evaluate_candidate(tuned, data)
    # (a Ray worker runs BLAS on one thread: the solver's last digits may differ, the folds and ranking do not)
    assert again["roc_auc"] == pytest.approx(result.best.metrics["roc_auc"], abs=1e-3)
    assert again["brier"] == pytest.approx(result.best.metrics["brier"], rel=1e-3)

    # one parent run with one nested child run per trial
    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name("dwc").experiment_id
    runs = client.search_runs([experiment_id])
    parent = client.get_run(result.parent_run_id)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == result.parent_run_id]
    assert len(runs) == 3 and len(children) == 2
    assert parent.data.tags["imr.kind"] == "tuning"
    assert parent.data.metrics["best_roc_auc"] == pytest.approx(result.best.metrics["roc_auc"])
    assert {c.data.tags["trial"] for c in children} == {"0", "1"}
    assert all("roc_auc" in c.data.metrics and "C" in c.data.params for c in children)
    assert {c.info.status for c in children} == {"FINISHED"}
    assert [a.path for a in client.list_artifacts(result.parent_run_id, "experiment")] == ["experiment/tiny-tuned.yaml"]


def test_unknown_or_untunable_candidate(experiment: tuple[Path, Path], tmp_path: Path) -> None:
    config_path, items = experiment
    with pytest.raises(TuningError, match="no candidate"):
        tune_experiment(config_path, "nope", 2, f"sqlite:///{tmp_path / 'm.db'}", items_path=items)
    config = dict(CONFIG, candidates=[*CONFIG["candidates"], {"name": "ceiling", "kind": "leakage-ceiling"}])
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(TuningError, match="not tuned"):
        tune_experiment(config_path, "ceiling", 2, f"sqlite:///{tmp_path / 'm.db'}", items_path=items)
