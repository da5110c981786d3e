"""Measurement of the checklist against the reasons reviewers gave (read from the rationale, never at serving)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import pandas as pd

from features.checklist.core import CheckResult
from features.checklist.registry import CHECKS, CHECKS_BY_CODE, evaluate_checklist
from features.reasons import mine_reasons

# --------------------------------------------------------------------------------------------------------------
# Measurement against the reasons reviewers gave
# --------------------------------------------------------------------------------------------------------------

MEASURE_COLUMNS: Final[tuple[str, ...]] = (
    "check",
    "reason_code",
    "applicable",
    "missing",
    "reason_given",
    "true_positive",
    "precision",
    "recall",
    "upheld_if_missing",
    "upheld_if_passed",
)


def _field(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)


def measure_checklist(items: Iterable[Any]) -> pd.DataFrame:
    """Per check, on the items it applies to: how well "check missing" predicts "reviewer gave its reason".

    ``items`` are ``Item`` records or mappings with ``item_text``, ``summary``, ``claims_guideline``, ``rationale``
    and (optionally) ``determination``. The reason is mined from the rationale with ``features.reasons``;
    ``reason_given`` is the support (items where the reviewer gave it). Precision and recall are NaN where their
    denominator is zero. ``upheld_if_missing`` / ``upheld_if_passed`` are the upheld rates on each side.
    """
    rows: dict[str, dict[str, float]] = {
        c.code: dict.fromkeys(("applicable", "missing", "reason_given", "tp", "up_m", "n_m", "up_p", "n_p"), 0.0)
        for c in CHECKS
    }
    for record in items:
        reasons = mine_reasons(_field(record, "rationale") or "")
        determination = _field(record, "determination")
        results = evaluate_checklist(
            _field(record, "item_text") or "", _field(record, "summary") or "", _field(record, "claims_guideline") or ""
        )
        for result in results:
            if result.status != "not_applicable":
                _count(rows[result.code], result, result.reason_code in reasons, determination)
    return _measure_frame(rows)


def _count(row: dict[str, float], result: CheckResult, given: bool, determination: object) -> None:
    missing = result.status == "missing"
    row["applicable"] += 1
    row["missing"] += missing
    row["reason_given"] += given
    row["tp"] += missing and given
    if determination in ("Upheld", "Overturned"):
        side = "m" if missing else "p"
        row[f"n_{side}"] += 1
        row[f"up_{side}"] += determination == "Upheld"


def _ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


def _measure_frame(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    records = [
        {
            "check": code,
            "reason_code": CHECKS_BY_CODE[code].reason_code,
            "applicable": int(row["applicable"]),
            "missing": int(row["missing"]),
            "reason_given": int(row["reason_given"]),
            "true_positive": int(row["tp"]),
            "precision": _ratio(row["tp"], row["missing"]),
            "recall": _ratio(row["tp"], row["reason_given"]),
            "upheld_if_missing": _ratio(row["up_m"], row["n_m"]),
            "upheld_if_passed": _ratio(row["up_p"], row["n_p"]),
        }
        for code, row in rows.items()
    ]
    return pd.DataFrame(records, columns=list(MEASURE_COLUMNS))
