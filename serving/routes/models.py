"""``GET /v1/models`` (the champions and their evidence), their plots, and ``POST /v1/admin/reload``."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from starlette.responses import FileResponse, Response

from serving.champions import Champion, ChampionStore
from serving.deps import V1_RESPONSES, ServicesDep, error_responses
from serving.errors import ApiError, JSONBytes
from serving.schemas import ModelsOut, ReloadOut
from serving.settings import Settings

router = APIRouter(prefix="/v1", tags=["models"], responses=V1_RESPONSES)


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


def _champion_fields(jurisdiction: str, champion: Champion) -> dict[str, Any]:
    """What ``schemas.ModelInfo`` says about a loaded champion."""
    info = champion.info
    return {
        "version": info.version,
        "source": info.source,
        "run_id": info.run_id,
        "data_digest": info.tags.get("data_digest"),
        "git_commit": info.tags.get("git_commit"),
        "trained_at": _iso(info.created_at),
        "loaded_at": _iso(info.loaded_at),
        "metrics": _metric_values(info.metrics),
        "tags": info.tags,
        "plots": {Path(p).stem: f"/v1/models/{jurisdiction}/plots/{p}" for p in info.plots},
    }


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
            entry.update(_champion_fields(jurisdiction, champion))
        infos.append(entry)
    return infos


@router.get("/models", response_model=ModelsOut)
async def models(services: ServicesDep) -> Response:
    """Champion of each jurisdiction (version, metrics with intervals, data digest, plots, load errors) and the band
    thresholds every verdict derives from."""
    settings = services.settings
    bands = {"upheld_min": settings.band_upheld_min, "overturned_max": settings.band_overturned_max}
    return JSONBytes({"models": model_infos(services.store, settings), "bands": bands})


@router.get("/models/{jurisdiction}/plots/{name}", response_class=FileResponse, responses=error_responses(404))
async def model_plot(jurisdiction: str, name: str, services: ServicesDep) -> Response:
    """One evaluation plot (ROC, PR, reliability, confusion) of a champion, from its local copy."""
    champion = services.store.get(jurisdiction)
    if champion is None or name not in champion.info.plots:
        raise ApiError.one(404, "name", "no such plot for this champion")
    path = services.settings.cache_dir / jurisdiction / champion.info.version / "plots" / name
    if not path.is_file():
        raise ApiError.one(404, "name", "plot file missing from the local copy")
    return FileResponse(path, headers={"cache-control": "private, max-age=3600"})


@router.post("/admin/reload", response_model=ReloadOut)
async def reload_models(services: ServicesDep) -> Response:
    """Check the champion aliases now and load any new version (the old one serves until the new one is ready)."""
    results = await asyncio.to_thread(services.store.refresh)
    return JSONBytes({"results": results, "models": model_infos(services.store, services.settings)})
