"""Behavioural tests of the default candidates trained on the real item table (built from ../shared if absent).

The same checks gate promotion in `make train`; here they run on their own so a regression in features or
candidates shows up in `make test` without a full training.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.dataset import build_dataset, load_items
from features.paths import items_path, shared_dir
from features.schema import LABELS
from features.view import view_frame
from training import behaviour
from training.candidates import build_candidate
from training.config import DEFAULT_CONFIGS, load_config
from training.evaluate import operating_threshold
from training.pyfunc import PrescreenModel, build_metadata

pytestmark = [pytest.mark.model, pytest.mark.data]

#: The candidate of each default experiment whose behaviour is checked (the one expected to be champion).
CHECKED = {"dwc": "monotone-reasons", "dmhc": "dmhc-gbm"}


@pytest.fixture(scope="module")
def real_table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    if items_path().exists():
        return load_items()
    raw = shared_dir() / "data" / "raw"
    if not raw.is_dir():
        pytest.skip(f"the public data is not at {raw} (set IMR_SHARED_DIR)")
    return build_dataset([str(raw)], tmp_path_factory.mktemp("data")).table


@pytest.mark.parametrize("config_path", DEFAULT_CONFIGS, ids=lambda p: p.stem)
def test_default_candidate_passes_behavioural_tests(config_path: object, real_table: pd.DataFrame) -> None:
    config = load_config(config_path)  # type: ignore[arg-type]
    table = real_table
    rows = table[table["jurisdiction"].astype(str) == config.jurisdiction].reset_index(drop=True)
    if rows.empty:
        pytest.skip(f"the item table has no {config.jurisdiction} rows")
    X = view_frame(rows)
    y = rows["determination"].astype(str).map(LABELS).to_numpy(dtype=int)
    groups = rows["case_id"].astype(str).to_numpy()
    rationale = np.array([r if isinstance(r, str) else "" for r in rows["rationale"].tolist()], dtype=object)
    spec = config.candidate(CHECKED[config.jurisdiction])
    estimator = build_candidate(spec, config.cv.seed).fit(X, y, groups=groups, rationale=rationale)
    threshold = operating_threshold(y, config.evaluation.threshold)
    scorer = PrescreenModel(estimator, build_metadata(config.jurisdiction, spec.name, threshold, {}))
    gates = config.gates
    real = [{str(k): v for k, v in X.iloc[i].to_dict().items()} for i in range(0, len(X), max(1, len(X) // 60))]
    results = behaviour.run_all(
        scorer,
        config.jurisdiction,
        threshold,
        gates.invariance_bound,
        gates.directional_tolerance,
        gates.min_functionality,
        real,
    )
    failed = [f"{r.name}: {r.detail}" for r in results if not r.passed]
    assert not failed, failed
