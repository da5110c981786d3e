"""Structured JSON logs, one object per line. They never carry request text: only ids, routes, timings, versions.

Exceptions are logged by type and stack frames only: an exception message can quote its input. Libraries' loggers
(MLflow, SQLAlchemy, alembic, uvicorn, warnings, uncaught exceptions in threads) go through the same formatter, and a
message that carries SQL (SQLAlchemy's ``[SQL: ...]`` and ``[parameters: ...]``) is cut before it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback
from types import TracebackType
from typing import Any

import orjson

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


#: Loggers of libraries that install their own handlers (MLflow on import) or are noisy at INFO (migrations).
LIBRARY_LOGGERS: dict[str, str | None] = {
    "uvicorn": None,
    "uvicorn.error": None,
    "mlflow": None,
    "sqlalchemy": "WARNING",
    "sqlalchemy.engine": "WARNING",
    "alembic": "WARNING",
    "huey": "WARNING",
    "py.warnings": None,
}
# Where SQLAlchemy starts quoting the statement and its parameters in an exception message.
_SQL_MARKERS = ("[SQL:", "[parameters:", "(Background on this error at:")


def without_sql(message: str) -> str:
    """``message`` cut before any SQL statement, parameters or SQLAlchemy link it quotes."""
    cut = min((i for i in (message.find(m) for m in _SQL_MARKERS) if i >= 0), default=-1)
    return message if cut < 0 else message[:cut].rstrip()


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: ts, level, logger, event, and the record's ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": without_sql(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["exc_type"] = record.exc_info[0].__name__
            out["stack"] = [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(record.exc_info[2])][-8:]
        return orjson.dumps(out, default=str).decode("utf-8")


def _log_uncaught(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    logging.getLogger("imr.uncaught").error("uncaught exception", exc_info=(kind, value, tb))


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is not SystemExit and args.exc_value is not None:
        logging.getLogger("imr.uncaught").error(
            "uncaught exception in a thread",
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
            extra={"thread_name": args.thread.name if args.thread else None},
        )


def configure_logging(level: str = "info") -> None:
    """Send every logger (ours, uvicorn's, MLflow's, SQLAlchemy's, warnings, uncaught exceptions) to stderr as JSON,
    one object per line; uvicorn's access log is replaced by ours."""
    # MLflow installs a plain-text handler when it is first imported unless told not to (it may not be imported yet).
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name, library_level in LIBRARY_LOGGERS.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
        if library_level is not None:
            logger.setLevel(library_level)
    logging.getLogger("uvicorn.access").disabled = True
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_thread_exception
