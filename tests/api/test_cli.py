"""The ``imr`` command line: score output formats, summaries, progress on stderr, errors and help at 80 columns.

Scores with the fake keyword champions of ``tests/conftest.py`` (a temporary registry); builds data from a tiny
invented JSONL table, never ../shared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from features import progress
from serving.batch_output import RESULT_COLUMNS, read_results

pytestmark = pytest.mark.api

SUMMARY = "Chronic low back pain after a lifting injury; utilization review denied the request."
ROWS: list[dict[str, Any]] = [
    {"id": "a-1", "jurisdiction": "dwc", "item_text": "Norco 10/325 mg, quantity unspecified", "summary": SUMMARY},
    {"id": "x-1", "jurisdiction": "medicare", "item_text": "Hip replacement"},
    {"id": "a-2", "jurisdiction": "dwc", "item_text": "MRI of the lumbar spine", "summary": SUMMARY},
    {"id": "x-2", "jurisdiction": "dwc", "item_text": "   "},
    {"id": "x-3", "jurisdiction": "dwc", "item_text": "  "},
    {"id": "b-1", "jurisdiction": "dmhc", "item_text": "Inpatient rehabilitation", "report_year": 2015},
]
SCORED_IDS = ["a-1", "a-2", "b-1"]


@pytest.fixture(autouse=True)
def _progress_default(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``--quiet`` switches progress off for the whole process: put it back after each test."""
    monkeypatch.delenv(progress.ENV_VAR, raising=False)
    progress.set_enabled(None)
    yield
    progress.set_enabled(None)


@pytest.fixture
def requests_csv(tmp_path: Path) -> Path:
    path = tmp_path / "requests.csv"
    pd.DataFrame(ROWS).to_csv(path, index=False)
    return path


def _score(runner: CliRunner, source: Path, output: Path, uri: str, *extra: str) -> Any:
    return runner.invoke(app, [*extra, "score", "-i", str(source), "-o", str(output), "--tracking-uri", uri])


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_score_writes_the_format_of_the_extension(
    fake_registry: Any, requests_csv: Path, tmp_path: Path, suffix: str
) -> None:
    output = tmp_path / f"results{suffix}"
    result = _score(CliRunner(), requests_csv, output, fake_registry.uri)
    assert result.exit_code == 0, result.output
    out = read_results(output)
    assert tuple(out.columns) == RESULT_COLUMNS
    assert out["id"].tolist() == SCORED_IDS
    assert out["band"].tolist() == ["likely_upheld", "likely_overturned", "uncertain"]
    assert out["band_label"][0] == "Likely upheld (denial likely to stand)"
    assert out["p_upheld"].tolist() == pytest.approx([0.85, 0.15, 0.5])
    assert out["p_low"][0] == pytest.approx(0.8) and out["p_high"][0] == pytest.approx(0.9)
    assert out["item_text"].tolist() == [ROWS[0]["item_text"], ROWS[2]["item_text"], ROWS[5]["item_text"]]
    if suffix == ".csv":  # one readable cell per list
        assert out["top_reasons"][0].startswith("quantity_unspecified: ")
        assert "(0.70)" in out["top_reasons"][0]
        assert "quantity_stated: " in out["missing_checks"][0]
    else:  # real lists
        reasons, checks = list(out["top_reasons"][0]), list(out["missing_checks"][0])
        assert dict(reasons[0]) == {
            "code": "quantity_unspecified",
            "label": dict(reasons[0])["label"],
            "probability": pytest.approx(0.7),
        }
        assert dict(reasons[0])["label"] and dict(reasons[0])["label"] != "quantity_unspecified"
        assert {"code", "title"} == set(dict(checks[0]))
        assert "quantity_stated" in [dict(c)["code"] for c in checks]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_case_id_is_passed_through_next_to_id(fake_registry: Any, tmp_path: Path, suffix: str) -> None:
    source = tmp_path / "requests.jsonl"
    rows = [{**row, "case_id": f"case-{row['id'][0]}"} for row in ROWS]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    output = tmp_path / f"results{suffix}"
    result = _score(CliRunner(), source, output, fake_registry.uri)
    assert result.exit_code == 0, result.output
    out = read_results(output)
    assert tuple(out.columns) == ("id", "case_id", *RESULT_COLUMNS[1:])
    assert out["case_id"].tolist() == ["case-a", "case-a", "case-b"]


def test_jsonl_rows_are_plain_json(fake_registry: Any, requests_csv: Path, tmp_path: Path) -> None:
    output = tmp_path / "results.jsonl"
    assert _score(CliRunner(), requests_csv, output, fake_registry.uri).exit_code == 0
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == SCORED_IDS
    assert isinstance(rows[0]["top_reasons"], list) and isinstance(rows[0]["missing_checks"], list)
    assert rows[2]["label"] == "" and rows[2]["band"] == "uncertain"  # no verdict
    # The model gave no reason for that row: its reasons are the failed checks', which carry no probability.
    assert rows[2]["top_reasons"] and all(r["probability"] is None for r in rows[2]["top_reasons"])
    assert len(rows[0]["top_reasons"]) <= 3


def test_summary_counts_rejects_per_reason_and_names_the_file(
    fake_registry: Any, requests_csv: Path, tmp_path: Path
) -> None:
    output = tmp_path / "results.csv"
    result = _score(CliRunner(), requests_csv, output, fake_registry.uri)
    assert result.exit_code == 0, result.output
    stdout = result.stdout
    rejects_path = tmp_path / "results.rejects.csv"
    assert "scored 3 of 6 rows with local" in stdout and str(output) in stdout
    assert f"rejected 3 rows; each with its id, row number and reason in {rejects_path}" in stdout
    lines = [line.strip() for line in stdout.splitlines()]
    blank = [line for line in lines if line.startswith("2 rows: invalid:") and "item_text" in line]
    assert len(blank) == 1
    assert any(line.startswith("1 row: invalid:") and "jurisdiction" in line for line in lines)
    assert " x invalid" not in stdout
    rejects = pd.read_csv(rejects_path, dtype={"id": str})
    assert rejects["id"].tolist() == ["x-1", "x-2", "x-3"]


def test_score_progress_goes_to_stderr_as_plain_lines(fake_registry: Any, requests_csv: Path, tmp_path: Path) -> None:
    result = _score(CliRunner(), requests_csv, tmp_path / "r.parquet", fake_registry.uri)
    assert result.exit_code == 0, result.output
    assert "scoring rows: 3/3 (100 %), done in " in result.stderr
    assert "scoring rows" not in result.stdout
    quiet = _score(CliRunner(), requests_csv, tmp_path / "q.parquet", fake_registry.uri, "--quiet")
    assert quiet.exit_code == 0, quiet.output
    assert "scoring rows" not in quiet.stderr


def test_unknown_output_extension_is_refused_before_any_work(requests_csv: Path, tmp_path: Path) -> None:
    result = _score(CliRunner(), requests_csv, tmp_path / "results.xlsx", "sqlite:///nowhere/at/all.db")
    assert result.exit_code == 2
    assert "cannot write results as '.xlsx'" in result.stderr
    assert "*.csv, *.jsonl or *.parquet" in result.stderr
    assert not (tmp_path / "results.rejects.csv").exists()


def test_paths_that_are_wrong_say_what_is_wrong(requests_csv: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    uri = "sqlite:///nowhere/at/all.db"
    missing = _score(runner, tmp_path / "absent.csv", tmp_path / "r.csv", uri)
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    folder = _score(runner, tmp_path, tmp_path / "r.csv", uri)
    assert folder.exit_code == 2 and "is a directory" in folder.stderr
    (tmp_path / "out.csv").mkdir()
    output_folder = _score(runner, requests_csv, tmp_path / "out.csv", uri)
    assert output_folder.exit_code == 2 and "is a directory" in output_folder.stderr


def _items_source(folder: Path) -> Path:
    folder.mkdir()
    rows = [
        {
            "item_id": f"C{n}#0",
            "case_id": f"C{n}",
            "item_index": 0,
            "jurisdiction": "dwc",
            "determination": "Upheld" if n % 2 else "Overturned",
            "item_text": f"Physical therapy {n}",
            "summary": "Neck pain after a fall; utilization review denied therapy.",
            "decision_date": "2016-12-09",
        }
        for n in range(3)
    ]
    path = folder / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_data_says_where_it_wrote(tmp_path: Path) -> None:
    source, out = _items_source(tmp_path / "src"), tmp_path / "built"
    result = CliRunner().invoke(app, ["data", "--source", str(source), "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    stdout = result.stdout
    assert f"wrote the data folder {out.resolve()}" in stdout
    assert f"table     {out.resolve() / 'items.parquet'}  3 rows from 3 cases" in stdout
    assert f"manifest  {out.resolve() / 'manifest.json'}" in stdout
    assert f"rejects   {out.resolve() / 'rejects.csv'}  0 refused files or rows" in stdout
    assert "reading sources (letters, exports): 1/1 (100 %)" in result.stderr
    assert (out / "items.parquet").exists()


def test_data_source_that_does_not_exist(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data", "--source", str(tmp_path / "nope"), "--out-dir", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert f"--source {tmp_path / 'nope'} does not exist" in result.stderr
    assert not (tmp_path / "o").exists()
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    not_folder = CliRunner().invoke(app, ["data", "--out-dir", str(tmp_path / "a-file")])
    assert not_folder.exit_code == 2 and "is a file" in not_folder.stderr


@pytest.mark.parametrize("command", [[], ["data"], ["train"], ["score"], ["tune"]])
def test_help_fits_80_columns_without_types_on_flags(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "<bool>" not in text
    assert "…" not in text and "..." not in text.replace("[ARGS]...", "")
    assert max(len(line) for line in text.splitlines()) <= 80
    if command == ["tune"]:
        assert "experiments/<config>-<candidate>-tuned.yaml" in text
    if command == ["train"]:
        assert "--if-missing " in text
