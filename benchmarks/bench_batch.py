"""Batch-scoring benchmark: rows per second of ``imr score`` (local engine, one process) with each champion.

    python benchmarks/bench_batch.py [--rows 3000] [--batch-size 500] [--jurisdictions dwc,dmhc]

The requests are the pre-review fields of the built item table (``data/items.parquet``, from ``make data``), cycled
to ``--rows`` rows; every row's summary gets its own reference number, so no two rows are the same request and
nothing the model keeps from one row helps another. The input is written to a temporary folder (never into the
repository) and scored with :func:`serving.batch.score_file` against the default registry's champions, exactly as
``imr score -i … -o …`` does; a second column times the model alone (``predict_records`` on the same rows, in
batches of ``--batch-size``). The local engine is one process, so rows/s is per core.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def requests_frame(items: pd.DataFrame, jurisdiction: str, rows: int) -> pd.DataFrame:
    """``rows`` distinct requests of one jurisdiction from the item table's pre-review fields."""
    from training.pyfunc import REQUEST_COLUMNS

    pool = items[items["jurisdiction"] == jurisdiction].reset_index(drop=True)
    if pool.empty:
        raise SystemExit(f"bench_batch: data/items.parquet has no {jurisdiction} items: run `make data`")
    columns = [c for c in REQUEST_COLUMNS if c in pool.columns]
    frame = pool.loc[[i % len(pool) for i in range(rows)], columns].reset_index(drop=True)
    frame["summary"] = [f"{s or ''} Office reference {n}." for n, s in enumerate(frame["summary"].tolist())]
    frame.insert(0, "id", [f"r{n}" for n in range(rows)])
    return frame


def time_file(path: Path, out: Path, uri: str, batch_size: int) -> tuple[float, int]:
    from serving.batch import score_file

    started = time.perf_counter()
    report = score_file(path, out, engine="local", tracking_uri=uri, batch_size=batch_size)
    return time.perf_counter() - started, int(report.scored)


def time_model(frame: pd.DataFrame, uri: str, jurisdiction: str, batch_size: int, tmp: Path) -> tuple[float, str]:
    """Seconds for the champion's ``predict_records`` over every row (loading excluded), and its name."""
    from serving.batch import load_champion, resolve_champions

    found, missing = resolve_champions(uri, [jurisdiction], tmp / "models")
    if jurisdiction not in found:
        raise SystemExit(f"bench_batch: no {jurisdiction} champion ({missing.get(jurisdiction)}): run `make train`")
    ref = found[jurisdiction]
    predictor = load_champion(uri, ref).predictor
    requests = frame.drop(columns=["id"])
    records: list[dict[str, Any]] = requests.astype(object).where(requests.notna(), None).to_dict(orient="records")  # type: ignore[assignment]
    started = time.perf_counter()
    for start in range(0, len(records), batch_size):
        predictor(records[start : start + batch_size])
    return time.perf_counter() - started, f"{ref.name} v{ref.version}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3000, help="rows per jurisdiction")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--jurisdictions", default="dwc,dmhc")
    parser.add_argument("--data", type=Path, default=REPO / "data" / "items.parquet")
    args = parser.parse_args()
    from serving.settings import resolve_tracking_uri

    uri = resolve_tracking_uri()
    items = pd.read_parquet(args.data)
    lines = [
        f"Batch scoring, local engine (one process), {args.rows} distinct rows per jurisdiction, batches of "
        f"{args.batch_size}, {os.cpu_count()} CPU(s) on the machine.",
        "",
        "| champion | rows | `imr score` rows/s (incl. loading the champion) | model alone rows/s |",
        "|---|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory(prefix="imr-bench-batch-") as tmp_name:
        tmp = Path(tmp_name)
        for jurisdiction in args.jurisdictions.split(","):
            frame = requests_frame(items, jurisdiction, args.rows)
            path = tmp / f"{jurisdiction}.parquet"
            frame.to_parquet(path, index=False)
            model_s, name = time_model(frame, uri, jurisdiction, args.batch_size, tmp)
            file_s, scored = time_file(path, tmp / f"{jurisdiction}-out.parquet", uri, args.batch_size)
            row = f"| {name} | {scored} | {scored / file_s:,.0f} | {len(frame) / model_s:,.0f} |"
            print(row, flush=True)
            lines.append(row)
    print()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
