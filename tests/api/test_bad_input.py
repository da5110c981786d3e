"""Bad input gets a clear 4xx with one shape, {"errors": [{"field", "reason"}], "request_id"}, and never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from tests.conftest import FakeRegistry, make_settings
from tests.letter_text import LETTER, NOT_A_LETTER, make_pdf

pytestmark = pytest.mark.api

MARKER = "ZEBRA-QUOKKA-7731"
SUMMARY = f"{MARKER} chronic low back pain after a lifting injury with reduced lumbar flexion and spasm."


@pytest.fixture
def small_client(fake_registry: FakeRegistry, tmp_path: Path) -> Iterator[TestClient]:
    """Small limits, and only the dwc jurisdiction served."""
    settings = make_settings(
        fake_registry.uri,
        tmp_path / "models",
        max_text_bytes=1000,
        max_body_bytes=5000,
        max_items=3,
        max_batch=2,
        max_upload_bytes=20_000,
        jurisdictions="dwc",
    )
    with TestClient(create_app(settings)) as client:
        yield client


def assert_error_shape(response: Any, status: int, field: str | None = None) -> list[dict[str, str]]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errors", "request_id"}
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["errors"], "at least one error"
    for error in body["errors"]:
        assert set(error) == {"field", "reason"} and error["reason"]
    assert MARKER not in response.text, "an error must not echo the request text"
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    errors: list[dict[str, str]] = body["errors"]
    return errors


def good(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"jurisdiction": "dwc", "summary": SUMMARY, "items": [{"item_text": f"MRI {MARKER}"}]}
    body.update(changes)
    return body


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (good(jurisdiction="mars"), "jurisdiction"),
        (good(jurisdiction="dmhc"), "jurisdiction"),  # valid, but not served by this server
        (good(items=[]), "items"),
        (good(items=[{"item_text": "   "}]), "items[0].item_text"),
        (good(items=[{"item_text": ""}]), "items[0].item_text"),
        (good(items=[{"text": MARKER}]), "items[0].item_text"),
        (good(items=[{"item_text": f"item {i} {MARKER}"} for i in range(4)]), "items"),
        (good(summary=MARKER + "x" * 1000), "summary"),
        (good(summary="é" * 600), "summary"),  # 600 characters, 1200 bytes
        (good(items=[{"item_text": MARKER * 100}]), "items[0].item_text"),
        (good(items=[{"item_text": "MRI", "claims_guideline": "g" * 1001}]), "items[0].claims_guideline"),
        (good(ur_text=12), "ur_text"),
        (good(report_year="MCMXC"), "report_year"),
        (good(unexpected=MARKER), "unexpected"),
        ({"summary": SUMMARY}, "jurisdiction"),
        ([good()], "body"),
        ("just a string " + MARKER, "body"),
    ],
)
def test_invalid_prescreen_is_422(small_client: TestClient, body: Any, field: str) -> None:
    assert_error_shape(small_client.post("/v1/prescreen", json=body), 422, field)


def test_invalid_json_is_400(small_client: TestClient) -> None:
    """An unreadable body is a 400, as documented (a readable body with a bad field is a 422)."""
    response = small_client.post("/v1/prescreen", content=b'{"summary": "' + MARKER.encode() + b'", ', headers=JSON)
    errors = assert_error_shape(response, 400, "body")
    assert errors[0]["reason"] == "is not valid JSON"


def test_empty_body_is_400(small_client: TestClient) -> None:
    assert_error_shape(small_client.post("/v1/prescreen", content=b"", headers=JSON), 400, "body")


def test_invalid_utf8_is_400(small_client: TestClient) -> None:
    body = b'{"jurisdiction": "dwc", "items": [{"item_text": "MRI \xff\xfe"}]}'
    errors = assert_error_shape(small_client.post("/v1/prescreen", content=body, headers=JSON), 400, "body")
    assert "UTF-8" in errors[0]["reason"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_wrong_content_type_is_415(small_client: TestClient, content_type: str) -> None:
    response = small_client.post("/v1/prescreen", content=b'{"x": 1}', headers={"Content-Type": content_type})
    assert_error_shape(response, 415, "Content-Type")


def test_missing_content_type_is_415(small_client: TestClient) -> None:
    assert_error_shape(small_client.post("/v1/prescreen", content=b'{"x": 1}'), 415, "Content-Type")


def test_declared_oversized_body_is_413(small_client: TestClient) -> None:
    body = ('{"jurisdiction": "dwc", "summary": "' + "x" * 6000 + '", "items": []}').encode()
    assert_error_shape(small_client.post("/v1/prescreen", content=body, headers=JSON), 413, "body")


def test_streamed_oversized_body_is_413(small_client: TestClient) -> None:
    """No Content-Length (chunked): the actual size is counted."""

    def chunks() -> Iterator[bytes]:
        yield b'{"jurisdiction": "dwc", "summary": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'", "items": []}'

    assert_error_shape(small_client.post("/v1/prescreen", content=chunks(), headers=JSON), 413, "body")


def test_bad_content_length_is_400(small_client: TestClient) -> None:
    response = small_client.post("/v1/prescreen", content=b"{}", headers={**JSON, "Content-Length": "lots"})
    assert response.status_code in (400, 422)  # the HTTP client may refuse first; the server must not 5xx


def test_batch_too_many_rows(small_client: TestClient) -> None:
    assert_error_shape(small_client.post("/v1/prescreen/batch", json=[good()] * 3), 422, "body")


@pytest.mark.parametrize("body", [{"not": "a list"}, [], "text"])
def test_batch_not_an_array(small_client: TestClient, body: Any) -> None:
    assert_error_shape(small_client.post("/v1/prescreen/batch", json=body), 422, "body")


def test_batch_rows_fail_alone(small_client: TestClient) -> None:
    rows = [good(summary="x" * 2000), good(items=[{"item_text": "Compounded topical cream"}])]
    response = small_client.post("/v1/prescreen/batch", json=rows)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["ok"] for r in results] == [False, True]
    assert results[0]["errors"] == [{"field": "summary", "reason": "is longer than 1000 bytes"}]
    assert MARKER not in str(results[0])


def test_batch_csv_without_required_columns(small_client: TestClient) -> None:
    response = small_client.post("/v1/prescreen/batch", content=b"summary\nabc\n", headers={"Content-Type": "text/csv"})
    assert_error_shape(response, 422, "file")


def test_batch_csv_upload_invalid_utf8(small_client: TestClient) -> None:
    files = {"file": ("x.csv", b"jurisdiction,item_text\ndwc,\xff\xfe\n", "text/csv")}
    assert_error_shape(small_client.post("/v1/prescreen/batch", files=files), 400, "file")


def test_batch_csv_too_many_rows(small_client: TestClient) -> None:
    body = b"jurisdiction,item_text\n" + b"dwc,MRI of the knee\n" * 3
    assert_error_shape(
        small_client.post("/v1/prescreen/batch", content=body, headers={"Content-Type": "text/csv"}), 422
    )


def test_batch_broken_multipart(small_client: TestClient) -> None:
    headers = {"Content-Type": "multipart/form-data; boundary=xyz"}
    response = small_client.post("/v1/prescreen/batch", content=b"--xyz\r\nnot a part", headers=headers)
    assert response.status_code in (400, 422)
    assert_error_shape(response, response.status_code)


@pytest.mark.parametrize(
    ("name", "data", "media", "status"),
    [
        ("empty.txt", b"", "text/plain", 422),
        ("blank.txt", b"   \n  ", "text/plain", 422),
        ("groceries.txt", NOT_A_LETTER.encode(), "text/plain", 422),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj garbage\n%%EOF", "application/pdf", 422),
        ("truncated.pdf", make_pdf(LETTER)[:400], "application/pdf", 422),
        ("notes.pdf", b"This is plain text wearing a .pdf name.", "application/pdf", 422),
        ("notes.pdf", b"This is plain text wearing a .pdf name.", "text/plain", 422),
        ("scan.pdf", make_pdf(""), "application/pdf", 422),
        ("binary.bin", bytes(range(256)) * 4, "application/octet-stream", 422),
        ("utf16.txt", "no letter here".encode("utf-16"), "text/plain", 422),
        ("groceries-pdf.pdf", make_pdf(NOT_A_LETTER), "application/pdf", 422),
    ],
)
def test_bad_letters(small_client: TestClient, name: str, data: bytes, media: str, status: int) -> None:
    response = small_client.post("/v1/letters", files={"file": (name, data, media)})
    errors = assert_error_shape(response, status, "file")
    # The reason says what is wrong with "the letter", never the upload's own name (it may carry a patient's).
    assert name not in errors[0]["reason"]
    assert errors[0]["reason"].startswith(("letter.pdf: ", "letter.txt: "))


def test_letter_too_large_is_413(small_client: TestClient) -> None:
    data = LETTER.encode() + b" " * 100_000
    assert_error_shape(small_client.post("/v1/letters", files={"file": ("big.txt", data, "text/plain")}), 413, "body")


def test_letter_without_file_part(small_client: TestClient) -> None:
    assert_error_shape(
        small_client.post("/v1/letters", files={"other": ("a.txt", LETTER.encode(), "text/plain")}), 422, "file"
    )


def test_letter_wrong_content_type(small_client: TestClient) -> None:
    assert_error_shape(small_client.post("/v1/letters", json={"letter": LETTER}), 415, "Content-Type")


def test_letter_parser_crash_is_a_4xx(small_client: TestClient) -> None:
    from serving.app import get_letter_parser

    def crashing(data: bytes, source: str) -> list[Any]:
        raise RuntimeError(f"parser bug while reading {MARKER}")

    async def parser() -> Any:
        return crashing

    small_client.app.dependency_overrides[get_letter_parser] = parser  # type: ignore[attr-defined]
    try:
        response = small_client.post("/v1/letters", files={"file": ("x.txt", LETTER.encode(), "text/plain")})
    finally:
        small_client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert_error_shape(response, 422, "file")


GARBAGE = [
    b"",
    b"null",
    b"[]",
    b"{}",
    b'{"jurisdiction": null, "items": null}',
    b'{"jurisdiction": "dwc", "items": [null]}',
    b'{"jurisdiction": "dwc", "items": [{"item_text": null}]}',
    b'{"jurisdiction": "dwc", "items": [{"item_text": "\\ud800"}]}',
    b'{"jurisdiction": "dwc", "items": [{"item_text": "MRI"}], "report_year": 1e400}',
    b'{"jurisdiction": "dwc", "items": [{"item_text": "MRI"}], "report_year": -5}',
    b'{"jurisdiction": "dwc", "items": {"item_text": "MRI"}}',
    b'{"jurisdiction": "DWC", "items": [{"item_text": "MRI"}]}',
    b'{"jurisdiction": "dwc", "items": [{"item_text": "' + b"a" * 900 + b'"}]}',
    b"\x00\x01\x02",
    b'{"a":' * 500 + b"1" + b"}" * 500,
    b"\xef\xbb\xbf{}",
]


@pytest.mark.parametrize("body", GARBAGE)
@pytest.mark.parametrize("path", ["/v1/prescreen", "/v1/prescreen/batch"])
def test_no_input_yields_a_5xx(small_client: TestClient, path: str, body: bytes) -> None:
    response = small_client.post(path, content=body, headers=JSON)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_error_shape(response, response.status_code)
