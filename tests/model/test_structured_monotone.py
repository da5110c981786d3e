"""Structured fields can only lower or keep the champion candidate's estimate: they reach it as appended sentences
(``features.structured``), and the monotone model never rewards leaving documentation out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.view import view_frame
from tests.synthetic_items import write_items
from training.candidates import build_candidate
from training.config import EXPERIMENTS_DIR, load_config

pytestmark = pytest.mark.model

FIELDS: dict[str, Any] = {
    "cpt": "97110",
    "icd10": ["M54.5", "S39.012A"],
    "body_part": "lumbar spine",
    "side": "left",
    "quantity": 12,
    "frequency": "2 times a week",
    "duration": "6 weeks",
    "prior_sessions": 6,
    "prior_outcome": "improved walking tolerance and sitting for 2 hours",
    "date_of_injury": "2024-01-05",
    "provider_specialty": "Physical medicine and rehabilitation",
}
BASES: tuple[dict[str, Any], ...] = (
    {"item_text": "Physical therapy", "summary": "Chronic low back pain after lifting."},
    {"item_text": "Acupuncture", "summary": ""},
    {"item_text": "MRI of the lumbar spine", "summary": "Low back pain radiating to the left leg."},
    {"item_text": "Tramadol 50 mg", "summary": "Chronic neck pain; NSAIDs tried."},
    {"item_text": "Lumbar epidural steroid injection", "summary": "Radicular pain."},
)


@pytest.fixture(scope="module")
def champion_candidate(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The DWC champion candidate (monotone-reasons, as configured) fitted on synthetic letters."""
    path = tmp_path_factory.mktemp("items") / "items.parquet"
    write_items(path, cases=60, dmhc_rows=0)
    table = pd.read_parquet(path)
    table = table[table["jurisdiction"] == "dwc"].reset_index(drop=True)
    y = (table["determination"] == "Upheld").to_numpy(dtype=int)
    spec = load_config(EXPERIMENTS_DIR / "dwc.yaml").candidate("monotone-reasons")
    rationale = table["rationale"].fillna("").to_numpy(dtype=object)
    return build_candidate(spec, seed=7).fit(
        view_frame(table), y, groups=table["case_id"].to_numpy(), rationale=rationale
    )


def _p(model: Any, requests: list[dict[str, Any]]) -> np.ndarray:
    frame = view_frame([{"jurisdiction": "dwc", **r} for r in requests])
    return np.asarray(model.predict_proba(frame))[:, 1]


def test_no_structured_field_raises_the_estimate(champion_candidate: Any) -> None:
    variants = [dict(base) for base in BASES]
    labels = ["none"] * len(BASES)
    for name, value in FIELDS.items():
        variants += [{**base, name: value} for base in BASES]
        labels += [name] * len(BASES)
    variants += [{**base, **FIELDS} for base in BASES]
    labels += ["all"] * len(BASES)
    p = _p(champion_candidate, variants).reshape(-1, len(BASES))
    raised = p - p[0] > 1e-9
    assert not raised.any(), [
        (labels[row * len(BASES)], BASES[col]["item_text"]) for row, col in zip(*np.nonzero(raised), strict=True)
    ]


def test_structured_documentation_can_lower_it(champion_candidate: Any) -> None:
    """Not vacuous: documenting the quantity, body part and prior outcome moves the estimate (down)."""
    base = BASES[0]
    p = _p(champion_candidate, [base, {**base, **FIELDS}])
    assert p[1] < p[0]
