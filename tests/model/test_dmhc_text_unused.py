"""The health-plan models read categories only: a request's text cannot move them, so writing more can never make
a request look worse and leaving text out can never make it look better (issue: coherence for DMHC too)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.view import view_frame
from tests.synthetic_items import write_items
from training.candidates import build_candidate
from training.config import EXPERIMENTS_DIR, load_config

pytestmark = pytest.mark.model

CONFIG = load_config(EXPERIMENTS_DIR / "dmhc.yaml")


def test_every_dmhc_candidate_is_configured_without_text() -> None:
    for spec in CONFIG.candidates:
        assert getattr(spec, "summary_text", False) is False, spec.name


@pytest.mark.parametrize("name", [c.name for c in CONFIG.candidates])
def test_text_does_not_move_a_dmhc_estimate(name: str, tmp_path: Path) -> None:
    path = tmp_path / "items.parquet"
    write_items(path, cases=10, dmhc_rows=400)
    table = pd.read_parquet(path)
    table = table[table["jurisdiction"] == "dmhc"].reset_index(drop=True)
    # Give half the rows a summary, as the current export does, so a text model would have something to learn.
    table["summary"] = np.where(table.index % 2 == 0, "Findings: the patient failed conservative care.", "")
    y = (table["determination"] == "Upheld").to_numpy(dtype=int)
    model = build_candidate(CONFIG.candidate(name), seed=3).fit(view_frame(table), y, groups=table["case_id"])
    requests = view_frame(table.head(40))
    p = model.predict_proba(requests)[:, 1]
    more = requests.assign(summary=requests["summary"] + " Documented functional improvement and red flags.")
    less = requests.assign(summary="", item_text="x")
    np.testing.assert_allclose(model.predict_proba(more)[:, 1], p)
    np.testing.assert_allclose(model.predict_proba(less)[:, 1], p)
