"""A training killed mid-way leaves RUNNING runs; the next training marks them KILLED (and only them)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from training.recovery import HOST_TAG, PID_TAG, mark_killed_runs, trainer_tags

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
