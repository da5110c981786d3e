"""The results file of batch scoring: its columns, and CSV, JSONL or parquet chosen by the file's extension.

One row per scored request, in input order:

| column | what |
|---|---|
| ``id`` | the input's ``id`` (1-based row number when the input has none) |
| ``case_id`` | only when the input has that column: passed through, so rows of one case stay together |
| ``jurisdiction`` | ``dwc`` or ``dmhc`` |
| ``band``, ``band_label`` | the verdict band, as the API gives it (``insufficient_information`` when thin) |
| ``p_upheld``, ``p_low``, ``p_high`` | the estimate and its interval (empty when the model gives none) |
| ``label`` | ``Upheld`` / ``Overturned`` (empty when the band is uncertain or thin) |
| ``top_reasons`` | up to :data:`TOP_REASONS` reasons: code, label in words, probability (null: from a failed check) |
| ``missing_checks`` | the documentation checks the request fails: code and title |
| ``item_text`` | the disputed item as submitted |
| ``model_version`` | the registered version that scored the row |

Lists are lists in JSONL and parquet, and one readable cell in CSV (``code: label (0.41); ...``).
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from serving import explain as ex
from serving.models import Prediction
from serving.policy import BAND_LABELS

OUTPUT_SUFFIXES: Final[tuple[str, ...]] = (".csv", ".jsonl", ".parquet")
RESULT_COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "jurisdiction",
    "band",
    "band_label",
    "p_upheld",
    "p_low",
    "p_high",
    "label",
    "top_reasons",
    "missing_checks",
    "item_text",
    "model_version",
)
#: Columns the scorer fills for each row (lists as JSON text, so Ray blocks carry plain strings).
SCORED_COLUMNS: Final[tuple[str, ...]] = tuple(c for c in RESULT_COLUMNS if c != "band_label")
LIST_COLUMNS: Final[tuple[str, ...]] = ("top_reasons", "missing_checks")
TOP_REASONS: Final = 3
#: The parquet schema, fixed so an all-empty list column keeps its type.
PARQUET_SCHEMA: Final = pa.schema(
    [
        ("id", pa.string()),
        ("jurisdiction", pa.string()),
        ("band", pa.string()),
        ("band_label", pa.string()),
        ("p_upheld", pa.float64()),
        ("p_low", pa.float64()),
        ("p_high", pa.float64()),
        ("label", pa.string()),
        (
            "top_reasons",
            pa.list_(pa.struct([("code", pa.string()), ("label", pa.string()), ("probability", pa.float64())])),
        ),
        ("missing_checks", pa.list_(pa.struct([("code", pa.string()), ("title", pa.string())]))),
        ("item_text", pa.string()),
        ("model_version", pa.string()),
    ]
)
#: Input columns copied to the results when the input has them (next to ``id``).
PASSTHROUGH_COLUMNS: Final[tuple[str, ...]] = ("case_id",)
_ROW: Final = "_row"  # the scorer's 1-based input row number (``serving.batch``)
EMPTY_ITEM_COLUMNS: Final[dict[str, str]] = {"top_reasons": "[]", "missing_checks": "[]", "item_text": ""}


def output_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a results file (checked before any work), or None."""
    suffix = path.suffix.lower()
    if path.is_dir():
        return f"{path} is a directory; name a results file in it, e.g. {path / 'results.csv'}"
    if suffix not in OUTPUT_SUFFIXES:
        kind = repr(suffix) if suffix else "no extension"
        return f"{path}: cannot write results as {kind}; name the results file *.csv, *.jsonl or *.parquet"
    return None


def item_columns(record: Mapping[str, Any], prediction: Prediction) -> dict[str, str]:
    """Top reasons, failed checks and item text of one scored row (lists as JSON text).

    The checklist is the model's own when it gives one (as in the API), else ``features.checklist`` on the request.
    """
    given = prediction.get("checklist")
    checks = ex.model_checklist(given) if given is not None else ex.run_checklist(record)
    reasons = ex.merge_reasons(prediction["reasons"], checks)[:TOP_REASONS]
    top = [{"code": r["code"], "label": r["label"], "probability": _number(r.get("probability"))} for r in reasons]
    missing = [{"code": c.code, "title": c.title} for c in checks if c.status == "missing"]
    return {
        "top_reasons": json.dumps(top, ensure_ascii=False),
        "missing_checks": json.dumps(missing, ensure_ascii=False),
        "item_text": str(record.get("item_text") or ""),
    }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return round(float(value), 4)


def _as_list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str) and value.strip():
        loaded = json.loads(value)
        return [dict(v) for v in loaded if isinstance(v, dict)] if isinstance(loaded, list) else []
    return []


def passthrough(rows: Iterable[tuple[int, Mapping[str, Any]]], columns: Sequence[str]) -> dict[str, dict[int, str]]:
    """The pass-through columns the input has, as {column: {row number: value}}."""
    present = [c for c in PASSTHROUGH_COLUMNS if c in columns]
    return {c: {n: _cell(cells.get(c)) for n, cells in rows} for c in present}


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def output_frame(scored: pd.DataFrame, copied: Mapping[str, Mapping[int, str]] | None = None) -> pd.DataFrame:
    """The results: one row per scored request, in input order, with stable column types and lists decoded;
    ``copied`` (from :func:`passthrough`) adds the input's own columns after ``id``."""
    out = scored.loc[:, list(SCORED_COLUMNS)].reset_index(drop=True)
    numbers = scored[_ROW].tolist() if _ROW in scored.columns else []
    for column in ("id", "jurisdiction", "band", "label", "item_text", "model_version"):
        out[column] = out[column].fillna("").astype("string")
    for column in ("p_upheld", "p_low", "p_high"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    out.insert(3, "band_label", out["band"].map(lambda b: BAND_LABELS.get(b, "")).astype("string"))
    for column in LIST_COLUMNS:
        out[column] = pd.Series([_as_list(v) for v in out[column].tolist()], index=out.index, dtype=object)
    extra = list(copied or {})
    for position, column in enumerate(extra, start=1):
        values = (copied or {})[column]
        out.insert(position, column, pd.Series([values.get(int(n), "") for n in numbers], dtype="string"))
    return out.loc[:, [RESULT_COLUMNS[0], *extra, *RESULT_COLUMNS[1:]]]


def reasons_cell(reasons: Iterable[Mapping[str, Any]]) -> str:
    """``code: label (0.41); code: label`` (no probability when a failed check gives the reason)."""
    parts = []
    for reason in reasons:
        probability = reason.get("probability")
        suffix = f" ({probability:.2f})" if isinstance(probability, int | float) else ""
        parts.append(f"{reason.get('code')}: {reason.get('label')}{suffix}")
    return "; ".join(parts)


def checks_cell(checks: Iterable[Mapping[str, Any]]) -> str:
    """``code: title; code: title``."""
    return "; ".join(f"{c.get('code')}: {c.get('title')}" for c in checks)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    flat = frame.copy()
    flat["top_reasons"] = [reasons_cell(v) for v in frame["top_reasons"]]
    flat["missing_checks"] = [checks_cell(v) for v in frame["missing_checks"]]
    flat.to_csv(path, index=False)


def _write_jsonl(frame: pd.DataFrame, path: Path) -> None:
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    schema = PARQUET_SCHEMA
    for position, column in enumerate(c for c in PASSTHROUGH_COLUMNS if c in frame.columns):
        schema = schema.insert(1 + position, pa.field(column, pa.string()))
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    pq.write_table(table, path)


_WRITERS: Final[dict[str, Callable[[pd.DataFrame, Path], None]]] = {
    ".csv": _write_csv,
    ".jsonl": _write_jsonl,
    ".parquet": _write_parquet,
}


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a staged file renamed into place, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(staged)
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def write_results(frame: pd.DataFrame, path: Path) -> None:
    """The results in the format of ``path``'s extension (checked first by :func:`output_problem`)."""
    writer = _WRITERS[path.suffix.lower()]
    write_atomic(path, lambda staged: writer(frame, staged))


def read_results(path: Path) -> pd.DataFrame:
    """A results file read back (lists as lists for JSONL and parquet, cells as text for CSV)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype={"id": str, "model_version": str}, keep_default_na=False)
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype={"id": str, "model_version": str})
    return pd.read_parquet(path)


def reject_summary(reasons: Sequence[str]) -> dict[str, int]:
    """How many rows were rejected for each reason, most frequent first (reasons name fields, never text)."""
    return dict(Counter(reasons).most_common())
