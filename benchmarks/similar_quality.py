"""How informative similar past determinations are, judged at each item's own date, and how fast they come.

Each item is queried with only the cases decided before it (and never its own case). Compare
``majority_agreement`` (the hits' majority outcome equals the item's) with ``base_rate`` (always the most common
outcome): neighbours are evidence for a person to read, not a classifier. Prints markdown tables; never prints
request, summary or rationale text.

Run: ``.venv/bin/python benchmarks/similar_quality.py [--k 1 3 5 10] [--dmhc]`` once the project is installed
(``make install``), or with ``PYTHONPATH=.`` from the repository root. Reads the built table (``make data`` first).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import pandas as pd

from features.dataset import load_items
from features.similar import SimilarIndex
from features.similar_eval import evaluate_index

COLUMNS = (
    ("k", "k"),
    ("queries", "queries"),
    ("coverage", "coverage"),
    ("mean_hits", "mean hits"),
    ("mean_top_similarity", "top-hit cosine"),
    ("top_hit_same_category", "top hit same category"),
    ("majority_agreement", "majority agrees"),
    ("base_rate", "base rate"),
    ("upheld_share_auc", "AUC of upheld share"),
    ("overturned_recall", "overturned recall"),
    ("rule_violations", "rule violations"),
)


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _quality(table: pd.DataFrame, jurisdiction: str, ks: list[int]) -> None:
    print(f"\nSimilar past determinations, {jurisdiction.upper()}: each item judged with only earlier cases\n")
    print("| " + " | ".join(title for _, title in COLUMNS) + " |")
    print("|" + "---:|" * len(COLUMNS))
    for k in ks:
        report = evaluate_index(table, k=k, jurisdiction=jurisdiction)
        print("| " + " | ".join(_cell(report[key]) for key, _ in COLUMNS) + " |")


def _latency(table: pd.DataFrame, jurisdiction: str, queries: int = 200) -> tuple[int, float, float, float]:
    rows = table[table["jurisdiction"] == jurisdiction].reset_index(drop=True)
    start = time.perf_counter()
    index = SimilarIndex.build(rows, jurisdiction)
    build_s = time.perf_counter() - start
    records = rows.sample(min(queries, len(rows)), random_state=0).to_dict(orient="records")
    index.query(records[:1])
    timings: list[float] = []
    for record in records:
        start = time.perf_counter()
        index.query([record], k=5)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return len(index), build_s, statistics.median(timings), timings[int(0.95 * (len(timings) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3, 5, 10], help="neighbour counts to evaluate")
    parser.add_argument("--dmhc", action="store_true", help="also evaluate the DMHC index (categories only; slower)")
    args = parser.parse_args()
    table = load_items()
    jurisdictions = ["dwc", "dmhc"] if args.dmhc else ["dwc"]
    for jurisdiction in jurisdictions:
        _quality(table, jurisdiction, args.k)
    print("\nQuery latency, one record, k=5 (single process)\n")
    print("| index | entries | build s | median ms | p95 ms |")
    print("|---|---:|---:|---:|---:|")
    for jurisdiction in ("dwc", "dmhc"):
        entries, build_s, median_ms, p95_ms = _latency(table, jurisdiction)
        print(f"| {jurisdiction} | {entries} | {build_s:.2f} | {median_ms:.2f} | {p95_ms:.2f} |")


if __name__ == "__main__":
    main()
