"""Sources -> one validated, deduplicated item table, a manifest and a rejects report.

``build_dataset`` is what ``make data`` runs; the same inputs always give the same content digest.

One build is one set: table, manifest and rejects are written into a new folder ``builds/<name>/``, and a single
symbolic link, ``current``, is then switched to it (``os.replace`` of a link is atomic). ``items.parquet``,
``manifest.json`` and ``rejects.csv`` in the data folder are links through ``current``, so existing readers keep
their paths and always see one build's three files, never a mix. A build killed at any point leaves the previous
set in place. ``load_items`` checks the table against the manifest beside it and refuses a mismatch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pandas as pd

from features.paths import data_dir
from features.progress import progress, step, track
from features.schema import COLUMNS, SCHEMA_VERSION, Item, RecordError
from features.sources import SourceFile, configured_sources, discover, read_items_file
from features.view import assert_no_leaks, view_frame

DATE_COLUMNS: Final = ("date_assigned", "injury_date", "ur_date", "decision_date")
INT_COLUMNS: Final = ("item_index", "report_year", "days_to_review", "days_to_adopt")

#: Reads one source file into items and row-level rejects. Ray ingestion swaps in a parallel map.
Reader = Callable[[SourceFile], tuple[list[Item], list[dict[str, str]]]]


class DatasetMissingError(FileNotFoundError):
    """No item table yet, or an empty one."""


class NoSourcesError(RuntimeError):
    """Nothing to build from."""


class DatasetMismatchError(RuntimeError):
    """The item table is not the one its manifest describes (a mixed or tampered data folder)."""


#: The folder of the builds, the link to the current one, and the files each build holds (linked from the data folder).
BUILDS_DIR: Final = "builds"
CURRENT_LINK: Final = "current"
BUILD_FILES: Final = ("items.parquet", "manifest.json", "rejects.csv")
#: Builds kept besides the current one (older ones are deleted after a successful build).
KEEP_BUILDS: Final = 2


@dataclass
class BuildResult:
    """What a build produced: the table, its manifest, and everything it refused."""

    table: pd.DataFrame
    manifest: dict[str, Any]
    rejects: list[dict[str, str]] = field(default_factory=list)


def read_source(source: SourceFile) -> tuple[list[Item], list[dict[str, str]]]:
    """One source file -> items + rejects. A file that fails as a whole becomes one reject."""
    try:
        if source.kind == "letter":
            from features.letters import parse_letter

            return parse_letter(source.path), []
        if source.kind == "dmhc":
            from features.dmhc import load_dmhc

            return load_dmhc(source.path)
        return read_items_file(source.path)
    except RecordError as exc:
        return [], [exc.as_reject()]
    except (OSError, ValueError) as exc:
        return [], [RecordError(source.path.name, f"unreadable: {type(exc).__name__}: {exc}").as_reject()]


def items_to_frame(items: Sequence[Item]) -> pd.DataFrame:
    """Items -> a table with the schema's columns and stable dtypes (so digests do not depend on the reader)."""
    frame = pd.DataFrame([item.model_dump() for item in items], columns=list(COLUMNS))
    for column in DATE_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], errors="raise").astype("datetime64[ms]")
    for column in INT_COLUMNS:
        frame[column] = frame[column].astype("Int64")
    for column in frame.columns:
        if column not in DATE_COLUMNS and column not in INT_COLUMNS:
            frame[column] = frame[column].astype("string")
    return frame


def _content_key(item: Item) -> str:
    payload = item.model_dump(mode="json", exclude={"source"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _information(item: Item) -> int:
    return len(item.summary) + len(item.rationale or "") + sum(v is not None for v in item.model_dump().values())


def deduplicate(items: Sequence[Item]) -> tuple[list[Item], dict[str, int], list[dict[str, str]]]:
    """One record per item_id.

    Exact copies (the same letter in two folders; a CSV and a parquet of one export) are dropped and counted.
    Two versions of one id that agree on the outcome (an old export without Findings and a current one with
    them) keep the more informative record. Versions that disagree on the outcome cannot both be true: all are
    rejected, with the reason.
    """
    by_id: dict[str, list[Item]] = {}
    for item in items:
        by_id.setdefault(item.item_id, []).append(item)
    kept: list[Item] = []
    counts = {"exact_duplicates": 0, "merged_versions": 0, "conflicting_ids": 0}
    rejects: list[dict[str, str]] = []
    for item_id, group in by_id.items():
        unique: dict[str, Item] = {}
        for item in group:
            unique.setdefault(_content_key(item), item)
        counts["exact_duplicates"] += len(group) - len(unique)
        versions = list(unique.values())
        if len({v.determination for v in versions}) > 1:
            counts["conflicting_ids"] += 1
            rejects.extend(
                RecordError(
                    v.source, "conflicting determinations for the same item in different sources", item_id
                ).as_reject()
                for v in versions
            )
            continue
        counts["merged_versions"] += len(versions) - 1
        kept.append(max(versions, key=_information))
    return kept, counts, rejects


def content_digest(table: pd.DataFrame) -> str:
    """sha256 over the rows in item_id order, independent of file order and of the parquet writer."""
    ordered = table.sort_values("item_id", kind="stable").reset_index(drop=True)
    records = ordered.astype(object).where(ordered.notna(), None).to_dict(orient="records")
    payload = json.dumps(records, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(f"{SCHEMA_VERSION}\n{payload}".encode()).hexdigest()


def _manifest(
    table: pd.DataFrame,
    sources: Sequence[SourceFile],
    per_source: dict[str, Counter[str]],
    rejects: Sequence[dict[str, str]],
    dedupe: dict[str, int],
    digest: str,
) -> dict[str, Any]:
    reasons = Counter(r["reason"].split(":")[0] for r in rejects)
    by_label = Counter(zip(table["jurisdiction"].tolist(), table["determination"].tolist(), strict=True))
    return {
        "schema_version": SCHEMA_VERSION,
        "content_digest": digest,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": len(table),
        "cases": int(table["case_id"].nunique()),
        "rows_by_jurisdiction_and_label": {f"{j}/{d}": n for (j, d), n in sorted(by_label.items())},
        "sources": [
            {
                "path": str(s.path),
                "kind": s.kind,
                "sha256": s.sha256,
                "rows": dict(per_source.get(str(s.path), Counter())),
            }
            for s in sources
        ],
        "deduplication": dedupe,
        "rejects": {"count": len(rejects), "by_reason": dict(reasons.most_common())},
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_builds(out_dir: Path) -> list[Path]:
    """Delete the staging folders (and half-made links) of builds that were killed (their process is gone);
    returns what was removed."""
    removed = []
    for staged in [*out_dir.glob(".build-*"), *out_dir.glob(".link-*")]:
        pid = staged.name.split("-")[1].split(".")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            if staged.is_dir() and not staged.is_symlink():
                shutil.rmtree(staged, ignore_errors=True)
            else:
                staged.unlink(missing_ok=True)
            removed.append(staged)
    return removed


def _link_atomically(target: str, link: Path) -> None:
    """Make ``link`` a symbolic link to ``target`` in one step (a new link renamed over the old one)."""
    temporary = link.with_name(f".link-{os.getpid()}.{link.name}")
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, link)


def _prune_builds(builds: Path, current: str) -> None:
    """Delete all but the newest ``KEEP_BUILDS`` builds besides the current one."""
    names = sorted((p.name for p in builds.iterdir() if p.is_dir() and p.name != current), reverse=True)
    for name in names[KEEP_BUILDS:]:
        shutil.rmtree(builds / name, ignore_errors=True)


def _write_atomically(build: BuildResult, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(out_dir)  # a build killed mid-write leaves its staging folder; the current set is intact
    staged = out_dir / f".build-{os.getpid()}"
    staged.mkdir(exist_ok=True)
    build.table.to_parquet(staged / "items.parquet", index=False)
    pd.DataFrame(build.rejects, columns=["source", "locator", "reason"]).to_csv(staged / "rejects.csv", index=False)
    (staged / "manifest.json").write_text(json.dumps(build.manifest, indent=2, sort_keys=True) + "\n")
    builds = out_dir / BUILDS_DIR
    builds.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{stamp}-{build.manifest['content_digest'][:12]}"
    os.replace(staged, builds / name)  # the complete set, under its final name
    _link_atomically(f"{BUILDS_DIR}/{name}", out_dir / CURRENT_LINK)  # the one switch
    for file_name in BUILD_FILES:  # once per data folder (a folder of the earlier layout holds plain files)
        link = out_dir / file_name
        if not (link.is_symlink() and os.readlink(link) == f"{CURRENT_LINK}/{file_name}"):
            _link_atomically(f"{CURRENT_LINK}/{file_name}", link)
    _prune_builds(builds, name)


def _read_all(
    read: Reader,
    sources: Sequence[SourceFile],
    map_sources: Callable[[Reader, Sequence[SourceFile]], list[tuple[list[Item], list[dict[str, str]]]]] | None,
) -> list[tuple[list[Item], list[dict[str, str]]]]:
    """Every source read, with progress: per file here; as one step on Ray (its tasks report nothing back)."""
    if map_sources is None:
        return [read(s) for s in track(sources, "reading sources (letters, exports)")]
    with progress("reading sources with Ray", total=len(sources)) as bar:
        results = map_sources(read, sources)
        bar.advance(len(results))
    return results


def _no_records_message(locations: Sequence[str], rejects: Sequence[dict[str, str]]) -> str:
    """Why nothing was read: the locations that do not exist (the usual cause: a mistyped path), else the first
    reasons files were refused (no rejects file is written when nothing is built)."""
    local = [loc for loc in locations if not loc.lower().startswith(("http://", "https://"))]
    absent = [loc for loc in local if not Path(loc).exists()]
    if absent and len(absent) == len(locations):
        return f"{', '.join(absent)}: does not exist (no such file or folder), so the sources gave no records."
    missing = f"; {', '.join(absent)} does not exist" if absent else ""
    shown = "; ".join(f"{r.get('source', '')}: {r.get('reason', '')}" for r in rejects[:3])
    more = f" (and {len(rejects) - 3} more)" if len(rejects) > 3 else ""
    refused = f"; {len(rejects)} refused: {shown}{more}" if rejects else ""
    return (
        f"The configured sources ({', '.join(locations)}) gave no records{missing}{refused}. "
        "Point --source or IMR_SOURCES at DWC letters or a DMHC export."
    )


def build_dataset(
    locations: Sequence[str] | None = None,
    out_dir: Path | None = None,
    reader: Reader | None = None,
    map_sources: Callable[[Reader, Sequence[SourceFile]], list[tuple[list[Item], list[dict[str, str]]]]] | None = None,
) -> BuildResult:
    """Read every configured source, validate, dedupe, leak-check, and write table + manifest + rejects."""
    locations = list(locations) if locations is not None else configured_sources()
    if not locations:
        raise NoSourcesError(
            "No data sources found. Put DWC letters (PDF/text) or a DMHC export (CSV/parquet) under "
            "../shared/data/raw, or point IMR_SOURCES at your own folder, file or URL "
            "(e.g. IMR_SOURCES=/path/to/letters,/path/to/dmhc.csv make data), or IMR_SOURCES_FILE at a YAML file."
        )
    sources, rejects = discover(locations)
    results = _read_all(reader or read_source, sources, map_sources)
    items: list[Item] = []
    per_source: dict[str, Counter[str]] = {}
    for source, (found, refused) in zip(sources, results, strict=True):
        items.extend(found)
        rejects.extend(refused)
        per_source[str(source.path)] = Counter(i.determination for i in found)
    if not items:
        raise NoSourcesError(_no_records_message(locations, rejects))
    with step("deduplicating items"):
        kept, dedupe, conflicts = deduplicate(items)
        rejects.extend(conflicts)
        table = items_to_frame(sorted(kept, key=lambda i: i.item_id))
    with step("checking model inputs for leaks"):
        assert_no_leaks(view_frame(table), ids=table["item_id"].tolist())
    with step("writing table, manifest and rejects"):
        digest = content_digest(table)
        build = BuildResult(table, _manifest(table, sources, per_source, rejects, dedupe, digest), rejects)
        _write_atomically(build, out_dir or data_dir())
    return build


def load_items(path: Path | None = None) -> pd.DataFrame:
    """The built item table; a clear error when it has not been built, or when it is not the table that the
    manifest beside it describes (a table written without a manifest is read as it is)."""
    path = path or data_dir() / "items.parquet"
    if not path.exists():
        raise DatasetMissingError(f"No item table at {path}. Build it first: `make data` (or `imr data`).")
    real = path.resolve()  # once: the table and its manifest then come from the same build, whatever switches
    table = pd.read_parquet(real)
    if table.empty:
        raise DatasetMissingError(f"The item table at {path} is empty. Rebuild it with `make data`.")
    manifest_file = real.parent / "manifest.json"
    if manifest_file.exists():
        check_against_manifest(table, json.loads(manifest_file.read_text(encoding="utf-8")), path)
    return table


def check_against_manifest(table: pd.DataFrame, manifest: dict[str, Any], path: Path) -> None:
    """Raise ``DatasetMismatchError`` unless ``table`` has the manifest's row count and content digest."""
    rows, digest = manifest.get("rows"), manifest.get("content_digest")
    if rows is not None and rows != len(table):
        raise DatasetMismatchError(
            f"The item table at {path} has {len(table)} rows but its manifest says {rows}: the data folder mixes two "
            "builds. Rebuild it with `make data`."
        )
    if digest is not None and digest != content_digest(table):
        raise DatasetMismatchError(
            f"The item table at {path} does not match its manifest's content digest ({str(digest)[:12]}...): the "
            "data folder mixes two builds or was edited. Rebuild it with `make data`."
        )


def load_manifest(path: Path | None = None) -> dict[str, Any]:
    """The manifest written beside the table."""
    path = path or data_dir() / "manifest.json"
    if not path.exists():
        raise DatasetMissingError(f"No manifest at {path}. Build the data first: `make data`.")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
