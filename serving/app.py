"""The pre-screening API and page: the app factory and the lifespan; the routes are in :mod:`serving.routes`.

``create_app(settings)`` does no I/O: models load in the lifespan (and are checked again every
``reload_interval_s``). Run it with :func:`serving.server.serve`.

The OpenAPI schema is at ``/openapi.json``; ``/docs`` is a small page of our own that renders it (FastAPI's
Swagger UI and ReDoc load their scripts from a CDN, which an offline or locked-down server cannot reach, and which
the page's Content-Security-Policy would refuse anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from serving.champions import ChampionStore
from serving.deps import API_KEY_SCHEME, Services, get_letter_parser, get_services, request_id
from serving.errors import ApiError, ErrorItem, error_response, validation_errors
from serving.letter_pool import LetterPool
from serving.limits import CostGuard, CostLimits
from serving.metrics import Metrics
from serving.middleware import BodyRule, RequestGuard
from serving.models import skip_sklearn_validation
from serving.routes import letters, models, ops, prescreen, report
from serving.routes.ops import PAGE_DIR
from serving.scoring import Rules
from serving.settings import Settings

# Re-exported: tests override these dependencies and read the page directory through this module.
__all__ = ["PAGE_DIR", "body_rules", "create_app", "get_letter_parser", "get_services", "lifespan"]

log = logging.getLogger("imr.serving")

#: The routers, in the order their routes appear in the OpenAPI schema.
#: Seconds between a worker's metrics snapshots when the server has several workers.
METRICS_SNAPSHOT_S = 1.0
ROUTERS = (prescreen.router, report.router, letters.router, models.router, ops.router)

# -- errors --------------------------------------------------------------------------------------------------------


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.errors, request_id(request), exc.headers)


def _unreadable(errors: Sequence[Any]) -> str | None:
    """Why FastAPI could not read the body as a JSON value at all (malformed, or empty), or None when it could and
    found a bad field instead. (FastAPI reads a ``null`` body as an empty one.)"""
    kinds = {(error.get("type"), tuple(error.get("loc", ()))) for error in errors}
    if any(kind == "json_invalid" for kind, _ in kinds):
        return "is not valid JSON"
    if ("missing", ("body",)) in kinds:
        return "is empty or null (a JSON object is required)"
    return None


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    unreadable = _unreadable(errors)
    if unreadable:  # an unreadable body is a 400, as documented; a readable but invalid one a 422
        return error_response(400, [{"field": "body", "reason": unreadable}], request_id(request))
    return error_response(422, validation_errors(errors), request_id(request))


_HTTP_REASONS: dict[int, ErrorItem] = {
    404: {"field": "path", "reason": "not found"},
    405: {"field": "method", "reason": "method not allowed"},
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error = _HTTP_REASONS.get(exc.status_code) or {"field": "request", "reason": "could not be processed"}
    if exc.status_code == 400:
        error = {"field": "body", "reason": "could not be parsed"}
    status = exc.status_code if exc.status_code < 500 else 500
    return error_response(status, [error], request_id(request), exc.headers)


# -- the app -------------------------------------------------------------------------------------------------------


async def _watch(store: ChampionStore, interval_s: float) -> None:
    """Check the aliases every ``interval_s`` seconds, forever; errors are recorded by the store."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(store.refresh, False)  # a version that failed waits for an explicit reload
        except Exception as exc:
            log.error("periodic champion check failed", extra={"exc_type": type(exc).__name__})


async def _publish_metrics(services: Services, every_s: float = METRICS_SNAPSHOT_S) -> None:
    """With several workers: this worker's counters, written for the others once a second (serving.metrics)."""
    while True:
        try:
            services.metrics.write_snapshot()
        except OSError as exc:
            log.error("metrics snapshot failed", extra={"exc_type": type(exc).__name__})
        await asyncio.sleep(every_s)


async def _load(services: Services) -> None:
    """Load the champions (registry, else local copy) and freeze the heap they live on."""
    store = services.store
    await asyncio.to_thread(store.load_all)
    if services.settings.skip_sklearn_validation:
        skip_sklearn_validation()  # this thread runs the inline predictions
    gc.collect()
    gc.freeze()  # the loaded models are long-lived: keep them out of every later collection
    log.info(
        "ready" if store.ready else "started without every champion",
        extra={"models": {j: c.ref for j, c in store.champions().items()}, "ready": store.ready},
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the champions, start the letter workers, and watch the aliases until shutdown."""
    services: Services = app.state.services
    await _load(services)
    interval = services.settings.reload_interval_s
    task = asyncio.create_task(_watch(services.store, interval)) if interval > 0 else None
    shared = asyncio.create_task(_publish_metrics(services)) if services.metrics.shared_dir is not None else None
    pool: LetterPool | None = app.state.letter_pool
    if pool is not None and getattr(app.state, "letter_pool_start", False):
        pool.start()
    try:
        yield
    finally:
        for running in (task, shared):
            if running is not None:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
        if pool is not None:
            await asyncio.to_thread(pool.close)


def body_rules(settings: Settings) -> dict[str, BodyRule]:
    """What each POST route accepts, enforced before parsing."""
    return {
        "/v1/prescreen": BodyRule(("application/json",), settings.max_body_bytes),
        "/v1/report": BodyRule(("application/json",), settings.max_body_bytes),
        "/v1/prescreen/batch": BodyRule(
            ("application/json", "text/csv", "multipart/form-data"), settings.max_batch_bytes
        ),
        # Letters may be cp1252 or UTF-16 text: the letter parser judges the encoding.
        "/v1/letters": BodyRule(
            ("multipart/form-data", "application/pdf", "text/plain"), settings.max_upload_bytes + 64_000, False
        ),
    }


def _our_validation_error(operation: dict[str, Any]) -> None:
    """FastAPI documents its own 422 shape on every route with parameters; this app answers every 422 in the one
    error shape (``_validation_error``), so that is what the schema says."""
    response = operation.get("responses", {}).get("422")
    if response is not None and "HTTPValidationError" in str(response):
        schema = {"$ref": "#/components/schemas/ErrorResponse"}
        operation["responses"]["422"] = {
            "description": "Invalid request: see errors[].field and errors[].reason",
            "content": {"application/json": {"schema": schema}},
        }


def _openapi_with_key(app: FastAPI) -> dict[str, Any]:
    """The generated schema, plus the X-API-Key scheme on every /v1 operation."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["APIKeyHeader"] = API_KEY_SCHEME
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                _our_validation_error(operation)
                if path.startswith("/v1/"):
                    operation["security"] = [{"APIKeyHeader": []}]
        app.openapi_schema = schema
    return app.openapi_schema


def _add_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """The request guard (ids, body limits, keys, access log) and, when configured, CORS outside it."""
    # Added first, so innermost: a request takes a heavy slot only once its key and body size have passed.
    app.add_middleware(CostGuard, limits=CostLimits.from_settings(settings))
    app.add_middleware(
        RequestGuard,
        rules=body_rules(settings),
        metrics=metrics,
        api_key=settings.api_key,
        admin_key=settings.admin_key,
        metrics_public=settings.metrics_public,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
            max_age=600,
        )


def create_app(settings: Settings | None = None, store: ChampionStore | None = None) -> FastAPI:
    """The FastAPI app; no I/O here (models load in the lifespan)."""
    settings = settings or Settings()
    app = FastAPI(
        title="IMR Prescreen",
        version="1",
        summary="Probability that a utilization-review denial is upheld by California Independent Medical Review.",
        description=(
            "Pre-screen disputed items before an IMR is filed. Send `X-API-Key` when the server has a key. "
            'Every 4xx has the shape `{"errors": [{"field", "reason"}], "request_id"}`; request text is '
            "never logged or echoed in errors."
        ),
        lifespan=lifespan,
        docs_url=None,  # FastAPI's Swagger UI and ReDoc load from a CDN: /docs is a page of our own instead
        redoc_url=None,
    )
    services = Services(settings, store or ChampionStore(settings), Rules.from_settings(settings), Metrics())
    app.state.services = services
    # Letter parsing is CPU-bound Python: in worker processes it cannot stall the event loop (started on demand).
    app.state.letter_pool = (
        LetterPool(settings.letter_workers, settings.letter_timeout_s, settings.max_letter_items)
        if settings.letter_workers > 0
        else None
    )
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/page", StaticFiles(directory=PAGE_DIR), name="page")
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    _add_middleware(app, settings, services.metrics)
    app.openapi = lambda: _openapi_with_key(app)  # type: ignore[method-assign]
    return app
