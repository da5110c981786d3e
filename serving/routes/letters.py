"""``POST /v1/letters``: parse a determination letter and pre-screen its items beside the letter's outcomes."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from features.schema import Item
from serving.bodies import upload
from serving.deps import (
    BODY_RESPONSES,
    V1_RESPONSES,
    ExplainQuery,
    LetterParser,
    LetterParserDep,
    LetterRejected,
    ServicesDep,
    champion_for,
    note_model,
    request_id,
)
from serving.errors import ApiError, JSONBytes
from serving.middleware import media_type
from serving.schemas import LetterOut
from serving.scoring import Avoid, model_ref, record_from, score_records

log = logging.getLogger("imr.serving")
router = APIRouter(prefix="/v1", tags=["letters"], responses={**V1_RESPONSES, **BODY_RESPONSES})

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


#: Longest upload file name given back in an answer (characters).
MAX_FILENAME = 255


def shown_filename(filename: str | None) -> str | None:
    """The upload's own file name as the answer gives it back: the last path part, printable, at most
    :data:`MAX_FILENAME` characters; None when there is none worth showing."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF)
    return name[:MAX_FILENAME] or None


async def _letter_bytes(request: Request, max_upload_bytes: int) -> tuple[bytes, str, str | None]:
    """The letter's bytes, the name errors and the parser call it by, and the upload's own file name (if any); a
    claimed PDF without a PDF header is refused."""
    media = media_type(request.headers)
    if media == "multipart/form-data":
        data, filename, media = await upload(request, max_upload_bytes)
    else:
        data, filename = await request.body(), None
    is_pdf = b"%PDF-" in data[:1024]  # as the letter parser decides
    claimed_pdf = media == "application/pdf" or (filename or "").lower().endswith(".pdf")
    # Errors, logs and the parser never see the upload's own name (it can carry a patient's name); only the
    # answer, which goes back to whoever sent it, gives it back.
    source = "letter.pdf" if is_pdf else "letter.txt"
    if not data.strip():
        raise ApiError.one(422, "file", f"{source}: is empty")
    if claimed_pdf and not is_pdf:
        raise ApiError.one(422, "file", f"{source}: is not a PDF (no %PDF header)")
    return data, source, shown_filename(filename)


async def _parse(parse_letter: LetterParser, data: bytes, source: str, rid: str) -> list[Item]:
    """The letter's items; every way a letter cannot be read is a 422 naming the file."""
    try:
        items = await run_in_threadpool(parse_letter, data, source)
    except LetterRejected as exc:
        raise ApiError.one(422, "file", str(exc)[:300]) from None
    except ApiError:
        raise
    except Exception as exc:  # a parser crash on hostile input is still the input's fault: 4xx, not 5xx
        log.warning("letter parser failed", extra={"exc_type": type(exc).__name__, "request_id": rid})
        raise ApiError.one(422, "file", f"{source}: could not be read as a determination letter") from None
    if not items:
        raise ApiError.one(422, "file", f"{source}: no disputed items found")
    return items


def _beside(items: list[Item], scored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item's prediction beside the letter's actual outcome."""
    return [
        {
            "item_text": item.item_text,
            "actual": item.determination,
            "prediction": result,
            "agrees": None if result["label"] is None else result["label"] == item.determination,
        }
        for item, result in zip(items, scored, strict=True)
    ]


@router.post("/letters", response_model=LetterOut, openapi_extra=LETTER_OPENAPI)
async def letters(
    request: Request, services: ServicesDep, parse_letter: LetterParserDep, explain: ExplainQuery = True
) -> Response:
    """Parse a determination letter (PDF or text) and pre-screen its items, with the letter's outcome beside each.

    Explanations as in ``/v1/prescreen``; the similar determinations never include the letter's own case, nor
    decisions made on or after the letter's decision date."""
    data, source, filename = await _letter_bytes(request, services.settings.max_upload_bytes)
    items = await _parse(parse_letter, data, source, request_id(request))
    first = items[0]
    champion = champion_for(services.store, first.jurisdiction)
    note_model(request, champion.ref)
    records = [record_from(item.model_dump()) for item in items]
    avoid = Avoid(case_id=first.case_id, before=first.decision_date.isoformat() if first.decision_date else None)
    scored = await run_in_threadpool(score_records, champion, records, services.rules, explain, avoid)
    services.metrics.count_predictions(first.jurisdiction, (r["band"] for r in scored))
    return JSONBytes(
        {
            "request_id": request_id(request),
            "source": filename or source,
            "case_id": first.case_id,
            "jurisdiction": first.jurisdiction,
            "model": model_ref(champion),
            "items": _beside(items, scored),
        }
    )
