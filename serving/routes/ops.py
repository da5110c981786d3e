"""Operations and the page: ``/healthz``, ``/readyz``, ``/metrics``, ``/ui-config``, ``/`` and ``/docs``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from features import dmhc_mapper
from serving.champions import ChampionStore
from serving.deps import ServicesDep
from serving.errors import JSONBytes
from serving.schemas import Health, PageConfig, Readiness

PAGE_DIR = Path(__file__).parent.parent / "page"
router = APIRouter(tags=["operations"])


def _model_states(store: ChampionStore) -> dict[str, dict[str, Any]]:
    """Per jurisdiction: loaded version, where it came from, and whether the registry answered."""
    states: dict[str, dict[str, Any]] = {}
    for jurisdiction in store.jurisdictions:
        champion = store.get(jurisdiction)
        status = store.status(jurisdiction)
        states[jurisdiction] = {
            "loaded": champion is not None,
            "version": champion.info.version if champion else None,
            "source": champion.info.source if champion else None,
            "registry": "ok" if status.registry_ok else ("unreachable" if status.registry_ok is False else "unknown"),
            "registry_error": status.registry_error,
        }
    return states


@router.get("/healthz", response_model=Health)
async def healthz() -> Response:
    """Liveness: the process answers."""
    return JSONBytes({"status": "ok"})


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "Not ready"}})
async def readyz(request: Request, services: ServicesDep) -> Response:
    """Readiness: every jurisdiction has a champion (and whether it came from the registry or the local copy). When
    the server has a key, only a caller with one sees the details; others get ``{"ready": ...}`` alone."""
    store = services.store
    status_code = 200 if store.ready else 503
    if not request.scope.get("state", {}).get("key_ok", True):
        return JSONBytes({"ready": store.ready}, status_code=status_code)
    return JSONBytes({"ready": store.ready, "models": _model_states(store)}, status_code=status_code)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics_text(services: ServicesDep) -> Response:
    """Prometheus metrics: requests, latency histogram, errors, predictions, model versions."""
    text = services.metrics.render(services.store)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/ui-config", response_model=PageConfig)
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
            "dmhc_categories": dmhc_mapper.choices(),
        }
    )


@router.get("/", include_in_schema=False)
async def index() -> Response:
    """The pre-screening page."""
    return FileResponse(PAGE_DIR / "index.html", headers={"cache-control": "no-cache"})


@router.get("/docs", include_in_schema=False)
async def docs() -> Response:
    """The API reference: a small page of this server's that reads ``/openapi.json`` (Swagger UI would need a CDN)."""
    return FileResponse(PAGE_DIR / "docs.html", headers={"cache-control": "no-cache"})
