"""API key, CORS, headers, and logs that never carry request text."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from serving.app import create_app
from serving.logs import JsonFormatter
from tests.conftest import FakeRegistry, make_settings
from tests.letter_text import LETTER

pytestmark = pytest.mark.api

KEY = "test-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"
CASE = {"jurisdiction": "dwc", "summary": "Chronic low back pain.", "items": [{"item_text": "MRI of the lumbar spine"}]}

V1_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/v1/prescreen", {"json": CASE}),
    ("POST", "/v1/prescreen/batch", {"json": [CASE]}),
    ("POST", "/v1/letters", {"files": {"file": ("l.txt", LETTER.encode(), "text/plain")}}),
    ("GET", "/v1/models", {}),
    ("GET", "/v1/models/dwc/plots/roc.png", {}),
    ("POST", "/v1/admin/reload", {}),
]


@pytest.fixture
def keyed_client(fake_registry: FakeRegistry, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(
        fake_registry.uri, tmp_path / "models", api_key=KEY, admin_key=ADMIN_KEY, profile="production"
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize(("method", "path", "kwargs"), V1_CALLS)
@pytest.mark.parametrize("key", [None, "", "wrong-key", KEY[:-1], KEY + "x"])
def test_v1_refuses_missing_or_wrong_key(
    keyed_client: TestClient, method: str, path: str, kwargs: dict[str, Any], key: str | None
) -> None:
    headers = {} if key is None else {"X-API-Key": key}
    response = keyed_client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == 401
    assert response.json()["errors"] == [{"field": "X-API-Key", "reason": "missing or wrong API key"}]


@pytest.mark.parametrize(("method", "path", "kwargs"), V1_CALLS)
def test_v1_accepts_the_key(keyed_client: TestClient, method: str, path: str, kwargs: dict[str, Any]) -> None:
    key = ADMIN_KEY if path.startswith("/v1/admin/") else KEY
    response = keyed_client.request(method, path, headers={"X-API-Key": key}, **kwargs)
    assert response.status_code == 200, response.text


def test_admin_routes_need_the_admin_key_not_the_scoring_key(keyed_client: TestClient) -> None:
    assert keyed_client.post("/v1/admin/reload", headers={"X-API-Key": KEY}).status_code == 401
    assert keyed_client.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY}).status_code == 200
    assert keyed_client.post("/v1/prescreen", json=CASE, headers={"X-API-Key": ADMIN_KEY}).status_code == 401


def test_admin_routes_are_off_without_an_admin_key(fake_registry: FakeRegistry, tmp_path: Path) -> None:
    settings = make_settings(fake_registry.uri, tmp_path / "models", api_key=KEY, profile="production")
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/admin/reload", headers={"X-API-Key": KEY})
        assert response.status_code == 403
        assert response.json()["errors"][0]["field"] == "X-API-Key"
        assert client.post("/v1/admin/reload").status_code == 401


def test_admin_key_must_differ_from_the_scoring_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="must differ"):
        make_settings("sqlite:///x.db", tmp_path, profile="production", api_key=KEY, admin_key=KEY)
    with pytest.raises(ValidationError, match="at least 16"):
        make_settings("sqlite:///x.db", tmp_path, profile="production", api_key=KEY, admin_key="short")


@pytest.mark.parametrize("path", ["/", "/healthz", "/readyz", "/ui-config", "/page/app.js"])
def test_operations_and_page_need_no_key(keyed_client: TestClient, path: str) -> None:
    assert keyed_client.get(path).status_code == 200


def test_metrics_need_a_key_when_the_server_has_one(keyed_client: TestClient) -> None:
    assert keyed_client.get("/metrics").status_code == 401
    assert keyed_client.get("/metrics", headers={"X-API-Key": "wrong"}).status_code == 401
    for key in (KEY, ADMIN_KEY):
        response = keyed_client.get("/metrics", headers={"X-API-Key": key})
        assert response.status_code == 200 and "imr_" in response.text


def test_metrics_can_be_made_public(fake_registry: FakeRegistry, tmp_path: Path) -> None:
    settings = make_settings(
        fake_registry.uri, tmp_path / "models", api_key=KEY, profile="production", metrics_public=True
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/metrics").status_code == 200


def test_readyz_without_a_key_says_only_whether_it_is_ready(keyed_client: TestClient) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}):
        response = keyed_client.get("/readyz", headers=headers)
        assert response.status_code == 200 and response.json() == {"ready": True}
    for key in (KEY, ADMIN_KEY):
        detailed = keyed_client.get("/readyz", headers={"X-API-Key": key}).json()
        assert detailed["ready"] is True and set(detailed["models"]) == {"dwc", "dmhc"}


def test_page_config_says_a_key_is_needed(keyed_client: TestClient) -> None:
    assert keyed_client.get("/ui-config").json()["auth_required"] is True


def test_local_default_runs_without_a_key(api_client: TestClient) -> None:
    assert api_client.get("/ui-config").json()["auth_required"] is False
    assert api_client.get("/v1/models").status_code == 200


def test_production_profile_requires_a_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="API key is required"):
        make_settings("sqlite:///x.db", tmp_path, profile="production", api_key=None)
    with pytest.raises(ValidationError, match="API key is required"):
        make_settings("sqlite:///x.db", tmp_path, require_api_key=True, api_key="   ")
    with pytest.raises(ValidationError, match="at least 16"):
        make_settings("sqlite:///x.db", tmp_path, profile="production", api_key="short")


def test_cors_is_off_by_default(api_client: TestClient) -> None:
    response = api_client.options(
        "/v1/prescreen", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in response.headers
    response = api_client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_when_configured(fake_registry: FakeRegistry, tmp_path: Path) -> None:
    settings = make_settings(fake_registry.uri, tmp_path / "m", cors_origins="https://claims.example")
    with TestClient(create_app(settings)) as client:
        allowed = client.options(
            "/v1/prescreen", headers={"Origin": "https://claims.example", "Access-Control-Request-Method": "POST"}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://claims.example"
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_page_security_headers(api_client: TestClient) -> None:
    response = api_client.get("/")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in response.headers["content-security-policy"]


# -- logs --------------------------------------------------------------------------------------------------------

MARKER = "PELICAN-SASSAFRAS-4412"


def _marked_requests(client: TestClient) -> None:
    marked_case = {
        "jurisdiction": "dwc",
        "summary": f"Patient with {MARKER} back pain after lifting a heavy box at work with reduced flexion.",
        "ur_text": f"Denied: {MARKER}",
        "claims_guideline": f"MTUS {MARKER}",
        "items": [{"item_text": f"MRI {MARKER}"}, {"item_text": MARKER}],
    }
    headers = {"X-API-Key": KEY}
    assert client.post("/v1/prescreen", json=marked_case, headers=headers).status_code == 200
    assert client.post("/v1/prescreen", json={**marked_case, "items": []}, headers=headers).status_code == 422
    assert (
        client.post("/v1/prescreen", json={**marked_case, "jurisdiction": MARKER}, headers=headers).status_code == 422
    )
    bad_json = b'{"summary": "' + MARKER.encode() + b'" oops'
    assert client.post("/v1/prescreen", content=bad_json, headers={**headers, "Content-Type": "application/json"})
    assert client.post("/v1/prescreen/batch", json=[marked_case, {"x": MARKER}], headers=headers).status_code == 200
    csv = f"jurisdiction,item_text,summary\ndwc,MRI {MARKER},{MARKER}\n{MARKER},x,y\n".encode()
    client.post("/v1/prescreen/batch", content=csv, headers={**headers, "Content-Type": "text/csv"})
    letter = LETTER.replace("bus mechanic", f"bus mechanic {MARKER}").encode()
    assert (
        client.post("/v1/letters", files={"file": ("l.txt", letter, "text/plain")}, headers=headers).status_code == 200
    )
    not_letter = f"Nothing to see {MARKER}\n".encode()
    client.post("/v1/letters", files={"file": ("n.txt", not_letter, "text/plain")}, headers=headers)
    client.post("/v1/prescreen", json=marked_case, headers={"X-API-Key": MARKER})  # the key itself is not logged


def test_request_text_never_reaches_logs_or_errors(
    fake_registry: FakeRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(fake_registry.uri, tmp_path / "models", api_key=KEY)
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(settings)) as client:
        _marked_requests(client)
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    captured = capfd.readouterr()
    assert any('"route":"/v1/prescreen"' in line and '"model_version":"imr-dwc/1"' in line for line in lines)
    assert any('"latency_ms"' in line and '"status":422' in line for line in lines)
    for text in [*lines, *(r.getMessage() for r in caplog.records), captured.out, captured.err]:
        assert MARKER not in text
        assert KEY not in text


def test_unexpected_errors_are_logged_without_their_message(
    api_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    from serving.app import get_services

    async def broken() -> Any:
        raise RuntimeError(f"boom with {MARKER}")

    api_client.app.dependency_overrides[get_services] = broken  # type: ignore[attr-defined]
    caplog.set_level(logging.INFO)
    try:
        response = api_client.post("/v1/prescreen", json=CASE)
    finally:
        api_client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert response.status_code == 500
    assert response.json()["errors"] == [{"field": "server", "reason": "internal error"}]
    lines = [JsonFormatter().format(r) for r in caplog.records]
    assert any('"exc_type":"RuntimeError"' in line for line in lines)
    assert all(MARKER not in line for line in lines)


def test_unknown_v1_paths_need_the_key_too(keyed_client: TestClient) -> None:
    """Without the key, /v1 reveals nothing, not even which routes exist."""
    response = keyed_client.get("/v1/no-such-route")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "X-API-Key"
    assert keyed_client.get("/v1/no-such-route", headers={"X-API-Key": KEY}).status_code == 404
