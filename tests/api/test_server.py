"""The real entry point (``python -m serving``, what ``imr serve`` runs), in a subprocess on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from serving.registry import registered_champions
from tests.conftest import FakeRegistry, make_settings

pytestmark = [pytest.mark.api, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
KEY = "server-key-0123456789abcdef"
MARKER = "OSPREY-LANTERN-5150"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keep_alive_timings(port: int, body: bytes, n: int) -> list[float]:
    """Seconds per request on one keep-alive connection (Nagle + delayed ACK would add ~40 ms each)."""
    request = (
        f"POST /v1/prescreen HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-API-Key: {KEY}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    timings = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        for _ in range(n):
            start = time.perf_counter()
            sock.sendall(request)
            headers = b""
            while not headers.endswith(b"\r\n\r\n"):
                headers += reader.read(1)
            assert headers.startswith(b"HTTP/1.1 200")
            length = next(
                int(h.split(b":")[1]) for h in headers.split(b"\r\n") if h.lower().startswith(b"content-length")
            )
            reader.read(length)
            timings.append(time.perf_counter() - start)
    return timings


@pytest.mark.parametrize(("workers", "loop"), [(1, "uvloop"), (2, "uvloop"), (2, "asyncio")])
def test_serve_entry_point(fake_registry: FakeRegistry, tmp_path: Path, workers: int, loop: str) -> None:
    """Ready, answers, logs JSON without request text; keep-alive requests are not held back by Nagle's algorithm
    (with several workers the listening socket is ours: uvicorn's loses TCP_NODELAY on the asyncio loop)."""
    port = _free_port()
    env = {
        **os.environ,
        "IMR_TRACKING_URI": fake_registry.uri,
        "IMR_CACHE_DIR": str(tmp_path / "models"),
        "IMR_PORT": str(port),
        "IMR_PROFILE": "production",
        "IMR_API_KEY": KEY,
        "IMR_WORKERS": str(workers),
        "IMR_EVENT_LOOP": loop,
        "IMR_RELOAD_INTERVAL_S": "0",
    }
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "serving"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert time.monotonic() < deadline, f"server not ready: {log_path.read_text()[-3000:]}"
            time.sleep(0.2)
        case = {
            "jurisdiction": "dwc",
            "summary": f"{MARKER} chronic low back pain after a lifting injury with reduced flexion.",
            "items": [{"item_text": f"Compounded topical cream {MARKER}"}],
        }
        timings = _keep_alive_timings(port, json.dumps(case).encode(), 30)
        assert sorted(timings)[len(timings) // 2] < 0.030, f"keep-alive requests too slow: {timings}"
        if workers > 1:
            _check_whole_server_metrics(port, expected=30)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    access = [r for r in records if r.get("event") == "request" and r.get("route") == "/v1/prescreen"]
    assert len(access) == 30, log_path.read_text()[-3000:]
    assert all(r["status"] == 200 and r["model_version"] == "imr-dwc/1" for r in access)
    assert all("request_id" in r and "latency_ms" in r for r in access)
    assert MARKER not in log_path.read_text() and KEY not in log_path.read_text()


def _check_whole_server_metrics(port: int, expected: int) -> None:
    """The 30 requests went to one worker over one connection; a scrape on new connections, answered by any
    worker, counts all of them once the workers' snapshots are written (once a second)."""
    line = f'imr_requests_total{{method="POST",route="/v1/prescreen",status="200"}} {expected}'
    deadline = time.monotonic() + 10
    seen: list[str] = []
    while time.monotonic() < deadline:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"X-API-Key": KEY})
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read().decode()
        seen.append(next((x for x in text.splitlines() if "/v1/prescreen" in x and "requests_total" in x), ""))
        if seen[-5:] == [line] * 5:  # five scrapes in a row, on fresh connections, whichever worker answers
            return
        time.sleep(0.3)
    raise AssertionError(f"metrics do not add up over the workers: {seen[-10:]}")


def test_registered_champions(fake_registry: FakeRegistry, tmp_path: Path) -> None:
    assert registered_champions(make_settings(fake_registry.uri, tmp_path)) == {"dwc": "1", "dmhc": "1"}
    missing = make_settings(f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}", tmp_path)
    assert registered_champions(missing) == {"dwc": None, "dmhc": None}
    assert not (tmp_path / "none").exists()
