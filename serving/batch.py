"""Batch scoring: a file of requests in, one scored row per valid request out, a rejects file for the rest.

``imr score --input requests.(csv|parquet|jsonl) --output results.parquet`` runs :func:`score_file`.

- Input: one disputed item per row, with the ``PrescreenRequest`` columns and an optional ``id`` column (ids are
  the 1-based row numbers when it is absent). Other columns are ignored and listed in the report.
- Every row is validated; a bad row (invalid field, empty or repeated id, over-long text, no champion for its
  jurisdiction, a model error on that row) goes to the rejects file with its id and the reason, never its text. The
  run goes on; no row is dropped without a line in one of the two files.
- Scoring uses each jurisdiction's champion (``models:/imr-<j>@champion``), resolved once at the start, so every
  worker scores with the same version even if the alias moves mid-run.
- ``engine="local"`` scores in this process; ``engine="ray"`` runs Ray Data ``map_batches`` over the same
  :class:`Scorer` (one model load per actor) on the cluster of ``RAY_ADDRESS`` or on a local Ray. Both give
  identical outputs, in input order. Without an engine, Ray is used iff ``RAY_ADDRESS`` is set.

Champions load as the API loads them (``serving.champions.ChampionStore.fetch_version``: local copy, integrity
check, contract check, warm-up); the registry is the one the server reads (``serving.settings.resolve_tracking_uri``).
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import pandas as pd
from pydantic import ValidationError

from features.progress import progress
from features.view import PrescreenRequest
from serving.batch_output import (
    EMPTY_ITEM_COLUMNS,
    RESULT_COLUMNS,
    SCORED_COLUMNS,
    item_columns,
    output_frame,
    output_problem,
    passthrough,
    reject_summary,
    write_atomic,
    write_results,
)
from serving.champions import Champion, ChampionStore
from serving.errors import validation_errors
from serving.models import ModelOutputError, normalize_output
from serving.policy import BandThresholds, band_for, verdict_label
from serving.registry import Registry, VersionMeta, champion_versions
from serving.settings import Settings, resolve_tracking_uri

Engine = Literal["local", "ray"]

ID_COLUMN: Final = "id"
REQUEST_FIELDS: Final[tuple[str, ...]] = tuple(PrescreenRequest.model_fields)
TEXT_FIELDS: Final[tuple[str, ...]] = ("item_text", "summary", "ur_text", "claims_guideline")
#: The results file's columns (``serving.batch_output``); the scorer fills ``SCORED_COLUMNS``.
OUTPUT_COLUMNS: Final[tuple[str, ...]] = RESULT_COLUMNS
REJECT_COLUMNS: Final[tuple[str, ...]] = ("id", "row", "reason")
INPUT_SUFFIXES: Final[frozenset[str]] = frozenset({".csv", ".parquet", ".jsonl"})
#: Same limits and names as the API (``serving.settings`` defaults), without reading a server's environment.
MAX_TEXT_BYTES: Final[int] = int(Settings.model_fields["max_text_bytes"].default)
#: The API's band thresholds: batch verdicts derive from the same rule (``serving.policy.band_for``).
BANDS: Final = BandThresholds(
    float(Settings.model_fields["band_upheld_min"].default), float(Settings.model_fields["band_overturned_max"].default)
)
DEFAULT_BATCH_SIZE: Final = 1024
_ROW: Final = "_row"  # 1-based input row number, carried through scoring to restore the order
_ERROR: Final = "_error"


class BatchInputError(ValueError):
    """The input file as a whole cannot be scored (missing, unsupported type, required columns absent)."""


@dataclass(frozen=True)
class Reject:
    """One input row that was not scored: its id (or '' when it had none), its row number, and why."""

    id: str
    row: int
    reason: str


@dataclass(frozen=True)
class ScoreReport:
    """What a batch run did."""

    input: Path
    output: Path
    rejects_path: Path
    engine: Engine
    rows: int
    scored: int
    rejected: int
    model_versions: dict[str, str]
    ignored_columns: tuple[str, ...] = ()
    seconds: float = 0.0
    reject_reasons: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready values (paths as strings)."""
        data = asdict(self)
        for key in ("input", "output", "rejects_path"):
            data[key] = str(data[key])
        data["ignored_columns"] = list(self.ignored_columns)
        return data


@dataclass(frozen=True)
class ChampionRef:
    """The registered version a jurisdiction's rows are scored with (resolved once, sent to every worker)."""

    jurisdiction: str
    meta: VersionMeta
    #: Where this run keeps its copy of the model (one per run: see :func:`score_file`).
    cache_dir: Path

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


# -- reading ---------------------------------------------------------------------------------------------------------


@dataclass
class RawInput:
    """Rows as read from the file (row number, cells), rows that could not be read at all, and the columns."""

    rows: list[tuple[int, dict[str, Any]]]
    unreadable: list[Reject]
    columns: list[str]


def _read_csv(path: Path) -> RawInput:
    rows: list[tuple[int, dict[str, Any]]] = []
    unreadable: list[Reject] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        reader.fieldnames = columns
        for number, raw in enumerate(reader, start=1):
            if None in raw:
                unreadable.append(Reject(str(raw.get(ID_COLUMN) or ""), number, "row has more cells than the header"))
                continue
            rows.append((number, dict(raw)))
    return RawInput(rows, unreadable, columns)


def _read_jsonl(path: Path) -> RawInput:
    rows: list[tuple[int, dict[str, Any]]] = []
    unreadable: list[Reject] = []
    columns: dict[str, None] = {}
    number = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            number += 1
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                unreadable.append(Reject("", number, "line is not valid JSON"))
                continue
            if not isinstance(value, dict):
                unreadable.append(Reject("", number, "line is not a JSON object"))
                continue
            columns.update(dict.fromkeys(str(k) for k in value))
            rows.append((number, value))
    return RawInput(rows, unreadable, list(columns))


def _read_parquet(path: Path) -> RawInput:
    frame = pd.read_parquet(path)
    records = frame.to_dict(orient="records")
    rows = [(n, {str(k): v for k, v in r.items()}) for n, r in enumerate(records, start=1)]
    return RawInput(rows, [], [str(c) for c in frame.columns])


def read_input(path: Path) -> RawInput:
    """The rows of a CSV, JSONL or parquet file of requests."""
    if path.is_dir():
        raise BatchInputError(f"{path} is a directory; name the requests file (.csv, .parquet or .jsonl)")
    if not path.is_file():
        raise BatchInputError(f"{path} does not exist (no such requests file)")
    suffix = path.suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise BatchInputError(f"{path}: unsupported input type {suffix!r} (use .csv, .parquet or .jsonl)")
    try:
        if suffix == ".csv":
            return _read_csv(path)
        if suffix == ".jsonl":
            return _read_jsonl(path)
        return _read_parquet(path)
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise BatchInputError(f"{path}: cannot read the file ({type(exc).__name__})") from exc


# -- validation ------------------------------------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _clean_fields(cells: Mapping[str, Any]) -> dict[str, Any]:
    """Request fields of one row: strings stripped, blanks and NaN left out (so defaults apply)."""
    clean: dict[str, Any] = {}
    for name in REQUEST_FIELDS:
        value = cells.get(name)
        if _missing(value):
            continue
        if isinstance(value, str):
            value = value.strip()
        if name == "jurisdiction" and isinstance(value, str):
            value = value.lower()
        if name == "report_year" and isinstance(value, float) and value.is_integer():
            value = int(value)
        clean[name] = value
    return clean


def _too_long(request: PrescreenRequest, limit: int) -> list[str]:
    return [name for name in TEXT_FIELDS if len(str(getattr(request, name)).encode("utf-8", "surrogatepass")) > limit]


def validate_row(cells: Mapping[str, Any], max_text_bytes: int = MAX_TEXT_BYTES) -> PrescreenRequest | str:
    """A valid request, or the reason it is not one (field names and rules only, never the submitted text)."""
    try:
        request = PrescreenRequest.model_validate(_clean_fields(cells))
    except ValidationError as exc:
        problems = validation_errors(exc.errors(include_input=False))
        return "invalid: " + "; ".join(f"{p['field']} {p['reason']}" for p in problems)
    long_fields = _too_long(request, max_text_bytes)
    if long_fields:
        return f"invalid: {', '.join(long_fields)} longer than {max_text_bytes} bytes"
    return request


def _row_id(cells: Mapping[str, Any], number: int, has_ids: bool) -> str:
    if not has_ids:
        return str(number)
    value = cells.get(ID_COLUMN)
    if _missing(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def validate_rows(raw: RawInput, max_text_bytes: int = MAX_TEXT_BYTES) -> tuple[pd.DataFrame, list[Reject]]:
    """Valid rows as a frame (``id``, row number, every request field) and a reject for each other row."""
    has_ids = ID_COLUMN in raw.columns
    rejects = list(raw.unreadable)
    seen: set[str] = set()
    records: list[dict[str, Any]] = []
    for number, cells in raw.rows:
        row_id = _row_id(cells, number, has_ids)
        if not row_id:
            rejects.append(Reject("", number, "id is empty"))
            continue
        if row_id in seen:
            rejects.append(Reject(row_id, number, "id repeats an earlier row's id"))
            continue
        seen.add(row_id)
        checked = validate_row(cells, max_text_bytes)
        if isinstance(checked, str):
            rejects.append(Reject(row_id, number, checked))
            continue
        records.append({ID_COLUMN: row_id, _ROW: number, **checked.model_dump()})
    frame = pd.DataFrame.from_records(records, columns=[ID_COLUMN, _ROW, *REQUEST_FIELDS])
    frame["report_year"] = frame["report_year"].astype("Int64")
    return frame, rejects


# -- models ----------------------------------------------------------------------------------------------------------


def batch_settings(tracking_uri: str, cache_dir: Path) -> Settings:
    """The serving defaults pointed at one registry and cache: batch scoring reads no server environment."""
    return Settings.model_construct(tracking_uri=tracking_uri, cache_dir=cache_dir)


def resolve_champions(
    tracking_uri: str, jurisdictions: Sequence[str], cache_dir: Path
) -> tuple[dict[str, ChampionRef], dict[str, str]]:
    """The champion version of each jurisdiction, and why a jurisdiction has none (its rows are rejected)."""
    registry = Registry(tracking_uri, batch_settings(tracking_uri, cache_dir).registry_timeout_s)
    found, missing = champion_versions(registry, jurisdictions)
    return {j: ChampionRef(j, meta, cache_dir) for j, meta in found.items()}, missing


def load_champion(tracking_uri: str, ref: ChampionRef) -> Champion:
    """The champion of ``ref``, loaded by the API's own loader (local copy, integrity check, contract, warm-up)."""
    return ChampionStore(batch_settings(tracking_uri, ref.cache_dir)).fetch_version(ref.jurisdiction, ref.meta)


def _request_records(batch: pd.DataFrame) -> list[dict[str, Any]]:
    """Model-input records of a batch, rebuilt through ``PrescreenRequest`` so every engine feeds the same values."""
    records: list[dict[str, Any]] = []
    for row in batch[list(REQUEST_FIELDS)].to_dict(orient="records"):
        cells = {k: v for k, v in row.items() if not _missing(v)}
        if "report_year" in cells:
            cells["report_year"] = int(cells["report_year"])
        records.append(PrescreenRequest.model_validate(cells).model_dump())
    return records


def _output_row(
    row_id: str, number: int, ref: ChampionRef, raw: Mapping[str, Any], record: Mapping[str, Any]
) -> dict[str, Any]:
    base: dict[str, Any] = {ID_COLUMN: row_id, _ROW: number, "jurisdiction": ref.jurisdiction}
    base["model_version"] = ref.version
    try:
        prediction = normalize_output(raw)
    except ModelOutputError as exc:
        return {**base, **_EMPTY, _ERROR: f"model output: {exc}"}
    p = prediction["p_upheld"]
    thin = prediction["needs_missing"] or prediction["cannot_judge"]
    band = "insufficient_information" if thin else band_for(p, BANDS)
    low, high = prediction["p_low"], prediction["p_high"]
    return {
        **base,
        "p_upheld": p,
        "p_low": math.nan if low is None else min(low, p),
        "p_high": math.nan if high is None else max(high, p),
        "band": band,
        "label": verdict_label(band) or "",
        **item_columns(record, prediction),
        _ERROR: "",
    }


_EMPTY: Final[dict[str, Any]] = {
    "p_upheld": math.nan,
    "p_low": math.nan,
    "p_high": math.nan,
    "band": "",
    "label": "",
    **EMPTY_ITEM_COLUMNS,
}


def _error_row(row_id: str, number: int, ref: ChampionRef, exc: Exception) -> dict[str, Any]:
    return {
        ID_COLUMN: row_id,
        _ROW: number,
        "jurisdiction": ref.jurisdiction,
        **_EMPTY,
        "model_version": ref.version,
        _ERROR: f"model error: {type(exc).__name__}",
    }


class Scorer:
    """Scores batches with the champions: a callable class, so Ray Data loads the models once per actor."""

    def __init__(self, tracking_uri: str, champions: Mapping[str, ChampionRef]) -> None:
        self.champions = dict(champions)
        self.predictors = {j: load_champion(tracking_uri, ref).predictor for j, ref in self.champions.items()}

    def _score_group(self, group: pd.DataFrame) -> list[dict[str, Any]]:
        ref = self.champions[str(group["jurisdiction"].iloc[0])]
        predictor = self.predictors[ref.jurisdiction]
        ids, numbers = group[ID_COLUMN].astype(str).tolist(), [int(n) for n in group[_ROW].tolist()]
        records = _request_records(group)
        try:
            outputs = list(predictor(records))
            if len(outputs) != len(records):
                raise ModelOutputError("model returned a different number of rows than it was given")
        except Exception:
            # One bad row must not sink its batch: score row by row to find it.
            return [self._score_one(predictor, ref, i, n, r) for i, n, r in zip(ids, numbers, records, strict=True)]
        return [_output_row(i, n, ref, o, r) for i, n, o, r in zip(ids, numbers, outputs, records, strict=True)]

    @staticmethod
    def _score_one(
        predictor: Any, ref: ChampionRef, row_id: str, number: int, record: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            outputs = list(predictor([record]))
            if len(outputs) != 1:
                raise ModelOutputError("model returned a different number of rows than it was given")
        except Exception as exc:
            return _error_row(row_id, number, ref, exc)
        return _output_row(row_id, number, ref, outputs[0], record)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """Scored rows of a batch (every jurisdiction in it must have a champion), in the batch's order."""
        rows: list[dict[str, Any]] = []
        for _, group in batch.groupby("jurisdiction", sort=False):
            rows.extend(self._score_group(group))
        scored = pd.DataFrame.from_records(rows, columns=[*SCORED_COLUMNS, _ROW, _ERROR])
        return scored.sort_values(_ROW, kind="stable").reset_index(drop=True)


def _chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


def score_local(
    frame: pd.DataFrame, tracking_uri: str, champions: Mapping[str, ChampionRef], batch_size: int
) -> pd.DataFrame:
    """Score in this process, batch by batch."""
    scorer = Scorer(tracking_uri, champions)
    parts = []
    with progress("scoring rows", total=len(frame)) as bar:
        for chunk in _chunks(frame, batch_size):
            parts.append(scorer(chunk))
            bar.advance(len(chunk))
    return pd.concat(parts, ignore_index=True) if parts else _empty_scored()


def score_ray(
    frame: pd.DataFrame,
    tracking_uri: str,
    champions: Mapping[str, ChampionRef],
    batch_size: int,
    num_workers: int | None,
) -> pd.DataFrame:
    """Score on Ray Data: ``map_batches`` of :class:`Scorer` over an actor pool (a local Ray unless RAY_ADDRESS)."""
    from features.parallel import ray_session

    local_cpus = num_workers or os.cpu_count() or 1
    # Ray Data's own bars are off (they interleave with ours); the step is counted when its results arrive.
    with progress("scoring rows with Ray", total=len(frame)) as bar, ray_session(local_cpus):
        import ray.data

        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        compute = (
            ray.data.ActorPoolStrategy(size=num_workers) if num_workers else ray.data.ActorPoolStrategy(min_size=1)
        )
        dataset = ray.data.from_pandas(list(_chunks(frame, batch_size)))
        scored: pd.DataFrame = dataset.map_batches(
            Scorer,
            fn_constructor_kwargs={"tracking_uri": tracking_uri, "champions": dict(champions)},
            batch_size=batch_size,
            batch_format="pandas",
            compute=compute,
            num_cpus=1,
            udf_modifying_row_count=False,
        ).to_pandas()
        bar.advance(len(scored))
    return scored.sort_values(_ROW, kind="stable").reset_index(drop=True)


def _empty_scored() -> pd.DataFrame:
    return pd.DataFrame(columns=[*SCORED_COLUMNS, _ROW, _ERROR])


# -- writing ---------------------------------------------------------------------------------------------------------


def rejects_frame(rejects: Sequence[Reject]) -> pd.DataFrame:
    """The rejects file, in input row order."""
    rows = sorted((asdict(r) for r in rejects), key=lambda r: (r["row"], r["id"]))
    return pd.DataFrame.from_records(rows, columns=list(REJECT_COLUMNS))


def default_rejects_path(output: Path) -> Path:
    """``results.parquet`` -> ``results.rejects.csv`` beside it."""
    return output.with_name(f"{output.stem}.rejects.csv")


def resolve_engine(engine: Engine | None) -> Engine:
    """The engine asked for, or Ray iff ``RAY_ADDRESS`` is set."""
    if engine is not None:
        return engine
    return "ray" if os.environ.get("RAY_ADDRESS", "").strip() else "local"


# -- the command -----------------------------------------------------------------------------------------------------


def _reject_unscorable(frame: pd.DataFrame, missing: Mapping[str, str]) -> tuple[pd.DataFrame, list[Reject]]:
    if not missing:
        return frame, []
    unscorable = frame["jurisdiction"].isin(list(missing))
    rejects = [
        Reject(str(i), int(n), missing[str(j)])
        for i, n, j in zip(
            frame.loc[unscorable, ID_COLUMN],
            frame.loc[unscorable, _ROW],
            frame.loc[unscorable, "jurisdiction"],
            strict=True,
        )
    ]
    return frame.loc[~unscorable].reset_index(drop=True), rejects


def _split_errors(scored: pd.DataFrame) -> tuple[pd.DataFrame, list[Reject]]:
    failed = scored[_ERROR].fillna("").astype(str) != ""
    rejects = [
        Reject(str(i), int(n), str(e))
        for i, n, e in zip(
            scored.loc[failed, ID_COLUMN], scored.loc[failed, _ROW], scored.loc[failed, _ERROR], strict=True
        )
    ]
    return scored.loc[~failed], rejects


def _checked_outputs(output: Path, rejects_path: Path | None) -> Path:
    """The rejects file's path, once both output paths are usable (before any work is done)."""
    rejects_out = rejects_path or default_rejects_path(output)
    for problem in (output_problem(output), f"{rejects_out} is a directory" if rejects_out.is_dir() else None):
        if problem:
            raise BatchInputError(problem)
    return rejects_out


def _write_outputs(results: pd.DataFrame, output: Path, rejects: Sequence[Reject], rejects_out: Path) -> None:
    write_results(results, output)
    write_atomic(rejects_out, lambda p: rejects_frame(rejects).to_csv(p, index=False))


def score_file(
    input: Path,
    output: Path,
    engine: Engine | None = None,
    tracking_uri: str | None = None,
    rejects_path: Path | None = None,
    *,
    num_workers: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_text_bytes: int = MAX_TEXT_BYTES,
) -> ScoreReport:
    """Score every valid row of ``input`` with its jurisdiction's champion; write results and rejects.

    Raises :class:`BatchInputError` when the file as a whole cannot be used (missing, wrong type, no
    ``jurisdiction``/``item_text`` columns, or an output that is not ``.csv``/``.jsonl``/``.parquet``, checked
    before any work); row problems never raise.
    """
    started = time.perf_counter()
    rejects_out = _checked_outputs(output, rejects_path)
    if batch_size < 1:
        raise BatchInputError("batch_size must be at least 1")
    chosen = resolve_engine(engine)
    raw = read_input(input)
    absent = [c for c in ("jurisdiction", "item_text") if c not in raw.columns]
    if absent and raw.rows:
        raise BatchInputError(f"{input}: no {' or '.join(absent)} column (one request per row is expected)")
    frame, rejects = validate_rows(raw, max_text_bytes)
    uri = resolve_tracking_uri(tracking_uri)
    # This run's copies of the champions: never the server's local copy, which another registry's versions of the
    # same number would otherwise overwrite or reuse.
    with tempfile.TemporaryDirectory(prefix="imr-batch-models-") as models:
        jurisdictions = frame["jurisdiction"].unique().tolist()
        champions, missing = resolve_champions(uri, jurisdictions, Path(models)) if len(frame) else ({}, {})
        frame, unscorable = _reject_unscorable(frame, missing)
        rejects.extend(unscorable)
        if frame.empty:
            scored = _empty_scored()
        elif chosen == "ray":
            scored = score_ray(frame, uri, champions, batch_size, num_workers)
        else:
            scored = score_local(frame, uri, champions, batch_size)
    scored, failed = _split_errors(scored)
    rejects.extend(failed)
    results = output_frame(scored, passthrough(raw.rows, raw.columns))
    _write_outputs(results, output, rejects, rejects_out)
    ignored = tuple(c for c in raw.columns if c not in REQUEST_FIELDS and c != ID_COLUMN)
    return ScoreReport(
        input=input,
        output=output,
        rejects_path=rejects_out,
        engine=chosen,
        rows=len(raw.rows) + len(raw.unreadable),
        scored=len(results),
        rejected=len(rejects),
        model_versions={j: ref.version for j, ref in champions.items()},
        ignored_columns=ignored,
        seconds=round(time.perf_counter() - started, 3),
        reject_reasons=reject_summary([r.reason for r in rejects]),
    )
