"""Wall time of training per candidate on the real data, printed as a table (`make bench`).

Runs every default experiment (experiments/dwc.yaml, experiments/dmhc.yaml) exactly as `make train` does, but into
a throwaway tracking store, so the project's registry is untouched. Columns: cross-validation time (all folds and
repeats, including the temporal split), the final fit on all items, and the whole run (CV, plots, final fit,
behavioural checks and logging the model).

    .venv/bin/python benchmarks/bench_train.py [--config experiments/dwc.yaml ...] [--data data/items.parquet]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from training.config import DEFAULT_CONFIGS
from training.train import run_training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, action="append", help="experiment file(s); default: dwc and dmhc")
    parser.add_argument("--data", type=Path, default=None, help="item table (default: data/items.parquet)")
    parser.add_argument("--verbose", action="store_true", help="show training progress")
    args = parser.parse_args()
    configs = args.config or list(DEFAULT_CONFIGS)
    rows: list[tuple[str, str, str, float, float, float]] = []
    totals: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="imr-bench-") as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        for config in configs:
            started = time.perf_counter()
            result = run_training(config, tracking_uri=uri, data_path=args.data, say=print if args.verbose else _quiet)
            totals[result.jurisdiction] = time.perf_counter() - started
            for outcome in result.candidates.values():
                rows.append(
                    (
                        result.jurisdiction,
                        outcome.name,
                        outcome.kind,
                        outcome.cv_seconds,
                        outcome.fit_seconds,
                        outcome.total_seconds,
                    )
                )
    cpus = os.cpu_count()
    print(f"\nTraining wall time per candidate ({platform.processor() or platform.machine()}, {cpus} CPUs)")
    header = f"{'jurisdiction':<12} {'candidate':<22} {'kind':<22} {'CV s':>8} {'final fit s':>12} {'run s':>8}"
    print(header)
    print("-" * len(header))
    for j, name, kind, cv, fit, total in rows:
        print(f"{j:<12} {name:<22} {kind:<22} {cv:>8.1f} {fit:>12.1f} {total:>8.1f}")
    print("-" * len(header))
    for j, seconds in totals.items():
        print(f"{j:<12} {'(whole experiment)':<22} {'':<22} {'':>8} {'':>12} {seconds:>8.1f}")
    print(f"{'all':<12} {'(make train)':<22} {'':<22} {'':>8} {'':>12} {sum(totals.values()):>8.1f}")


def _quiet(message: str) -> None:
    # Keep the candidate lines only; fold progress would drown the table.
    if "ROC-AUC" in message and message.startswith("["):
        print(message, flush=True)


if __name__ == "__main__":
    main()
