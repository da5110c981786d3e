"""How informative the similar past determinations are, judged as they would have been at each item's own date.

Kept apart from :mod:`features.similar` (the index itself) because only evaluation and benchmarks need it; the
server never does.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.similar import (
    SimilarHit,
    SimilarIndex,
    _clean,
    _in_jurisdiction,
    _optional_date,
    _view_rows,
    query_date,
)


def _majority(hits: Sequence[SimilarHit]) -> str:
    """The most common outcome among hits; a tie goes to the outcome of the most similar hit."""
    counts = Counter(h.determination for h in hits)
    best = max(counts.values())
    return next(h.determination for h in hits if counts[h.determination] == best)


def _auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    if len(set(labels)) < 2:
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def _violates(hit: SimilarHit, before: dt.date, case_id: str, entry_dates: Mapping[str, dt.date | None]) -> bool:
    decided = entry_dates.get(hit.item_id)
    return hit.case_id == case_id or decided is None or decided >= before


def evaluate_index(table: pd.DataFrame, k: int = 5, jurisdiction: str = "dwc") -> dict[str, Any]:
    """How informative the neighbours are, judged as they would have been at each item's own date.

    Every item of ``jurisdiction`` is queried with ``before`` = its date and ``exclude_case`` = its case. Reported:
    coverage (share with at least one hit), the mean similarity of the top hit, how often the majority outcome of
    the hits equals the item's outcome (``majority_agreement``) next to always predicting the most common outcome
    (``base_rate``), the ROC-AUC of the hits' upheld share as a score, the recall of overturned items, how often the
    top hit shares the treatment category, and rule violations (must be 0). The idf is fit on the whole table
    (unsupervised: no outcome enters it).
    """
    rows = table[_in_jurisdiction(table, jurisdiction)].reset_index(drop=True)
    index = SimilarIndex.build(rows, jurisdiction)
    records = rows.to_dict(orient="records")
    views = _view_rows(records)
    entry_dates = dict(zip(index.entries["item_id"].tolist(), _column_dates(index.entries["decided_by"]), strict=True))
    positions_by_query: dict[tuple[str, dt.date], list[int]] = {}
    undated = 0
    for position, record in enumerate(records):
        date = query_date(record)
        if date is None:
            undated += 1
            continue
        positions_by_query.setdefault((_clean(record.get("case_id")), date), []).append(position)
    outcomes: list[str] = []
    results: list[list[SimilarHit]] = []
    categories: list[str] = []
    violations = 0
    for (case_id, date), positions in positions_by_query.items():
        found = index.query([records[p] for p in positions], k=k, before=date, exclude_case=case_id)
        violations += sum(_violates(h, date, case_id, entry_dates) for hits in found for h in hits)
        outcomes.extend(_clean(records[p].get("determination")) for p in positions)
        categories.extend(_clean(views[p].get("treatment_category")) for p in positions)
        results.extend(found)
    return _summarise(outcomes, results, categories, k, violations, undated)


def _column_dates(column: pd.Series) -> list[dt.date | None]:
    return [_optional_date(v) for v in column.tolist()]


def _summarise(
    outcomes: Sequence[str],
    results: Sequence[Sequence[SimilarHit]],
    categories: Sequence[str],
    k: int,
    violations: int,
    undated: int,
) -> dict[str, Any]:
    covered = [i for i, hits in enumerate(results) if hits]
    common = Counter(outcomes).most_common(1)[0][0] if outcomes else "Upheld"
    agree = [_majority(results[i]) == outcomes[i] for i in covered]
    upheld_share = [sum(h.determination == "Upheld" for h in results[i]) / len(results[i]) for i in covered]
    labels = [int(outcomes[i] == "Upheld") for i in covered]
    overturned = [i for i in covered if outcomes[i] == "Overturned"]
    return {
        "k": k,
        "queries": len(outcomes),
        "undated_skipped": undated,
        "coverage": _mean([bool(hits) for hits in results]),
        "mean_hits": _mean([len(hits) for hits in results]),
        "mean_top_similarity": _mean([results[i][0].similarity for i in covered]),
        "majority_agreement": _mean(agree),
        "base_rate": _mean([outcomes[i] == common for i in covered]),
        "majority_outcome": common,
        "upheld_share_auc": _auc(labels, upheld_share),
        "overturned_recall": _mean([_majority(results[i]) == "Overturned" for i in overturned]),
        "top_hit_same_category": _mean([results[i][0].treatment_category == categories[i] for i in covered]),
        "rule_violations": violations,
    }


def _mean(values: Sequence[float | int | bool]) -> float | None:
    return float(np.mean(np.asarray(values, dtype=np.float64))) if len(values) else None
