"""Health-plan requests that count: a DMHC request that names no category gets categories from its words
(``features.dmhc_mapper``), so two requests with different text can get different estimates (they all got the same
69 % before)."""

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


# Every candidate but the constant, which reads nothing by design (it is the baseline the others must beat).
@pytest.mark.parametrize("name", [c.name for c in CONFIG.candidates if c.name != "constant"])
def test_two_dmhc_requests_with_different_text_get_different_estimates(name: str, tmp_path: Path) -> None:
    path = tmp_path / "items.parquet"
    write_items(path, cases=10, dmhc_rows=400)
    table = pd.read_parquet(path)
    table = table[table["jurisdiction"] == "dmhc"].reset_index(drop=True)
    y = (table["determination"] == "Upheld").to_numpy(dtype=int)
    model = build_candidate(CONFIG.candidate(name), seed=3).fit(view_frame(table), y, groups=table["case_id"])
    requests = view_frame(
        [
            {"jurisdiction": "dmhc", "item_text": "Lumbar spinal fusion L4-L5", "summary": "Spinal stenosis."},
            {"jurisdiction": "dmhc", "item_text": "Screening mammogram", "summary": "Annual screening."},
            {"jurisdiction": "dmhc", "item_text": "Something the mapper cannot place", "summary": ""},
        ]
    )
    assert requests["treatment_category"].tolist() == [
        "Orthopedic",
        "Diagnostic Imaging, Screening and Testing",
        "unknown",
    ]
    p = np.asarray(model.predict_proba(requests))[:, 1]
    assert abs(p[0] - p[1]) > 0.05, p
