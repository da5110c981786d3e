"""Prometheus text exposition, written by hand (no client library): requests, latency, errors, predictions, models.

Counters live in each worker process. With several workers (``serving.server``) every worker writes a snapshot of
its counters to a shared folder once a second (:meth:`Metrics.write_snapshot`), and whichever worker answers
``/metrics`` adds the others' latest snapshots to its own live counters, so a scrape sees the whole server (the
other workers' part at most about a second old).
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from serving.champions import ChampionStore

LATENCY_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Iterable[str], values: Iterable[str]) -> str:
    pairs = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}" if pairs else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Metrics:
    """In-process counters and a latency histogram per route."""

    def __init__(self, shared_dir: Path | None = None) -> None:
        #: Where the workers of one server exchange snapshots (None: this process is the whole server).
        self.shared_dir = shared_dir
        self.requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)  # (method, route, status)
        self.errors: defaultdict[tuple[str, str], int] = defaultdict(int)  # (route, kind)
        self.predictions: defaultdict[tuple[str, str], int] = defaultdict(int)  # (jurisdiction, band)
        self._buckets: dict[str, list[int]] = {}
        self._sum: defaultdict[str, float] = defaultdict(float)
        self._count: defaultdict[str, int] = defaultdict(int)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        self.requests[(method, route, str(status))] += 1
        if status >= 400:
            self.errors[(route, "client" if status < 500 else "server")] += 1
        buckets = self._buckets.get(route)
        if buckets is None:
            buckets = self._buckets[route] = [0] * len(LATENCY_BUCKETS)
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                buckets[i] += 1
                break
        self._sum[route] += seconds
        self._count[route] += 1

    def count_predictions(self, jurisdiction: str, bands: Iterable[str]) -> None:
        """Count per-item results by band."""
        for band in bands:
            self.predictions[(jurisdiction, band)] += 1

    # -- several workers ------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Every counter as JSON-ready lists and maps."""
        return {
            "requests": [[*key, n] for key, n in self.requests.items()],
            "errors": [[*key, n] for key, n in self.errors.items()],
            "predictions": [[*key, n] for key, n in self.predictions.items()],
            "buckets": {route: list(b) for route, b in self._buckets.items()},
            "sum": dict(self._sum),
            "count": dict(self._count),
        }

    def absorb(self, snapshot: Mapping[str, Any]) -> None:
        """Add another worker's counters to these."""
        for method, route, status, n in snapshot.get("requests", []):
            self.requests[(str(method), str(route), str(status))] += int(n)
        for route, kind, n in snapshot.get("errors", []):
            self.errors[(str(route), str(kind))] += int(n)
        for jurisdiction, band, n in snapshot.get("predictions", []):
            self.predictions[(str(jurisdiction), str(band))] += int(n)
        for route, counts in snapshot.get("buckets", {}).items():
            mine = self._buckets.setdefault(str(route), [0] * len(LATENCY_BUCKETS))
            for i, n in enumerate(counts[: len(LATENCY_BUCKETS)]):
                mine[i] += int(n)
        for route, seconds in snapshot.get("sum", {}).items():
            self._sum[str(route)] += float(seconds)
        for route, n in snapshot.get("count", {}).items():
            self._count[str(route)] += int(n)

    def _own_file(self) -> Path | None:
        return None if self.shared_dir is None else self.shared_dir / f"worker-{os.getpid()}.json"

    def write_snapshot(self) -> None:
        """Publish this worker's counters for the others (atomically: a reader never sees half a file)."""
        target = self._own_file()
        if target is None:
            return
        partial = target.with_suffix(".partial")
        partial.write_text(json.dumps(self.snapshot()), encoding="utf-8")
        os.replace(partial, target)

    def whole_server(self) -> Metrics:
        """These live counters plus the latest snapshot of every other worker of the server."""
        if self.shared_dir is None:
            return self
        total = Metrics()
        total.absorb(self.snapshot())
        own = self._own_file()
        for path in sorted(self.shared_dir.glob("worker-*.json")):
            if path == own:
                continue
            try:
                total.absorb(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, KeyError):
                continue  # a worker that vanished mid-read: its next snapshot will count
        return total

    def render(self, store: ChampionStore | None) -> str:
        """The exposition text (of the whole server, when it has several workers)."""
        if self.shared_dir is not None:
            return self.whole_server()._render(store)
        return self._render(store)

    def _render(self, store: ChampionStore | None) -> str:
        lines: list[str] = []
        lines += [
            "# HELP imr_requests_total HTTP requests by method, route and status.",
            "# TYPE imr_requests_total counter",
        ]
        for (method, route, status), n in sorted(self.requests.items()):
            lines.append(f"imr_requests_total{_labels(('method', 'route', 'status'), (method, route, status))} {n}")
        lines += [
            "# HELP imr_request_errors_total 4xx (client) and 5xx (server) responses by route.",
            "# TYPE imr_request_errors_total counter",
        ]
        for (route, kind), n in sorted(self.errors.items()):
            lines.append(f"imr_request_errors_total{_labels(('route', 'kind'), (route, kind))} {n}")
        lines += [
            "# HELP imr_request_duration_seconds Time to answer a request, by route.",
            "# TYPE imr_request_duration_seconds histogram",
        ]
        for route in sorted(self._buckets):
            cumulative = 0
            for bound, n in zip(LATENCY_BUCKETS, self._buckets[route], strict=True):
                cumulative += n
                labels = _labels(("route", "le"), (route, _number(bound)))
                lines.append(f"imr_request_duration_seconds_bucket{labels} {cumulative}")
            count = self._count[route]
            lines.append(f"imr_request_duration_seconds_bucket{_labels(('route', 'le'), (route, '+Inf'))} {count}")
            lines.append(f"imr_request_duration_seconds_sum{_labels(('route',), (route,))} {self._sum[route]!r}")
            lines.append(f"imr_request_duration_seconds_count{_labels(('route',), (route,))} {count}")
        lines += [
            "# HELP imr_predictions_total Items pre-screened, by jurisdiction and band.",
            "# TYPE imr_predictions_total counter",
        ]
        for (jurisdiction, band), n in sorted(self.predictions.items()):
            lines.append(f"imr_predictions_total{_labels(('jurisdiction', 'band'), (jurisdiction, band))} {n}")
        if store is not None:
            lines.extend(_model_lines(store))
        return "\n".join(lines) + "\n"


def _model_lines(store: ChampionStore) -> list[str]:
    lines = ["# HELP imr_model_info The champion being served (value 1).", "# TYPE imr_model_info gauge"]
    champions = store.champions()
    for jurisdiction, champion in sorted(champions.items()):
        info = champion.info
        labels = _labels(
            ("jurisdiction", "name", "version", "source"), (jurisdiction, info.name, info.version, info.source)
        )
        lines.append(f"imr_model_info{labels} 1")
    lines += ["# HELP imr_model_ready Whether a champion is loaded (1) or not (0).", "# TYPE imr_model_ready gauge"]
    lines += [f"imr_model_ready{_labels(('jurisdiction',), (j,))} {int(j in champions)}" for j in store.jurisdictions]
    lines += [
        "# HELP imr_model_reloads_total New champion versions loaded, and failed loads.",
        "# TYPE imr_model_reloads_total counter",
    ]
    for j in store.jurisdictions:
        status = store.status(j)
        lines.append(f"imr_model_reloads_total{_labels(('jurisdiction', 'outcome'), (j, 'loaded'))} {status.reloads}")
        lines.append(
            f"imr_model_reloads_total{_labels(('jurisdiction', 'outcome'), (j, 'failed'))} {status.failed_reloads}"
        )
    lines += ["# HELP imr_registry_up Whether the last registry check succeeded.", "# TYPE imr_registry_up gauge"]
    lines += [
        f"imr_registry_up{_labels(('jurisdiction',), (j,))} {int(bool(store.status(j).registry_ok))}"
        for j in store.jurisdictions
    ]
    return lines
