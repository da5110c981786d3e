"""Reading request bodies the routes share: the ``file`` part of a multipart upload and a JSON array of cases.

A body that cannot be read at all (invalid multipart, JSON or UTF-8) is a 400; a readable body that does not hold
what the route needs is a 422 naming the field.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from serving.errors import ApiError, ErrorItem, validation_errors
from serving.schemas import INVALID_TEXT_REASON, PrescreenIn, valid_code_points


async def upload(request: Request, max_bytes: int) -> tuple[bytes, str | None, str | None]:
    """The bytes, file name and media type of the ``file`` part of a multipart body."""
    try:
        form = await request.form(max_files=1, max_fields=5, max_part_size=max_bytes)
    except MultiPartException:
        raise ApiError.one(400, "body", "is not valid multipart/form-data") from None
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise ApiError.one(422, "file", "is required (a multipart part named 'file')")
        data = await part.read()
        return data, part.filename, part.content_type
    finally:
        await form.close()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads_lenient(body: bytes) -> Any:
    """orjson refuses a lone surrogate ("\\ud800") as invalid JSON; the standard parser reads it, so that the row
    validation can name the field that holds it (NaN and Infinity stay refused, as orjson refuses them)."""
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise ApiError.one(400, "body", "is not valid JSON") from None


def invalid_text(data: Any, path: str = "") -> list[ErrorItem]:
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
            found += invalid_text(value, f"{path}[{index}]")
    elif isinstance(data, dict):
        for key, value in data.items():
            name = key if not invalid_text(key) else "<unknown field>"
            where = f"{path}.{name}" if path else name
            found += [{"field": where, "reason": INVALID_TEXT_REASON}] if name != key else invalid_text(value, where)
    return found


def load_json(body: bytes) -> Any:
    """The parsed body; a string that is not valid Unicode is refused for the whole body, naming the fields."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        data = loads_lenient(body)
    invalid = invalid_text(data)
    if invalid:  # a fault of the body, like invalid UTF-8, not of one row: refuse it all, naming the fields
        raise ApiError(422, invalid[:20])
    return data


def parse_batch_json(body: bytes, max_batch: int) -> list[PrescreenIn | list[ErrorItem]]:
    """The cases of a JSON batch body, each validated or replaced by its errors."""
    data = load_json(body)
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
