"""Champions: load each jurisdiction's ``models:/imr-<j>@champion``, keep a local copy, reload without a restart.

- At start, each champion is downloaded from the registry into ``<cache_dir>/<j>/<version>/`` (model, plots and a
  ``champion.json`` with version, tags and metrics) and loaded from there. If the registry cannot be reached, the
  last good local copy (``<cache_dir>/<j>/current.json``) is loaded instead.
- :meth:`ChampionStore.refresh` (periodically from the app's lifespan, and from ``POST /v1/admin/reload``) checks the
  alias; a new version is downloaded, loaded and tried on a warm-up request *before* it replaces the old one in a
  single assignment, so a request never meets a half-loaded model. A version that fails keeps the old one serving
  and records the error (shown by ``GET /v1/models``).

MLflow is imported lazily: importing this module does no I/O and stays cheap.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict

import orjson

from features.integrity import ARTIFACT_SHA256_TAG, tree_sha256
from serving.settings import Settings

log = logging.getLogger("imr.serving.models")

Source = Literal["registry", "local_cache"]
CHAMPION_FILE = "champion.json"
CURRENT_FILE = "current.json"
PLOT_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg")

#: Request fields of the warm-up call made on every freshly loaded model (invented, no real case).
WARMUP_RECORD: dict[str, Any] = {
    "jurisdiction": "dwc",
    "item_text": "Physical therapy lumbar spine 2 times a week for 6 weeks",
    "summary": "Chronic low back pain after a lifting injury; prior therapy improved function.",
    "ur_text": "",
    "claims_guideline": "MTUS Chronic Pain Medical Treatment Guidelines",
}
#: A champion whose warm-up call takes longer than this runs predictions in a worker thread (ms).
INLINE_BUDGET_MS = 5.0


class ModelOutputError(RuntimeError):
    """The model returned something that is not a probability for every input row."""


class RegistryUnavailable(RuntimeError):
    """The registry cannot be reached or has no champion for a jurisdiction."""


class ArtifactIntegrityError(RuntimeError):
    """The model files differ from what was registered (their ``artifact_sha256`` tag)."""


def verify_artifact(model_dir: Path, expected: str | None) -> None:
    """Refuse a model folder whose :func:`features.integrity.tree_sha256` differs from the registered one.

    ``expected`` is the version's ``artifact_sha256`` tag; a version without the tag is not checked.
    """
    if not expected:
        return
    actual = tree_sha256(model_dir)
    if not secrets.compare_digest(actual, expected.strip().lower()):
        raise ArtifactIntegrityError(
            f"model files do not match the registered {ARTIFACT_SHA256_TAG} "
            f"(registered {expected.strip()[:12]}..., found {actual[:12]}...): changed after registration?"
        )


class Reason(TypedDict):
    code: str
    label: str
    probability: float | None


class Prediction(TypedDict):
    p_upheld: float
    label: str
    reasons: list[Reason]
    top_terms: list[Any]  # the model's attribution as it gave it (checked by ``serving.explain.top_terms``)
    #: The estimate's 95 % interval, the category prior and the base rate (None when the model gives none).
    p_low: float | None
    p_high: float | None
    prior: float | None
    base_rate: float | None
    #: The model's own checklist, ranked fixes and attributions (lists of dicts, checked by ``serving.explain``).
    checklist: list[Any] | None
    fixes: list[Any]
    p_all_fixed: float | None
    attributions: list[Any]
    needs_missing: list[str]
    #: Why the model cannot judge the item at all (gibberish, nothing like it in past determinations).
    cannot_judge: list[str]


@dataclass(frozen=True, slots=True)
class ChampionInfo:
    """What is known about one loaded champion (all of it JSON-serialisable)."""

    jurisdiction: str
    name: str
    version: str
    run_id: str | None
    created_at: float | None  # registry creation time of the version (epoch seconds)
    tags: dict[str, str]
    metrics: dict[str, float]
    plots: tuple[str, ...]
    source: Source = "registry"
    loaded_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The ``champion.json`` written beside a cached model."""
        return {
            "jurisdiction": self.jurisdiction,
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "created_at": self.created_at,
            "tags": self.tags,
            "metrics": self.metrics,
            "plots": list(self.plots),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: Source) -> ChampionInfo:
        """Read a ``champion.json``."""
        return cls(
            jurisdiction=str(data["jurisdiction"]),
            name=str(data["name"]),
            version=str(data["version"]),
            run_id=data.get("run_id"),
            created_at=data.get("created_at"),
            tags={str(k): str(v) for k, v in dict(data.get("tags") or {}).items()},
            metrics={str(k): float(v) for k, v in dict(data.get("metrics") or {}).items()},
            plots=tuple(str(p) for p in data.get("plots") or ()),
            source=source,
        )


class Predictor(Protocol):
    def __call__(self, records: list[dict[str, Any]]) -> list[Mapping[str, Any]]: ...


def make_predictor(loaded: Any) -> Predictor:
    """The fastest way into a loaded pyfunc: ``predict_records`` when the python model has it, else ``predict``."""
    try:
        inner = loaded.unwrap_python_model()
    except Exception:  # not a python_model flavour
        inner = None
    fast = getattr(inner, "predict_records", None)
    if callable(fast):
        return fast  # type: ignore[no-any-return]

    def via_frame(records: list[dict[str, Any]]) -> list[Mapping[str, Any]]:
        import pandas as pd

        out = loaded.predict(pd.DataFrame.from_records(records))
        frame = out if isinstance(out, pd.DataFrame) else pd.DataFrame(out)
        return frame.to_dict(orient="records")  # type: ignore[return-value]

    return via_frame


class SimilarFn(Protocol):
    def __call__(self, records: list[dict[str, Any]], k: int = 5) -> Any: ...


def make_similar(loaded: Any) -> SimilarFn | None:
    """The python model's ``similar(records, k)`` (similar past determinations), or None when it has none."""
    try:
        inner = loaded.unwrap_python_model()
    except Exception:
        return None
    found = getattr(inner, "similar", None)
    return found if callable(found) else None


def _parse_json_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        if not value:
            return []
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return []
    return list(value) if isinstance(value, list | tuple) else []


def parse_reasons(value: Any) -> list[Reason]:
    """The model's ``reasons`` (a JSON string or a list of {code, label, probability}), tolerant of gaps."""
    reasons: list[Reason] = []
    for entry in _parse_json_list(value):
        if not isinstance(entry, Mapping):
            continue
        code = str(entry.get("code") or "")
        label = str(entry.get("label") or code)
        prob = entry.get("probability")
        probability = float(prob) if isinstance(prob, int | float) and math.isfinite(prob) else None
        if code or label:
            reasons.append({"code": code, "label": label, "probability": probability})
    return reasons


def normalize_output(row: Mapping[str, Any]) -> Prediction:
    """One output row of the pyfunc, checked and typed."""
    try:
        p = float(row["p_upheld"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelOutputError("model output has no numeric p_upheld") from exc
    if not (math.isfinite(p) and 0.0 <= p <= 1.0):
        raise ModelOutputError("model output p_upheld is not a probability")
    label = row.get("label")
    if label not in ("Upheld", "Overturned"):
        label = "Upheld" if p >= 0.5 else "Overturned"
    checklist = row.get("checklist")
    return {
        "p_upheld": p,
        "label": str(label),
        "reasons": parse_reasons(row.get("reasons")),
        "top_terms": _parse_json_list(row.get("top_terms")),
        "p_low": _probability(row.get("p_low")),
        "p_high": _probability(row.get("p_high")),
        "prior": _probability(row.get("prior")),
        "base_rate": _probability(row.get("base_rate")),
        "checklist": None if checklist is None else _parse_json_list(checklist),
        "fixes": _parse_json_list(row.get("fixes")),
        "p_all_fixed": _probability(row.get("p_all_fixed")),
        "attributions": _parse_json_list(row.get("attributions")),
        "needs_missing": [str(c) for c in _parse_json_list(row.get("needs_missing")) if isinstance(c, str)],
        "cannot_judge": [str(c)[:400] for c in _parse_json_list(row.get("cannot_judge")) if isinstance(c, str)],
    }


def _probability(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if 0.0 <= value <= 1.0 else None


@dataclass(frozen=True, slots=True)
class Champion:
    """A loaded model and what is known about it; immutable, replaced whole on reload."""

    info: ChampionInfo
    predictor: Predictor
    inline: bool = True  # fast enough to run on the event loop
    similar: SimilarFn | None = None  # the model's similar past determinations, when it has them

    def predict(self, records: list[dict[str, Any]]) -> list[Prediction]:
        """Predictions for raw request records, in order."""
        rows = self.predictor(records)
        if len(rows) != len(records):
            raise ModelOutputError("model returned a different number of rows than it was given")
        return [normalize_output(r) for r in rows]

    def find_similar(self, records: list[dict[str, Any]], k: int) -> list[list[Any]] | None:
        """The model's ``k`` most similar past determinations per record (raw hits, best first).

        Explanations never fail a prediction: without ``similar``, or when it fails or answers the wrong number of
        lists, the answer is None (logged by type only: the hits and the request are not logged), which tells
        "no index" apart from "nothing similar".
        """
        if self.similar is None or not records or k < 1:
            return None
        try:
            hits = self.similar(records, k=k)
            if not isinstance(hits, list | tuple) or len(hits) != len(records):
                raise ModelOutputError("similar() returned a different number of lists than it was given")
            return [list(h) if isinstance(h, list | tuple) else [] for h in hits]
        except Exception as exc:
            log.warning(
                "similar determinations failed; answering without them",
                extra={"model_version": self.ref, "exc_type": type(exc).__name__},
            )
            return None

    @property
    def ref(self) -> str:
        """``name/version`` for logs and metrics."""
        return f"{self.info.name}/{self.info.version}"


@dataclass(slots=True)
class JurisdictionStatus:
    """The store's last word on one jurisdiction."""

    last_check_at: float | None = None
    registry_ok: bool | None = None
    registry_error: str | None = None
    last_error: str | None = None  # the last failed load of a new version (the old one kept serving)
    last_error_at: float | None = None
    failed_version: str | None = None  # not retried by the periodic check (an explicit reload retries it)
    reloads: int = 0
    failed_reloads: int = 0


@dataclass(frozen=True, slots=True)
class VersionMeta:
    name: str
    version: str
    run_id: str | None
    created_at: float | None
    tags: dict[str, str] = field(default_factory=dict)


_GLOBAL_URI_LOCK = threading.Lock()


def probe_sqlite(db: Path, timeout_s: float) -> None:
    """Read the registry database's schema within ``timeout_s``, or raise RegistryUnavailable saying why.

    MLflow waits up to 20 s on a locked SQLite file (a hard-coded busy timeout) for every call: this probe turns a
    lock held by another process, and a file that is not SQLite, into a fast, clear "unreachable".
    """
    import sqlite3

    try:
        with contextlib.closing(
            sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout_s)
        ) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise RegistryUnavailable(f"registry database is locked (still after {timeout_s:g} s)") from exc
        raise RegistryUnavailable(f"registry database cannot be read ({exc})") from exc
    except sqlite3.DatabaseError as exc:
        raise RegistryUnavailable(f"registry database is corrupt ({exc})") from exc


class Registry:
    """The few MLflow registry calls the store needs (a seam for tests)."""

    def __init__(self, tracking_uri: str, timeout_s: float) -> None:
        self.tracking_uri = tracking_uri
        self.timeout_s = timeout_s
        self._client: Any = None
        self._file_id: tuple[int, int] | None = None  # (device, inode) of a SQLite registry when last checked
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, round(timeout_s))))
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    def _check_reachable(self) -> None:
        if self.tracking_uri.startswith("sqlite:///"):
            db = Path(self.tracking_uri.removeprefix("sqlite:///"))
            if not db.is_file():
                raise RegistryUnavailable("registry database not found")
            probe_sqlite(db, self.timeout_s)
            stat = db.stat()
            file_id = (stat.st_dev, stat.st_ino)
            if self._file_id is not None and file_id != self._file_id:
                self.reset()  # the file was replaced (restored from a backup): pooled connections read the old one
            self._file_id = file_id

    def reset(self) -> None:
        """Forget the client and close MLflow's pooled database connections to this store.

        MLflow keeps one SQLAlchemy engine per URI for the life of the process; its pooled connections keep reading
        a SQLite file that was replaced or went bad. After a failed call they are closed, so the next check opens
        the file that is there now.
        """
        self._client = None
        db_path = self.tracking_uri.removeprefix("sqlite:///") if self.tracking_uri.startswith("sqlite:///") else None
        for module_name in ("mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store"):
            store_class = getattr(sys.modules.get(module_name), "SqlAlchemyStore", None)
            engines: dict[str, Any] = getattr(store_class, "_engine_map", None) or {}
            for uri, engine in list(engines.items()):
                database = getattr(getattr(engine, "url", None), "database", None)
                if uri == self.tracking_uri or (db_path is not None and database == db_path):
                    with contextlib.suppress(Exception):
                        engine.dispose()

    def client(self) -> Any:
        """An MlflowClient, created once (the first call checks the store's schema)."""
        self._check_reachable()
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def resolve(self, name: str, alias: str) -> VersionMeta:
        """The version an alias points at now."""
        mv = self.client().get_model_version_by_alias(name, alias)
        created = mv.creation_timestamp / 1000.0 if mv.creation_timestamp else None
        return VersionMeta(
            name=name,
            version=str(mv.version),
            run_id=mv.run_id or None,
            created_at=created,
            tags={str(k): str(v) for k, v in (mv.tags or {}).items()},
        )

    def run_metrics(self, run_id: str | None) -> dict[str, float]:
        """All metrics of the version's run (read generically)."""
        if not run_id:
            return {}
        run = self.client().get_run(run_id)
        return {str(k): float(v) for k, v in run.data.metrics.items() if math.isfinite(float(v))}

    def download_model(self, meta: VersionMeta, dst: Path) -> Path:
        """Copy the version's model artifacts into ``dst``."""
        import mlflow

        self._check_reachable()
        dst.mkdir(parents=True, exist_ok=True)
        # A version's source may be a logged model (models:/m-...), which MLflow resolves against the *global*
        # tracking URI: set it, or MLflow would create and search ./mlflow.db.
        with _GLOBAL_URI_LOCK:
            mlflow.set_tracking_uri(self.tracking_uri)
            mlflow.set_registry_uri(self.tracking_uri)
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{meta.name}/{meta.version}",
                dst_path=str(dst),
                tracking_uri=self.tracking_uri,
                registry_uri=self.tracking_uri,
            )
        return Path(path)

    def download_plots(self, run_id: str | None, dst: Path) -> tuple[str, ...]:
        """Copy the run's ``plots/`` images into ``dst/plots``; their file names (none if the run has no plots)."""
        if not run_id:
            return ()
        import mlflow

        if not any(e.path.rstrip("/").endswith("plots") for e in self.client().list_artifacts(run_id)):
            return ()
        dst.mkdir(parents=True, exist_ok=True)
        with _GLOBAL_URI_LOCK:
            mlflow.set_tracking_uri(self.tracking_uri)
            local = Path(
                mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path="plots", dst_path=str(dst), tracking_uri=self.tracking_uri
                )
            )
        return tuple(sorted(p.name for p in local.iterdir() if p.is_file() and p.suffix.lower() in PLOT_SUFFIXES))


def skip_sklearn_validation() -> bool:
    """In this thread, skip scikit-learn's per-call input and parameter checks, if a loaded model uses it.

    They cost about half of a TF-IDF champion's time per request; the model was validated when trained, and
    :func:`normalize_output` still refuses any output that is not a probability. Returns whether it applied.
    """
    sklearn = sys.modules.get("sklearn")
    if sklearn is None:
        return False
    sklearn.set_config(assume_finite=True, skip_parameter_validation=True)
    return True


def load_pyfunc(path: Path) -> Any:
    """Load a pyfunc model from a local directory."""
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(path))


def _write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


def _short_error(exc: BaseException) -> str:
    """One line: the type and the first line of the message (SQLAlchemy appends the SQL and its parameters)."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= 300 else text[:297] + "..."


class ChampionStore:
    """The champions being served, one per jurisdiction, and their local copies."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry | None = None,
        loader: Callable[[Path], Any] = load_pyfunc,
    ) -> None:
        self.settings = settings
        self.registry = registry or Registry(settings.tracking_uri, settings.registry_timeout_s)
        self._loader = loader
        self._champions: dict[str, Champion] = {}
        self._status: dict[str, JurisdictionStatus] = {j: JurisdictionStatus() for j in settings.jurisdictions}
        self._lock = threading.Lock()

    # -- reading (hot path: no locks, one dict lookup) -------------------------------------------------------------

    def get(self, jurisdiction: str) -> Champion | None:
        """The champion serving a jurisdiction now, or None."""
        return self._champions.get(jurisdiction)

    @property
    def jurisdictions(self) -> tuple[str, ...]:
        return tuple(self.settings.jurisdictions)

    def champions(self) -> dict[str, Champion]:
        """A snapshot of every loaded champion."""
        return dict(self._champions)

    def status(self, jurisdiction: str) -> JurisdictionStatus:
        return self._status.setdefault(jurisdiction, JurisdictionStatus())

    @property
    def ready(self) -> bool:
        """Every configured jurisdiction has a champion."""
        return all(j in self._champions for j in self.settings.jurisdictions)

    # -- loading ---------------------------------------------------------------------------------------------------

    def _dir(self, jurisdiction: str) -> Path:
        return self.settings.cache_dir / jurisdiction

    def load_all(self) -> None:
        """At start: each champion from the registry, else from the local copy. Never raises."""
        for jurisdiction in self.settings.jurisdictions:
            self.refresh_one(jurisdiction)
            if self.get(jurisdiction) is None:
                self._load_local(jurisdiction)

    def refresh(self, retry_failed: bool = True) -> dict[str, str]:
        """Check every alias; load what changed. Returns jurisdiction -> what happened."""
        return {j: self.refresh_one(j, retry_failed) for j in self.settings.jurisdictions}

    def refresh_one(self, jurisdiction: str, retry_failed: bool = True) -> str:
        """Check one alias and swap in a new version if it loads. Returns 'unchanged', 'loaded' or 'failed'."""
        with self._lock:
            status = self.status(jurisdiction)
            status.last_check_at = time.time()
            name = self.settings.model_name(jurisdiction)
            try:
                meta = self.registry.resolve(name, self.settings.model_alias)
            except Exception as exc:
                status.registry_ok = False
                status.registry_error = _short_error(exc)
                reset = getattr(self.registry, "reset", None)
                if callable(reset) and not isinstance(exc, RegistryUnavailable):
                    reset()  # MLflow's own call failed: start the next check with fresh connections
                log.warning(
                    "registry check failed",
                    extra={"jurisdiction": jurisdiction, "error": status.registry_error},
                )
                return "unchanged" if self.get(jurisdiction) is not None else "failed"
            status.registry_ok, status.registry_error = True, None
            current = self.get(jurisdiction)
            if current is not None and current.info.version == meta.version:
                if current.info.source != "registry":  # the registry is back and agrees with the local copy
                    self._champions = {**self._champions, jurisdiction: _with_source(current, "registry")}
                return "unchanged"
            if not retry_failed and meta.version == status.failed_version:
                return "failed"
            try:
                champion = self._fetch_and_load(jurisdiction, meta)
            except Exception as exc:
                status.failed_reloads += 1
                status.last_error = f"version {meta.version}: {_short_error(exc)}"
                status.last_error_at = time.time()
                status.failed_version = meta.version
                log.error(
                    "champion failed to load; keeping the previous one",
                    extra={
                        "jurisdiction": jurisdiction,
                        "model_version": f"{name}/{meta.version}",
                        "error": status.last_error,
                    },
                )
                return "failed"
            self._champions = {**self._champions, jurisdiction: champion}  # the atomic swap
            status.reloads += 1
            status.last_error = status.failed_version = None
            log.info(
                "champion loaded",
                extra={
                    "jurisdiction": jurisdiction,
                    "model_version": champion.ref,
                    "source": "registry",
                    "previous": current.ref if current else None,
                },
            )
            return "loaded"

    def _fetch_and_load(self, jurisdiction: str, meta: VersionMeta) -> Champion:
        base = self._dir(jurisdiction)
        target = base / meta.version
        cached = (target / CHAMPION_FILE).is_file()
        if not cached:
            self._download(jurisdiction, meta, target)
        # The registry's tag is what counts (a cached champion.json could be as old or as altered as its model).
        expected = meta.tags.get(ARTIFACT_SHA256_TAG)
        try:
            champion = self._load_dir(target, "registry", expected)
        except Exception as exc:
            shutil.rmtree(target, ignore_errors=True)  # a bad copy must not be reused
            if not cached:
                raise
            # The local copy of this version was bad (altered, half-deleted): fetch it again, once.
            log.warning(
                "local copy of the new champion failed to load; downloading it again",
                extra={"jurisdiction": jurisdiction, "model_version": f"{meta.name}/{meta.version}",
                       "error": _short_error(exc)},
            )  # fmt: skip
            self._download(jurisdiction, meta, target)
            try:
                champion = self._load_dir(target, "registry", expected)
            except Exception:
                shutil.rmtree(target, ignore_errors=True)
                raise
        _write_json_atomic(base / CURRENT_FILE, {"version": meta.version})
        self._prune(jurisdiction, keep=meta.version)
        return champion

    def _download(self, jurisdiction: str, meta: VersionMeta, target: Path) -> None:
        """Model, plots and ``champion.json`` of a version into ``target``: complete or absent, never half-written."""
        staging = target.parent / f".staging-{uuid.uuid4().hex}"
        try:
            self.registry.download_model(meta, staging / "model")
            plots = self.registry.download_plots(meta.run_id, staging)
            info = ChampionInfo(
                jurisdiction=jurisdiction,
                name=meta.name,
                version=meta.version,
                run_id=meta.run_id,
                created_at=meta.created_at,
                tags=meta.tags,
                metrics=self.registry.run_metrics(meta.run_id),
                plots=plots,
            )
            _write_json_atomic(staging / CHAMPION_FILE, info.to_json())
            try:
                os.rename(staging, target)
            except OSError:
                if not (target / CHAMPION_FILE).is_file():  # another worker's copy is as good (immutable)
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _load_dir(self, directory: Path, source: Source, expected_sha256: str | None = None) -> Champion:
        info = ChampionInfo.from_json(orjson.loads((directory / CHAMPION_FILE).read_bytes()), source)
        verify_artifact(directory / "model", expected_sha256 or info.tags.get(ARTIFACT_SHA256_TAG))
        loaded = self._loader(directory / "model")
        predictor = make_predictor(loaded)
        record = dict(WARMUP_RECORD, jurisdiction=info.jurisdiction)
        if len([normalize_output(r) for r in predictor([record])]) != 1:  # first call: lazy imports, caches
            raise ModelOutputError("warm-up prediction returned the wrong number of rows")
        start = time.perf_counter()
        predictor([record])
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        similar = _warm_similar(make_similar(loaded), record, info)
        if similar is not None:
            start = time.perf_counter()
            similar([record], k=5)
            elapsed_ms += (time.perf_counter() - start) * 1000.0
        info = replace(info, loaded_at=time.time())
        return Champion(info=info, predictor=predictor, inline=elapsed_ms <= INLINE_BUDGET_MS, similar=similar)

    def _load_local(self, jurisdiction: str) -> None:
        base = self._dir(jurisdiction)
        try:
            version = str(json.loads((base / CURRENT_FILE).read_text("utf-8"))["version"])
            champion = self._load_dir(base / version, "local_cache")
        except FileNotFoundError:
            log.warning("no champion and no local copy", extra={"jurisdiction": jurisdiction})
            return
        except Exception as exc:
            self.status(jurisdiction).last_error = f"local copy: {_short_error(exc)}"
            log.error("local copy failed to load", extra={"jurisdiction": jurisdiction, "error": _short_error(exc)})
            return
        self._champions = {**self._champions, jurisdiction: champion}
        log.warning(
            "serving the local copy of the champion",
            extra={"jurisdiction": jurisdiction, "model_version": champion.ref, "source": "local_cache"},
        )

    def _prune(self, jurisdiction: str, keep: str) -> None:
        """Keep the served version and the most recent others, up to ``cache_keep_versions`` in all."""
        base = self._dir(jurisdiction)
        others = sorted(
            (p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != keep),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for path in others[max(0, self.settings.cache_keep_versions - 1) :]:
            shutil.rmtree(path, ignore_errors=True)

    def install(self, jurisdiction: str, champion: Champion) -> None:
        """Serve a champion directly (tests and tools)."""
        self._champions = {**self._champions, jurisdiction: champion}


def _warm_similar(similar: SimilarFn | None, record: dict[str, Any], info: ChampionInfo) -> SimilarFn | None:
    """``similar`` after a first call (lazy loads), or None when it fails: the model then serves without it."""
    if similar is None:
        return None
    try:
        hits = similar([record], k=5)
        if not isinstance(hits, list | tuple) or len(hits) != 1:
            raise ModelOutputError("similar() returned a different number of lists than it was given")
    except Exception as exc:
        log.error(
            "similar determinations failed at load; serving without them",
            extra={
                "jurisdiction": info.jurisdiction,
                "model_version": f"{info.name}/{info.version}",
                "error": _short_error(exc),
            },
        )
        return None
    return similar


def registered_champions(settings: Settings) -> dict[str, str | None]:
    """The version each jurisdiction's alias points at in the registry (None: no champion, or no registry).

    For commands that must train a champion first when there is none (``make serve`` on a fresh clone); it never
    creates a registry database.
    """
    registry = Registry(settings.tracking_uri, settings.registry_timeout_s)
    out: dict[str, str | None] = {}
    for jurisdiction in settings.jurisdictions:
        try:
            out[jurisdiction] = registry.resolve(settings.model_name(jurisdiction), settings.model_alias).version
        except Exception:
            out[jurisdiction] = None
    return out


def _with_source(champion: Champion, source: Source) -> Champion:
    return replace(champion, info=replace(champion.info, source=source))
