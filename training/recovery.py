"""Debris of a killed training, cleaned at the next start: runs it left RUNNING are marked KILLED, the logged models
it left PENDING are marked FAILED, and the model versions it left unfinished (pending or failed registration) are
deleted.

Every candidate run is tagged with the host and process id of the training that started it. A run whose process is
gone (same host, no such pid) belongs to a training that was killed mid-way; a run of a live training, or of another
host, is left alone with its models, so two trainings at once never clean each other's work. A registered version
that is READY is never touched: it is complete, and the champion alias moves only after registration.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HOST_TAG = "trainer_host"
PID_TAG = "trainer_pid"
#: Set on a logged model marked FAILED here, so that the registry says why.
CLEANED_TAG = "imr.recovery"


def trainer_tags() -> dict[str, str]:
    """Tags that let a later training recognise this process's runs."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def started_by_dead_training(tags: dict[str, str]) -> bool:
    """Whether a run's trainer tags name a training on this host whose process is gone (not this one)."""
    pid = tags.get(PID_TAG, "")
    if tags.get(HOST_TAG) != socket.gethostname() or not pid.isdigit():
        return False  # another host's run, or one from before these tags: not ours to judge
    return int(pid) != os.getpid() and not _alive(int(pid))


def mark_killed_runs(client: Any, experiment_id: str, say: Callable[[str], None] = print) -> list[str]:
    """Mark RUNNING runs of dead trainings on this host KILLED, then clean the models such trainings left pending
    (:func:`clean_pending_models`); returns the ids of the runs marked."""
    from mlflow.entities import ViewType

    killed = []
    runs = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", run_view_type=ViewType.ACTIVE_ONLY
    )
    for run in runs:
        if started_by_dead_training(run.data.tags):
            client.set_terminated(run.info.run_id, status="KILLED")
            killed.append(run.info.run_id)
    if killed:
        say(f"marked {len(killed)} run(s) of a killed training as KILLED")
    clean_pending_models(client, experiment_id, say)
    return killed


@dataclass
class Cleaned:
    """What :func:`clean_pending_models` cleaned."""

    logged_models: list[str] = field(default_factory=list)  # model ids marked FAILED
    versions: list[str] = field(default_factory=list)  # "name vN", deleted


class _DeadRuns:
    """Whether a run belongs to a dead training, each run read once."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.known: dict[str, bool] = {}

    def __call__(self, run_id: str | None) -> bool:
        from mlflow.exceptions import MlflowException

        if not run_id:
            return False
        if run_id not in self.known:
            try:
                self.known[run_id] = started_by_dead_training(self.client.get_run(run_id).data.tags)
            except MlflowException:  # a deleted run: nothing says whose it was
                self.known[run_id] = False
        return self.known[run_id]


def _logged_models(client: Any, experiment_id: str) -> list[Any]:
    found: list[Any] = []
    token: str | None = None
    while True:
        page = client.search_logged_models([experiment_id], max_results=1000, page_token=token)
        found += list(page)
        token = page.token
        if not token:
            return found


def clean_pending_models(client: Any, experiment_id: str, say: Callable[[str], None] = print) -> Cleaned:
    """Mark FAILED the logged models of ``experiment_id`` that dead trainings left PENDING (their files may be
    partial), and delete the registered versions such trainings left in pending or failed registration."""
    from mlflow.entities import LoggedModelStatus

    dead = _DeadRuns(client)
    cleaned = Cleaned()
    for model in _logged_models(client, experiment_id):
        if str(model.status) in ("PENDING", str(LoggedModelStatus.PENDING)) and dead(model.source_run_id):
            client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
            client.set_logged_model_tags(model.model_id, {CLEANED_TAG: "pending when its training was killed"})
            cleaned.logged_models.append(model.model_id)
    for version in client.search_model_versions():
        if version.status != "READY" and dead(version.run_id):
            client.delete_model_version(version.name, version.version)
            cleaned.versions.append(f"{version.name} v{version.version}")
    if cleaned.logged_models or cleaned.versions:
        say(
            f"cleaned a killed training's debris: {len(cleaned.logged_models)} pending logged model(s) marked "
            f"FAILED, {len(cleaned.versions)} unfinished model version(s) deleted"
        )
    return cleaned
