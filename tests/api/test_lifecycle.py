"""Champion lifecycle: hot reload, periodic alias check, failed loads, local copy when the registry is gone."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from tests.conftest import FakeRegistry, make_registry, make_settings

pytestmark = pytest.mark.api

UPHELD_CASE = {
    "jurisdiction": "dwc",
    "summary": "Chronic low back pain after a lifting injury with reduced flexion.",
    "items": [{"item_text": "Compounded topical cream"}],
}


def prescreen(client: TestClient) -> tuple[str, float]:
    response = client.post("/v1/prescreen", json=UPHELD_CASE)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["model"]["version"], body["items"][0]["p_upheld"]


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def dwc_model(client: TestClient) -> dict[str, Any]:
    models: list[dict[str, Any]] = client.get("/v1/models").json()["models"]
    return next(m for m in models if m["jurisdiction"] == "dwc")


def test_admin_reload_picks_up_a_new_champion(fresh_fake_registry: FakeRegistry, tmp_path: Path) -> None:
    settings = make_settings(fresh_fake_registry.uri, tmp_path / "models")
    with TestClient(create_app(settings)) as client:
        assert prescreen(client) == ("1", 0.85)
        assert client.post("/v1/admin/reload").json()["results"] == {"dwc": "unchanged", "dmhc": "unchanged"}
        fresh_fake_registry.register("dwc", offset=0.1)
        response = client.post("/v1/admin/reload")
        assert response.status_code == 200
        assert response.json()["results"] == {"dwc": "loaded", "dmhc": "unchanged"}
        assert prescreen(client) == ("2", 0.95)
        assert dwc_model(client)["version"] == "2"
        assert (
            'imr_model_info{jurisdiction="dwc",name="imr-dwc",version="2",source="registry"} 1'
            in client.get("/metrics").text
        )
    assert (tmp_path / "models" / "dwc" / "2" / "model" / "MLmodel").is_file()


def test_periodic_check_follows_the_alias(fresh_fake_registry: FakeRegistry, tmp_path: Path) -> None:
    settings = make_settings(fresh_fake_registry.uri, tmp_path / "models", reload_interval_s=0.2)
    with TestClient(create_app(settings)) as client:
        assert prescreen(client)[0] == "1"
        fresh_fake_registry.register("dwc", offset=-0.2)
        wait_for(lambda: prescreen(client)[0] == "2")
        assert prescreen(client) == ("2", 0.65)
        fresh_fake_registry.set_champion("dwc", "1")  # a rollback is just moving the alias back
        wait_for(lambda: prescreen(client)[0] == "1")


def _failed_reloads(client: TestClient) -> int:
    prefix = 'imr_model_reloads_total{jurisdiction="dwc",outcome="failed"} '
    lines = [line for line in client.get("/metrics").text.splitlines() if line.startswith(prefix)]
    return int(float(lines[0][len(prefix) :])) if lines else 0


def test_a_champion_that_fails_to_load_keeps_the_old_one(fresh_fake_registry: FakeRegistry, tmp_path: Path) -> None:
    settings = make_settings(fresh_fake_registry.uri, tmp_path / "models", reload_interval_s=0.1)
    with TestClient(create_app(settings)) as client:
        fresh_fake_registry.register("dwc", fail_load=True)
        assert client.post("/v1/admin/reload").json()["results"]["dwc"] == "failed"
        assert prescreen(client) == ("1", 0.85)
        model = dwc_model(client)
        assert model["version"] == "1"
        assert "version 2" in model["last_error"] and "RuntimeError" in model["last_error"]
        assert client.get("/readyz").status_code == 200
        # The periodic check may have met the bad version first (a race with the explicit reload): count from here.
        failed = _failed_reloads(client)
        assert failed >= 1
        time.sleep(0.5)  # the periodic check does not retry the failed version over and over
        assert _failed_reloads(client) == failed
        assert client.post("/v1/admin/reload").json()["results"]["dwc"] == "failed"  # an explicit reload does
        assert _failed_reloads(client) == failed + 1
        assert not (tmp_path / "models" / "dwc" / "2").exists()  # the bad copy is not kept


def test_registry_gone_serves_the_local_copy(fresh_fake_registry: FakeRegistry, tmp_path: Path) -> None:
    cache = tmp_path / "models"
    with TestClient(create_app(make_settings(fresh_fake_registry.uri, cache))) as client:
        assert prescreen(client) == ("1", 0.85)
    shutil.rmtree(fresh_fake_registry.root)  # the registry (database and artifacts) is gone
    with TestClient(create_app(make_settings(fresh_fake_registry.uri, cache))) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        dwc = ready.json()["models"]["dwc"]
        assert (dwc["loaded"], dwc["source"], dwc["registry"]) == (True, "local_cache", "unreachable")
        assert dwc["registry_error"]
        assert prescreen(client) == ("1", 0.85)
        model = dwc_model(client)
        assert model["source"] == "local_cache" and model["metrics"]["roc_auc"]["ci_low"] == 0.74
        assert client.get(model["plots"]["roc"]).status_code == 200
        assert client.post("/v1/admin/reload").json()["results"]["dwc"] == "unchanged"


def test_no_registry_and_no_copy_is_not_ready_then_recovers(tmp_path: Path, _empty_tracking_db: Path) -> None:
    root = tmp_path / "later"
    settings = make_settings(f"sqlite:///{root / 'mlflow.db'}", tmp_path / "models", reload_interval_s=0.2)
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json()["ready"] is False
        refused = client.post("/v1/prescreen", json=UPHELD_CASE)
        assert refused.status_code == 503 and refused.json()["errors"][0]["field"] == "jurisdiction"
        make_registry(root, _empty_tracking_db)  # a champion appears
        wait_for(lambda: client.get("/readyz").status_code == 200)
        assert prescreen(client) == ("1", 0.85)


def test_requests_during_reloads_meet_whole_models(fresh_fake_registry: FakeRegistry, tmp_path: Path) -> None:
    """While the champion flips between two versions, every answer comes from one whole version."""
    fresh_fake_registry.register("dwc", offset=0.1, alias=False)
    settings = make_settings(fresh_fake_registry.uri, tmp_path / "models")
    expected = {"1": 0.85, "2": 0.95}
    stop = threading.Event()
    with TestClient(create_app(settings)) as client:

        def flip() -> None:
            version = "1"
            while not stop.is_set():
                version = "2" if version == "1" else "1"
                fresh_fake_registry.set_champion("dwc", version)
                client.post("/v1/admin/reload")

        flipper = threading.Thread(target=flip)
        flipper.start()
        seen = set()
        try:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                version, p = prescreen(client)
                assert expected[version] == p
                seen.add(version)
        finally:
            stop.set()
            flipper.join()
    assert seen == {"1", "2"}
