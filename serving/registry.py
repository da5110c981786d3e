"""Registry access: the few MLflow calls that find, describe and download a registered champion.

Used by the API's champion store and by batch scoring alike (``serving.champions``). MLflow is imported lazily:
importing this module does no I/O and stays cheap.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from features.contract import CHAMPION_ALIAS, MODEL_NAME_PREFIX, model_name
from serving.settings import Settings

PLOT_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg")


class RegistryUnavailable(RuntimeError):
    """The registry cannot be reached or has no champion for a jurisdiction."""


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


def short_error(exc: BaseException) -> str:
    """One line: the type and the first line of the message (SQLAlchemy appends the SQL and its parameters)."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= 300 else text[:297] + "..."


def champion_versions(
    registry: Registry,
    jurisdictions: Sequence[str],
    prefix: str = MODEL_NAME_PREFIX,
    alias: str = CHAMPION_ALIAS,
) -> tuple[dict[str, VersionMeta], dict[str, str]]:
    """The version each jurisdiction's alias points at, and why a jurisdiction has none."""
    found: dict[str, VersionMeta] = {}
    missing: dict[str, str] = {}
    for jurisdiction in sorted(set(jurisdictions)):
        name = model_name(jurisdiction, prefix)
        try:
            found[jurisdiction] = registry.resolve(name, alias)
        except Exception as exc:
            missing[jurisdiction] = (
                f"no {alias} for {jurisdiction} in the registry ({name}@{alias}: {short_error(exc)})"
            )
    return found, missing


def registered_champions(settings: Settings) -> dict[str, str | None]:
    """The version each jurisdiction's alias points at in the registry (None: no champion, or no registry).

    For commands that must train a champion first when there is none (``make serve`` on a fresh clone); it never
    creates a registry database.
    """
    registry = Registry(settings.tracking_uri, settings.registry_timeout_s)
    found, _ = champion_versions(registry, settings.jurisdictions, settings.model_name_prefix, settings.model_alias)
    return {j: found[j].version if j in found else None for j in settings.jurisdictions}
