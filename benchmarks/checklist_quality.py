"""Documentation checklist quality on the real DWC letters: does a failed check name the reviewer's reason?

For every check, on the items it applies to, "check missing" (evaluated on the request text only) is compared with
"the reviewer gave the corresponding reason" (mined from the decision rationale by ``features.reasons``). Also
prints the evaluation time per request. Letter text is never printed.

Run: ``.venv/bin/python benchmarks/checklist_quality.py`` once the project is installed (``make install``), or
``PYTHONPATH=. .venv/bin/python benchmarks/checklist_quality.py`` from the repository root. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import math
import time

import pandas as pd

from features.checklist import evaluate_checklist, measure_checklist
from features.letters import parse_folder
from features.paths import shared_dir
from features.schema import Item


def _load() -> list[Item]:
    folder = shared_dir() / "data" / "raw" / "dwc-imr-letters" / "pdfs"
    paths = sorted(folder.glob("*.pdf"))
    if not paths:
        raise SystemExit(f"no letters under {folder} (set IMR_SHARED_DIR)")
    items, rejects = parse_folder(paths)
    if rejects:
        print(f"({len(rejects)} letter(s) could not be parsed and are left out)")
    return items


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def _markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" if i < 2 else "---:" for i in range(len(frame.columns))) + "|"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _timing(items: list[Item], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for item in items:
            evaluate_checklist(item.item_text, item.summary, item.claims_guideline or "")
    return (time.perf_counter() - start) / (repeat * len(items)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the items for the timing")
    args = parser.parse_args()
    items = _load()
    upheld = sum(item.determination == "Upheld" for item in items)
    table = measure_checklist(items)
    print(f"\nDocumentation checklist vs reviewers' mined reasons: {len(items)} items ({upheld} upheld)\n")
    print(_markdown(table))
    print(
        "\nprecision: of the items where the check is missing, the share whose reviewer gave its reason; "
        "recall: of the items whose reviewer gave the reason, the share where the check is missing."
    )
    print(f"\nmean evaluation time: {_timing(items, args.repeat):.3f} ms per request (single process)")


if __name__ == "__main__":
    main()
