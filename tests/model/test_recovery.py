"""A training killed mid-way leaves RUNNING runs and pending models; the next training marks the runs KILLED, the
pending logged models FAILED and deletes unfinished model versions (and touches nothing of a live training)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from training.recovery import (
    CLEANED_TAG,
    HOST_TAG,
    PID_TAG,
    Cleaned,
    clean_pending_models,
    mark_killed_runs,
    trainer_tags,
)

pytestmark = pytest.mark.model


def test_runs_of_a_dead_training_are_marked_killed_and_live_ones_kept(tmp_path: Path, _empty_tracking_db: Path) -> None:
    from mlflow import MlflowClient

    shutil.copy(_empty_tracking_db, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    experiment = client.create_experiment("dwc", artifact_location=str(tmp_path / "art"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = dead.stdout.strip()
    host = trainer_tags()[HOST_TAG]
    killed_run = client.create_run(experiment, tags={HOST_TAG: host, PID_TAG: dead_pid}).info.run_id
    own_run = client.create_run(experiment, tags=trainer_tags()).info.run_id
    other_host = client.create_run(experiment, tags={HOST_TAG: "elsewhere", PID_TAG: dead_pid}).info.run_id
    untagged = client.create_run(experiment).info.run_id

    assert mark_killed_runs(client, experiment, say=lambda _: None) == [killed_run]
    assert client.get_run(killed_run).info.status == "KILLED"
    for run_id in (own_run, other_host, untagged):
        assert client.get_run(run_id).info.status == "RUNNING"


def _set_version_status(db: Path, name: str, version: str, status: str) -> None:
    """The SQLite store registers a version READY at once: put one back in the state a killed registration leaves."""
    with sqlite3.connect(db) as connection:
        connection.execute(
            "UPDATE model_versions SET status = ? WHERE name = ? AND version = ?", (status, name, int(version))
        )


def test_pending_models_of_a_dead_training_are_cleaned(tmp_path: Path, _empty_tracking_db: Path) -> None:
    from mlflow import MlflowClient

    db = tmp_path / "mlflow.db"
    shutil.copy(_empty_tracking_db, db)
    uri = f"sqlite:///{db}"
    client = MlflowClient(uri, uri)
    experiment = client.create_experiment("dwc", artifact_location=str(tmp_path / "art"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = trainer_tags()[HOST_TAG]
    dead_run = client.create_run(experiment, tags={HOST_TAG: host, PID_TAG: dead.stdout.strip()}).info.run_id
    live_run = client.create_run(experiment, tags=trainer_tags()).info.run_id
    pending_dead = client.create_logged_model(experiment, source_run_id=dead_run)
    pending_live = client.create_logged_model(experiment, source_run_id=live_run)
    ready_dead = client.create_logged_model(experiment, source_run_id=dead_run)
    client.finalize_logged_model(ready_dead.model_id, "READY")
    client.create_registered_model("imr-dwc")

    def version(model: Any, run_id: str) -> str:
        return str(client.create_model_version("imr-dwc", model.artifact_location, run_id=run_id).version)

    unfinished, complete = version(pending_dead, dead_run), version(ready_dead, dead_run)
    live_pending = version(pending_live, live_run)
    _set_version_status(db, "imr-dwc", unfinished, "PENDING_REGISTRATION")
    _set_version_status(db, "imr-dwc", live_pending, "PENDING_REGISTRATION")
    said: list[str] = []

    assert mark_killed_runs(client, experiment, say=said.append) == [dead_run]

    assert client.get_logged_model(pending_dead.model_id).status == "FAILED"
    assert CLEANED_TAG in client.get_logged_model(pending_dead.model_id).tags
    assert client.get_logged_model(pending_live.model_id).status == "PENDING"  # a live training's: left alone
    assert client.get_logged_model(ready_dead.model_id).status == "READY"
    versions = {str(v.version): v.status for v in client.search_model_versions("name = 'imr-dwc'")}
    assert versions == {complete: "READY", live_pending: "PENDING_REGISTRATION"}  # the unfinished one is gone
    assert any("1 pending logged model(s) marked FAILED, 1 unfinished model version(s) deleted" in s for s in said)
    # a second start finds nothing left to clean
    assert clean_pending_models(client, experiment, say=said.append) == Cleaned()
