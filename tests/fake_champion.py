"""A tiny deterministic champion for tests: p(upheld) from keywords in the item text (MLflow models-from-code).

Logged by ``tests/conftest.py`` into a temporary registry; never used outside tests. ``model_config`` may carry
``offset`` (shifts every probability, so a new version is observable) and ``fail_load`` (the load raises).
"""

from __future__ import annotations

import json
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel  # type: ignore[attr-defined]

UPHELD_WORDS = ("unspecified", "compound", "topical", "opioid", "norco")
OVERTURNED_WORDS = ("surgery", "mri", "6 weeks", "six weeks")


class FakeChampion(PythonModel):
    """p(upheld) = 0.85 for upheld keywords, 0.15 for overturned keywords, else 0.5 (plus an offset)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def load_context(self, context: Any) -> None:
        config = dict(context.model_config or {})
        if config.get("fail_load"):
            raise RuntimeError("this fake champion refuses to load")
        self.offset = float(config.get("offset", 0.0))

    def _score(self, record: dict[str, Any]) -> dict[str, Any]:
        text = str(record.get("item_text") or "").lower()
        if any(w in text for w in UPHELD_WORDS):
            p = 0.85
            reasons = [{"code": "quantity_unspecified", "label": "Quantity or duration not stated", "probability": 0.7}]
        elif any(w in text for w in OVERTURNED_WORDS):
            p = 0.15
            reasons = [{"code": "guideline_met", "label": "Request matches the guideline", "probability": 0.6}]
        else:
            p = 0.5
            reasons = []
        p = min(1.0, max(0.0, p + self.offset))
        return {"p_upheld": p, "label": "Upheld" if p >= 0.5 else "Overturned", "reasons": json.dumps(reasons)}

    def predict_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self._score(r) for r in records]

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        records = [{str(k): v for k, v in row.items()} for row in model_input.to_dict(orient="records")]
        return pd.DataFrame(self.predict_records(records))


mlflow.models.set_model(FakeChampion())
