"""Connection limits and a free event loop, checked from outside on the real server (``python -m serving``).

The server runs with its production settings (API key on) on a free 127.0.0.1 port with the fake champions of
``tests/conftest.py``, and the default limits except where a test needs a short one (named in ``ENV``):

* endless headers on 5 connections (40 MB offered) do not grow the server by 20 MB: 431 and a close after 32 KB;
* 200 connections that never send a byte are closed by the server within 30 s (the head deadline, 10 s);
* slow headers and slow bodies get 408; an idle kept-alive connection is closed; too many headers get 431;
* beyond ``max_connections`` a new connection gets 503 with Retry-After at once, and the server recovers;
* a backtracking 16 KB letter is answered within 5 s while ``/healthz`` answers within 0.5 s (letters are parsed in
  worker processes), also with several hostile 100 KB letters at once;
* every line the server logged is one JSON object, none with SQL.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import FakeRegistry

pytestmark = [pytest.mark.api, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
KEY = "limits-key-0123456789abcdef"
MAX_CONNECTIONS = 400
ENV = {
    "IMR_BODY_TIMEOUT_S": "3",  # default 60: a test of the slow body should not wait a minute
    "IMR_KEEP_ALIVE_TIMEOUT_S": "2",  # default 15
    "IMR_MAX_CONNECTIONS": str(MAX_CONNECTIONS),  # default 1000: the cap test opens this many
}


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        raise RuntimeError("no VmRSS")

    def get(self, path: str, timeout: float = 5.0, key: str | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(f"http://{HOST}:{self.port}{path}", headers={"X-API-Key": key} if key else {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def post(self, path: str, body: bytes, content_type: str, timeout: float = 30.0) -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"http://{HOST}:{self.port}{path}",
            data=body,
            headers={"Content-Type": content_type, "X-API-Key": KEY},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(fake_registry: FakeRegistry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("limits")
    port = _free_port()
    env = {
        **os.environ,
        **ENV,
        "IMR_PROFILE": "production",
        "IMR_API_KEY": KEY,
        "IMR_TRACKING_URI": fake_registry.uri,
        "IMR_CACHE_DIR": str(workdir / "models"),
        "IMR_HOST": HOST,
        "IMR_PORT": str(port),
        "IMR_RELOAD_INTERVAL_S": "0",
    }
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "serving"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    running = Server(proc, port, log_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                if running.get("/readyz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"server not ready: {log_path.read_text()[-3000:]}"
            time.sleep(0.2)
        _wait_for_letter_workers(running)
        yield running
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _wait_for_letter_workers(server: Server) -> None:
    """The letter workers start in the background: one letter makes sure they are up before the timings."""
    from tests.letter_text import LETTER

    status, body = server.post("/v1/letters", LETTER.encode(), "text/plain", timeout=60)
    assert status == 200, body[:500]


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection((HOST, server.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_status(sock: socket.socket, timeout: float) -> bytes:
    """The first bytes the server sends back (b"" when it closed without a word)."""
    sock.settimeout(timeout)
    try:
        return sock.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        return b""


def _healthz_latencies(server: Server, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        status, _ = server.get("/healthz", timeout=10)
        out.append(time.perf_counter() - start if status == 200 else float("inf"))
        time.sleep(0.05)


# -- headers -------------------------------------------------------------------------------------------------------


def _endless_headers(server: Server, offer: int, one_line: bool, result: list[str]) -> None:
    """Send a request head that never ends (``offer`` bytes at most): many header lines, or one endless value."""
    sock = _connect(server)
    sent = 0
    try:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + (b"X-Pad: " if one_line else b""))
        chunk = b"a" * 8192 if one_line else b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(8))
        while sent < offer:
            sock.sendall(chunk)
            sent += len(chunk)
        result.append("all sent")
    except OSError:
        result.append(f"closed after {sent}")
    finally:
        sock.close()


def test_endless_headers_on_5_connections_do_not_grow_the_server(server: Server) -> None:
    baseline = server.rss_mb()
    results: list[str] = []
    threads = [
        threading.Thread(target=_endless_headers, args=(server, 8_000_000, k % 2 == 0, results)) for k in range(5)
    ]
    peak = baseline
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, server.rss_mb())
        time.sleep(0.05)
    peak = max(peak, server.rss_mb())
    print(f"\nendless headers, 5 x 8 MB offered: server {baseline:.1f} -> peak {peak:.1f} MB; {results}")
    assert all(r.startswith("closed after") for r in results), results  # refused long before 8 MB each
    assert max(int(r.split()[-1]) for r in results) < 4_000_000, results
    assert peak - baseline < 20, f"server grew from {baseline:.1f} to {peak:.1f} MB"
    assert server.get("/healthz")[0] == 200


def test_a_large_head_gets_431(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
        assert _read_status(sock, 5).startswith(b"HTTP/1.1 431")


def test_too_many_headers_get_431(server: Server) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(150)) + b"\r\n"
    with _connect(server) as sock:
        sock.sendall(head)
        assert _read_status(sock, 5).startswith(b"HTTP/1.1 431")
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(50)) + b"\r\n"
    with _connect(server) as sock:  # a normal number of headers is fine
        sock.sendall(head)
        assert _read_status(sock, 5).startswith(b"HTTP/1.1 200")


# -- deadlines -----------------------------------------------------------------------------------------------------


def test_200_silent_connections_are_closed_within_30_s(server: Server) -> None:
    socks = [_connect(server) for _ in range(200)]
    selector = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    start = time.monotonic()
    open_ = len(socks)
    closed_at: list[float] = []
    try:
        while open_ and time.monotonic() - start < 30:
            for key, _ in selector.select(timeout=1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                assert data == b"", data  # closed without an answer: nothing was asked
                selector.unregister(sock)
                open_ -= 1
                closed_at.append(time.monotonic() - start)
    finally:
        for sock in socks:
            sock.close()
    assert open_ == 0, f"{open_} of 200 silent connections still open after 30 s"
    print(f"\n200 silent connections closed after {min(closed_at):.1f}-{max(closed_at):.1f} s")
    assert server.get("/healthz")[0] == 200


def test_slow_headers_get_408(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        start = time.monotonic()
        answer = b""
        for i in range(30):  # one header line every second, never the blank line
            try:
                sock.sendall(b"X-Slow-%d: 1\r\n" % i)
            except OSError:
                break
            sock.settimeout(1.0)
            try:
                answer = sock.recv(4096)
                break
            except TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - start < 15


def test_slow_body_gets_408(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v1/prescreen HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"X-API-Key: {KEY}\r\nContent-Length: 1000\r\n\r\n".encode()
        )
        start = time.monotonic()
        answer = b""
        while time.monotonic() - start < 15:
            try:
                sock.sendall(b" ")
            except OSError:
                break
            sock.settimeout(0.5)
            try:
                answer = sock.recv(4096)
                break
            except TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert 2.5 < time.monotonic() - start < 8


def test_idle_keep_alive_connection_is_closed(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        start = time.monotonic()
        received = b""
        while chunk := _read_status(sock, 10):  # the answer, then the close (b"")
            received += chunk
        assert received.startswith(b"HTTP/1.1 200") and received.endswith(b'{"status":"ok"}')
        assert 1.5 < time.monotonic() - start < 5  # IMR_KEEP_ALIVE_TIMEOUT_S=2


# -- the connection cap ----------------------------------------------------------------------------------------------


def test_connections_beyond_the_cap_get_503_at_once_and_the_server_recovers(server: Server) -> None:
    extra = 20
    held = [_connect(server) for _ in range(MAX_CONNECTIONS + extra)]  # silent: the server holds them 10 s
    try:
        time.sleep(1.0)
        answers: list[bytes] = []
        for sock in held:
            sock.setblocking(False)
            try:
                answers.append(sock.recv(4096))
            except BlockingIOError:
                answers.append(b"(open)")
            except ConnectionResetError:
                answers.append(b"(reset)")
        refused = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
        assert extra - 3 <= len(refused) <= extra + 3, answers[-30:]
        assert all(b"retry-after: 1" in a.lower() for a in refused)
        assert answers.count(b"(open)") >= MAX_CONNECTIONS - 3
        start = time.perf_counter()
        with _connect(server) as sock:
            answer = _read_status(sock, 2)
        assert answer.startswith(b"HTTP/1.1 503") and time.perf_counter() - start < 1.0
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while server.get("/healthz", timeout=2)[0] != 200:
        assert time.monotonic() < deadline, "server did not recover after the connections closed"
        time.sleep(0.1)


# -- a free event loop -----------------------------------------------------------------------------------------------


def test_backtracking_letter_is_answered_in_5_s_while_healthz_answers_in_half_a_second(server: Server) -> None:
    letter = b"Date assigned" + b" " * 16000 + b"x"  # took 25 s, holding the interpreter lock, before the fix
    latencies: list[float] = []
    stop = threading.Event()
    poller = threading.Thread(target=_healthz_latencies, args=(server, stop, latencies))
    poller.start()
    try:
        time.sleep(0.2)
        start = time.perf_counter()
        status, body = server.post("/v1/letters", letter, "text/plain", timeout=30)
        elapsed = time.perf_counter() - start
        time.sleep(0.2)
    finally:
        stop.set()
        poller.join()
    print(
        f"\nbacktracking 16 KB letter: {status} in {elapsed * 1000:.0f} ms; /healthz max {max(latencies) * 1000:.0f} ms"
    )
    assert 400 <= status < 500, body[:300]
    assert elapsed < 5.0
    assert latencies and max(latencies) < 0.5, latencies


def test_hostile_letters_at_once_leave_healthz_answering(server: Server) -> None:
    letters = [
        b"Date assigned" + b" " * 100_000 + b"x",
        b"Case Number" + b"\n\x0c" * 50_000 + b"x",
        b"MAXIMUS Federal Services, Inc. has determined the request for" + b" \n" * 50_000,
        (b"(modified " * 10_000) + b": Upheld\nDecision rationale: x",
        b"1. The request for " + b"x " * 50_000,
        b"Regarding the request for " * 4000,
    ]
    latencies: list[float] = []
    stop = threading.Event()
    poller = threading.Thread(target=_healthz_latencies, args=(server, stop, latencies))
    poller.start()
    answers: list[tuple[int, float]] = []

    def send(letter: bytes) -> None:
        start = time.perf_counter()
        status, _ = server.post("/v1/letters", letter, "text/plain", timeout=30)
        answers.append((status, time.perf_counter() - start))

    senders = [threading.Thread(target=send, args=(letter,)) for letter in letters]
    try:
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
    finally:
        stop.set()
        poller.join()
    assert len(answers) == len(letters)
    assert all(status in (200, 422, 503) for status, _ in answers), answers  # 503: every worker busy (retry)
    assert max(seconds for _, seconds in answers) < 5.0, answers
    assert latencies and max(latencies) < 0.5, latencies


# -- logs ----------------------------------------------------------------------------------------------------------


def test_every_log_line_is_json_without_sql(server: Server) -> None:
    server.get("/readyz")
    server.get("/metrics")  # 401 without the key
    lines = [line for line in server.log_path.read_text().splitlines() if line.strip()]
    assert lines
    for line in lines:
        record = json.loads(line)
        assert {"ts", "level", "logger", "event"} <= set(record), line
    text = server.log_path.read_text()
    assert "[SQL:" not in text and "SELECT " not in text and KEY not in text
