"""A tiny deterministic champion for tests: p(upheld) from keywords in the item text (MLflow models-from-code).

Logged by ``tests/conftest.py`` into a temporary registry; never used outside tests. ``model_config`` may carry
``offset`` (shifts every probability, so a new version is observable), ``fail_load`` (the load raises) and
``explain`` (default true: the model gives ``top_terms`` and has ``similar()``, as the pyfunc contract allows;
false: neither, like a model that ships no index).

``similar(records, k)`` ranks the invented past determinations of :data:`PAST` by words shared with the item
text. One of them is the example letter's own case (CM99-0000042) and one was decided after that letter, so the
letter route's filtering can be seen.
"""

from __future__ import annotations

import json
import re
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel  # type: ignore[attr-defined]

UPHELD_WORDS = ("unspecified", "compound", "topical", "opioid", "norco")
OVERTURNED_WORDS = ("surgery", "mri", "6 weeks", "six weeks")


def _past(case_id: str, item_text: str, determination: str, date: str, guideline: str, excerpt: str) -> dict[str, Any]:
    return {
        "item_id": f"{case_id}#0",
        "case_id": case_id,
        "item_text": item_text,
        "determination": determination,
        "decision_date": date,
        "report_year": int(date[:4]),
        "treatment_category": None,
        "rationale_excerpt": excerpt,
        "reviewer_guideline": guideline,
    }


#: Invented past determinations (no real case).
PAST: tuple[dict[str, Any], ...] = (
    _past(
        "CM99-0000042",
        "MRI of the lumbar spine",
        "Overturned",
        "2016-03-28",
        "ACOEM Low Back Complaints",
        "Imaging is indicated when neurologic deficits persist after conservative care.",
    ),
    _past(
        "CM15-0000101",
        "Physical therapy lumbar spine 2 times a week for 4 weeks",
        "Overturned",
        "2015-06-02",
        "MTUS Chronic Pain Medical Treatment Guidelines, Physical Medicine",
        "The MTUS allows 9-10 visits over 8 weeks; 8 visits are within it.",
    ),
    _past(
        "CM15-0000202",
        "Compounded topical cream with flurbiprofen",
        "Upheld",
        "2015-09-14",
        "MTUS Chronic Pain Topical Analgesics",
        "Any compounded product that contains at least one drug that is not recommended is not recommended.",
    ),
    _past(
        "CM17-0000303",
        "Physical therapy lumbar spine, quantity unspecified",
        "Upheld",
        "2017-02-01",
        "MTUS Chronic Pain Medical Treatment Guidelines, Physical Medicine",
        "The number of sessions requested was not specified.",
    ),
    _past(
        "CM14-0000404",
        "Norco 10/325 #60",
        "Upheld",
        "2014-11-20",
        "MTUS Chronic Pain Opioids",
        "There is no documentation of functional improvement or urine drug screens.",
    ),
)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9/]+", text.lower()))


class FakeChampion(PythonModel):
    """p(upheld) = 0.85 for upheld keywords, 0.15 for overturned keywords, else 0.5 (plus an offset)."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.explain = True

    def load_context(self, context: Any) -> None:
        config = dict(context.model_config or {})
        if config.get("fail_load"):
            raise RuntimeError("this fake champion refuses to load")
        self.offset = float(config.get("offset", 0.0))
        self.explain = bool(config.get("explain", True))

    def similar(self, records: list[dict[str, Any]], k: int = 5) -> list[list[dict[str, Any]]]:
        """The ``k`` past determinations sharing the most words with each item text, best first (none at all
        without ``explain``: a model that ships no index, as ``features.contract.ServedModel`` allows)."""
        if not self.explain:
            return [[] for _ in records]
        out: list[list[dict[str, Any]]] = []
        for record in records:
            words = _words(str(record.get("item_text") or ""))
            if "xyzzy" in words:  # an item like nothing in the index: no hits at all
                out.append([])
                continue
            scored = []
            for position, past in enumerate(PAST):
                theirs = _words(past["item_text"])
                overlap = len(words & theirs) / max(1, len(words | theirs))
                scored.append((-overlap, position, {**past, "similarity": round(overlap, 4)}))
            out.append([hit for _, _, hit in sorted(scored, key=lambda t: (t[0], t[1]))[:k]])
        return out

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
        out = {"p_upheld": p, "label": "Upheld" if p >= 0.5 else "Overturned", "reasons": json.dumps(reasons)}
        if self.explain:
            terms = [{"feature": f"item_text__{w}", "weight": 0.9} for w in UPHELD_WORDS if w in text]
            terms += [{"feature": f"item_text__{w}", "weight": -0.9} for w in OVERTURNED_WORDS if w in text]
            out["top_terms"] = json.dumps(terms)
            out.update(self._context(text, p))
        return out

    @staticmethod
    def _context(text: str, p: float) -> dict[str, Any]:
        """The interval, prior, base rate, ranked fixes and attributions of the pyfunc contract (invented)."""
        fixes = []
        if "unspecified" in text:
            fixes = [
                {
                    "check": "quantity_stated",
                    "title": "Number, frequency and duration stated",
                    "advice": "State the number, frequency and duration",
                    "p_after": round(p - 0.2, 4),
                    "changes_estimate": True,
                },
                {
                    "check": "guideline_named",
                    "title": "Guideline named (MTUS / ACOEM / ODG)",
                    "advice": "Name the guideline",
                    "p_after": p,
                    "changes_estimate": False,
                },
            ]
        return {
            "p_low": round(max(0.0, p - 0.05), 4),
            "p_high": round(min(1.0, p + 0.05), 4),
            "prior": 0.9,
            "base_rate": 0.89,
            "fixes": json.dumps(fixes),
            "p_all_fixed": round(p - 0.2, 4) if fixes else p,
            "attributions": json.dumps(
                [
                    {
                        "check": "quantity_stated",
                        "statement": "Number, frequency and duration stated (not documented)",
                        "direction": "raises",
                        "effect": 0.2,
                    }
                ]
                if fixes
                else []
            ),
            "cannot_judge": json.dumps(["The item text names no treatment."] if "physicaltherapy" in text else []),
        }

    def predict_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self._score(r) for r in records]

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        records = [{str(k): v for k, v in row.items()} for row in model_input.to_dict(orient="records")]
        return pd.DataFrame(self.predict_records(records))


mlflow.models.set_model(FakeChampion())
