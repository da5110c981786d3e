"""``kill -9`` during ``imr data``: the previous table, manifest and rejects stay intact; the next build works.

The real command runs in a subprocess on an invented input of 40,000 items (about 6 s of work on this machine) and
is killed at several points: while reading, while validating, and the moment it starts writing its staged files.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from features.dataset import content_digest, load_items, load_manifest
from features.schema import Item
from tests.synthetic_items import synthetic_items

pytestmark = [pytest.mark.unit, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
FILES = ("items.parquet", "manifest.json", "rejects.csv")


def write_items(path: Path, copies: int) -> int:
    """``copies`` x 500 invented cases (distinct case ids per copy) as a JSONL item file; returns the row count."""
    base = [item.model_dump(mode="json") for item in synthetic_items(cases=500)]
    rows = 0
    with path.open("w", encoding="utf-8") as out:
        for copy in range(copies):
            for row in base:
                case_id = row["case_id"].replace("CM16-", f"CM{copy:02d}-")
                record = {**row, "case_id": case_id, "item_id": row["item_id"].replace(row["case_id"], case_id)}
                if rows < 5:
                    Item.model_validate(record)  # the shape is valid (spot check)
                out.write(json.dumps(record) + "\n")
                rows += 1
    return rows


def build(source: Path, out_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "cli.py", "data", "--source", str(source), "--out-dir", str(out_dir)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def snapshot(out_dir: Path) -> dict[str, str]:
    return {name: hashlib.sha256((out_dir / name).read_bytes()).hexdigest() for name in FILES}


def assert_consistent(out_dir: Path) -> None:
    """The table reads, and the manifest describes exactly this table."""
    table = load_items(out_dir / "items.parquet")
    manifest = load_manifest(out_dir / "manifest.json")
    assert manifest["rows"] == len(table)
    assert manifest["content_digest"] == content_digest(table)


def kill_when(proc: subprocess.Popen[bytes], condition: object, timeout_s: float = 60.0) -> float:
    """SIGKILL the build when ``condition()`` becomes true; returns the seconds it had run."""
    start = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert proc.poll() is None, f"the build ended before it could be killed: {proc.stderr.read()!r}"  # type: ignore[union-attr]
        assert time.monotonic() - start < timeout_s, "kill point never reached"
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return time.monotonic() - start


def test_kill_9_during_imr_data_leaves_the_previous_table_intact(tmp_path: Path) -> None:
    out_dir = tmp_path / "data"
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl"
    write_items(small, 1)
    rows = write_items(big, 40)
    first = build(small, out_dir)
    assert first.wait(timeout=300) == 0, first.stderr.read()  # type: ignore[union-attr]
    before = snapshot(out_dir)
    assert_consistent(out_dir)
    previous_rows = load_manifest(out_dir / "manifest.json")["rows"]

    kill_points = {
        "reading": lambda start: time.monotonic() - start > 1.5,
        "validating": lambda start: time.monotonic() - start > 3.5,
        "writing": lambda start: any(out_dir.glob(".build-*")),
    }
    killed_after = {}
    for name, reached in kill_points.items():
        proc = build(big, out_dir)
        started = time.monotonic()
        killed_after[name] = kill_when(proc, lambda reached=reached, started=started: reached(started))
        assert proc.returncode == -signal.SIGKILL
        assert snapshot(out_dir) == before, f"killed while {name}: the previous files changed"
        assert_consistent(out_dir)
        assert load_manifest(out_dir / "manifest.json")["rows"] == previous_rows
    print(f"\nkilled `imr data` after {', '.join(f'{k} {v:.2f}s' for k, v in killed_after.items())}")

    last = build(big, out_dir)  # the next build runs clean and removes what the killed ones left behind
    assert last.wait(timeout=300) == 0, last.stderr.read()  # type: ignore[union-attr]
    assert_consistent(out_dir)
    assert load_manifest(out_dir / "manifest.json")["rows"] == rows
    assert not list(out_dir.glob(".build-*"))
