"""How often the DMHC category mapper (features/dmhc_mapper.py) finds the category DMHC recorded, on the real rows
that have text: the current export's eval sample, whose Findings give the pre-review case statement.

Only the case statement (``features.dmhc.split_findings``) is read, never the row's own subcategory (the item text of
a DMHC row), which would give the answer away. Names of the current export are compared in the trend export's
spelling (``dmhc_mapper.trend_name``). Run: ``.venv/bin/python benchmarks/dmhc_mapper_quality.py [--rows]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from features.dmhc import load_dmhc
from features.dmhc_mapper import map_categories, trend_name
from features.paths import shared_dir
from features.schema import Item

SAMPLE = shared_dir() / "data" / "raw" / "dmhc-imr-eval-sample" / "eval_set_imr.parquet"


@dataclass(frozen=True)
class Quality:
    rows: int
    with_text: int
    treatment_correct: int
    diagnosis_correct: int
    treatment_unmapped: int
    diagnosis_unmapped: int

    @property
    def treatment_accuracy(self) -> float:
        return self.treatment_correct / self.with_text if self.with_text else 0.0

    @property
    def diagnosis_accuracy(self) -> float:
        return self.diagnosis_correct / self.with_text if self.with_text else 0.0


def sample_items(path: Path = SAMPLE) -> list[Item]:
    items, rejects = load_dmhc(path)
    if rejects:
        raise ValueError(f"{path}: {len(rejects)} row(s) refused by the DMHC loader")
    return items


def measure(items: list[Item], show: bool = False) -> Quality:
    """Accuracy of the mapped treatment and diagnosis categories over the items that have a case statement."""
    with_text = [i for i in items if (i.summary or "").strip()]
    t_ok = d_ok = t_none = d_none = 0
    for item in with_text:
        mapped = map_categories("", item.summary or "")
        t_ok += mapped.treatment_category == trend_name(item.treatment_category or "")
        d_ok += mapped.diagnosis_category == trend_name(item.diagnosis_category or "")
        t_none += mapped.treatment_category is None
        d_none += mapped.diagnosis_category is None
        if show:
            print(
                f"{item.treatment_category} -> {mapped.treatment_category} | {item.diagnosis_category} -> "
                f"{mapped.diagnosis_category}"
            )
    return Quality(len(items), len(with_text), t_ok, d_ok, t_none, d_none)


def main() -> None:
    quality = measure(sample_items(), show="--rows" in sys.argv)
    print(
        f"{quality.with_text} of {quality.rows} rows with text; treatment category {quality.treatment_correct}/"
        f"{quality.with_text} ({quality.treatment_accuracy:.2f}, {quality.treatment_unmapped} unmapped); diagnosis "
        f"category {quality.diagnosis_correct}/{quality.with_text} ({quality.diagnosis_accuracy:.2f}, "
        f"{quality.diagnosis_unmapped} unmapped)"
    )


if __name__ == "__main__":
    main()
