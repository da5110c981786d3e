"""Where the raw records come from: discovering source files and reading each into Items.

A source is a folder, a file or an http(s) URL. By default the sources are whatever exists under
``<shared>/data/raw``; ``IMR_SOURCES`` (paths or URLs separated by ``,``) or a YAML file named by
``IMR_SOURCES_FILE`` (``sources: [path-or-url, ...]``) point the build at a user's own data instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import pandas as pd
import yaml
from pydantic import ValidationError

from features.paths import data_dir, shared_dir
from features.schema import COLUMNS, Item, RecordError

SourceKind = Literal["letter", "dmhc", "items"]

LETTER_SUFFIXES: Final = frozenset({".pdf", ".txt"})
TABLE_SUFFIXES: Final = frozenset({".csv", ".parquet"})
ITEM_SUFFIXES: Final = frozenset({".jsonl"})
# Documentation and checksums that sit beside public data; never records.
IGNORED_SUFFIXES: Final = frozenset({".md", ".json", ".sha256", ".yaml", ".yml"})
MAX_DOWNLOAD_BYTES: Final = 2 * 1024**3


class SourceError(RecordError):
    """A configured source that cannot be read at all (missing path, failed download)."""


@dataclass(frozen=True)
class SourceFile:
    """One file to read, with its kind and content hash (for the manifest)."""

    path: Path
    kind: SourceKind
    sha256: str


def configured_sources() -> list[str]:
    """The configured source locations, in order (environment first, then the shared default)."""
    listed = os.environ.get("IMR_SOURCES", "").strip()
    if listed:
        return [part.strip() for part in listed.split(",") if part.strip()]
    config = os.environ.get("IMR_SOURCES_FILE", "").strip()
    if config:
        loaded = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
        entries = loaded.get("sources", []) if isinstance(loaded, dict) else []
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise SourceError(config, "expected a YAML mapping with 'sources: [path-or-url, ...]'")
        return [str(e) for e in entries]
    default = shared_dir() / "data" / "raw"
    return [str(default)] if default.is_dir() else []


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str) -> Path:
    """Fetch an http(s) source into the data cache, keyed by URL, so a rebuild reads the same bytes."""
    cache = data_dir() / "downloads"
    cache.mkdir(parents=True, exist_ok=True)
    name = Path(urllib.parse.urlparse(url).path).name or "download"
    target = cache / f"{hashlib.sha256(url.encode()).hexdigest()[:12]}-{name}"
    if target.exists():
        return target
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read(MAX_DOWNLOAD_BYTES + 1)
    except OSError as exc:
        raise SourceError(url, f"download failed: {exc}") from exc
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise SourceError(url, f"download larger than {MAX_DOWNLOAD_BYTES} bytes")
    with tempfile.NamedTemporaryFile(dir=cache, delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, target)
    return target


def _kind_of(path: Path) -> SourceKind | None:
    suffix = path.suffix.lower()
    if suffix in LETTER_SUFFIXES:
        return "letter"
    if suffix in TABLE_SUFFIXES:
        return _table_kind(path)
    if suffix in ITEM_SUFFIXES:
        return "items"
    return None


def _table_kind(path: Path) -> SourceKind:
    """A CSV/parquet is our own item table when it has the schema's key columns; otherwise a DMHC export."""
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            columns = set(pq.read_schema(path).names)
        else:
            columns = set(pd.read_csv(path, nrows=0, sep=None, engine="python").columns)
    except Exception:
        return "dmhc"  # let the DMHC loader produce the precise error for this file
    return "items" if {"item_text", "determination", "case_id"} <= columns else "dmhc"


def discover(locations: Sequence[str]) -> tuple[list[SourceFile], list[dict[str, str]]]:
    """Files to read under the given locations, and rejects for locations or files that cannot be used."""
    files: list[SourceFile] = []
    rejects: list[dict[str, str]] = []
    for location in locations:
        try:
            path = _download(location) if location.lower().startswith(("http://", "https://")) else Path(location)
        except SourceError as exc:
            rejects.append(exc.as_reject())
            continue
        if not path.exists():
            rejects.append(SourceError(location, "no such file or folder").as_reject())
            continue
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for candidate in candidates:
            if candidate.name.startswith(".") or candidate.suffix.lower() in IGNORED_SUFFIXES:
                continue
            kind = _kind_of(candidate)
            if kind is None:
                rejects.append(SourceError(str(candidate), f"unsupported file type {candidate.suffix!r}").as_reject())
                continue
            files.append(SourceFile(candidate.resolve(), kind, sha256_file(candidate)))
    return files, rejects


def read_items_file(path: Path) -> tuple[list[Item], list[dict[str, str]]]:
    """A user's own item table (JSONL, CSV or parquet with the schema's columns)."""
    if path.suffix.lower() == ".jsonl":
        rows: Iterable[dict[str, object]] = (
            json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        )
    elif path.suffix.lower() == ".parquet":
        rows = pd.read_parquet(path).to_dict(orient="records")  # type: ignore[assignment]
    else:
        rows = pd.read_csv(path, dtype=str, keep_default_na=False).to_dict(orient="records")  # type: ignore[assignment]
    items: list[Item] = []
    rejects: list[dict[str, str]] = []
    for number, row in enumerate(rows, start=1):
        clean = {
            k: (None if v == "" or v is pd.NaT or (isinstance(v, float) and v != v) else v) for k, v in row.items()
        }
        clean.setdefault("source", path.name)
        clean = {k: v for k, v in clean.items() if k in COLUMNS}
        try:
            items.append(Item.model_validate(clean))
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) + f" ({e['msg']})" for e in exc.errors()[:5])
            rejects.append(RecordError(path.name, f"invalid record: {fields}", f"row {number}").as_reject())
    return items, rejects
