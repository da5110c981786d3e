"""``POST /v1/prescreen`` (one case) and ``POST /v1/prescreen/batch`` (many, as JSON or CSV)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from serving.batch_cases import BatchRow, Case, answer_csv, group_cases, split_items, unknown_columns
from serving.bodies import parse_batch_json, upload
from serving.champions import Champion, ChampionStore
from serving.deps import BODY_RESPONSES, V1_RESPONSES, ExplainQuery, ServicesDep, champion_for, note_model, request_id
from serving.errors import ApiError, JSONBytes
from serving.middleware import media_type
from serving.schemas import EXAMPLE_CASE, BatchOut, PrescreenIn, PrescreenOut
from serving.scoring import (
    Rules,
    case_answer,
    case_records,
    check_case,
    model_ref,
    parse_csv,
    score_cases,
    score_records,
)
from serving.settings import Settings

router = APIRouter(prefix="/v1", tags=["prescreen"], responses={**V1_RESPONSES, **BODY_RESPONSES})

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


@router.post("/prescreen", response_model=PrescreenOut)
async def prescreen(
    case: PrescreenIn, request: Request, services: ServicesDep, explain: ExplainQuery = True
) -> Response:
    """Pre-screen one case: per disputed item, p(denial upheld), band and the model version, with what a person can
    check and act on: the documentation checklist (each check passed or missing, the request's words that satisfy
    it, advice), reasons in words (from the model's reason head and the failed checks), the model's top terms and
    the most similar past determinations (outcome, date, case number, rationale excerpt, guideline)."""
    errors = check_case(case, services.rules)
    if errors:
        raise ApiError(422, errors)
    champion = champion_for(services.store, case.jurisdiction)
    note_model(request, champion.ref)
    items = await _score_case_records(champion, case_records(case), services.rules, explain)
    services.metrics.count_predictions(case.jurisdiction, (i["band"] for i in items))
    answer = {"request_id": request_id(request), "model": model_ref(champion), "items": items, **case_answer(case)}
    return JSONBytes(answer)


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


async def _csv_text(request: Request, settings: Settings, media: str | None) -> str:
    """A CSV body or uploaded CSV file as text; invalid UTF-8 is a 400, an unknown column a 422 naming it."""
    if media == "multipart/form-data":
        data, _, _ = await upload(request, settings.max_batch_bytes)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ApiError.one(400, "file", f"is not valid UTF-8 (at byte {exc.start})") from None
    else:
        text = (await request.body()).decode("utf-8-sig")  # the request guard has checked it is UTF-8
    unknown = unknown_columns(text)
    if unknown:
        raise ApiError(422, unknown)
    return text


async def _batch_rows(request: Request, settings: Settings) -> list[BatchRow]:
    """The batch's rows from a JSON array, a CSV body or an uploaded CSV file; a fault of the file is a 4xx."""
    media = media_type(request.headers)
    if media in ("multipart/form-data", "text/csv"):
        rows, file_errors = parse_csv(await _csv_text(request, settings, media), settings.max_batch)
    else:  # a large array takes a while to validate: keep the event loop free meanwhile
        rows, file_errors = await run_in_threadpool(parse_batch_json, await request.body(), settings.max_batch), []
    if file_errors:
        raise ApiError(422, file_errors)
    return rows


def _triage(cases: list[Case], store: ChampionStore, rules: Rules) -> dict[str, Champion]:
    """The champions the scorable cases need; the other cases get their errors."""
    champions: dict[str, Champion] = {}
    for case in cases:
        if case.errors or case.case is None:
            continue
        case.errors = check_case(case.case, rules)
        champion = store.get(case.case.jurisdiction)
        if not case.errors and champion is None:
            case.errors = [{"field": "jurisdiction", "reason": f"no model is loaded for {case.case.jurisdiction} yet"}]
        if champion is not None and not case.errors:
            champions[case.case.jurisdiction] = champion
    return champions


def _wants_csv(accept: str | None) -> bool:
    """Whether the Accept header prefers ``text/csv`` to JSON (JSON when it says nothing or ties)."""
    if not accept:
        return False
    weights: dict[str, float] = {}
    for part in accept.lower().split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = next((p.removeprefix("q=") for p in params if p.startswith("q=")), "1")
        try:
            weights[media] = float(q)
        except ValueError:
            weights[media] = 0.0
    json_q = max(weights.get(m, 0.0) for m in ("application/json", "application/*", "*/*"))
    return weights.get("text/csv", weights.get("text/*", 0.0)) > json_q


CSV_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "One line per item (Accept)"}
}


def _answer(
    rid: str, case: Case, scored: PrescreenIn, items: list[dict[str, Any]], champion: Champion
) -> list[dict[str, Any]]:
    """Each row's result within its case: the case's answer, with the row's own items."""
    common = {"request_id": rid, "model": model_ref(champion), **case_answer(scored)}
    return [{**common, "items": row_items} for row_items in split_items(case, items)]


@router.post("/prescreen/batch", response_model=BatchOut, openapi_extra=BATCH_OPENAPI, responses=CSV_ANSWER)
async def prescreen_batch(request: Request, services: ServicesDep, explain: ExplainQuery = True) -> Response:
    """Pre-screen many cases (JSON array, or CSV with one item per row; rows sharing a ``case_id`` are one case);
    results in input order, one per row, bad rows reported; ``Accept: text/csv`` answers CSV, one line per item.

    Each item has the same explanations as ``/v1/prescreen``; ``explain=false`` skips them for bulk scoring."""
    rows = await _batch_rows(request, services.settings)
    cases = group_cases(rows)
    champions = _triage(cases, services.store, services.rules)
    results: list[dict[str, Any]] = [{"index": i, "ok": False, "result": None, "errors": []} for i in range(len(rows))]
    ready = [(case, case.case) for case in cases if not case.errors and case.case is not None]
    scored = await run_in_threadpool(score_cases, champions, [c for _, c in ready], services.rules, explain)
    rid = request_id(request)
    for (case, scored_case), items in zip(ready, scored, strict=True):
        services.metrics.count_predictions(scored_case.jurisdiction, (item["band"] for item in items))
        answers = _answer(rid, case, scored_case, items, champions[scored_case.jurisdiction])
        for row, answer in zip(case.rows, answers, strict=True):
            results[row].update(ok=True, result=answer)
    for case in cases:
        for row in case.rows if case.errors else ():
            results[row]["errors"] = case.errors
    if champions:
        note_model(request, ",".join(sorted(c.ref for c in champions.values())))
    if _wants_csv(request.headers.get("accept")):
        return Response(answer_csv(results, rows), media_type="text/csv; charset=utf-8")
    failed = sum(1 for r in results if not r["ok"])
    return JSONBytes({"request_id": rid, "count": len(results), "failed": failed, "results": results})
