"""Behavioural tests of the default candidates trained on the real item table (built from ../shared if absent).

Written as tables in the style of Made-With-ML's ``tests/model/test_behavioral.py``: one parametrised test per
kind of expectation, one row per perturbation, pair or jurisdiction, so a failure names the case that broke. The
rows are :mod:`training.behaviour`'s own tables, the same ones that gate promotion in `make train`; here they run
on their own so a regression in features or candidates shows up in `make test` without a full training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.dataset import build_dataset, load_items
from features.paths import items_path, shared_dir
from features.schema import LABELS
from features.view import view_frame
from training import behaviour
from training.candidates import build_candidate
from training.config import DEFAULT_CONFIGS, GatesConfig, load_config
from training.evaluate import operating_threshold
from training.pyfunc import PrescreenModel, build_metadata

pytestmark = [pytest.mark.model, pytest.mark.data]

#: The candidate of each default experiment whose behaviour is checked (the one expected to be champion).
CHECKED = {"dwc": "monotone-reasons", "dmhc": "dmhc-gbm"}
CONFIGS: dict[str, Path] = {str(load_config(path).jurisdiction): path for path in DEFAULT_CONFIGS}

#: jurisdiction x summary perturbation: p(upheld) moves by less than the gate's invariance bound.
INVARIANCE = [(j, kind) for j in CONFIGS for kind in ("age", "dates", "names")]
#: jurisdiction x directional pair: documenting the request does not make it more likely upheld.
DIRECTIONAL = [(j, pair.name) for j in CONFIGS for pair in behaviour.directional_pairs(j)]


@dataclass
class Fitted:
    """A default candidate fitted on every real item of its jurisdiction, as the gates see it."""

    scorer: PrescreenModel
    threshold: float
    gates: GatesConfig
    real: list[dict[str, Any]]


@pytest.fixture(scope="module")
def real_table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    if items_path().exists():
        return load_items()
    raw = shared_dir() / "data" / "raw"
    assert raw.is_dir(), f"the public data is not at {raw} (set IMR_SHARED_DIR)"
    return build_dataset([str(raw)], tmp_path_factory.mktemp("data")).table


def _fit(table: pd.DataFrame, jurisdiction: str) -> Fitted:
    config = load_config(CONFIGS[jurisdiction])
    rows = table[table["jurisdiction"].astype(str) == jurisdiction].reset_index(drop=True)
    assert not rows.empty, f"the item table has no {jurisdiction} rows"
    X = view_frame(rows)
    y = rows["determination"].astype(str).map(LABELS).to_numpy(dtype=int)
    groups = rows["case_id"].astype(str).to_numpy()
    rationale = np.array([r if isinstance(r, str) else "" for r in rows["rationale"].tolist()], dtype=object)
    spec = config.candidate(CHECKED[jurisdiction])
    estimator = build_candidate(spec, config.cv.seed).fit(X, y, groups=groups, rationale=rationale)
    threshold = operating_threshold(y, config.evaluation.threshold)
    scorer = PrescreenModel(estimator, build_metadata(jurisdiction, spec.name, threshold, {}))
    real = [{str(k): v for k, v in X.iloc[i].to_dict().items()} for i in range(0, len(X), max(1, len(X) // 60))]
    return Fitted(scorer, threshold, config.gates, real)


@pytest.fixture(scope="module")
def fitted(real_table: pd.DataFrame) -> Callable[[str], Fitted]:
    """Each jurisdiction's model, fitted once for every row of every table below."""
    cache: dict[str, Fitted] = {}

    def get(jurisdiction: str) -> Fitted:
        if jurisdiction not in cache:
            cache[jurisdiction] = _fit(real_table, jurisdiction)
        return cache[jurisdiction]

    return get


@pytest.mark.parametrize(("jurisdiction", "kind"), INVARIANCE)
def test_invariance(jurisdiction: str, kind: str, fitted: Callable[[str], Fitted]) -> None:
    model = fitted(jurisdiction)
    base = behaviour.invariance_base(model.real, jurisdiction)
    result = behaviour.invariance(model.scorer, base, model.gates.invariance_bound)
    assert result.values[f"max_delta_{kind}"] < model.gates.invariance_bound, result.detail


@pytest.mark.parametrize(("jurisdiction", "pair_name"), DIRECTIONAL)
def test_directional(jurisdiction: str, pair_name: str, fitted: Callable[[str], Fitted]) -> None:
    model = fitted(jurisdiction)
    pair = next(p for p in behaviour.directional_pairs(jurisdiction) if p.name == pair_name)
    vague, documented = (float(r["p_upheld"]) for r in model.scorer.predict_records([pair.vague, pair.documented]))
    assert documented - vague <= model.gates.directional_tolerance, (pair_name, vague, documented)


@pytest.mark.parametrize("jurisdiction", list(CONFIGS))
def test_minimum_functionality(jurisdiction: str, fitted: Callable[[str], Fitted]) -> None:
    model = fitted(jurisdiction)
    cases = behaviour.clear_cases(jurisdiction)
    result = behaviour.minimum_functionality(model.scorer, cases, model.threshold, model.gates.min_functionality)
    assert result.passed, result.detail


@pytest.mark.parametrize("jurisdiction", list(CONFIGS))
def test_every_gate_passes(jurisdiction: str, fitted: Callable[[str], Fitted]) -> None:
    """All three together, exactly as ``make train`` runs them before promotion."""
    model, gates = fitted(jurisdiction), fitted(jurisdiction).gates
    results = behaviour.run_all(
        model.scorer,
        jurisdiction,
        model.threshold,
        gates.invariance_bound,
        gates.directional_tolerance,
        gates.min_functionality,
        model.real,
    )
    failed = [f"{r.name}: {r.detail}" for r in results if not r.passed]
    assert not failed, failed
