"""Run the app with uvicorn (uvloop + httptools): ``serve(settings)`` is what ``imr serve`` calls.

One worker by default (one copy of the models). With ``workers > 1`` each worker loads its own models and the
workers share their counters through a temporary folder (``serving.metrics``), and the listening socket is
bound here with ``IPPROTO_TCP`` and ``TCP_NODELAY``: uvicorn's own pre-bound socket loses TCP_NODELAY on accepted
connections (uvicorn issue 3149), which costs ~40 ms per keep-alive request on Linux.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI

from serving.app import create_app
from serving.connections import LIMITS_ATTRIBUTE, ConnectionLimits, LimitedHttpToolsProtocol
from serving.logs import configure_logging
from serving.settings import Settings

#: Carries the parent's settings to spawned workers (each worker rebuilds the app from them).
SETTINGS_ENV = "IMR_SERVE_SETTINGS_JSON"
#: The folder where the workers of one server share their metrics (made and removed by :func:`serve`).
METRICS_DIR_ENV = "IMR_SERVE_METRICS_DIR"


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "loop": settings.event_loop,
        "http": LimitedHttpToolsProtocol,  # httptools, plus the limits of serving.connections
        "lifespan": "on",
        "access_log": False,  # our JSON access log replaces it (it would log query strings)
        "log_config": None,
        "log_level": settings.log_level,
        "server_header": False,
        "proxy_headers": False,
        "timeout_keep_alive": settings.keep_alive_timeout_s,
        "backlog": 2048,
    }


def connection_limits(settings: Settings) -> ConnectionLimits:
    """The per-connection limits of ``serving.connections``, from the settings."""
    return ConnectionLimits(
        header_timeout_s=settings.header_timeout_s,
        body_timeout_s=settings.body_timeout_s,
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        max_connections=settings.max_connections,
    )


def _config(app: Any, settings: Settings, **extra: Any) -> uvicorn.Config:
    config = uvicorn.Config(app, **_uvicorn_options(settings), **extra)
    setattr(config, LIMITS_ATTRIBUTE, connection_limits(settings))  # read by each connection's protocol
    return config


def _raise_open_files_limit(connections: int) -> None:
    """Lift the soft limit on open files toward the hard one, so that the connection cap, not EMFILE, refuses."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = connections + 256
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(
                resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard)
            )
    except (ImportError, OSError, ValueError):
        pass


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket whose accepted connections get TCP_NODELAY (proto set explicitly, option set too)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _settings_to_env(settings: Settings) -> str:
    data = settings.model_dump(mode="json")
    data["api_key"] = settings.api_key.get_secret_value() if settings.api_key else None
    data["admin_key"] = settings.admin_key.get_secret_value() if settings.admin_key else None
    return orjson.dumps(data).decode("utf-8")


def app_from_environment() -> FastAPI:
    """App factory for spawned workers: the parent's settings, passed through the environment."""
    raw = os.environ.get(SETTINGS_ENV)
    settings = Settings.model_validate_json(raw) if raw else Settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    app.state.letter_pool_start = True  # the lifespan starts the letter workers (tests' apps start them on demand)
    shared = os.environ.get(METRICS_DIR_ENV)
    if shared:
        app.state.services.metrics.shared_dir = Path(shared)
    return app


def serve(settings: Settings | None = None) -> None:
    """Serve the API and page on ``settings.host:settings.port`` until interrupted."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    _raise_open_files_limit(settings.max_connections * settings.workers)
    if settings.workers == 1:
        app = create_app(settings)
        app.state.letter_pool_start = True
        uvicorn.Server(_config(app, settings)).run()
        return
    from uvicorn.supervisors import Multiprocess

    os.environ[SETTINGS_ENV] = _settings_to_env(settings)
    shared = tempfile.mkdtemp(prefix="imr-metrics-")  # the workers' counter snapshots (serving.metrics)
    os.environ[METRICS_DIR_ENV] = shared
    config = _config("serving.server:app_from_environment", settings, factory=True, workers=settings.workers)
    sock = bind_socket(settings.host, settings.port)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
        shutil.rmtree(shared, ignore_errors=True)
