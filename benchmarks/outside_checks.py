"""The outside checks of issue 12, against a production-configured server with the registered champions.

    python benchmarks/outside_checks.py [--tracking-uri URI] [--json PATH]

Starts ``python -m serving`` as ``benchmarks/soak.py`` does (``IMR_PROFILE=production``, a random API key,
127.0.0.1 only, the champions ``make train`` registered unless ``--tracking-uri`` names another store) and checks:

1. a lone surrogate (``"pain \\ud800"``) in a text field gets a 4xx, single and batch;
2. a backtracking 16 KB letter (``printf 'Date assigned%16000sx' ''``) is answered or refused within 5 s while
   ``/healthz``, polled every 50 ms, answers within 0.5 s;
3. 40 MB of never-ending headers on 5 connections grow the server by less than 20 MB;
4. 200 silent connections are all closed by the server within 30 s.

Prints one line per check with its figures and exits 1 if any fails.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import soak  # a sibling script, not a package; it puts the repository on the path

from tests.letter_text import LETTER

HOST = soak.HOST


def _request(port: int, path: str, key: str | None, body: bytes | None = None, media: str = "") -> tuple[int, float]:
    headers = {"X-API-Key": key} if key else {}
    if media:
        headers["Content-Type"] = media
    request = urllib.request.Request(f"http://{HOST}:{port}{path}", data=body, headers=headers)
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return int(response.status), time.perf_counter() - start
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code, time.perf_counter() - start


def check_surrogate(port: int, key: str) -> dict[str, Any]:
    case = '{"jurisdiction": "dwc", "summary": "pain \\ud800", "items": [{"item_text": "MRI lumbar"}]}'
    single, _ = _request(port, "/v1/prescreen", key, case.encode(), "application/json")
    batch, _ = _request(port, "/v1/prescreen/batch", key, f"[{case}]".encode(), "application/json")
    return {"ok": 400 <= single < 500 and 400 <= batch < 500, "single": single, "batch": batch}


def check_backtracking_letter(port: int, key: str) -> dict[str, Any]:
    letter = b"Date assigned" + b" " * 16000 + b"x"
    latencies: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            latencies.append(_request(port, "/healthz", None)[1])
            time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.3)
    status, seconds = _request(port, "/v1/letters", key, letter, "text/plain")
    time.sleep(0.3)
    stop.set()
    poller.join()
    healthz = max(latencies)
    return {"ok": seconds < 5.0 and healthz < 0.5, "status": status, "seconds": seconds, "healthz_max_s": healthz}


def _endless_headers(port: int, offer: int) -> int:
    """Send header lines until the server closes or ``offer`` bytes went; returns the bytes sent."""
    sock = socket.create_connection((HOST, port), timeout=10)
    sent = 0
    line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        while sent < offer:
            sock.sendall(line)
            sent += len(line)
    except OSError:
        pass  # the server closed it, as it should
    finally:
        sock.close()
    return sent


def check_endless_headers(port: int, pid: int) -> dict[str, Any]:
    before = soak.rss_mb(pid)
    peak = before
    threads = [threading.Thread(target=_endless_headers, args=(port, 8_000_000)) for _ in range(5)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, soak.rss_mb(pid))
        time.sleep(0.05)
    time.sleep(0.5)
    after = soak.rss_mb(pid)
    grew = max(peak, after) - before
    return {"ok": grew < 20.0, "rss_before_mb": before, "rss_peak_mb": peak, "rss_after_mb": after, "grew_mb": grew}


def check_silent_connections(port: int) -> dict[str, Any]:
    socks = [socket.create_connection((HOST, port), timeout=5) for _ in range(200)]
    start = time.monotonic()
    closed_at: list[float] = []
    for sock in socks:
        sock.settimeout(max(0.1, 31.0 - (time.monotonic() - start)))
        try:
            data = sock.recv(1024)
            closed = data == b"" or data.startswith(b"HTTP/1.1 408")
        except TimeoutError:
            closed = False
        except OSError:
            closed = True  # reset by the server
        if closed:
            closed_at.append(time.monotonic() - start)
        sock.close()
    last = max(closed_at, default=float("inf"))
    return {"ok": len(closed_at) == 200 and last < 30.0, "closed": len(closed_at), "last_closed_s": last}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", default=None, help="serve this store's champions (default: the project's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    key = secrets.token_hex(24)
    workdir = Path(tempfile.mkdtemp(prefix="imr-outside-"))
    try:
        uri = soak.resolve_tracking_uri(soak.SoakConfig(tracking_uri=args.tracking_uri), workdir)
        with soak.running_server(uri, workdir, key) as (proc, port, _):
            results: dict[str, Any] = {"models": soak.served_models(port, key, stand_in=False)}
            _request(port, "/v1/letters", key, LETTER.encode(), "text/plain")  # the letter workers are up
            results["lone surrogate"] = check_surrogate(port, key)
            results["backtracking 16 KB letter"] = check_backtracking_letter(port, key)
            results["40 MB of endless headers on 5 connections"] = check_endless_headers(port, proc.pid)
            results["200 silent connections"] = check_silent_connections(port)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for name, result in results.items():
        print(f"{name}: {result}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(r["ok"] for name, r in results.items() if name != "models") else 1


if __name__ == "__main__":
    raise SystemExit(main())
