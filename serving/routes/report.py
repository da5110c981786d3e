"""``POST /v1/report``: the case scored as ``/v1/prescreen`` scores it, answered as a one-page PDF."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from serving.deps import BODY_RESPONSES, V1_RESPONSES, ServicesDep, champion_for, note_model, request_id
from serving.errors import ApiError
from serving.report import render_report, report_filename
from serving.schemas import PrescreenIn
from serving.scoring import case_answer, case_records, check_case, model_ref, score_records

router = APIRouter(prefix="/v1", tags=["prescreen"], responses={**V1_RESPONSES, **BODY_RESPONSES})

PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "The report, one page per usual case"}
}


@router.post("/report", response_class=Response, responses=PDF_RESPONSE)
async def report(case: PrescreenIn, request: Request, services: ServicesDep) -> Response:
    """The same body as ``/v1/prescreen``, answered as a PDF report to keep with the case: per item the estimate
    with its interval, prior and base rate, band, checklist, ranked fixes and similar past determinations, and the
    claim number, the IMR filing deadline, the model and the date. Bad input gets the same 422 as
    ``/v1/prescreen``."""
    errors = check_case(case, services.rules)
    if errors:
        raise ApiError(422, errors)
    champion = champion_for(services.store, case.jurisdiction)
    note_model(request, champion.ref)
    items = await run_in_threadpool(score_records, champion, case_records(case), services.rules, True)
    services.metrics.count_predictions(case.jurisdiction, (i["band"] for i in items))
    answer = {"request_id": request_id(request), "model": model_ref(champion), "items": items, **case_answer(case)}
    texts = [item.item_text for item in case.items]
    pdf = await run_in_threadpool(render_report, answer, texts, case.jurisdiction)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{report_filename(answer)}"'},
    )
