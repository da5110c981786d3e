"""Dataset build: validation, dedupe, rejects, determinism, atomic replace, leak check."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from features.dataset import DatasetMissingError, NoSourcesError, build_dataset, load_items, load_manifest
from features.view import LeakError

pytestmark = pytest.mark.unit


def _row(case: str, index: int = 0, determination: str = "Upheld", **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "item_id": f"{case}#{index}",
        "case_id": case,
        "item_index": index,
        "jurisdiction": "dwc",
        "determination": determination,
        "item_text": f"Physical therapy {index}",
        "summary": "Neck pain after a fall; utilization review denied therapy.",
        "decision_date": "2016-12-09",
    }
    row.update(extra)
    return row


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    _write_jsonl(folder / "a.jsonl", [_row("C1"), _row("C1", 1, "Overturned"), _row("C2")])
    return folder


def test_build_writes_table_manifest_and_rejects(source: Path, tmp_path: Path) -> None:
    (source / "notes.md").write_text("documentation is ignored")
    (source / "weird.xyz").write_text("an unsupported file is reported")
    out = tmp_path / "out"
    build = build_dataset([str(source)], out)
    table = load_items(out / "items.parquet")
    assert len(table) == 3 and set(table["determination"]) == {"Upheld", "Overturned"}
    manifest = load_manifest(out / "manifest.json")
    assert manifest["rows"] == 3 and manifest["cases"] == 2
    assert manifest["rows_by_jurisdiction_and_label"] == {"dwc/Overturned": 1, "dwc/Upheld": 2}
    assert manifest["sources"][0]["sha256"] and manifest["content_digest"] == build.manifest["content_digest"]
    rejects = pd.read_csv(out / "rejects.csv")
    assert rejects["reason"].str.contains("unsupported file type").sum() == 1


def test_same_inputs_same_digest_regardless_of_order(source: Path, tmp_path: Path) -> None:
    first = build_dataset([str(source)], tmp_path / "one").manifest["content_digest"]
    second = build_dataset([str(source)], tmp_path / "two").manifest["content_digest"]
    assert first == second
    reordered = tmp_path / "reordered"
    reordered.mkdir()
    _write_jsonl(reordered / "a.jsonl", [_row("C2"), _row("C1", 1, "Overturned"), _row("C1")])
    assert build_dataset([str(reordered)], tmp_path / "three").manifest["content_digest"] == first


def test_invalid_records_are_rejected_with_reason_not_dropped(tmp_path: Path) -> None:
    src = _write_jsonl(
        tmp_path / "bad.jsonl", [_row("C1"), _row("C2", determination="Maybe"), _row("C3", item_text="")]
    )
    build = build_dataset([str(src)], tmp_path / "out")
    assert len(build.table) == 1
    assert len(build.rejects) == 2
    assert all("determination" in r["reason"] or "item_text" in r["reason"] for r in build.rejects)
    assert {r["locator"] for r in build.rejects} == {"row 2", "row 3"}


def test_duplicates_are_removed_and_counted_conflicts_rejected(tmp_path: Path) -> None:
    a = _write_jsonl(tmp_path / "a.jsonl", [_row("C1"), _row("C2"), _row("C3")])
    b = _write_jsonl(
        tmp_path / "b.jsonl",
        [
            _row("C1"),
            _row("C2", summary="Neck pain after a fall; utilization review denied therapy. Six prior sessions helped."),
            _row("C3", determination="Overturned"),
        ],
    )
    build = build_dataset([str(a), str(b)], tmp_path / "out")
    assert build.manifest["deduplication"] == {"exact_duplicates": 1, "merged_versions": 1, "conflicting_ids": 1}
    assert sorted(build.table["item_id"]) == ["C1#0", "C2#0"]
    assert (
        build.table.set_index("item_id").loc["C2#0", "summary"]
        == "Neck pain after a fall; utilization review denied therapy. Six prior sessions helped."
    )
    assert sum("conflicting determinations" in r["reason"] for r in build.rejects) == 2


def test_no_sources_says_how_to_point_at_data(tmp_path: Path) -> None:
    with pytest.raises(NoSourcesError, match="IMR_SOURCES"):
        build_dataset([], tmp_path / "out")
    with pytest.raises(NoSourcesError, match="gave no records"):
        build_dataset([str(tmp_path / "does-not-exist")], tmp_path / "out")


def test_environment_points_at_own_source(source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMR_SOURCES", str(source / "a.jsonl"))
    assert len(build_dataset(None, tmp_path / "out").table) == 3
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - {source}\n")
    monkeypatch.delenv("IMR_SOURCES")
    monkeypatch.setenv("IMR_SOURCES_FILE", str(config))
    assert len(build_dataset(None, tmp_path / "out2").table) == 3


@pytest.fixture
def http_source(source: Path) -> Iterator[str]:
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(source), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/a.jsonl"
    server.shutdown()


def test_url_source(http_source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMR_DATA_DIR", str(tmp_path / "cache"))
    assert len(build_dataset([http_source], tmp_path / "out").table) == 3


def test_failed_build_leaves_previous_table_intact(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    before = build_dataset([str(source)], out).manifest["content_digest"]
    leaky = tmp_path / "leaky.jsonl"
    _write_jsonl(leaky, [_row("C9", summary="Final Result: the denial should be upheld.")])
    with pytest.raises(LeakError):
        build_dataset([str(leaky)], out)

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", crash)
    with pytest.raises(OSError):
        build_dataset([str(source), str(tmp_path / "leaky.jsonl")[:-6] + "x.jsonl"], out)
    monkeypatch.undo()
    assert load_manifest(out / "manifest.json")["content_digest"] == before
    assert len(load_items(out / "items.parquet")) == 3


def test_missing_table_has_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetMissingError, match="make data"):
        load_items(tmp_path / "nothing.parquet")


def test_one_build_is_one_folder_behind_one_link(source: Path, tmp_path: Path) -> None:
    from features.dataset import BUILD_FILES, BUILDS_DIR, CURRENT_LINK, KEEP_BUILDS

    out = tmp_path / "out"
    first = build_dataset([str(source)], out)
    current = out / CURRENT_LINK
    assert current.is_symlink() and str(current.readlink()).startswith(f"{BUILDS_DIR}/")
    for name in BUILD_FILES:  # the old paths stay readable: links through the one switch
        assert (out / name).is_symlink() and str((out / name).readlink()) == f"{CURRENT_LINK}/{name}"
        assert (current / name).is_file()
    assert load_manifest(out / "manifest.json")["content_digest"] == first.manifest["content_digest"]
    for _ in range(KEEP_BUILDS + 2):
        build_dataset([str(source)], out)
    kept = sorted(p.name for p in (out / BUILDS_DIR).iterdir())
    assert len(kept) == KEEP_BUILDS + 1 and current.resolve().name == kept[-1]
    assert not list(out.glob(".build-*")) and not list(out.glob(".link-*"))


def test_a_folder_of_plain_files_becomes_links(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("items.parquet", "manifest.json", "rejects.csv"):
        (out / name).write_text("the earlier layout")
    build_dataset([str(source)], out)
    assert (out / "items.parquet").is_symlink() and len(load_items(out / "items.parquet")) == 3


def test_a_table_that_does_not_match_its_manifest_is_refused(source: Path, tmp_path: Path) -> None:
    from features.dataset import DatasetMismatchError

    out = tmp_path / "out"
    build_dataset([str(source)], out)
    table = (out / "current" / "items.parquet").resolve()
    full = pd.read_parquet(table)
    full.iloc[:2].to_parquet(table, index=False)  # fewer rows than the manifest says
    with pytest.raises(DatasetMismatchError, match="has 2 rows but its manifest says 3"):
        load_items(out / "items.parquet")
    edited = full.copy()
    edited.loc[0, "item_text"] = "edited"
    edited.to_parquet(table, index=False)  # same rows, other content
    with pytest.raises(DatasetMismatchError, match="content digest"):
        load_items(out / "items.parquet")
    bare = tmp_path / "bare" / "items.parquet"  # a table without a manifest beside it is read as it is
    bare.parent.mkdir()
    full.to_parquet(bare, index=False)
    assert len(load_items(bare)) == 3
