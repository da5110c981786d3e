"""Hostile uploads to ``POST /v1/letters``: refused (or read safely) within configured time and memory bounds.

The files are written here, byte by byte (``tests/hardening/pdfs.py``): a 1,000-page PDF, PDFs whose streams
decompress to hundreds of megabytes or gigabytes from a few hundred kilobytes or less, a PDF that asks to run
JavaScript, files that claim to be PDFs and are not, and a body over the upload limit.

Bounds (``features.letters``): ``MAX_PAGES`` pages, ``MAX_DECODED_STREAM_BYTES`` of decompressed streams (checked
before pdfium sees the file), ``MAX_PDF_SECONDS`` of text extraction; ``Settings.max_upload_bytes`` per upload.
Memory is measured in a fresh process per file (its peak resident set), time through the API.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from features import letters
from serving.app import create_app
from tests.conftest import FakeRegistry, make_settings
from tests.hardening import pdfs
from tests.letter_text import LETTER

pytestmark = [pytest.mark.api, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
KEY = "upload-key-0123456789abcdef"
PDF = "application/pdf"
#: A refused file is refused fast, and before it costs memory.
REFUSE_WITHIN_S = 5.0
REFUSED_PEAK_MB = 64
#: The worst file that is *accepted* for parsing (text operators up to the decoded-stream budget).
ACCEPTED_PEAK_MB = 1024

HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    # name: (builder, words the refusal must contain)
    "1000 pages": (lambda: pdfs.many_pages_pdf(1000), "1000 pages"),
    "1 GB of whitespace in a deflate stream": (lambda: pdfs.bomb_pdf(1_000_000_000), "compression bomb"),
    "100 MB of text operators in a deflate stream": (
        lambda: pdfs.bomb_pdf(100_000_000, text_ops=True),
        "compression bomb",
    ),
    "500 MB behind two deflate layers": (lambda: pdfs.nested_bomb_pdf(500_000_000), "compression bomb"),
    "200 MB bomb behind a fake endstream": (lambda: pdfs.hidden_end_bomb_pdf(200_000_000), "compression bomb"),
    "LZW stream": (pdfs.lzw_pdf, "compression"),
    "random bytes named .pdf": (lambda: pdfs.not_a_pdf(), "not a PDF"),
    "PDF header, then garbage": (lambda: b"%PDF-1.7\n" + pdfs.not_a_pdf(40_000) + b"\n%%EOF\n", "PDF"),
    "PDF cut in half": (lambda: pdfs.text_pdf(LETTER)[:1500], "truncated"),
}


@pytest.fixture(scope="module")
def client(fake_registry: FakeRegistry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(
        fake_registry.uri, tmp_path_factory.mktemp("upload-models"), api_key=KEY, profile="production"
    )
    with TestClient(create_app(settings), headers={"X-API-Key": KEY}) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def hostile_files() -> dict[str, bytes]:
    return {name: build() for name, (build, _) in HOSTILE.items()}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_pdf_is_refused_quickly(client: TestClient, hostile_files: dict[str, bytes], name: str) -> None:
    data = hostile_files[name]
    assert len(data) < 2_000_000  # each weighs little
    for how in ("multipart", "raw"):
        start = time.monotonic()
        if how == "multipart":
            response = client.post("/v1/letters", files={"file": ("upload.pdf", data, PDF)})
        else:
            response = client.post("/v1/letters", content=data, headers={"Content-Type": PDF})
        elapsed = time.monotonic() - start
        assert response.status_code == 422, (name, how, response.text[:300])
        reason = response.json()["errors"][0]["reason"]
        assert HOSTILE[name][1].lower() in reason.lower(), (name, reason)
        assert elapsed < REFUSE_WITHIN_S, (name, how, elapsed)


def test_pdf_with_javascript_is_read_as_text_and_its_script_never_runs(client: TestClient) -> None:
    """pdfium (as packaged by pypdfium2) has no JavaScript engine: the letter is read like any other."""
    plain = client.post("/v1/letters", files={"file": ("plain.pdf", pdfs.text_pdf(LETTER), PDF)})
    scripted = client.post("/v1/letters", files={"file": ("js.pdf", pdfs.javascript_pdf(LETTER), PDF)})
    assert plain.status_code == scripted.status_code == 200, scripted.text[:300]
    strip = ("request_id", "source")
    assert {k: v for k, v in scripted.json().items() if k not in strip} == {
        k: v for k, v in plain.json().items() if k not in strip
    }


def test_upload_over_the_limit_is_413_before_it_is_read(fake_registry: FakeRegistry, tmp_path: Path) -> None:
    settings = make_settings(fake_registry.uri, tmp_path / "m", api_key=KEY, max_upload_bytes=1_000_000)
    with TestClient(create_app(settings), headers={"X-API-Key": KEY}) as small:
        big = pdfs.text_pdf(LETTER) + b"%" + b"x" * 1_200_000
        assert small.post("/v1/letters", content=big, headers={"Content-Type": PDF}).status_code == 413
        response = small.post("/v1/letters", files={"file": ("big.pdf", big, PDF)})
        assert response.status_code in (400, 413), response.text[:200]


# -- memory, in a fresh process per file ---------------------------------------------------------------------------

PROBE = """
import json, sys, time
sys.path.insert(0, {repo!r})
from tests.hardening import pdfs
from features import letters


def peak_mb():  # VmHWM: this process's peak resident set (ru_maxrss would count the forked parent's too)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024


data = {build}
base = peak_mb()
start = time.monotonic()
try:
    outcome = "items: %d" % len(letters.parse_letter_bytes(data, "upload.pdf"))
except letters.LetterError as exc:
    outcome = "refused: " + str(exc)
peak = peak_mb()
print(json.dumps({{"outcome": outcome, "seconds": time.monotonic() - start, "extra_mb": peak - base, "peak_mb": peak}}))
"""

MEMORY_CASES = {
    "1000 pages": ("pdfs.many_pages_pdf(1000)", REFUSED_PEAK_MB, "refused"),
    "1 GB deflate bomb": ("pdfs.bomb_pdf(1_000_000_000)", REFUSED_PEAK_MB, "refused"),
    "100 MB text-operator bomb": ("pdfs.bomb_pdf(100_000_000, text_ops=True)", REFUSED_PEAK_MB, "refused"),
    "500 MB nested bomb": ("pdfs.nested_bomb_pdf(500_000_000)", REFUSED_PEAK_MB, "refused"),
    "just under the stream budget": (
        f"pdfs.bomb_pdf({letters.MAX_DECODED_STREAM_BYTES - 200_000}, text_ops=True)",
        ACCEPTED_PEAK_MB,
        "refused: upload.pdf: not an IMR",
    ),
}


@pytest.mark.parametrize("name", list(MEMORY_CASES))
def test_parse_stays_within_memory_and_time_bounds(name: str) -> None:
    build, limit_mb, outcome = MEMORY_CASES[name]
    code = PROBE.format(repo=str(REPO), build=build)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"\n{name}: {report}")
    assert report["outcome"].startswith(outcome), report
    assert report["extra_mb"] < limit_mb, report
    assert report["seconds"] < letters.MAX_PDF_SECONDS, report
