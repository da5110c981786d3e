"""Run the app with uvicorn (uvloop + httptools): ``serve(settings)`` is what ``imr serve`` calls.

One worker by default (one copy of the models, one set of counters). With ``workers > 1`` the listening socket is
bound here with ``IPPROTO_TCP`` and ``TCP_NODELAY``: uvicorn's own pre-bound socket loses TCP_NODELAY on accepted
connections (uvicorn issue 3149), which costs ~40 ms per keep-alive request on Linux.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI

from serving.app import create_app
from serving.logs import configure_logging
from serving.settings import Settings

#: Carries the parent's settings to spawned workers (each worker rebuilds the app from them).
SETTINGS_ENV = "IMR_SERVE_SETTINGS_JSON"


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "loop": settings.event_loop,
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,  # our JSON access log replaces it (it would log query strings)
        "log_config": None,
        "log_level": settings.log_level,
        "server_header": False,
        "proxy_headers": False,
        "timeout_keep_alive": 15,
        "backlog": 2048,
    }


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
    return orjson.dumps(data).decode("utf-8")


def app_from_environment() -> FastAPI:
    """App factory for spawned workers: the parent's settings, passed through the environment."""
    raw = os.environ.get(SETTINGS_ENV)
    settings = Settings.model_validate_json(raw) if raw else Settings()
    configure_logging(settings.log_level)
    return create_app(settings)


def serve(settings: Settings | None = None) -> None:
    """Serve the API and page on ``settings.host:settings.port`` until interrupted."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    options = _uvicorn_options(settings)
    if settings.workers == 1:
        uvicorn.Server(uvicorn.Config(create_app(settings), **options)).run()
        return
    from uvicorn.supervisors import Multiprocess

    os.environ[SETTINGS_ENV] = _settings_to_env(settings)
    config = uvicorn.Config("serving.server:app_from_environment", factory=True, workers=settings.workers, **options)
    sock = bind_socket(settings.host, settings.port)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
