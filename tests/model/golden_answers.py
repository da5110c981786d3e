"""The monotone champion's answers on every real letter item, written once and compared after every refactor.

``python -m tests.model.golden_answers`` (re)writes ``tests/fixtures/golden_monotone_answers.json``; only run it
when a change is *meant* to change the model's answers, and say so in the commit. The file holds item ids and
numbers only (no text from the letters).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden_monotone_answers.json"


def real_items() -> pd.DataFrame:
    from features.dataset import items_to_frame
    from features.letters import parse_folder
    from features.paths import shared_dir

    letters = shared_dir() / "data" / "raw" / "dwc-imr-letters" / "pdfs"
    parsed, rejects = parse_folder(sorted(letters.glob("*.pdf")))
    assert parsed and not rejects
    return items_to_frame(parsed).sort_values("item_id").reset_index(drop=True)


def fit_champion(items: pd.DataFrame) -> Any:
    """The DWC champion candidate, as ``experiments/dwc.yaml`` configures it, with a fixed seed."""
    from features.view import view_frame
    from training.candidates import build_candidate
    from training.config import EXPERIMENTS_DIR, load_config

    spec = load_config(EXPERIMENTS_DIR / "dwc.yaml").candidate("monotone-reasons")
    y = (items["determination"] == "Upheld").to_numpy(dtype=int)
    rationale = items["rationale"].fillna("").to_numpy(dtype=object)
    return build_candidate(spec, seed=13).fit(
        view_frame(items), y, groups=items["case_id"].to_numpy(), rationale=rationale
    )


def answers(model: Any, items: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per item id: the estimate, its reasons, checklist statuses and ranked fixes (numbers and codes only)."""
    from features.view import view_frame

    out: dict[str, dict[str, Any]] = {}
    for item_id, row in zip(items["item_id"], model.explain(view_frame(items)), strict=True):
        out[str(item_id)] = {
            "p_upheld": float(row["p_upheld"]),
            "prior": row.get("prior"),
            "p_all_fixed": row.get("p_all_fixed"),
            "reasons": {r["code"]: r["probability"] for r in row["reasons"]},
            "checklist": {c["code"]: c["status"] for c in row.get("checklist") or []},
            "fixes": [[f["check"], float(f["p_after"])] for f in row.get("fixes") or []],
            "needs_missing": list(row.get("needs_missing") or []),
            "cannot_judge": list(row.get("cannot_judge") or []),
        }
    return out


def main() -> None:
    items = real_items()
    GOLDEN.write_text(json.dumps(answers(fit_champion(items), items), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({len(items)} items)")


if __name__ == "__main__":
    main()
