"""Serving benchmark: our server vs ``mlflow models serve`` on the same champion, same machine, same load.

    python benchmarks/bench_serve.py [--seconds 10] [--rounds 4] [--levels 1,8,32] [--workers 1,2] [--stand-in]

Starts both servers on 127.0.0.1 (ours with production-like settings: API key on, JSON access logs to a file),
measures throughput and p50/p99 latency of single-item requests at each concurrency for a bounded time, prints a
markdown table with the ratio, writes it to ``bench-results/serve.md`` and ``.json``, and stops both servers.
The ratio compares like with like: ours with ``?explain=false`` (probability and the model's reasons, what
``mlflow models serve`` returns); two more rows show ours with the explanations (checklist, reasons in words, ranked
fixes, attributions, similar determinations), the page's default: once cycling a few requests (the model keeps the
featurisation of recent requests, as when the page re-scores), once with every request distinct (nothing cached).

The champion is ``models:/imr-dwc@champion`` of the default tracking store (what ``make train`` registered); its
name, version and candidate head every table. ``--stand-in`` registers a TF-IDF + logistic-regression stand-in
(``benchmarks/tfidf_champion.py``) in a temporary store instead, and every table says so.
``--workers 1,2`` (the default) starts one server of ours per worker count: the ratio is the 1-worker server's
(``mlflow models serve`` runs one worker), and the 2-worker rows show what ``IMR_WORKERS=2`` buys on two cores.
The last lines say, per explained row at 8 clients, whether the target (1,000 req/s, p99 at most 20 ms) is met.
The load client uses raw keep-alive HTTP/1.1 on asyncio streams, so that the client costs as little CPU as possible
(it shares the machine with the server under test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Invented single-item requests (no real case text), cycled by the load client.
ITEMS = [
    "Physical therapy lumbar spine 2 times a week for 6 weeks",
    "Compounded topical cream flurbiprofen 20% cyclobenzaprine 4%",
    "Norco 10/325 mg #90",
    "MRI of the right shoulder without contrast",
    "Epidural steroid injection L5-S1",
    "Acupuncture 6 sessions for the cervical spine",
    "Lidoderm 5% patches #30",
    "EMG/NCV of both lower extremities",
]
SUMMARY = (
    "The patient is a 47-year-old warehouse worker with chronic low back pain radiating to the left leg after a "
    "lifting injury. Examination shows reduced lumbar flexion and a positive straight leg raise. Prior physical "
    "therapy improved walking tolerance. Utilization review denied the request citing MTUS guidelines."
)


@dataclass
class Result:
    server: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    next_index: int = 0  # the first request index no client of this run has sent

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the champion -------------------------------------------------------------------------------------------------


def default_champion_uri() -> str | None:
    """The default tracking store's URI when it has imr-dwc@champion."""
    from features.contract import CHAMPION_ALIAS, model_name
    from serving.settings import resolve_tracking_uri

    uri = resolve_tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return None
    try:
        from mlflow import MlflowClient

        MlflowClient(uri, uri).get_model_version_by_alias(model_name("dwc"), CHAMPION_ALIAS)
    except Exception:
        return None
    return uri


# -- servers -------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def started(cmd: list[str], env: dict[str, str], log_path: Path, ready_url: str, timeout_s: float) -> Iterator[None]:
    """Run a server in its own process group until the block ends; wait for ``ready_url`` to answer 200."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{cmd[0]} exited early (code {proc.returncode}); see {log_path}")
                try:
                    with urllib.request.urlopen(ready_url, timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{ready_url} not ready after {timeout_s:.0f}s; see {log_path}")
                time.sleep(0.3)
            yield
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# -- load client ---------------------------------------------------------------------------------------------------


def build_requests(port: int, path: str, bodies: Sequence[bytes], headers: dict[str, str]) -> list[bytes]:
    return [http_request(port, path, body, headers) for body in bodies]


def http_request(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode("ascii") + body


class DistinctRequests(Sequence[bytes]):
    """Request ``i`` is request ``i mod len(ITEMS)`` with a summary no other request has (built when sent)."""

    def __init__(self, port: int, path: str, headers: dict[str, str]) -> None:
        self.port, self.path, self.headers = port, path, headers

    def __len__(self) -> int:
        return 1 << 40

    def __getitem__(self, i: Any) -> Any:
        summary = f"{SUMMARY} Office reference {i}."
        body = json.dumps({"jurisdiction": "dwc", "summary": summary, "items": [{"item_text": ITEMS[i % len(ITEMS)]}]})
        return http_request(self.port, self.path, body.encode(), self.headers)


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _worker(
    port: int, requests: Sequence[bytes], offset: int, stride: int, stop_at: float, warm_until: float, out: Result
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    i = offset
    try:
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                break
            writer.write(requests[i % len(requests)])
            i += stride  # clients never send the same request as one another (distinct requests stay distinct)
            status = await _read_response(reader)
            done = time.perf_counter()
            if now >= warm_until:
                out.requests += 1
                out.latencies_ms.append((done - now) * 1000.0)
                if status != 200:
                    out.errors += 1
    finally:
        out.next_index = max(out.next_index, i)
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def run_level(
    server: str, port: int, requests: Sequence[bytes], concurrency: int, seconds: float, start_at: int = 0
) -> Result:
    warmup = 0.5
    start = time.perf_counter()
    warm_until = start + warmup
    stop_at = warm_until + seconds
    out = Result(server, concurrency, 0, 0, seconds, [])
    await asyncio.gather(
        *(_worker(port, requests, start_at + k, concurrency, stop_at, warm_until, out) for k in range(concurrency))
    )
    return out


def run_async(coro: Coroutine[Any, Any, Result]) -> Result:
    """Run the client on uvloop when it is installed (less client CPU), else on asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    result: Result = uvloop.run(coro)
    return result


# -- report --------------------------------------------------------------------------------------------------------


def table(results: list[Result], champion: str, ours_name: str, theirs_name: str, explained: list[str]) -> str:
    by = {(r.server, r.concurrency): r for r in results}
    levels = sorted({r.concurrency for r in results})
    lines = [
        f"Champion: {champion}. Single-item POST, keep-alive, loopback, {os.cpu_count()} CPU(s); "
        f"{results[0].seconds:.0f} s per cell, in rounds alternating between the servers.",
        "",
        "| concurrency | server | req/s | p50 ms | p99 ms | errors |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for level in levels:
        for name in (ours_name, theirs_name, *explained):
            r = by[(name, level)]
            lines.append(
                f"| {level} | {name} | {r.throughput:,.0f} | {r.pct(0.50):.2f} | {r.pct(0.99):.2f} | {r.errors} |"
            )
        ours, theirs = by[(ours_name, level)], by[(theirs_name, level)]
        ratio = ours.throughput / theirs.throughput if theirs.throughput else float("inf")
        p99_ratio = theirs.pct(0.99) / ours.pct(0.99) if ours.pct(0.99) else float("nan")
        lines.append(f"| {level} | **ratio** | **{ratio:.1f}x** | | **{p99_ratio:.1f}x lower** | |")
    return "\n".join(lines)


def champion_label(uri: str) -> str:
    """``imr-dwc v3 (monotone-reasons)``: the registered champion's name, version and candidate."""
    from mlflow import MlflowClient

    from features.contract import CHAMPION_ALIAS, model_name

    version = MlflowClient(uri, uri).get_model_version_by_alias(model_name("dwc"), CHAMPION_ALIAS)
    return f"{version.name} v{version.version} ({version.tags.get('candidate', 'candidate unknown')})"


def choose_champion(stand_in: bool, tmp: Path) -> tuple[str, str]:
    """(tracking URI, label) of the champion to serve: the default registry's, or the stand-in when asked."""
    if stand_in:
        sys.path.insert(0, str(REPO / "benchmarks"))
        from tfidf_champion import register_stand_in

        registered = register_stand_in(tmp)
        return registered, "STAND-IN (not the champion): TF-IDF + LR, benchmarks/tfidf_champion.py"
    uri = default_champion_uri()
    if uri is None:
        raise SystemExit(
            "bench_serve: no imr-dwc@champion in the default registry: run `make train` first "
            "(or pass --stand-in to measure a labelled TF-IDF stand-in instead)"
        )
    return uri, f"{champion_label(uri)} = models:/imr-dwc@champion of the default registry"


def server_env(uri: str, tmp: Path, port: int, key: str, workers: int) -> tuple[dict[str, str], dict[str, str]]:
    """Environments of our server and of ``mlflow models serve``."""
    base_env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # mlflow execs uvicorn
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    ours_env = {
        **base_env,
        "IMR_PROFILE": "production",
        "IMR_API_KEY": key,
        "IMR_TRACKING_URI": uri,
        "IMR_JURISDICTIONS": "dwc",
        "IMR_PORT": str(port),
        "IMR_CACHE_DIR": str(tmp / "models"),
        "IMR_WORKERS": str(workers),
    }
    return ours_env, {**base_env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def mlflow_command(port: int) -> list[str]:
    """``mlflow models serve`` of the same champion, one worker, loopback only."""
    from features.contract import CHAMPION_ALIAS, model_name

    return [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{model_name('dwc')}@{CHAMPION_ALIAS}",
        "--no-conda",
        "-h", "127.0.0.1", "-p", str(port), "-w", "1",
    ]  # fmt: skip


def theirs_bodies() -> list[bytes]:
    """The same requests as ours, in ``mlflow models serve``'s dataframe_records form."""
    return [
        json.dumps(
            {
                "dataframe_records": [
                    {"jurisdiction": "dwc", "item_text": t, "summary": SUMMARY, "ur_text": "", "claims_guideline": ""}
                ]
            }
        ).encode()
        for t in ITEMS
    ]


Plan = list[tuple[str, list[str] | None, dict[str, str], int, str, Sequence[bytes]]]


def measure(plan: Plan, levels: list[int], rounds: int, seconds: float, tmp: Path) -> list[Result]:
    """Start the servers of the plan, then per level alternate rounds between its rows; one Result per cell."""
    results: list[Result] = []
    cursor = dict.fromkeys((name for name, *_ in plan), 0)  # distinct requests are never sent twice
    with contextlib.ExitStack() as stack:
        for name, cmd, env, port, ready, _ in plan:
            if cmd is None:
                continue
            print(f"Starting {name} on 127.0.0.1:{port} ...", flush=True)
            stack.enter_context(started(cmd, env, tmp / f"{name.replace(' ', '-')}.log", ready, timeout_s=180))
        # Rounds alternate between the servers so that a change in the machine's background load falls on all
        # alike. Each cell is the sum of its rounds.
        for level in levels:
            cells = {name: Result(name, level, 0, 0, 0.0, []) for name, *_ in plan}
            for _ in range(rounds):
                for name, _cmd, _env, port, _ready, requests in plan:
                    one = run_async(run_level(name, port, requests, level, seconds / rounds, cursor[name]))
                    cursor[name] = one.next_index + level
                    cell = cells[name]
                    cell.requests += one.requests
                    cell.errors += one.errors
                    cell.seconds += one.seconds
                    cell.latencies_ms += one.latencies_ms
            for cell in cells.values():
                print(
                    f"  {cell.server:<44} c={level:<3} {cell.throughput:8.0f} req/s  p50 {cell.pct(0.5):6.2f} ms"
                    f"  p99 {cell.pct(0.99):6.2f} ms  errors {cell.errors}",
                    flush=True,
                )
                results.append(cell)
    return results


def ours_plan(uri: str, tmp: Path, key: str, workers: int) -> tuple[Plan, str, list[str]]:
    """Our server with ``workers`` processes: its three rows (explain=false, explained, explained and distinct)."""
    port = free_port()
    env, _ = server_env(uri, tmp, port, key, workers)
    env["IMR_CACHE_DIR"] = str(tmp / f"models-{workers}")
    bodies = [
        json.dumps({"jurisdiction": "dwc", "summary": SUMMARY, "items": [{"item_text": t}]}).encode() for t in ITEMS
    ]
    auth = {"X-API-Key": key}
    name = "imr serve" if workers == 1 else f"imr serve ({workers} workers)"
    explained = [f"{name} + explanations", f"{name} + explanations, every request distinct"]
    plan: Plan = [
        (name, [sys.executable, "-m", "serving"], env, port, f"http://127.0.0.1:{port}/readyz",
         build_requests(port, "/v1/prescreen?explain=false", bodies, auth)),
        (explained[0], None, env, port, "", build_requests(port, "/v1/prescreen", bodies, auth)),  # the same server
        (explained[1], None, env, port, "", DistinctRequests(port, "/v1/prescreen", auth)),
    ]  # fmt: skip
    return plan, name, explained


def targets(results: list[Result], explained: list[str]) -> str:
    """The issue's serving target (with explanations, 8 clients: 1,000 req/s, p99 at most 20 ms), row by row."""
    lines = ["", "Target with explanations at 8 clients: at least 1,000 req/s with p99 at most 20 ms."]
    for r in results:
        if r.server in explained and r.concurrency == 8:
            met = r.throughput >= 1000 and r.pct(0.99) <= 20
            lines.append(
                f"- {r.server}: {r.throughput:,.0f} req/s, p99 {r.pct(0.99):.1f} ms: {'met' if met else 'not met'}"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per server and level")
    parser.add_argument("--levels", default="1,8,32", help="comma-separated concurrency levels")
    parser.add_argument(
        "--workers", default="1,2", help="comma-separated worker counts of our server, one server each (mlflow: 1)"
    )
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per cell (seconds split among them)")
    parser.add_argument("--stand-in", action="store_true", help="serve a labelled TF-IDF stand-in, not the champion")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results", help="folder for serve.md/.json")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    worker_counts = [int(x) for x in args.workers.split(",")]

    with tempfile.TemporaryDirectory(prefix="imr-bench-") as tmp_name:
        tmp = Path(tmp_name)
        uri, champion = choose_champion(args.stand_in, tmp)
        print(f"Champion: {champion}", flush=True)
        key = secrets.token_urlsafe(24)
        theirs_port = free_port()
        theirs_env = server_env(uri, tmp, theirs_port, key, 1)[1]
        theirs_name = "mlflow models serve"
        ours = [ours_plan(uri, tmp, key, w) for w in worker_counts]
        ours_name, explained = ours[0][1], list(ours[0][2])
        for _, name, rows in ours[1:]:  # further worker counts: all three rows each, after the 1-worker rows
            explained += [name, *rows]
        plan: Plan = [
            ours[0][0][0],
            (theirs_name, mlflow_command(theirs_port), theirs_env, theirs_port, f"http://127.0.0.1:{theirs_port}/ping",
             build_requests(theirs_port, "/invocations", theirs_bodies(), {})),
            *ours[0][0][1:],
            *(row for rows, _, _ in ours[1:] for row in rows),
        ]  # fmt: skip
        results = measure(plan, levels, args.rounds, args.seconds, tmp)

    report = table(results, champion, ours_name, theirs_name, explained)
    report += "\n" + targets(results, [name for _, _, e in ours for name in e])
    print()
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "serve.md").write_text(report + "\n", encoding="utf-8")
    summary = [
        {
            "server": r.server,
            "concurrency": r.concurrency,
            "requests": r.requests,
            "errors": r.errors,
            "throughput": r.throughput,
            "p50_ms": r.pct(0.5),
            "p99_ms": r.pct(0.99),
            "mean_ms": statistics.fmean(r.latencies_ms) if r.latencies_ms else None,
        }
        for r in results
    ]
    (args.out / "serve.json").write_text(json.dumps({"champion": champion, "results": summary}, indent=2) + "\n")
    return 0 if all(r.errors == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
