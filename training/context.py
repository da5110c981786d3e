"""What one training run works on: the experiment's data, its folds, and what each candidate's run produced.

:class:`RunContext` is built once per experiment by ``training.train`` and handed to every step (evaluate a
candidate, fit and check it, choose and register), instead of each step taking the same ten arguments.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.dataset import DatasetMissingError
from features.schema import LABELS
from features.view import assert_no_leaks, view_frame
from training import behaviour
from training.coherence import CoherenceResult
from training.config import Candidate, ExperimentConfig
from training.evaluate import Estimate, HoldoutResult
from training.splits import Fold

#: Where progress messages go (``print`` on the command line, a list's ``append`` in tests).
Say = Callable[[str], None]


@dataclass
class TrainingData:
    """The rows of one jurisdiction: the item table, the leak-checked view frame, labels, case groups, rationales."""

    table: pd.DataFrame
    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    rationale: np.ndarray
    item_ids: list[str]

    def subset(self, index: np.ndarray) -> TrainingData:
        """The rows at ``index`` (e.g. the earlier cases of a held-out temporal split)."""
        rows = self.table.iloc[index].reset_index(drop=True)
        return TrainingData(
            rows,
            self.X.iloc[index].reset_index(drop=True),
            self.y[index],
            self.groups[index],
            self.rationale[index],
            [self.item_ids[i] for i in index],
        )


def prepare(table: pd.DataFrame, config: ExperimentConfig, source: Path) -> TrainingData:
    """The jurisdiction's rows, the view frame (leak-scanned), labels, case groups and rationales."""
    rows = table[table["jurisdiction"].astype(str) == config.jurisdiction]
    rows = rows[rows["determination"].astype(str).isin(list(LABELS))].reset_index(drop=True)
    if rows.empty:
        raise DatasetMissingError(
            f"The item table at {source} has no {config.jurisdiction.upper()} items. Add {config.jurisdiction} "
            "sources and rebuild it with `make data`."
        )
    if config.max_rows is not None and len(rows) > config.max_rows:
        rows = _sample_cases(rows, config.max_rows, config.cv.seed)
    X = view_frame(rows)
    assert_no_leaks(X, ids=rows["item_id"].astype(str).tolist())
    y = rows["determination"].astype(str).map(LABELS).to_numpy(dtype=int)
    if len(np.unique(y)) < 2:
        raise DatasetMissingError(
            f"All {len(y)} {config.jurisdiction.upper()} items in {source} have the same determination; "
            "training needs both Upheld and Overturned items."
        )
    groups = rows["case_id"].astype(str).to_numpy()
    rationale = np.array(
        [r if isinstance(r, str) else "" for r in rows.get("rationale", pd.Series([""] * len(rows))).tolist()],
        dtype=object,
    )
    return TrainingData(rows, X, y, groups, rationale, rows["item_id"].astype(str).tolist())


def _sample_cases(rows: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """A random subset of whole cases, stratified by whether the case has an overturned item."""
    case_label = rows.groupby("case_id")["determination"].agg(lambda s: "Overturned" in set(s.astype(str)))
    rng = np.random.default_rng(seed)
    fraction = max_rows / len(rows)
    keep: list[Any] = []
    for _, cases in case_label.groupby(case_label):
        ids = cases.index.to_numpy()
        n = max(2, round(len(ids) * fraction))
        keep.extend(rng.choice(ids, size=min(n, len(ids)), replace=False))
    return rows[rows["case_id"].isin(keep)].reset_index(drop=True)


def config_key(spec: Candidate | dict[str, Any]) -> str:
    """A candidate configuration as a stable key (the same settings give the same key, whatever their name order)."""
    payload = spec if isinstance(spec, dict) else spec.model_dump(mode="json")
    return json.dumps(payload, sort_keys=True)


@dataclass
class RunContext:
    """Everything a candidate's run reads that is the same for every candidate of the experiment."""

    config: ExperimentConfig
    #: All rows (the final fit, the temporal test) and the rows cross-validated (``data``, or its earlier cases).
    data: TrainingData
    dev: TrainingData
    folds: list[Fold]
    #: Train and test row indices of the temporal split, or None without one.
    temporal: tuple[np.ndarray, np.ndarray] | None
    experiment_id: str
    #: MLflow run tags every candidate's run carries (jurisdiction, data digest, commit, config file).
    tags: dict[str, str]
    #: The MLflow dataset input logged with every run.
    dataset: Any
    workdir: Path
    say: Say

    @property
    def jurisdiction(self) -> str:
        return self.config.jurisdiction


@dataclass
class CandidateOutcome:
    """What one candidate's run produced."""

    name: str
    kind: str
    eligible: bool
    run_id: str
    metrics: dict[str, Estimate]
    temporal: dict[str, Estimate] | None
    cv_seconds: float
    fit_seconds: float
    model_uri: str | None
    #: The whole run: CV, temporal split, plots, final fit, behavioural checks and logging the model.
    total_seconds: float = 0.0
    behaviour: list[behaviour.BehaviourResult] = field(default_factory=list)
    #: Predictions on the temporal test (fitted on the earlier cases), for the gates.
    holdout: HoldoutResult | None = None
    coherence: CoherenceResult | None = None
