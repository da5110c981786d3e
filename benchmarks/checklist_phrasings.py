"""Documentation checklist on clinical phrasings: precision and recall of "passed" per check.

The phrasing set (``tests/fixtures/checklist_phrasings.csv``) holds requests written in the words an office or a
physician uses (MTUS / ACOEM vocabulary and the style of the letters' clinical summaries: negation, lists,
paraphrase, abbreviations, tense), each with the status a reader expects for one check. A check that does not
apply to a row counts as "not passed". The ``before`` columns are the figures measured on the checklist as it was
before it was taught these phrasings (recorded below); ``now`` is measured live.

Run: ``.venv/bin/python benchmarks/checklist_phrasings.py`` (``--misses`` also lists the rows it gets wrong).
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import Final

from features.checklist import CHECKS, evaluate_checklist

PHRASINGS: Final = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "checklist_phrasings.csv"

# check -> (precision, recall) of "passed" on the phrasing set, measured on the checklist before this benchmark's
# issue (issue 11, point 4) changed its patterns.
BEFORE: Final[dict[str, tuple[float, float]]] = {
    "quantity_stated": (1.00, 1.00),
    "dose_stated": (1.00, 1.00),
    "body_part_stated": (1.00, 1.00),
    "prior_treatment_outcome": (0.86, 0.50),
    "visits_within_guideline": (1.00, 1.00),
    "objective_findings": (1.00, 0.70),
    "conservative_care_tried": (1.00, 0.26),
    "first_line_tried": (1.00, 0.23),
    "medication_efficacy": (1.00, 0.40),
    "opioid_monitoring": (0.89, 0.89),
    "short_course": (1.00, 0.83),
    "gi_risk_documented": (1.00, 0.67),
    "primary_procedure_certified": (1.00, 0.83),
    "guideline_recommended": (1.00, 1.00),
    "guideline_named": (1.00, 0.89),
}


def load(path: Path = PHRASINGS) -> list[dict[str, str]]:
    """The phrasing rows (check, item_text, summary, claims_guideline, expected, source_note)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def status_of(row: dict[str, str]) -> str:
    """The status the checklist gives the row's check."""
    results = evaluate_checklist(row["item_text"], row["summary"], row.get("claims_guideline", ""))
    return next(r.status for r in results if r.code == row["check"])


def score(rows: list[dict[str, str]]) -> dict[str, dict[str, float]]:
    """Per check: n, true/false positives, false negatives, precision and recall of "passed" (NaN if undefined)."""
    table: dict[str, dict[str, float]] = {}
    for row in rows:
        cell = table.setdefault(row["check"], {"n": 0.0, "tp": 0.0, "fp": 0.0, "fn": 0.0})
        predicted = status_of(row) == "passed"
        expected = row["expected"] == "passed"
        cell["n"] += 1
        cell["tp"] += predicted and expected
        cell["fp"] += predicted and not expected
        cell["fn"] += expected and not predicted
    for cell in table.values():
        cell["precision"] = _ratio(cell["tp"], cell["tp"] + cell["fp"])
        cell["recall"] = _ratio(cell["tp"], cell["tp"] + cell["fn"])
    return table


def _ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return "–" if math.isnan(value) else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="also list the rows the checklist gets wrong")
    args = parser.parse_args()
    rows = load()
    table = score(rows)
    print(f"{len(rows)} phrasings, {len(table)} checks\n")
    print("| check | n | precision before | recall before | precision now | recall now |")
    print("|---|---:|---:|---:|---:|---:|")
    for check in (c.code for c in CHECKS):
        if check not in table:
            continue
        cell = table[check]
        before = BEFORE.get(check)
        print(
            f"| {check} | {int(cell['n'])} | {_fmt(before[0] if before else None)} | "
            f"{_fmt(before[1] if before else None)} | {_fmt(cell['precision'])} | {_fmt(cell['recall'])} |"
        )
    if args.misses:
        print("\n| check | expected | got | item | summary |")
        print("|---|---|---|---|---|")
        for row in rows:
            got = status_of(row)
            if (got == "passed") != (row["expected"] == "passed"):
                print(f"| {row['check']} | {row['expected']} | {got} | {row['item_text']} | {row['summary']} |")


if __name__ == "__main__":
    main()
