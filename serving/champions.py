"""Champions: load each jurisdiction's ``models:/imr-<j>@champion``, keep a local copy, reload without a restart.

- At start, each champion is downloaded from the registry into ``<cache_dir>/<j>/<version>/`` (model, plots and a
  ``champion.json`` with version, tags and metrics) and loaded from there. If the registry cannot be reached, the
  last good local copy (``<cache_dir>/<j>/current.json``) is loaded instead.
- :meth:`ChampionStore.refresh` (periodically from the app's lifespan, and from ``POST /v1/admin/reload``) checks the
  alias; a new version is downloaded, loaded and tried on a warm-up request *before* it replaces the old one in a
  single assignment, so a request never meets a half-loaded model. A version that fails keeps the old one serving
  and records the error (shown by ``GET /v1/models``).
- :func:`open_champion` is the one way a model folder becomes a :class:`Champion` (integrity check, contract check,
  warm-up); the store and batch scoring (:meth:`ChampionStore.fetch_version`) both go through it.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import orjson

from features.integrity import ARTIFACT_SHA256_TAG, tree_sha256
from serving.models import (
    ModelOutputError,
    Prediction,
    Predictor,
    SimilarFn,
    load_pyfunc,
    make_predictor,
    make_similar,
    normalize_output,
)
from serving.registry import Registry, RegistryUnavailable, VersionMeta, short_error
from serving.settings import Settings

log = logging.getLogger("imr.serving.models")

Source = Literal["registry", "local_cache"]
CHAMPION_FILE = "champion.json"
CURRENT_FILE = "current.json"


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


def _write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


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
            try:
                meta = self.registry.resolve(self.settings.model_name(jurisdiction), self.settings.model_alias)
            except Exception as exc:
                self._registry_failed(jurisdiction, exc)
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
                self._load_failed(jurisdiction, meta, exc)
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

    def _registry_failed(self, jurisdiction: str, exc: Exception) -> None:
        status = self.status(jurisdiction)
        status.registry_ok = False
        status.registry_error = short_error(exc)
        reset = getattr(self.registry, "reset", None)  # test registries may have no connections to reset
        if callable(reset) and not isinstance(exc, RegistryUnavailable):
            reset()  # MLflow's own call failed: start the next check with fresh connections
        log.warning("registry check failed", extra={"jurisdiction": jurisdiction, "error": status.registry_error})

    def _load_failed(self, jurisdiction: str, meta: VersionMeta, exc: Exception) -> None:
        status = self.status(jurisdiction)
        status.failed_reloads += 1
        status.last_error = f"version {meta.version}: {short_error(exc)}"
        status.last_error_at = time.time()
        status.failed_version = meta.version
        log.error(
            "champion failed to load; keeping the previous one",
            extra={
                "jurisdiction": jurisdiction,
                "model_version": f"{meta.name}/{meta.version}",
                "error": status.last_error,
            },
        )

    def _fetch_and_load(self, jurisdiction: str, meta: VersionMeta) -> Champion:
        """A new version to serve: loaded, then recorded as the local copy to fall back on."""
        champion = self.fetch_version(jurisdiction, meta)
        _write_json_atomic(self._dir(jurisdiction) / CURRENT_FILE, {"version": meta.version})
        self._prune(jurisdiction, keep=meta.version)
        return champion

    def fetch_version(self, jurisdiction: str, meta: VersionMeta) -> Champion:
        """One registered version, from its local copy (downloaded first if absent), checked and warmed up.

        Batch scoring calls this directly: it neither changes which copy the server falls back on nor prunes.
        """
        target = self._dir(jurisdiction) / meta.version
        cached = (target / CHAMPION_FILE).is_file()
        if not cached:
            self._download(jurisdiction, meta, target)
        # The registry's tag is what counts (a cached champion.json could be as old or as altered as its model).
        expected = meta.tags.get(ARTIFACT_SHA256_TAG)
        try:
            return self._load_dir(target, "registry", expected)
        except Exception as exc:
            shutil.rmtree(target, ignore_errors=True)  # a bad copy must not be reused
            if not cached:
                raise
            # The local copy of this version was bad (altered, half-deleted): fetch it again, once.
            log.warning(
                "local copy of the new champion failed to load; downloading it again",
                extra={"jurisdiction": jurisdiction, "model_version": f"{meta.name}/{meta.version}",
                       "error": short_error(exc)},
            )  # fmt: skip
        self._download(jurisdiction, meta, target)
        try:
            return self._load_dir(target, "registry", expected)
        except Exception:
            shutil.rmtree(target, ignore_errors=True)
            raise

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
        return open_champion(directory / "model", info, expected_sha256, self._loader)

    def _load_local(self, jurisdiction: str) -> None:
        base = self._dir(jurisdiction)
        try:
            version = str(json.loads((base / CURRENT_FILE).read_text("utf-8"))["version"])
            champion = self._load_dir(base / version, "local_cache")
        except FileNotFoundError:
            log.warning("no champion and no local copy", extra={"jurisdiction": jurisdiction})
            return
        except Exception as exc:
            self.status(jurisdiction).last_error = f"local copy: {short_error(exc)}"
            log.error("local copy failed to load", extra={"jurisdiction": jurisdiction, "error": short_error(exc)})
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
                "error": short_error(exc),
            },
        )
        return None
    return similar


def _with_source(champion: Champion, source: Source) -> Champion:
    return replace(champion, info=replace(champion.info, source=source))


def _timed_ms(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000.0


def open_champion(
    model_dir: Path, info: ChampionInfo, expected_sha256: str | None = None, loader: Callable[[Path], Any] = load_pyfunc
) -> Champion:
    """A model folder as a servable champion: files checked against the registered hash, the model checked against
    ``features.contract.ServedModel``, and warmed up (its second call timed to decide whether it runs inline)."""
    verify_artifact(model_dir, expected_sha256 or info.tags.get(ARTIFACT_SHA256_TAG))
    loaded = loader(model_dir)
    predictor = make_predictor(loaded)
    record = dict(WARMUP_RECORD, jurisdiction=info.jurisdiction)
    if len([normalize_output(r) for r in predictor([record])]) != 1:  # first call: lazy imports, caches
        raise ModelOutputError("warm-up prediction returned the wrong number of rows")
    elapsed_ms = _timed_ms(lambda: predictor([record]))
    similar = _warm_similar(make_similar(loaded), record, info)
    if similar is not None:
        elapsed_ms += _timed_ms(lambda: similar([record], k=5))
    info = replace(info, loaded_at=time.time())
    return Champion(info=info, predictor=predictor, inline=elapsed_ms <= INLINE_BUDGET_MS, similar=similar)
