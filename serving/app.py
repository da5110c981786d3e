"""The pre-screening API and page: app factory, lifespan, routes.

``create_app(settings)`` does no I/O: models load in the lifespan (and are checked again every
``reload_interval_s``). Run it with :func:`serving.server.serve`.

The OpenAPI schema is at ``/openapi.json``; ``/docs`` is a small page of our own that renders it (FastAPI's
Swagger UI and ReDoc load their scripts from a CDN, which an offline or locked-down server cannot reach, and which
the page's Content-Security-Policy would refuse anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles

from features.schema import Item
from serving.errors import ApiError, ErrorItem, JSONBytes, error_response, validation_errors
from serving.letter_pool import LetterBusy, LetterFailed, LetterPool, LetterRefused, LetterTimeout
from serving.metrics import Metrics
from serving.middleware import BodyRule, RequestGuard, media_type
from serving.models import Champion, ChampionStore, skip_sklearn_validation
from serving.schemas import (
    EXAMPLE_CASE,
    INVALID_TEXT_REASON,
    BatchOut,
    ErrorResponse,
    Health,
    LetterOut,
    ModelsOut,
    PageConfig,
    PrescreenIn,
    PrescreenOut,
    Readiness,
    ReloadOut,
    valid_code_points,
)
from serving.scoring import (
    Avoid,
    Rules,
    case_records,
    check_case,
    model_ref,
    parse_csv,
    record_from,
    score_cases,
    score_records,
)
from serving.settings import Settings

log = logging.getLogger("imr.serving")
PAGE_DIR = Path(__file__).parent / "page"

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in (
        (400, "Unreadable body (invalid UTF-8, JSON or multipart)"),
        (401, "Missing or wrong X-API-Key"),
        (403, "Admin routes are off on this server (no IMR_ADMIN_KEY)"),
        (413, "Body too large"),
        (415, "Wrong Content-Type"),
        (422, "Invalid request: see errors[].field and errors[].reason"),
        (503, "No model loaded for the jurisdiction yet"),
    )
}

# -- dependencies --------------------------------------------------------------------------------------------------

API_KEY_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "X-API-Key",
    "description": "Required when the server has a key",
}


@dataclass(frozen=True, slots=True)
class Services:
    """What the routes need, built once per app: settings, champions, business rules, counters."""

    settings: Settings
    store: ChampionStore
    rules: Rules
    metrics: Metrics


async def get_services(request: Request) -> Services:
    """The app's services (one dependency, so a request resolves few)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
ExplainQuery = Annotated[
    bool,
    Query(
        description="Return the documentation checklist, reasons in words, top terms and similar past "
        "determinations (false: probability, band and the model's reasons only, for bulk scoring)"
    ),
]


class LetterRejected(Exception):
    """A file that is not a readable determination letter; the reason names the file and the problem."""


LetterParser = Callable[[bytes, str], list[Item]]


async def get_letter_parser(request: Request) -> LetterParser:
    """``features.letters.parse_letter_bytes`` in the app's letter worker processes (with their time limit), or in
    this process when there are none; a refusal becomes :class:`LetterRejected`, a full pool a 503."""
    try:
        from features import letters
    except ImportError:
        raise ApiError.one(503, "file", "letter parsing is not available on this server") from None
    pool: LetterPool | None = getattr(request.app.state, "letter_pool", None)

    def parse(data: bytes, source: str) -> list[Item]:
        if pool is None:
            try:
                return list(letters.parse_letter_bytes(data, source))
            except letters.LetterError as exc:
                raise LetterRejected(str(exc)) from None
        try:
            return pool.parse(data, source)
        except LetterRefused as exc:
            raise LetterRejected(str(exc)) from None
        except LetterTimeout as exc:
            raise LetterRejected(f"{source}: {exc}") from None
        except LetterBusy:
            raise ApiError.one(
                503, "file", "every letter worker is busy: retry shortly", {"Retry-After": "1"}
            ) from None
        except LetterFailed as exc:
            raise RuntimeError(f"letter worker failed ({exc})") from None

    return parse


LetterParserDep = Annotated[LetterParser, Depends(get_letter_parser)]

# -- helpers -------------------------------------------------------------------------------------------------------


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def _note_model(request: Request, champion: Champion) -> None:
    request.scope.setdefault("state", {})["model_version"] = champion.ref


def champion_for(store: ChampionStore, jurisdiction: str) -> Champion:
    """The champion for a jurisdiction, or a 503 that says none is loaded yet."""
    champion = store.get(jurisdiction)
    if champion is None:
        raise ApiError.one(503, "jurisdiction", f"no model is loaded for {jurisdiction} yet")
    return champion


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="seconds")


def _metric_values(metrics: dict[str, float]) -> dict[str, dict[str, float | None]]:
    """Group ``x``, ``x_ci_low``, ``x_ci_high`` into one metric with its interval."""
    out: dict[str, dict[str, float | None]] = {}
    for name, value in sorted(metrics.items()):
        if name.endswith(("_ci_low", "_ci_high")):
            continue
        out[name] = {"value": value, "ci_low": metrics.get(f"{name}_ci_low"), "ci_high": metrics.get(f"{name}_ci_high")}
    for name, value in metrics.items():  # an interval whose point estimate was not logged
        for suffix in ("_ci_low", "_ci_high"):
            base = name.removesuffix(suffix)
            if name.endswith(suffix) and base not in out:
                out[f"{name}"] = {"value": value, "ci_low": None, "ci_high": None}
    return out


def model_infos(store: ChampionStore, settings: Settings) -> list[dict[str, Any]]:
    """``schemas.ModelInfo`` for every configured jurisdiction."""
    infos = []
    for jurisdiction in settings.jurisdictions:
        champion = store.get(jurisdiction)
        status = store.status(jurisdiction)
        entry: dict[str, Any] = {
            "jurisdiction": jurisdiction,
            "name": settings.model_name(jurisdiction),
            "alias": settings.model_alias,
            "loaded": champion is not None,
            "registry_ok": status.registry_ok,
            "registry_error": status.registry_error,
            "last_check_at": _iso(status.last_check_at),
            "last_error": status.last_error,
            "last_error_at": _iso(status.last_error_at),
        }
        if champion is not None:
            info = champion.info
            entry.update(
                version=info.version,
                source=info.source,
                run_id=info.run_id,
                data_digest=info.tags.get("data_digest"),
                git_commit=info.tags.get("git_commit"),
                trained_at=_iso(info.created_at),
                loaded_at=_iso(info.loaded_at),
                metrics=_metric_values(info.metrics),
                tags=info.tags,
                plots={Path(p).stem: f"/v1/models/{jurisdiction}/plots/{p}" for p in info.plots},
            )
        infos.append(entry)
    return infos


#: Most items scored on the event loop by a fast champion (more go to a worker thread). Explanations cost about
#: 0.2 ms (checklist) + 0.5 ms (similar) an item, so fewer items stay inline with them.
INLINE_ITEMS = 32
INLINE_ITEMS_EXPLAINED = 4


async def _score_case_records(
    champion: Champion, records: list[dict[str, Any]], rules: Rules, explain: bool
) -> list[dict[str, Any]]:
    if champion.inline and len(records) <= (INLINE_ITEMS_EXPLAINED if explain else INLINE_ITEMS):
        return score_records(champion, records, rules, explain)
    return await run_in_threadpool(score_records, champion, records, rules, explain)


async def _upload(request: Request, max_bytes: int) -> tuple[bytes, str | None, str | None]:
    """The bytes, file name and media type of the ``file`` part of a multipart body."""
    try:
        form = await request.form(max_files=1, max_fields=5, max_part_size=max_bytes)
    except MultiPartException:
        raise ApiError.one(400, "body", "is not valid multipart/form-data") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError.one(422, "file", "is required (a multipart part named 'file')")
        data = await upload.read()
        return data, upload.filename, upload.content_type
    finally:
        await form.close()


# -- routes --------------------------------------------------------------------------------------------------------

# The key itself is checked by the RequestGuard middleware, before anything else, for every /v1 path.
v1 = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


@v1.post("/prescreen", response_model=PrescreenOut, tags=["prescreen"])
async def prescreen(
    case: PrescreenIn, request: Request, services: ServicesDep, explain: ExplainQuery = True
) -> Response:
    """Pre-screen one case: per disputed item, p(denial upheld), band and the model version, with what a person can
    check and act on: the documentation checklist (each check passed or missing, the request's words that satisfy
    it, advice), reasons in words (from the model's reason head and the failed checks), the model's top terms and
    the most similar past determinations (outcome, date, case number, rationale excerpt, guideline)."""
    store, rules, metrics = services.store, services.rules, services.metrics
    errors = check_case(case, rules)
    if errors:
        raise ApiError(422, errors)
    champion = champion_for(store, case.jurisdiction)
    _note_model(request, champion)
    items = await _score_case_records(champion, case_records(case), rules, explain)
    metrics.count_predictions(case.jurisdiction, (i["band"] for i in items))
    return JSONBytes({"request_id": _request_id(request), "model": model_ref(champion), "items": items})


BATCH_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/PrescreenIn"}},
                "example": [EXAMPLE_CASE],
            },
            "text/csv": {
                "schema": {"type": "string"},
                "example": "jurisdiction,item_text,summary\ndwc,MRI lumbar spine,Low back pain with radiculopathy\n",
            },
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
            },
        },
    }
}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads_lenient(body: bytes) -> Any:
    """orjson refuses a lone surrogate ("\\ud800") as invalid JSON; the standard parser reads it, so that the row
    validation can name the field that holds it (NaN and Infinity stay refused, as orjson refuses them)."""
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise ApiError.one(422, "body", "is not valid JSON") from None


def _invalid_text(data: Any, path: str = "") -> list[ErrorItem]:
    """Where ``data`` holds strings that are not valid Unicode (keys too), as error items."""
    if isinstance(data, str):
        try:
            valid_code_points(data)
        except ValueError as exc:
            return [{"field": path or "body", "reason": str(exc)}]
        return []
    found: list[ErrorItem] = []
    if isinstance(data, list):
        for index, value in enumerate(data):
            found += _invalid_text(value, f"{path}[{index}]")
    elif isinstance(data, dict):
        for key, value in data.items():
            name = key if not _invalid_text(key) else "<unknown field>"
            where = f"{path}.{name}" if path else name
            found += [{"field": where, "reason": INVALID_TEXT_REASON}] if name != key else _invalid_text(value, where)
    return found


def _parse_batch_json(body: bytes, max_batch: int) -> list[PrescreenIn | list[ErrorItem]]:
    try:
        data, strict = orjson.loads(body), True
    except orjson.JSONDecodeError:
        data, strict = _loads_lenient(body), False
    invalid = [] if strict else _invalid_text(data)
    if invalid:  # a fault of the body, like invalid UTF-8, not of one row: refuse it all, naming the fields
        raise ApiError(422, invalid[:20])
    if not isinstance(data, list):
        raise ApiError.one(422, "body", "must be a JSON array of cases")
    if not data:
        raise ApiError.one(422, "body", "must hold at least one case")
    if len(data) > max_batch:
        raise ApiError.one(422, "body", f"must hold at most {max_batch} cases")
    rows: list[PrescreenIn | list[ErrorItem]] = []
    for entry in data:
        try:
            rows.append(PrescreenIn.model_validate(entry))
        except ValidationError as exc:
            rows.append(validation_errors(exc.errors(include_input=False)))
    return rows


@v1.post("/prescreen/batch", response_model=BatchOut, tags=["prescreen"], openapi_extra=BATCH_OPENAPI)
async def prescreen_batch(request: Request, services: ServicesDep, explain: ExplainQuery = True) -> Response:
    """Pre-screen many cases (JSON array, or CSV with one item per row); results in input order, bad rows reported.

    Each item has the same explanations as ``/v1/prescreen``; ``explain=false`` skips them for bulk scoring."""
    settings, store, rules, metrics = services.settings, services.store, services.rules, services.metrics
    media = media_type(request.headers)
    if media == "multipart/form-data":
        data, _, _ = await _upload(request, settings.max_batch_bytes)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ApiError.one(400, "file", f"is not valid UTF-8 (at byte {exc.start})") from None
        rows, file_errors = parse_csv(text, settings.max_batch)
    elif media == "text/csv":
        rows, file_errors = parse_csv((await request.body()).decode("utf-8-sig"), settings.max_batch)
    else:  # a large array takes a while to validate: keep the event loop free meanwhile
        rows, file_errors = await run_in_threadpool(_parse_batch_json, await request.body(), settings.max_batch), []
    if file_errors:
        raise ApiError(422, file_errors)
    results: list[dict[str, Any]] = [{"index": i, "ok": False, "result": None, "errors": []} for i in range(len(rows))]
    valid: list[tuple[int, PrescreenIn]] = []
    champions: dict[str, Champion] = {}
    for i, row in enumerate(rows):
        if isinstance(row, list):
            results[i]["errors"] = row
            continue
        errors = check_case(row, rules)
        champion = store.get(row.jurisdiction)
        if not errors and champion is None:
            errors = [{"field": "jurisdiction", "reason": f"no model is loaded for {row.jurisdiction} yet"}]
        if errors:
            results[i]["errors"] = errors
            continue
        assert champion is not None
        champions[row.jurisdiction] = champion
        valid.append((i, row))
    if valid:
        scored = await run_in_threadpool(score_cases, champions, [case for _, case in valid], rules, explain)
        for (i, case), items in zip(valid, scored, strict=True):
            champion = champions[case.jurisdiction]
            metrics.count_predictions(case.jurisdiction, (item["band"] for item in items))
            results[i].update(
                ok=True, result={"request_id": _request_id(request), "model": model_ref(champion), "items": items}
            )
    if champions:
        request.scope.setdefault("state", {})["model_version"] = ",".join(sorted(c.ref for c in champions.values()))
    failed = sum(1 for r in results if not r["ok"])
    return JSONBytes({"request_id": _request_id(request), "count": len(results), "failed": failed, "results": results})


LETTER_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
            },
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


@v1.post("/letters", response_model=LetterOut, tags=["letters"], openapi_extra=LETTER_OPENAPI)
async def letters(
    request: Request,
    services: ServicesDep,
    parse_letter: LetterParserDep,
    explain: ExplainQuery = True,
) -> Response:
    """Parse a determination letter (PDF or text) and pre-screen its items, with the letter's outcome beside each.

    Explanations as in ``/v1/prescreen``; the similar determinations never include the letter's own case, nor
    decisions made on or after the letter's decision date."""
    settings, store, rules, metrics = services.settings, services.store, services.rules, services.metrics
    media = media_type(request.headers)
    if media == "multipart/form-data":
        data, filename, media = await _upload(request, settings.max_upload_bytes)
    else:
        data, filename = await request.body(), None
    is_pdf = b"%PDF-" in data[:1024]  # as the letter parser decides
    claimed_pdf = media == "application/pdf" or (filename or "").lower().endswith(".pdf")
    # Never the upload's own file name: it can carry a patient's name, and it would reach error messages.
    source = "letter.pdf" if is_pdf else "letter.txt"
    if not data.strip():
        raise ApiError.one(422, "file", f"{source}: is empty")
    if claimed_pdf and not is_pdf:
        raise ApiError.one(422, "file", f"{source}: is not a PDF (no %PDF header)")
    try:
        items = await run_in_threadpool(parse_letter, data, source)
    except LetterRejected as exc:
        raise ApiError.one(422, "file", str(exc)[:300]) from None
    except ApiError:
        raise
    except Exception as exc:  # a parser crash on hostile input is still the input's fault: 4xx, not 5xx
        log.warning("letter parser failed", extra={"exc_type": type(exc).__name__, "request_id": _request_id(request)})
        raise ApiError.one(422, "file", f"{source}: could not be read as a determination letter") from None
    if not items:
        raise ApiError.one(422, "file", f"{source}: no disputed items found")
    jurisdiction = items[0].jurisdiction
    champion = champion_for(store, jurisdiction)
    _note_model(request, champion)
    records = [record_from(item.model_dump()) for item in items]
    decided = items[0].decision_date
    avoid = Avoid(case_id=items[0].case_id, before=decided.isoformat() if decided else None)
    scored = await run_in_threadpool(score_records, champion, records, rules, explain, avoid)
    metrics.count_predictions(jurisdiction, (r["band"] for r in scored))
    out_items = [
        {
            "item_text": item.item_text,
            "actual": item.determination,
            "prediction": result,
            "agrees": None if result["label"] is None else result["label"] == item.determination,
        }
        for item, result in zip(items, scored, strict=True)
    ]
    return JSONBytes(
        {
            "request_id": _request_id(request),
            "source": source,
            "case_id": items[0].case_id,
            "jurisdiction": jurisdiction,
            "model": model_ref(champion),
            "items": out_items,
        }
    )


@v1.get("/models", response_model=ModelsOut, tags=["models"])
async def models(services: ServicesDep) -> Response:
    """Champion of each jurisdiction (version, metrics with intervals, data digest, plots, load errors) and the band
    thresholds every verdict derives from."""
    store, settings = services.store, services.settings
    bands = {"upheld_min": settings.band_upheld_min, "overturned_max": settings.band_overturned_max}
    return JSONBytes({"models": model_infos(store, settings), "bands": bands})


@v1.get("/models/{jurisdiction}/plots/{name}", tags=["models"], response_class=FileResponse)
async def model_plot(jurisdiction: str, name: str, services: ServicesDep) -> Response:
    """One evaluation plot (ROC, PR, reliability, confusion) of a champion, from its local copy."""
    store, settings = services.store, services.settings
    champion = store.get(jurisdiction)
    if champion is None or name not in champion.info.plots:
        raise ApiError.one(404, "name", "no such plot for this champion")
    path = settings.cache_dir / jurisdiction / champion.info.version / "plots" / name
    if not path.is_file():
        raise ApiError.one(404, "name", "plot file missing from the local copy")
    return FileResponse(path, headers={"cache-control": "private, max-age=3600"})


@v1.post("/admin/reload", response_model=ReloadOut, tags=["models"])
async def reload_models(services: ServicesDep) -> Response:
    """Check the champion aliases now and load any new version (the old one serves until the new one is ready)."""
    store, settings = services.store, services.settings
    results = await asyncio.to_thread(store.refresh)
    return JSONBytes({"results": results, "models": model_infos(store, settings)})


ops = APIRouter(tags=["operations"])


@ops.get("/healthz", response_model=Health)
async def healthz() -> Response:
    """Liveness: the process answers."""
    return JSONBytes({"status": "ok"})


@ops.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "Not ready"}})
async def readyz(request: Request, services: ServicesDep) -> Response:
    """Readiness: every jurisdiction has a champion (and whether it came from the registry or the local copy). When
    the server has a key, only a caller with one sees the details; others get ``{"ready": ...}`` alone."""
    store = services.store
    if not request.scope.get("state", {}).get("key_ok", True):
        return JSONBytes({"ready": store.ready}, status_code=200 if store.ready else 503)
    models_state: dict[str, dict[str, Any]] = {}
    for jurisdiction in store.jurisdictions:
        champion = store.get(jurisdiction)
        status = store.status(jurisdiction)
        models_state[jurisdiction] = {
            "loaded": champion is not None,
            "version": champion.info.version if champion else None,
            "source": champion.info.source if champion else None,
            "registry": "ok" if status.registry_ok else ("unreachable" if status.registry_ok is False else "unknown"),
            "registry_error": status.registry_error,
        }
    ready = store.ready
    return JSONBytes({"ready": ready, "models": models_state}, status_code=200 if ready else 503)


@ops.get("/metrics", response_class=PlainTextResponse)
async def metrics_text(services: ServicesDep) -> Response:
    """Prometheus metrics: requests, latency histogram, errors, predictions, model versions."""
    store, metrics = services.store, services.metrics
    return PlainTextResponse(metrics.render(store), media_type="text/plain; version=0.0.4; charset=utf-8")


@ops.get("/ui-config", response_model=PageConfig)
async def ui_config(services: ServicesDep) -> Response:
    """What the page needs before its first call: whether a key is required, jurisdictions and limits."""
    settings = services.settings
    return JSONBytes(
        {
            "auth_required": settings.auth_required,
            "jurisdictions": list(settings.jurisdictions),
            "max_items": settings.max_items,
            "max_text_bytes": settings.max_text_bytes,
            "max_upload_bytes": settings.max_upload_bytes,
            "band_upheld_min": settings.band_upheld_min,
            "band_overturned_max": settings.band_overturned_max,
        }
    )


@ops.get("/", include_in_schema=False)
async def index() -> Response:
    """The pre-screening page."""
    return FileResponse(PAGE_DIR / "index.html", headers={"cache-control": "no-cache"})


@ops.get("/docs", include_in_schema=False)
async def docs() -> Response:
    """The API reference: a small page of this server's that reads ``/openapi.json`` (Swagger UI would need a CDN)."""
    return FileResponse(PAGE_DIR / "docs.html", headers={"cache-control": "no-cache"})


# -- errors --------------------------------------------------------------------------------------------------------


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.errors, _request_id(request), exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, validation_errors(exc.errors()), _request_id(request))


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
    return error_response(status, [error], _request_id(request), exc.headers)


# -- the app -------------------------------------------------------------------------------------------------------


async def _watch(store: ChampionStore, interval_s: float) -> None:
    """Check the aliases every ``interval_s`` seconds, forever; errors are recorded by the store."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(store.refresh, False)  # a version that failed waits for an explicit reload
        except Exception as exc:
            log.error("periodic champion check failed", extra={"exc_type": type(exc).__name__})


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the champions (registry, else local copy), freeze the heap, and watch the aliases until shutdown."""
    services: Services = app.state.services
    store, settings = services.store, services.settings
    await asyncio.to_thread(store.load_all)
    if settings.skip_sklearn_validation:
        skip_sklearn_validation()  # this thread runs the inline predictions
    gc.collect()
    gc.freeze()  # the loaded models are long-lived: keep them out of every later collection
    log.info(
        "ready" if store.ready else "started without every champion",
        extra={"models": {j: c.ref for j, c in store.champions().items()}, "ready": store.ready},
    )
    task = asyncio.create_task(_watch(store, settings.reload_interval_s)) if settings.reload_interval_s > 0 else None
    pool: LetterPool | None = app.state.letter_pool
    if pool is not None and getattr(app.state, "letter_pool_start", False):
        pool.start()
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if pool is not None:
            await asyncio.to_thread(pool.close)


def body_rules(settings: Settings) -> dict[str, BodyRule]:
    """What each POST route accepts, enforced before parsing."""
    return {
        "/v1/prescreen": BodyRule(("application/json",), settings.max_body_bytes),
        "/v1/prescreen/batch": BodyRule(
            ("application/json", "text/csv", "multipart/form-data"), settings.max_batch_bytes
        ),
        # Letters may be cp1252 or UTF-16 text: the letter parser judges the encoding.
        "/v1/letters": BodyRule(
            ("multipart/form-data", "application/pdf", "text/plain"), settings.max_upload_bytes + 64_000, False
        ),
    }


def _openapi_with_key(app: FastAPI) -> dict[str, Any]:
    """The generated schema, plus the X-API-Key scheme on every /v1 operation."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["APIKeyHeader"] = API_KEY_SCHEME
        for path, operations in schema.get("paths", {}).items():
            if path.startswith("/v1/"):
                for operation in operations.values():
                    operation["security"] = [{"APIKeyHeader": []}]
        app.openapi_schema = schema
    return app.openapi_schema


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
        LetterPool(settings.letter_workers, settings.letter_timeout_s) if settings.letter_workers > 0 else None
    )
    app.include_router(v1)
    app.include_router(ops)
    app.mount("/page", StaticFiles(directory=PAGE_DIR), name="page")
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(
        RequestGuard,
        rules=body_rules(settings),
        metrics=services.metrics,
        api_key=settings.api_key,
        admin_key=settings.admin_key,
        metrics_public=settings.metrics_public,
    )
    app.openapi = lambda: _openapi_with_key(app)  # type: ignore[method-assign]
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
            max_age=600,
        )
    return app
