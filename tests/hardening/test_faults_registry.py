"""Faults around the registry and the model files: the server keeps serving what it can and says what is wrong.

- The registry database missing, locked by another process, or corrupt when the server starts: with a local copy it
  serves that copy and ``/readyz`` says so; without one it starts, is not ready, and recovers when the registry does.
- A model artifact changed after registration (``artifact_sha256`` tag): refused, the old champion keeps serving,
  the reason is logged and shown by ``/v1/models``.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from features.integrity import ARTIFACT_SHA256_TAG, tree_sha256
from serving.app import create_app
from serving.logs import JsonFormatter
from tests.conftest import FakeRegistry, make_settings

pytestmark = pytest.mark.api

CASE = {
    "jurisdiction": "dwc",
    "summary": "Chronic low back pain after a lifting injury with reduced flexion.",
    "items": [{"item_text": "Compounded topical cream"}],
}
REGISTRY_TIMEOUT_S = 1.0


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def readiness(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/readyz")
    models: dict[str, Any] = response.json()["models"]
    return response.status_code, models


def from_registry(client: TestClient) -> bool:
    status, models = readiness(client)
    return status == 200 and all(m["source"] == "registry" and m["registry"] == "ok" for m in models.values())


def prescreen_version(client: TestClient) -> str:
    response = client.post("/v1/prescreen", json=CASE)
    assert response.status_code == 200, response.text
    return str(response.json()["model"]["version"])


def dwc_model(client: TestClient) -> dict[str, Any]:
    return next(m for m in client.get("/v1/models").json()["models"] if m["jurisdiction"] == "dwc")


# -- breaking the registry database -------------------------------------------------------------------------------


@contextmanager
def missing(db: Path) -> Iterator[None]:
    backup = db.with_name("backup.db")
    db.rename(backup)
    try:
        yield
    finally:
        backup.rename(db)


@contextmanager
def locked(db: Path) -> Iterator[None]:
    """Another process's exclusive transaction (as a long write by a training run would hold)."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=5)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@contextmanager
def corrupt(db: Path) -> Iterator[None]:
    """Garbage bytes in place of the database (the good file comes back atomically)."""
    backup = db.with_name("backup.db")
    shutil.copy2(db, backup)
    db.write_bytes(os.urandom(db.stat().st_size))
    try:
        yield
    finally:
        os.replace(backup, db)


FAULTS = {"missing": missing, "locked": locked, "corrupt": corrupt}
EXPECTED_ERROR = {"missing": "not found", "locked": "locked", "corrupt": "corrupt"}


def settings_for(registry: FakeRegistry, cache: Path, **overrides: Any) -> Any:
    return make_settings(registry.uri, cache, registry_timeout_s=REGISTRY_TIMEOUT_S, reload_interval_s=0.2, **overrides)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_broken_registry_at_start_serves_the_local_copy(
    fault: str, fresh_fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    cache = tmp_path / "models"
    with TestClient(create_app(settings_for(fresh_fake_registry, cache))) as client:
        assert from_registry(client)  # a first start leaves the last good local copy
    db = fresh_fake_registry.root / "mlflow.db"
    fault_cm = FAULTS[fault](db)
    fault_cm.__enter__()
    healed = False
    try:
        start = time.monotonic()
        with TestClient(create_app(settings_for(fresh_fake_registry, cache))) as client:
            started_in = time.monotonic() - start
            # two jurisdictions, each at most one probe timeout (MLflow alone waits 20 s on a locked SQLite file)
            assert started_in < 2 * REGISTRY_TIMEOUT_S + 10, started_in
            status, models = readiness(client)
            assert status == 200
            for model in models.values():
                assert (model["loaded"], model["version"], model["source"], model["registry"]) == (
                    True,
                    "1",
                    "local_cache",
                    "unreachable",
                )
                assert EXPECTED_ERROR[fault] in model["registry_error"]
                assert "\n" not in model["registry_error"] and "SQL" not in model["registry_error"]
            assert prescreen_version(client) == "1"
            assert dwc_model(client)["source"] == "local_cache"
            fault_cm.__exit__(None, None, None)  # the registry comes back: the next check says so
            healed = True
            wait_for(lambda: from_registry(client))
            assert prescreen_version(client) == "1"
    finally:
        if not healed:
            fault_cm.__exit__(None, None, None)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_broken_registry_and_no_copy_is_not_ready_then_recovers(
    fault: str, fresh_fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    db = fresh_fake_registry.root / "mlflow.db"
    fault_cm = FAULTS[fault](db)
    fault_cm.__enter__()
    healed = False
    try:
        with TestClient(create_app(settings_for(fresh_fake_registry, tmp_path / "models"))) as client:
            status, models = readiness(client)
            assert status == 503
            assert all(not m["loaded"] and m["registry"] == "unreachable" for m in models.values())
            assert all(EXPECTED_ERROR[fault] in m["registry_error"] for m in models.values())
            refused = client.post("/v1/prescreen", json=CASE)
            assert refused.status_code == 503 and refused.json()["errors"][0]["field"] == "jurisdiction"
            assert client.get("/healthz").status_code == 200  # alive, just not ready
            fault_cm.__exit__(None, None, None)  # the registry comes back while the server runs
            healed = True
            wait_for(lambda: from_registry(client))
            assert prescreen_version(client) == "1"
    finally:
        if not healed:
            fault_cm.__exit__(None, None, None)


def test_registry_locked_while_serving_keeps_answering(fresh_fake_registry: FakeRegistry, tmp_path: Path) -> None:
    """A lock taken after start: the periodic check fails fast, requests never wait for it."""
    with TestClient(create_app(settings_for(fresh_fake_registry, tmp_path / "models"))) as client:
        assert from_registry(client)
        with locked(fresh_fake_registry.root / "mlflow.db"):
            wait_for(lambda: readiness(client)[1]["dwc"]["registry"] == "unreachable")
            for _ in range(20):
                start = time.monotonic()
                assert prescreen_version(client) == "1"
                assert time.monotonic() - start < 0.5
            assert readiness(client)[0] == 200
        wait_for(lambda: from_registry(client))


# -- model files changed after registration -----------------------------------------------------------------------


def registered_tree_sha256(registry: FakeRegistry, jurisdiction: str, version: str) -> str:
    """What training tags: tree_sha256 of ``models:/imr-<j>/<v>`` downloaded as serving downloads it."""
    import mlflow

    mlflow.set_tracking_uri(registry.uri)  # models:/ URIs resolve against the global registry URI
    mlflow.set_registry_uri(registry.uri)
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/imr-{jurisdiction}/{version}",
            dst_path=str(Path(tmp) / "model"),
            tracking_uri=registry.uri,
            registry_uri=registry.uri,
        )
        return tree_sha256(Path(path))


def tag_sha256(registry: FakeRegistry, jurisdiction: str, version: str, value: str | None = None) -> str:
    from mlflow import MlflowClient

    digest = value or registered_tree_sha256(registry, jurisdiction, version)
    MlflowClient(registry.uri, registry.uri).set_model_version_tag(
        f"imr-{jurisdiction}", version, ARTIFACT_SHA256_TAG, digest
    )
    return digest


def registry_model_dir(registry: FakeRegistry, jurisdiction: str, version: str) -> Path:
    """The version's files in the registry's artifact store (what an attacker or a bad disk would change)."""
    from mlflow import MlflowClient

    client = MlflowClient(registry.uri, registry.uri)
    source = client.get_model_version(f"imr-{jurisdiction}", version).source
    model_id = source.removeprefix("models:/")
    location = client.get_logged_model(model_id).artifact_location
    return Path(location.removeprefix("file://"))


def alter(model_dir: Path) -> None:
    """A one-line change to the model's code: the kind of change the hash exists to catch."""
    code = model_dir / "fake_champion.py"
    code.write_text(code.read_text() + "\n# altered after registration\n")


def test_a_tagged_champion_with_matching_files_loads(fresh_fake_registry: FakeRegistry, tmp_path: Path) -> None:
    version = fresh_fake_registry.register("dwc", offset=0.1, alias=False)
    digest = tag_sha256(fresh_fake_registry, "dwc", version)
    fresh_fake_registry.set_champion("dwc", version)
    with TestClient(create_app(make_settings(fresh_fake_registry.uri, tmp_path / "models"))) as client:
        assert prescreen_version(client) == version
        assert dwc_model(client)["tags"][ARTIFACT_SHA256_TAG] == digest


def test_a_model_changed_in_the_registry_after_registration_is_refused(
    fresh_fake_registry: FakeRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with TestClient(create_app(make_settings(fresh_fake_registry.uri, tmp_path / "models"))) as client:
        assert prescreen_version(client) == "1"
        version = fresh_fake_registry.register("dwc", offset=0.1, alias=False)
        tag_sha256(fresh_fake_registry, "dwc", version)
        alter(registry_model_dir(fresh_fake_registry, "dwc", version))
        fresh_fake_registry.set_champion("dwc", version)
        assert client.post("/v1/admin/reload").json()["results"]["dwc"] == "failed"
        assert prescreen_version(client) == "1"  # the old champion keeps serving
        model = dwc_model(client)
        assert model["version"] == "1"
        assert f"version {version}" in model["last_error"] and ARTIFACT_SHA256_TAG in model["last_error"]
        assert client.get("/readyz").status_code == 200
    lines = [JsonFormatter().format(r) for r in caplog.records]
    assert any("champion failed to load" in line and "ArtifactIntegrityError" in line for line in lines)
    assert not (tmp_path / "models" / "dwc" / version).exists()  # the refused copy is not kept


def test_an_altered_local_copy_is_refused_when_the_registry_is_down(
    fresh_fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    tag_sha256(fresh_fake_registry, "dwc", "1")
    cache = tmp_path / "models"
    with TestClient(create_app(make_settings(fresh_fake_registry.uri, cache))) as client:
        assert prescreen_version(client) == "1"
    alter(cache / "dwc" / "1" / "model")
    (fresh_fake_registry.root / "mlflow.db").unlink()
    with TestClient(create_app(make_settings(fresh_fake_registry.uri, cache))) as client:
        status, models = readiness(client)
        assert status == 503 and not models["dwc"]["loaded"] and models["dmhc"]["loaded"]
        assert ARTIFACT_SHA256_TAG in dwc_model(client)["last_error"]
        assert client.post("/v1/prescreen", json=CASE).status_code == 503


def test_an_altered_local_copy_is_downloaded_again_when_the_registry_is_up(
    fresh_fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    """A restart finds the cached files changed: the registry's copy (which matches its tag) replaces them."""
    tag_sha256(fresh_fake_registry, "dwc", "1")
    cache = tmp_path / "models"
    with TestClient(create_app(make_settings(fresh_fake_registry.uri, cache))) as client:
        assert prescreen_version(client) == "1"
    alter(cache / "dwc" / "1" / "model")
    with TestClient(create_app(make_settings(fresh_fake_registry.uri, cache))) as client:
        assert from_registry(client)
        assert prescreen_version(client) == "1"
    assert "altered" not in (cache / "dwc" / "1" / "model" / "fake_champion.py").read_text()


def test_a_wrong_tag_is_refused_and_an_explicit_reload_tries_again(
    fresh_fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    with TestClient(create_app(make_settings(fresh_fake_registry.uri, tmp_path / "models"))) as client:
        version = fresh_fake_registry.register("dwc", offset=0.1, alias=False)
        tag_sha256(fresh_fake_registry, "dwc", version, value="0" * 64)
        fresh_fake_registry.set_champion("dwc", version)
        assert client.post("/v1/admin/reload").json()["results"]["dwc"] == "failed"
        assert prescreen_version(client) == "1"
        tag_sha256(fresh_fake_registry, "dwc", version)  # the tag is corrected
        assert client.post("/v1/admin/reload").json()["results"]["dwc"] == "loaded"
        assert prescreen_version(client) == version
