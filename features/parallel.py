"""Ray, when the work outgrows one process: a session helper and parallel parsing of source files.

Ray is an optional extra (``pip install '.[ray]'``); nothing here imports it until a Ray path is taken.

- :func:`ray_session` connects to the cluster named by ``RAY_ADDRESS``, or starts a local Ray bound to 127.0.0.1
  with the dashboard off, and shuts down at the end only what it started itself (an already-initialised Ray, e.g.
  a test's shared session, is reused and left running).
- :func:`ray_map_sources` is a drop-in ``map_sources`` for :func:`features.dataset.build_dataset`: one Ray task per
  small batch of files, results in input order, so the table and its content digest equal the single-process build.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from features.paths import REPO_ROOT
from features.schema import Item
from features.sources import SourceFile

ReadResult = tuple[list[Item], list[dict[str, str]]]
Read = Callable[[SourceFile], ReadResult]

#: Environment a local Ray needs here: no usage reporting, no cross-platform cluster mode (binds loopback).
RAY_LOCAL_ENV: Final[dict[str, str]] = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
#: The project's packages, shipped to the workers of a remote cluster (a local Ray imports them from the checkout).
PROJECT_PACKAGES: Final[tuple[str, ...]] = ("features", "serving", "training")
#: Files per parsing task: big enough to amortise a task's overhead, small enough to balance across workers.
DEFAULT_FILES_PER_TASK: Final = 8


class RayMissingError(RuntimeError):
    """Ray is not installed (it is an optional extra)."""


def import_ray() -> Any:
    """The ``ray`` module, or a clear error naming the extra to install."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RayMissingError(
            "Ray is not installed; it is an optional extra: `make install-ray` (or `pip install '.[ray]'`)."
        ) from exc
    return ray


def ray_address() -> str | None:
    """The cluster to join (``RAY_ADDRESS``), or None for a local Ray started by the command itself."""
    address = os.environ.get("RAY_ADDRESS", "").strip()
    return address or None


def default_engine() -> str:
    """'ray' when ``RAY_ADDRESS`` names a cluster, else 'local' (in-process)."""
    return "ray" if ray_address() else "local"


def _init_kwargs(num_cpus: int | None, address: str | None) -> dict[str, Any]:
    if address is None:
        kwargs: dict[str, Any] = {
            "address": "local",
            "include_dashboard": False,
            "_node_ip_address": "127.0.0.1",
            "log_to_driver": False,
        }
        if num_cpus is not None:
            kwargs["num_cpus"] = num_cpus
        return kwargs
    # A remote cluster: ship the project's code; its image must hold the pinned dependencies.
    modules = [str(REPO_ROOT / name) for name in PROJECT_PACKAGES if (REPO_ROOT / name).is_dir()]
    return {"address": address, "runtime_env": {"py_modules": modules}, "log_to_driver": False}


@contextmanager
def ray_session(num_cpus: int | None = None) -> Iterator[Any]:
    """Ray for the duration of a command: joined, started locally on loopback, or reused if already initialised.

    ``num_cpus`` sizes a local Ray (ignored when joining a cluster or reusing a running session).
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    for key, value in RAY_LOCAL_ENV.items():
        os.environ.setdefault(key, value)
    ray.init(**_init_kwargs(num_cpus, ray_address()))
    try:
        yield ray
    finally:
        ray.shutdown()


def _read_batch(read: Read, batch: Sequence[SourceFile], payloads: Sequence[bytes] | None) -> list[ReadResult]:
    """Read a batch of files; with ``payloads`` (a node without the driver's files), from copies under their names."""
    if payloads is None:
        return [read(source) for source in batch]
    results: list[ReadResult] = []
    with tempfile.TemporaryDirectory(prefix="imr-parse-") as tmp:
        for number, (source, data) in enumerate(zip(batch, payloads, strict=True)):
            # Same file name: items and rejects name their source file without its folder, so they are identical.
            local = Path(tmp) / str(number) / source.path.name
            local.parent.mkdir()
            local.write_bytes(data)
            results.append(read(dataclasses.replace(source, path=local)))
    return results


def batches(sources: Sequence[SourceFile], size: int) -> list[list[SourceFile]]:
    """Consecutive slices of at most ``size`` files, in order."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    return [list(sources[start : start + size]) for start in range(0, len(sources), size)]


def ray_map_sources(
    read: Read,
    sources: Sequence[SourceFile],
    num_workers: int | None = None,
    files_per_task: int = DEFAULT_FILES_PER_TASK,
    ship_files: bool | None = None,
) -> list[ReadResult]:
    """``[read(s) for s in sources]`` on Ray: one task per batch of files, at most ``num_workers`` at a time.

    Results come back in input order. ``read`` must be picklable (a module-level function such as
    :func:`features.dataset.read_source`). Starts a local Ray sized to ``num_workers`` unless one is running;
    ``num_workers=None`` runs as many tasks at once as the cluster has CPUs. ``ship_files`` sends each file's bytes
    with its task, for clusters whose nodes do not share the driver's disk (default: only when joining
    ``RAY_ADDRESS``); the driver then reads the files, the workers parse them.
    """
    if num_workers is not None and num_workers < 1:
        raise ValueError("num_workers must be at least 1")
    if not sources:
        return []
    ship = ray_address() is not None if ship_files is None else ship_files
    with ray_session(num_workers) as ray:
        task = ray.remote(num_cpus=1)(_read_batch)
        read_ref = ray.put(read)

        def submit(batch: list[SourceFile]) -> Any:
            payloads = [source.path.read_bytes() for source in batch] if ship else None
            return task.remote(read_ref, batch, payloads)

        limit = num_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        # Two batches per worker in flight: workers never wait, and shipped bytes never pile up in the object store.
        refs = _submit(ray, submit, batches(sources, files_per_task), limit if num_workers else 2 * limit)
        return [result for chunk in ray.get(refs) for result in chunk]


def _submit(ray: Any, submit: Callable[[list[SourceFile]], Any], work: list[list[SourceFile]], limit: int) -> list[Any]:
    """Submit every batch, keeping at most ``limit`` in flight; refs in submission order."""
    refs: list[Any] = []
    in_flight: list[Any] = []
    for batch in work:
        if len(in_flight) >= limit:
            _, in_flight = ray.wait(in_flight, num_returns=1)
        ref = submit(batch)
        refs.append(ref)
        in_flight.append(ref)
    return refs
