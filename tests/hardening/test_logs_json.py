"""Every log line is one JSON object, libraries' included, and none carries SQL or its parameters.

Run in a fresh interpreter (``serving.logs.configure_logging`` changes the process's logging for good): logging is
configured first and MLflow imported after it, as in the server; then MLflow's own loggers, SQLAlchemy's error
text (with its ``[SQL: ...]`` and ``[parameters: ...]``), alembic, a warning and an exception in a thread all log.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SECRET = "PARAM-SECRET-8812"

SCRIPT = f"""
import logging, threading, warnings
from serving.logs import configure_logging
configure_logging("info")
import mlflow  # after logging is set up, as in the server
import sqlalchemy
from mlflow import MlflowClient
MlflowClient("sqlite:///{{db}}").search_experiments()  # migrations: mlflow and alembic log
engine = sqlalchemy.create_engine("sqlite://")
try:
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT * FROM registered_models WHERE name = :n"), {{"n": "{SECRET}"}})
except Exception as exc:
    logging.getLogger("mlflow.store.model_registry").error("registry query failed: %s", exc)
    logging.getLogger("sqlalchemy.engine").error("engine error: %s", exc, exc_info=True)
logging.getLogger("mlflow").warning("a multi-line\\nwarning from mlflow")
warnings.warn("a library warning", DeprecationWarning)
thread = threading.Thread(target=lambda: 1 / 0)
thread.start(); thread.join()
print("done", flush=True)
"""


def test_library_logs_are_json_lines_without_sql(tmp_path: Path) -> None:
    script = SCRIPT.replace("{db}", str(tmp_path / "mlflow.db"))
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "done"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}")
    loggers = {r["logger"] for r in records}
    assert {"mlflow.store.model_registry", "sqlalchemy.engine", "py.warnings", "imr.uncaught"} <= loggers, loggers
    assert any(r["logger"].startswith("mlflow.store.db") for r in records), loggers  # MLflow's own, routed to us
    failed = next(r for r in records if r["event"].startswith("registry query failed"))
    assert "no such table: registered_models" in failed["event"]
    assert SECRET not in result.stderr and "[SQL:" not in result.stderr and "SELECT" not in result.stderr
    assert not any(r["logger"].startswith("alembic") for r in records)  # INFO migrations stay quiet
    uncaught = next(r for r in records if r["logger"] == "imr.uncaught")
    assert uncaught["exc_type"] == "ZeroDivisionError" and "stack" in uncaught
