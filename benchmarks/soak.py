"""Soak test: many concurrent clients for a long time against the real server with its production settings.

    python benchmarks/soak.py [--seconds 600] [--clients 50] [--tracking-uri URI | --stand-in] [--json PATH]

Starts ``python -m serving`` (what ``imr serve`` runs) on a free 127.0.0.1 port with ``IMR_PROFILE=production``
and a random API key, serving the champions of ``--tracking-uri`` (default: the project's own registry, i.e. the
champions ``make train`` registered; ``--stand-in`` serves the tests' fake keyword champions instead, and the report
says so). ``--clients`` closed-loop clients, each on its own keep-alive connection, send a fixed mix of requests
for ``--seconds`` (after ``--warmup`` seconds not counted in the memory baseline): good and bad pre-screens,
batches, letters (text and PDF), model listings, health checks, wrong keys. Some requests carry a marker phrase;
the server's log is searched for it (and for the key) at the end.

Reports the models served, requests served and failed (a failure: no answer, a dropped connection, or a status
other than the one the request must get), requests shed (a batch or letter refused with 503 and ``Retry-After``
because the heavy routes' slots were full, ``IMR_HEAVY_CONCURRENCY``: the client waits as told and goes on; not a
failure, not counted as 5xx), other 5xx responses, p50/p99 latency overall and per kind, and the growth of the
server's resident memory (``VmRSS`` in ``/proc/<pid>/status``) from the end of the warm-up to the end. Exits 1 if
any request failed, any other 5xx came back, memory grew by ``--max-rss-growth`` (10 %) or more, the marker or key
reached the log, or the server died. Traffic goes to 127.0.0.1 only; every loop is bounded by time and by
``--max-requests``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

HOST = "127.0.0.1"
MARKER = "KESTREL MARJORAM 6620"  # must never appear in the server's log
REQUEST_TIMEOUT_S = 30.0
#: Requests to the heavy routes (``serving.limits.HEAVY_PATHS``): their 503 with Retry-After is load shedding.
HEAVY_REQUESTS = (b"POST /v1/prescreen/batch", b"POST /v1/letters", b"POST /v1/report")

ITEMS = [
    "Physical therapy lumbar spine 2 times a week for 6 weeks",
    "Compounded topical cream flurbiprofen 20% cyclobenzaprine 4%",
    "Norco 10/325 mg #90",
    "MRI of the right shoulder without contrast",
    "Epidural steroid injection L5-S1",
    "Acupuncture 6 sessions for the cervical spine",
]
SUMMARY = (
    "The patient is a 47-year-old warehouse worker with chronic low back pain radiating to the left leg after a "
    "lifting injury. Examination shows reduced lumbar flexion and a positive straight leg raise. Prior physical "
    "therapy improved walking tolerance. Utilization review denied the request citing MTUS guidelines."
)


@dataclass
class SoakConfig:
    seconds: float = 600.0
    clients: int = 50
    warmup_s: float | None = None  # default: 10 % of the run, 5 to 60 s
    tracking_uri: str | None = None  # None: the project's registry (``make train``), unless ``stand_in``
    stand_in: bool = False  # serve the tests' fake keyword champions from a temporary store
    max_rss_growth: float = 0.10
    max_requests: int = 20_000_000
    sample_every_s: float = 5.0
    keep_dir: bool = False
    seed: int = 0
    only: tuple[str, ...] = ()  # restrict the mix to these kinds (names as in the report), e.g. to find a leak

    @property
    def warmup(self) -> float:
        if self.warmup_s is not None:
            return self.warmup_s
        return min(60.0, max(5.0, self.seconds * 0.1))


@dataclass
class Kind:
    """One kind of request in the mix: its weight, raw HTTP bytes and the status it must get."""

    name: str
    weight: int
    requests: list[bytes]
    expect: tuple[int, ...]


@dataclass
class SoakReport:
    clients: int
    seconds: float
    warmup_s: float
    models: dict[str, str] = field(default_factory=dict)
    served: int = 0
    failed: int = 0
    shed: int = 0
    server_errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    throughput_rps: float = 0.0
    rss_baseline_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_growth: float = 0.0
    rss_samples_mb: list[float] = field(default_factory=list)
    marker_in_log: bool = False
    key_in_log: bool = False
    server_alive: bool = True
    failures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def table(self) -> str:
        models = ", ".join(f"{j}: {ref}" for j, ref in sorted(self.models.items())) or "none reported"
        lines = [
            f"Soak: {self.clients} clients, {self.seconds:.0f} s (+{self.warmup_s:.0f} s warm-up), production settings",
            f"models: {models}",
            "",
            "| kind | served | failed | shed (503 + Retry-After) | p50 ms | p99 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, row in sorted(self.by_kind.items()):
            lines.append(
                f"| {name} | {int(row['served'])} | {int(row['failed'])} | {int(row.get('shed', 0))} "
                f"| {row['p50_ms']:.1f} | {row['p99_ms']:.1f} |"
            )
        lines += [
            f"| **all** | **{self.served}** | **{self.failed}** | **{self.shed}** | **{self.p50_ms:.1f}** "
            f"| **{self.p99_ms:.1f}** |",
            "",
            f"throughput {self.throughput_rps:.0f} req/s; 5xx other than shedding: {self.server_errors}; "
            f"statuses {self.statuses}",
            f"server RSS {self.rss_baseline_mb:.1f} MB after warm-up -> {self.rss_end_mb:.1f} MB at the end "
            f"(growth {self.rss_growth * 100:+.2f} %, peak {self.rss_peak_mb:.1f} MB)",
            f"marker in server log: {self.marker_in_log}; key in server log: {self.key_in_log}",
            "result: " + ("PASS" if self.ok else "FAIL: " + "; ".join(self.problems)),
        ]
        return "\n".join(lines)


# -- the request mix -----------------------------------------------------------------------------------------------


def _http(method: str, path: str, key: str | None, body: bytes = b"", content_type: str | None = None) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "Connection: keep-alive"]
    if key is not None:
        head.append(f"X-API-Key: {key}")
    if content_type:
        head.append(f"Content-Type: {content_type}")
    if body or method == "POST":
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _case(item: str, marked: bool) -> dict[str, Any]:
    summary = f"{SUMMARY} {MARKER}" if marked else SUMMARY
    return {
        "jurisdiction": "dwc",
        "summary": summary,
        "claims_guideline": "MTUS Chronic Pain Medical Treatment Guidelines",
        "items": [{"item_text": f"{item} {MARKER}" if marked else item}],
    }


def _multipart(name: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    boundary = "soak" + secrets.token_hex(8)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def request_mix(key: str) -> list[Kind]:
    """The mix the clients draw from (weights in percent)."""
    from tests.hardening.pdfs import text_pdf
    from tests.letter_text import LETTER, NOT_A_LETTER

    def post_json(path: str, payload: Any, with_key: str | None = key) -> bytes:
        return _http("POST", path, with_key, json.dumps(payload).encode(), "application/json")

    prescreens = [post_json("/v1/prescreen", _case(item, marked)) for item in ITEMS for marked in (False, True)]
    batch = [post_json("/v1/prescreen/batch", [_case(item, i % 2 == 0) for i, item in enumerate(ITEMS)])]
    marked_letter = LETTER.replace("bus mechanic", f"bus mechanic {MARKER}")
    text_letters = [_http("POST", "/v1/letters", key, *_multipart("letter.txt", marked_letter.encode(), "text/plain"))]
    pdf_body, pdf_type = _multipart("letter.pdf", text_pdf(marked_letter), "application/pdf")
    pdf_letters = [_http("POST", "/v1/letters", key, pdf_body, pdf_type)]
    invalid = [
        post_json("/v1/prescreen", {"jurisdiction": "dwc", "summary": MARKER, "items": []}),
        post_json("/v1/prescreen", {"jurisdiction": MARKER, "items": [{"item_text": "MRI"}]}),
        _http("POST", "/v1/prescreen", key, f'{{"summary": "{MARKER}"'.encode(), "application/json"),
        _http("POST", "/v1/letters", key, *_multipart("n.txt", NOT_A_LETTER.encode(), "text/plain")),
    ]
    wrong_key = [
        post_json("/v1/prescreen", _case(ITEMS[0], True), with_key="wrong-" + key[:8]),
        _http("GET", "/v1/models", None),
    ]
    return [
        Kind("prescreen", 60, prescreens, (200,)),
        Kind("batch of 6", 8, batch, (200,)),
        Kind("letter (text)", 4, text_letters, (200,)),
        Kind("letter (PDF)", 2, pdf_letters, (200,)),
        Kind("models", 8, [_http("GET", "/v1/models", key)], (200,)),
        Kind(
            "health/ready/metrics",
            8,
            [_http("GET", "/healthz", None), _http("GET", "/readyz", None), _http("GET", "/metrics", key)],
            (200,),
        ),
        Kind("invalid (400/422)", 6, invalid, (400, 422)),  # unparseable JSON is a 400, the rest 422
        Kind("wrong key (401)", 4, wrong_key, (401,)),
    ]


# -- the server ----------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process from /proc/<pid>/status (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for pid {pid}")


def fake_tracking_uri(root: Path) -> str:
    """A temporary MLflow store with the tests' fake keyword champions for dwc and dmhc."""
    from mlflow import MlflowClient

    from tests.conftest import FakeRegistry

    uri = f"sqlite:///{root / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()  # creates and migrates the database
    registry = FakeRegistry(root)
    registry.register("dwc")
    registry.register("dmhc")
    return uri


@contextlib.contextmanager
def running_server(tracking_uri: str, workdir: Path, key: str) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = free_port()
    log_path = workdir / "server.log"
    env = {
        **os.environ,
        "IMR_PROFILE": "production",
        "IMR_API_KEY": key,
        "IMR_TRACKING_URI": tracking_uri,
        "IMR_CACHE_DIR": str(workdir / "models"),
        "IMR_HOST": HOST,
        "IMR_PORT": str(port),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "serving"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited at start: {log_path.read_text()[-3000:]}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://{HOST}:{port}/readyz", timeout=2) as response,
            ):
                if response.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready in 180 s: {log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        yield proc, port, log_path
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


# -- the clients ---------------------------------------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.served: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.shed: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []
        self.total = 0
        self.elapsed = 0.0

    def fail(self, kind: str, what: str) -> None:
        self.failed[kind] += 1
        if len(self.failures) < 20:
            self.failures.append(f"{kind}: {what}")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, float | None]:
    """Status, whether the server will close the connection, and its Retry-After seconds if any; the body is read
    and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    retry_after = headers.get("retry-after", "")
    wait = float(retry_after) if retry_after.isdigit() else None
    return status, headers.get("connection", "").lower() == "close", wait


async def _client(port: int, kinds: list[Kind], deadline: float, stats: Stats, cfg: SoakConfig, seed: int) -> None:
    rng = random.Random(seed)
    weights = [k.weight for k in kinds]
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while time.monotonic() < deadline and stats.total < cfg.max_requests:
        kind = rng.choices(kinds, weights)[0]
        raw = rng.choice(kind.requests)
        stats.total += 1
        start = time.perf_counter()
        try:
            if conn is None:
                conn = await asyncio.wait_for(asyncio.open_connection(HOST, port), REQUEST_TIMEOUT_S)
            reader, writer = conn
            writer.write(raw)
            await writer.drain()
            status, close, retry_after = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT_S)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            stats.fail(kind.name, type(exc).__name__)
            if conn is not None:
                conn[1].close()
            conn = None
            await asyncio.sleep(0.05)
            continue
        elapsed = time.perf_counter() - start
        stats.statuses[status] += 1
        if status in kind.expect:
            stats.served[kind.name] += 1
            stats.latencies[kind.name].append(elapsed)
        elif status == 503 and raw.startswith(HEAVY_REQUESTS) and retry_after is not None:
            stats.shed[kind.name] += 1  # refused at once because the heavy slots are full: wait as told
            await asyncio.sleep(min(retry_after, max(0.0, deadline - time.monotonic())))
        else:
            stats.fail(kind.name, f"status {status}")
        if close:
            conn[1].close()
            conn = None
    if conn is not None:
        conn[1].close()


async def _load(port: int, kinds: list[Kind], seconds: float, stats: Stats, cfg: SoakConfig) -> None:
    deadline = time.monotonic() + seconds
    tasks = [
        asyncio.create_task(_client(port, kinds, deadline, stats, cfg, cfg.seed * 1000 + i)) for i in range(cfg.clients)
    ]
    await asyncio.gather(*tasks)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


def resolve_tracking_uri(cfg: SoakConfig, workdir: Path) -> str:
    """The store whose champions are served: given, the tests' fake ones (``stand_in``), or the project's registry."""
    if cfg.tracking_uri:
        return cfg.tracking_uri
    if cfg.stand_in:
        return fake_tracking_uri(workdir / "registry")
    from serving.settings import default_tracking_uri

    uri = default_tracking_uri()
    if not Path(uri.removeprefix("sqlite:///")).is_file():
        raise SystemExit(f"no registry at {uri}: run `make train` first (or --stand-in for fake champions)")
    return uri


def served_models(port: int, key: str, stand_in: bool) -> dict[str, str]:
    """Name, version and candidate of each champion the server loaded, as ``/v1/models`` says."""
    request = urllib.request.Request(f"http://{HOST}:{port}/v1/models", headers={"X-API-Key": key})
    with urllib.request.urlopen(request, timeout=10) as response:
        models = json.loads(response.read())["models"]
    label = " (stand-in: fake keyword champion)" if stand_in else ""
    return {
        m["jurisdiction"]: f"{m['name']} v{m.get('version')} ({(m.get('tags') or {}).get('candidate', '?')}){label}"
        for m in models
        if m.get("loaded")
    }


def _soak(cfg: SoakConfig, proc: subprocess.Popen[bytes], port: int, kinds: list[Kind], report: SoakReport) -> Stats:
    """Warm up, then the measured load with memory samples every ``sample_every_s``; fills the memory figures."""
    asyncio.run(_load(port, kinds, cfg.warmup, Stats(), cfg))  # warm-up: caches, pools, arenas
    report.rss_baseline_mb = rss_mb(proc.pid)
    samples = [report.rss_baseline_mb]
    stats = Stats()

    async def soak() -> None:
        load = asyncio.create_task(_load(port, kinds, cfg.seconds, stats, cfg))
        while not load.done():
            await asyncio.wait({load}, timeout=cfg.sample_every_s)
            if proc.poll() is None:
                samples.append(rss_mb(proc.pid))
        await load

    started = time.monotonic()
    asyncio.run(soak())
    stats.elapsed = time.monotonic() - started
    report.server_alive = proc.poll() is None
    if report.server_alive:
        time.sleep(1.0)  # let in-flight work finish before the last reading
        report.rss_end_mb = rss_mb(proc.pid)
        samples.append(report.rss_end_mb)
    report.rss_samples_mb = [round(s, 1) for s in samples]
    report.rss_peak_mb = max(samples)
    if report.rss_baseline_mb:
        report.rss_growth = (report.rss_end_mb - report.rss_baseline_mb) / report.rss_baseline_mb
    return stats


def _fill_counts(report: SoakReport, stats: Stats, kinds: list[Kind]) -> None:
    all_latencies = [x for values in stats.latencies.values() for x in values]
    report.served = sum(stats.served.values())
    report.failed = sum(stats.failed.values())
    report.shed = sum(stats.shed.values())
    # shedding is the designed answer of a full heavy route, not a server error
    report.server_errors = sum(n for code, n in stats.statuses.items() if code >= 500) - report.shed
    report.statuses = {str(k): v for k, v in sorted(stats.statuses.items())}
    report.p50_ms = _percentile(all_latencies, 0.50)
    report.p99_ms = _percentile(all_latencies, 0.99)
    report.max_ms = max(all_latencies, default=0.0) * 1000.0
    answered = report.served + report.failed + report.shed
    report.throughput_rps = answered / stats.elapsed if stats.elapsed else 0.0
    report.by_kind = {
        kind.name: {
            "served": float(stats.served[kind.name]),
            "failed": float(stats.failed[kind.name]),
            "shed": float(stats.shed[kind.name]),
            "p50_ms": _percentile(stats.latencies[kind.name], 0.50),
            "p99_ms": _percentile(stats.latencies[kind.name], 0.99),
        }
        for kind in kinds
    }
    report.failures = stats.failures


def _judge(report: SoakReport, cfg: SoakConfig) -> None:
    if report.failed:
        report.problems.append(f"{report.failed} requests failed (first: {report.failures[:3]})")
    if report.server_errors:
        report.problems.append(f"{report.server_errors} responses were 5xx")
    if report.rss_growth >= cfg.max_rss_growth:
        report.problems.append(
            f"server memory grew {report.rss_growth * 100:.1f} % (limit {cfg.max_rss_growth * 100:.0f} %)"
        )
    if report.marker_in_log or report.key_in_log:
        report.problems.append("request text or the API key reached the server log")
    if not report.server_alive:
        report.problems.append("the server died")
    if report.served == 0:
        report.problems.append("no request was served")


def run(cfg: SoakConfig) -> SoakReport:
    """Start the server, warm it up, soak it, and report (the server is stopped at the end, whatever happens)."""
    key = secrets.token_hex(24)
    report = SoakReport(clients=cfg.clients, seconds=cfg.seconds, warmup_s=cfg.warmup)
    workdir = Path(tempfile.mkdtemp(prefix="imr-soak-"))
    try:
        tracking_uri = resolve_tracking_uri(cfg, workdir)
        kinds = [k for k in request_mix(key) if not cfg.only or k.name in cfg.only]
        if not kinds:
            raise ValueError(f"no request kind matches {cfg.only}")
        with running_server(tracking_uri, workdir, key) as (proc, port, log_path):
            report.models = served_models(port, key, cfg.stand_in and not cfg.tracking_uri)
            stats = _soak(cfg, proc, port, kinds, report)
        log_text = log_path.read_text(errors="replace")
        report.marker_in_log = MARKER in log_text or any(part in log_text for part in MARKER.split()[:2])
        report.key_in_log = key in log_text
        _fill_counts(report, stats, kinds)
    finally:
        if not cfg.keep_dir:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    _judge(report, cfg)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the measured soak (default 600)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent keep-alive clients (default 50)")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up seconds (default 10 %%, 5..60)")
    parser.add_argument(
        "--tracking-uri", default=None, help="serve this store's champions (default: the project's registry)"
    )
    parser.add_argument(
        "--stand-in", action="store_true", help="serve the tests' fake keyword champions (labelled stand-in)"
    )
    parser.add_argument("--max-rss-growth", type=float, default=0.10, help="fail at this memory growth (0.10)")
    parser.add_argument("--max-requests", type=int, default=20_000_000, help="stop after this many requests")
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON here")
    parser.add_argument("--only", default="", help="comma-separated kinds to send (default: the whole mix)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (server log, local copy)")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 500 or not 0 < args.seconds <= 24 * 3600:
        parser.error("--clients must be 1..500 and --seconds 0..86400")
    cfg = SoakConfig(
        seconds=args.seconds,
        clients=args.clients,
        warmup_s=args.warmup,
        tracking_uri=args.tracking_uri,
        stand_in=args.stand_in,
        max_rss_growth=args.max_rss_growth,
        max_requests=args.max_requests,
        keep_dir=args.keep,
        only=tuple(k.strip() for k in args.only.split(",") if k.strip()),
    )
    report = run(cfg)
    print(report.table())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
