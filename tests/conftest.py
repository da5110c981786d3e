"""Shared fixtures: a temporary MLflow registry holding a fake, deterministic champion per jurisdiction.

Nothing here trains: ``tests/fake_champion.py`` scores by keywords. The serving tests point ``Settings`` at the
temporary store, so they never touch the project's ``mlflow.db`` or ``.models/``.
"""

from __future__ import annotations

import shutil
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FAKE_MODEL = Path(__file__).parent / "fake_champion.py"
FAKE_METRICS = {
    "roc_auc": 0.81,
    "roc_auc_ci_low": 0.74,
    "roc_auc_ci_high": 0.87,
    "pr_auc_overturned": 0.55,
    "brier": 0.19,
    "ece": 0.04,
    "balanced_accuracy": 0.72,
}
PLOTS = ("roc", "pr", "reliability", "confusion")


def tiny_png(rgb: tuple[int, int, int] = (40, 90, 160)) -> bytes:
    """A valid 2x2 PNG, written without any imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@dataclass
class FakeRegistry:
    """A SQLite tracking store in a temporary folder, with helpers to register fake champion versions."""

    root: Path

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    def register(
        self,
        jurisdiction: str,
        *,
        offset: float = 0.0,
        fail_load: bool = False,
        alias: bool = True,
        plots: bool = True,
        explain: bool = True,
    ) -> str:
        """Log and register a fake champion version; point ``champion`` at it unless ``alias`` is False."""
        import mlflow
        from mlflow import MlflowClient

        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        client = MlflowClient(self.uri, self.uri)
        experiment = client.get_experiment_by_name("imr-tests")
        experiment_id = (
            experiment.experiment_id
            if experiment
            else client.create_experiment("imr-tests", artifact_location=(self.root / "artifacts").as_uri())
        )
        name = f"imr-{jurisdiction}"
        with mlflow.start_run(experiment_id=experiment_id):
            mlflow.log_metrics(FAKE_METRICS)
            if plots:
                plot_dir = self.root / f"plots-{uuid.uuid4().hex}"
                plot_dir.mkdir()
                for i, plot in enumerate(PLOTS):
                    (plot_dir / f"{plot}.png").write_bytes(tiny_png((40 + i * 50, 90, 160)))
                mlflow.log_artifacts(str(plot_dir), artifact_path="plots")
            config: dict[str, Any] = {"offset": offset, "fail_load": fail_load, "explain": explain}
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(FAKE_MODEL),
                model_config=config,
                pip_requirements=[],
                registered_model_name=name,
            )
        version = str(info.registered_model_version)
        client.set_model_version_tag(name, version, "data_digest", f"sha256:fake{jurisdiction}")
        client.set_model_version_tag(name, version, "git_commit", "0123456789abcdef")
        if alias:
            client.set_registered_model_alias(name, "champion", version)
        return version

    def set_champion(self, jurisdiction: str, version: str) -> None:
        from mlflow import MlflowClient

        MlflowClient(self.uri, self.uri).set_registered_model_alias(f"imr-{jurisdiction}", "champion", version)


@pytest.fixture(scope="session")
def _empty_tracking_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated MLflow SQLite database (migrations take seconds: do them once, then copy)."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("empty-registry")
    MlflowClient(f"sqlite:///{root / 'mlflow.db'}").search_experiments()
    return root / "mlflow.db"


def make_registry(root: Path, empty_db: Path) -> FakeRegistry:
    """A registry with version 1 of ``imr-dwc`` and ``imr-dmhc`` as champions."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(empty_db, root / "mlflow.db")
    registry = FakeRegistry(root)
    registry.register("dwc")
    registry.register("dmhc")
    return registry


@pytest.fixture(scope="session")
def fake_registry(tmp_path_factory: pytest.TempPathFactory, _empty_tracking_db: Path) -> FakeRegistry:
    """A shared registry: read it, never change its aliases (use ``fresh_fake_registry`` for that)."""
    return make_registry(tmp_path_factory.mktemp("registry"), _empty_tracking_db)


@pytest.fixture
def fresh_fake_registry(tmp_path: Path, _empty_tracking_db: Path) -> FakeRegistry:
    """A registry of this test's own, free to change."""
    return make_registry(tmp_path / "registry", _empty_tracking_db)


def make_settings(tracking_uri: str, cache_dir: Path, **overrides: Any) -> Any:
    """Settings for tests: no .env, no key, no periodic check, unless overridden."""
    from serving.settings import Settings

    values: dict[str, Any] = {
        "tracking_uri": tracking_uri,
        "cache_dir": cache_dir,
        "reload_interval_s": 0,
        "api_key": None,
        "profile": "local",
    }
    values.update(overrides)
    return Settings(**{"_env_file": None, **values})


@pytest.fixture
def serving_settings(fake_registry: FakeRegistry, tmp_path: Path) -> Any:
    """Settings pointing at the shared fake registry, with a local copy in this test's folder."""
    return make_settings(fake_registry.uri, tmp_path / "models")


@pytest.fixture
def api_client(serving_settings: Any) -> Iterator[Any]:
    """A TestClient of the app with the fake champions loaded (the lifespan runs)."""
    from fastapi.testclient import TestClient

    from serving.app import create_app

    with TestClient(create_app(serving_settings)) as test_client:
        yield test_client
