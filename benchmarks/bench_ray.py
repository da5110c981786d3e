"""Ray vs in-process on this machine: batch scoring (rows/s) and letter parsing (letters/s).

    python benchmarks/bench_ray.py [--rows 100000] [--letter-passes 4] [--workers 1,2]

- Scoring: ``serving.batch.score_file`` on ``--rows`` requests built by repeating the pre-submission fields of the
  real DWC items (from ``data/items.parquet``, or parsed from the letters when the table is not built), in-process
  and on Ray Data with each worker count. The champion is ``models:/imr-dwc@champion`` of the default registry when
  there is one, else the TF-IDF + LR stand-in of ``benchmarks/tfidf_champion.py`` registered in a temporary store.
  Times cover the whole command (read, validate, load models in every actor, score, write), not Ray's start-up,
  which is measured apart.
- Parsing: every real letter read ``--letter-passes`` times, single process vs ``features.parallel.ray_map_sources``.

Ray runs locally on 127.0.0.1 (no dashboard), started and shut down by this script; the whole run is bounded by
``--budget-s`` (an alarm stops it). Prints a markdown table and writes ``bench-results/ray.md``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import pandas as pd  # noqa: E402

from features.dataset import read_source  # noqa: E402
from features.parallel import ray_map_sources, ray_session  # noqa: E402
from features.paths import data_dir, shared_dir  # noqa: E402
from features.sources import SourceFile, discover  # noqa: E402
from features.view import PrescreenRequest  # noqa: E402

Row = tuple[str, str, float, str]


def _timeout(seconds: int) -> None:
    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(f"bench_ray: stopped after {seconds}s (--budget-s)")

    signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)


# -- inputs --------------------------------------------------------------------------------------------------------


def letter_sources() -> list[SourceFile]:
    letters = shared_dir() / "data" / "raw" / "dwc-imr-letters"
    sources, _ = discover([str(letters)])
    if not sources:
        raise SystemExit(f"no letters under {letters} (set IMR_SHARED_DIR)")
    return sources


def dwc_requests() -> pd.DataFrame:
    """The request fields of the real DWC items (from the built table, else parsed from the letters)."""
    items = data_dir() / "items.parquet"
    if items.is_file():
        table = pd.read_parquet(items)
    else:
        from features.dataset import items_to_frame

        table = items_to_frame([item for found, _ in map(read_source, letter_sources()) for item in found])
    table = table[table["jurisdiction"] == "dwc"]
    fields = [f for f in PrescreenRequest.model_fields if f in table.columns]
    return table[fields].reset_index(drop=True)


def write_requests(base: pd.DataFrame, rows: int, path: Path) -> Path:
    """``rows`` requests cycling through the real items, with ids, as parquet."""
    repeats = -(-rows // len(base))
    frame = pd.concat([base] * repeats, ignore_index=True).iloc[:rows].copy()
    frame.insert(0, "id", [f"req-{i:07d}" for i in range(rows)])
    frame.to_parquet(path, index=False)
    return path


# -- champion ------------------------------------------------------------------------------------------------------


def default_champion() -> str | None:
    """The default registry's URI when it has a DWC champion."""
    from serving.batch import resolve_champions
    from serving.settings import resolve_tracking_uri

    uri = resolve_tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return None
    try:
        with tempfile.TemporaryDirectory() as models:
            found, _ = resolve_champions(uri, ["dwc"], Path(models))
    except Exception:
        return None
    return uri if "dwc" in found else None


# -- measurements --------------------------------------------------------------------------------------------------


def timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def bench_scoring(requests: Path, rows: int, uri: str, workers: list[int], root: Path) -> list[Row]:
    from serving.batch import score_file

    results: list[Row] = []
    seconds = timed(lambda: score_file(requests, root / "local.parquet", "local", uri))
    results.append(("scoring", "in-process", rows / seconds, "rows/s"))
    expected = pd.read_parquet(root / "local.parquet")
    for n in workers:
        out = root / f"ray-{n}.parquet"
        seconds = timed(lambda n=n, out=out: score_file(requests, out, "ray", uri, num_workers=n))  # type: ignore[misc]
        pd.testing.assert_frame_equal(expected, pd.read_parquet(out))  # the same results, or the number is moot
        results.append(("scoring", f"Ray, {n} worker{'s' if n > 1 else ''}", rows / seconds, "rows/s"))
    return results


def bench_parsing(sources: list[SourceFile], passes: int, workers: list[int]) -> list[Row]:
    work = sources * passes
    expected = [read_source(s) for s in sources]
    results: list[Row] = []
    seconds = timed(lambda: [read_source(s) for s in work])
    results.append(("parsing", "single process", len(work) / seconds, "letters/s"))
    for n in workers:
        started = time.perf_counter()
        got = ray_map_sources(read_source, work, num_workers=n)
        seconds = time.perf_counter() - started
        if got[: len(sources)] != expected:
            raise SystemExit("Ray parsing gave different items than the single process")
        results.append(("parsing", f"Ray, {n} worker{'s' if n > 1 else ''}", len(work) / seconds, "letters/s"))
    return results


def table(rows: list[Row], header: str) -> str:
    lines = [header, "", "| stage | engine | throughput | vs single process |", "|---|---|---:|---:|"]
    base: dict[str, float] = {}
    for stage, engine, rate, unit in rows:
        base.setdefault(stage, rate)
        lines.append(f"| {stage} | {engine} | {rate:,.0f} {unit} | {rate / base[stage]:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="requests to score")
    parser.add_argument("--letter-passes", type=int, default=4, help="times every real letter is parsed")
    parser.add_argument("--workers", default="1,2", help="Ray worker counts, comma-separated")
    parser.add_argument("--budget-s", type=int, default=900, help="stop after this many seconds, whatever happens")
    args = parser.parse_args()
    _timeout(args.budget_s)
    os.chdir(REPO)  # a local Ray's workers import the project from the driver's working directory
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    sources = letter_sources()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="imr-bench-ray-") as tmp:
        root = Path(tmp)
        uri = default_champion()
        champion = "models:/imr-dwc@champion (default registry)"
        if uri is None:
            sys.path.insert(0, str(REPO / "benchmarks"))
            from tfidf_champion import register_stand_in

            uri = register_stand_in(root, "bench-ray")
            champion = "TF-IDF + LR stand-in (benchmarks/tfidf_champion.py)"
        requests = write_requests(dwc_requests(), args.rows, root / "requests.parquet")
        started = time.perf_counter()
        with ray_session(max(workers)):
            startup = time.perf_counter() - started
            rows = bench_scoring(requests, args.rows, uri, workers, root)
            rows += bench_parsing(sources, args.letter_passes, workers)
    cpus = os.cpu_count() or 1
    header = (
        f"Ray vs single process on this machine ({cpus} CPUs); scoring {args.rows:,} requests from the real DWC items "
        f"with {champion}; parsing {len(sources)} real letters x {args.letter_passes}. "
        f"Local Ray start-up (not included): {startup:.1f}s. Load average before/after: "
        f"{load_before:.1f}/{os.getloadavg()[0]:.1f}."
    )
    text = table(rows, header)
    print("\n" + text)
    out = REPO / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "ray.md").write_text(text + "\n", encoding="utf-8")
    signal.alarm(0)


if __name__ == "__main__":
    main()
