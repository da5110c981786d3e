"""Security: the key guards every /v1 route (compared in constant time), the page needs the key in the session,
and request text (a marker phrase sent through every route, in every place a request can carry text) never
reaches a log line or an error response.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import serving.middleware
from serving.app import PAGE_DIR, create_app
from serving.logs import JsonFormatter
from tests.conftest import FakeRegistry, make_settings
from tests.hardening.pdfs import text_pdf
from tests.letter_text import LETTER

pytestmark = pytest.mark.api

PDF = "application/pdf"
CLIENT_LOGGERS = ("httpx", "httpcore")
KEY = "hardening-key-0123456789abcdef"
#: Request text as it would be typed: words, a space, digits (never a value the API should repeat).
MARKER = "HERON SASSAFRAS 9931"
MARKER_PARTS = ("HERON", "SASSAFRAS")
WRONG_KEYS: list[str | bytes | None] = [None, "", " ", "wrong", KEY[:-1], KEY + "x", KEY.upper(), "é".encode() * 30]


@pytest.fixture
def keyed_client(fake_registry: FakeRegistry, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(fake_registry.uri, tmp_path / "models", api_key=KEY, profile="production")
    with TestClient(create_app(settings)) as client:
        yield client


def v1_operations(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) under /v1 in the app's OpenAPI schema, path parameters filled in."""
    schema = client.get("/openapi.json").json()
    operations = []
    for path, methods in schema["paths"].items():
        if path.startswith("/v1/"):
            concrete = path.replace("{jurisdiction}", "dwc").replace("{name}", "roc.png")
            operations += [(method.upper(), concrete) for method in methods]
    return operations


# -- the key ------------------------------------------------------------------------------------------------------


def test_every_v1_route_refuses_a_missing_or_wrong_key(keyed_client: TestClient) -> None:
    operations = v1_operations(keyed_client)
    assert len(operations) >= 6
    extra = [("DELETE", "/v1/models"), ("PUT", "/v1/prescreen"), ("GET", "/v1/unknown"), ("GET", "/v1/")]
    for method, path in operations + extra:
        for key in WRONG_KEYS:
            headers = {} if key is None else {"X-API-Key": key}
            response = keyed_client.request(method, path, headers=headers, content=b"{}")
            assert response.status_code == 401, (method, path, key, response.status_code)
            assert response.json()["errors"] == [{"field": "X-API-Key", "reason": "missing or wrong API key"}]
            assert response.headers["www-authenticate"] == "X-API-Key"
        good = keyed_client.request(method, path, headers={"X-API-Key": KEY})
        assert good.status_code != 401, (method, path)


def test_the_key_is_compared_with_compare_digest_on_equal_length_digests(
    keyed_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Constant time by construction: secrets.compare_digest over two SHA-256 digests (equal lengths, whatever
    the key's length), and no other comparison of the key in the guard."""
    calls: list[tuple[bytes, bytes]] = []

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(serving.middleware.secrets, "compare_digest", spy)
    for key in ("x", KEY, "k" * 10_000):
        keyed_client.get("/v1/models", headers={"X-API-Key": key})
    assert len(calls) == 3
    assert all(isinstance(a, bytes) and isinstance(b, bytes) and len(a) == len(b) == 32 for a, b in calls)
    source = Path(serving.middleware.__file__).read_text()
    assert "secrets.compare_digest(" in source
    assert not re.search(r"(given|key)\s*[!=]=\s*", source.split("def _check_key", 1)[1].split("async def", 1)[0])


def test_operations_routes_and_the_page_shell_need_no_key_but_reveal_no_data(keyed_client: TestClient) -> None:
    for path in ("/", "/healthz", "/readyz", "/ui-config", "/page/app.js", "/openapi.json"):
        assert keyed_client.get(path).status_code == 200, path
    assert keyed_client.get("/ui-config").json()["auth_required"] is True
    page_calls = [
        ("POST", "/v1/prescreen", {"json": {"jurisdiction": "dwc", "items": [{"item_text": "MRI"}]}}),
        ("GET", "/v1/models", {}),
    ]
    for method, path, kwargs in page_calls:  # what the page does without a key in its session
        assert keyed_client.request(method, path, **kwargs).status_code == 401


def test_the_page_keeps_the_key_in_session_storage_only() -> None:
    """The key lives in sessionStorage (gone with the tab), never in localStorage, a cookie or the URL."""
    script = (PAGE_DIR / "app.js").read_text()
    assert "sessionStorage.setItem(KEY_STORAGE" in script and "sessionStorage.getItem(KEY_STORAGE" in script
    assert "localStorage" not in script and "document.cookie" not in script
    assert not re.search(r"[?&]api[-_]?key=", script, re.IGNORECASE)


def test_without_a_configured_key_the_page_and_api_work(api_client: TestClient) -> None:
    assert api_client.get("/ui-config").json()["auth_required"] is False
    body = {"jurisdiction": "dwc", "summary": "Chronic low back pain.", "items": [{"item_text": "MRI lumbar"}]}
    assert api_client.post("/v1/prescreen", json=body).status_code == 200


def test_plot_route_serves_only_the_champions_own_plots(keyed_client: TestClient) -> None:
    headers = {"X-API-Key": KEY}
    assert keyed_client.get("/v1/models/dwc/plots/roc.png", headers=headers).status_code == 200
    for name in ("..%2F..%2F..%2Fmlflow.db", "..%2Fchampion.json", "%2Fetc%2Fpasswd", "roc.png%00.txt"):
        response = keyed_client.get(f"/v1/models/dwc/plots/{name}", headers=headers)
        assert response.status_code == 404, name
    assert keyed_client.get("/v1/models/..%2F..%2F/plots/roc.png", headers=headers).status_code == 404


# -- request text never logged or echoed ----------------------------------------------------------------------------


def marked_requests(marker: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The marker in every place a request can carry text, on every route (good and bad requests alike)."""
    case = {
        "jurisdiction": "dwc",
        "summary": f"Patient {marker} with chronic low back pain after lifting at work with reduced flexion.",
        "ur_text": f"Denied by UR: {marker}",
        "claims_guideline": f"MTUS {marker}",
        "treatment_category": marker,
        "gender": marker,
        "items": [{"item_text": f"MRI lumbar {marker}", "claims_guideline": marker}, {"item_text": marker}],
    }
    letter = LETTER.replace("bus mechanic", f"bus mechanic {marker}")
    bad_bodies: list[tuple[str, bytes]] = [
        ("application/json", f'{{"summary": "{marker}" broken'.encode()),
        ("application/json", f'{{"{marker}": 1, "jurisdiction": "dwc", "items": []}}'.encode()),
        ("application/json", f'{{"jurisdiction": "{marker}", "items": [{{"item_text": "x"}}]}}'.encode()),
        ("application/json", f'{{"jurisdiction": "dwc", "items": [{{"item_text": "{marker}", "x": 1}}]}}'.encode()),
        ("application/json", f'{{"jurisdiction": "dwc", "report_year": "{marker}", "items": []}}'.encode()),
        ("application/json", b'{"jurisdiction": "dwc", "summary": "' + marker.encode() * 20_000 + b'"}'),
        ("text/plain", marker.encode()),
        ("application/xml", f"<x>{marker}</x>".encode()),
        ("application/json", marker.encode("utf-16")),
    ]
    csv_rows = [
        f"jurisdiction,item_text,summary\ndwc,MRI {marker},{marker}\n{marker},x,y\n",
        f"jurisdiction,item_text,{marker}\ndwc,MRI,x\n",
        f"{marker},x\n1,2\n",
        f'jurisdiction,item_text,summary\ndwc,"{marker}\n',
    ]
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/prescreen", {"json": case}),
        ("POST", "/v1/prescreen", {"json": {**case, "items": []}}),
        ("POST", "/v1/prescreen/batch", {"json": [case, {"x": marker}, {**case, "jurisdiction": marker}]}),
        ("POST", "/v1/prescreen/batch", {"json": {"cases": marker}}),
        ("POST", "/v1/letters", {"files": {"file": ("letter.txt", letter.encode(), "text/plain")}}),
        ("POST", "/v1/letters", {"files": {"file": ("letter.pdf", text_pdf(letter), "application/pdf")}}),
        ("POST", "/v1/letters", {"content": text_pdf(letter), "headers": {"Content-Type": "application/pdf"}}),
        ("POST", "/v1/letters", {"files": {"file": ("n.txt", f"Nothing here {marker}\n".encode(), "text/plain")}}),
        ("POST", "/v1/letters", {"files": {"file": ("n.pdf", text_pdf(f"Only {marker}\n" * 5), "application/pdf")}}),
        ("POST", "/v1/letters", {"files": {"file": ("x.pdf", f"not a pdf {marker}".encode(), "application/pdf")}}),
        ("POST", "/v1/letters", {"content": f"%PDF-1.4 {marker} %%EOF".encode(), "headers": {"Content-Type": PDF}}),
        ("POST", "/v1/letters", {"files": {"other": ("a.txt", marker.encode(), "text/plain")}}),
        ("GET", f"/v1/models/{marker}/plots/{marker}", {}),
        ("GET", f"/v1/models?{marker}={marker}", {}),
        ("POST", f"/v1/admin/reload?q={marker}", {}),
        ("GET", f"/v1/{marker}", {}),
        ("GET", f"/readyz?{marker}", {}),
        ("GET", f"/page/{marker}.js", {}),
        ("GET", f"/{marker}", {}),
    ]  # fmt: skip
    calls += [("POST", "/v1/prescreen", {"content": body, "headers": {"Content-Type": ct}}) for ct, body in bad_bodies]
    calls += [
        ("POST", "/v1/prescreen/batch", {"content": rows.encode(), "headers": {"Content-Type": "text/csv"}})
        for rows in csv_rows
    ]
    calls += [
        ("POST", "/v1/prescreen/batch", {"files": {"file": ("rows.csv", rows.encode(), "text/csv")}})
        for rows in csv_rows
    ]
    return calls


def _send_all(client: TestClient, marker: str, key: str) -> dict[int, int]:
    statuses: dict[int, int] = {}
    for method, path, kwargs in marked_requests(marker):
        headers = {"X-API-Key": key, **kwargs.pop("headers", {})}
        response = client.request(method, path, headers=headers, **kwargs)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (method, path, response.text[:300])
        if response.status_code >= 400:  # errors never repeat what was sent
            assert not any(part in response.text for part in MARKER_PARTS), (method, path, response.text[:500])
    # a wrong key carrying the marker, and the marker as the key itself
    for key_value in (f"{key}{marker}", marker):
        response = client.post("/v1/prescreen", json={"summary": marker}, headers={"X-API-Key": key_value})
        assert response.status_code == 401 and marker not in response.text
    return statuses


def test_marker_sent_through_every_route_never_reaches_logs_or_errors(
    fake_registry: FakeRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(fake_registry.uri, tmp_path / "models", api_key=KEY, log_level="debug")
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(settings)) as client:
        statuses = _send_all(client, MARKER, KEY)
    assert statuses.get(200, 0) >= 4 and statuses.get(422, 0) >= 5 and statuses.get(401, 0) == 0
    formatter = JsonFormatter()
    # the test's own HTTP client logs the URLs it requests (logger "httpx"/"httpx2"): that is the client, not us
    server_records = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    lines = [formatter.format(record) for record in server_records]
    assert sum('"event":"request"' in line for line in lines) >= len(marked_requests(MARKER))
    captured = capfd.readouterr()
    for text in [*lines, captured.out, captured.err]:
        for part in (*MARKER_PARTS, KEY):
            assert part not in text, text[:500]


def test_letter_file_names_are_not_repeated_in_errors(keyed_client: TestClient) -> None:
    """A file name can carry a patient's name ("Smith_John_IMR.pdf"): errors say "the file", not its name."""
    name = f"{MARKER.replace(' ', '_')}.pdf"
    response = keyed_client.post(
        "/v1/letters",
        files={"file": (name, b"not a pdf at all", "application/pdf")},
        headers={"X-API-Key": KEY},
    )
    assert response.status_code == 422
    assert not any(part in response.text for part in MARKER_PARTS), response.text


def test_each_refusal_is_a_new_error_whose_traceback_does_not_grow(
    keyed_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: one shared 401 exception, raised again and again, kept every refused request's frames alive
    (2 GB of memory in 30 s of wrong keys in the soak test)."""
    made: list[BaseException] = []
    original = serving.middleware.unauthorized

    def recording() -> Any:
        error = original()
        made.append(error)
        return error

    monkeypatch.setattr(serving.middleware, "unauthorized", recording)
    for _ in range(50):
        assert keyed_client.get("/v1/models", headers={"X-API-Key": "wrong"}).status_code == 401
    assert len({id(e) for e in made}) == 50

    def depth(error: BaseException) -> int:
        tb, n = error.__traceback__, 0
        while tb is not None:
            tb, n = tb.tb_next, n + 1
        return n

    assert max(depth(e) for e in made) <= 5
