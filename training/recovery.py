"""Debris of a killed training: runs it left RUNNING are marked KILLED at the next start.

Every candidate run is tagged with the host and process id of the training that started it. A run still RUNNING
whose process is gone (same host, no such pid) was killed mid-way; a run of a live training, or of another host,
is left alone, so two trainings at once never mark each other's runs.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

HOST_TAG = "trainer_host"
PID_TAG = "trainer_pid"


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


def mark_killed_runs(client: Any, experiment_id: str, say: Callable[[str], None] = print) -> list[str]:
    """Mark RUNNING runs of dead trainings on this host KILLED; returns their run ids."""
    from mlflow.entities import ViewType

    host = socket.gethostname()
    killed = []
    runs = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", run_view_type=ViewType.ACTIVE_ONLY
    )
    for run in runs:
        tags = run.data.tags
        pid = tags.get(PID_TAG, "")
        if tags.get(HOST_TAG) != host or not pid.isdigit():
            continue  # another host's run, or one from before these tags: not ours to judge
        if int(pid) == os.getpid() or _alive(int(pid)):
            continue
        client.set_terminated(run.info.run_id, status="KILLED")
        killed.append(run.info.run_id)
    if killed:
        say(f"marked {len(killed)} run(s) of a killed training as KILLED")
    return killed
