"""One error shape for every 4xx: ``{"errors": [{"field": ..., "reason": ...}], "request_id": ...}``.

Reasons never contain the submitted values: requests carry health information.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

import orjson
from starlette.responses import Response


class ErrorItem(TypedDict):
    field: str
    reason: str


class ApiError(Exception):
    """A request the API refuses, with the status and the problems to report."""

    def __init__(self, status_code: int, errors: Sequence[ErrorItem], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status_code}: {len(errors)} error(s)")
        self.status_code = status_code
        self.errors = list(errors)
        self.headers = dict(headers or {})

    @classmethod
    def one(cls, status_code: int, field: str, reason: str, headers: Mapping[str, str] | None = None) -> ApiError:
        """An error with a single problem."""
        return cls(status_code, [{"field": field, "reason": reason}], headers)


class JSONBytes(Response):
    """A JSON response serialised with orjson (fast, and no FastAPI re-validation of the content)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def error_response(
    status_code: int, errors: Sequence[ErrorItem], request_id: str | None, headers: Mapping[str, str] | None = None
) -> JSONBytes:
    """The error shape as a response."""
    return JSONBytes({"errors": list(errors), "request_id": request_id}, status_code=status_code, headers=headers)


def field_path(loc: Iterable[Any]) -> str:
    """``("body", "items", 0, "item_text")`` -> ``items[0].item_text``."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] == "body":
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


_FRIENDLY: dict[str, str] = {
    "json_invalid": "is not valid JSON",
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "string_type": "must be a string",
    "int_parsing": "must be an integer",
    "too_short": "must not be empty",
}


_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def is_field_name(part: Any) -> bool:
    """Whether an unknown JSON key looks like a mistyped field name (``item_txt``), not text (``John Smith``)."""
    return isinstance(part, str) and _FIELD_NAME.match(part) is not None


def validation_errors(errors: Iterable[Mapping[str, Any]]) -> list[ErrorItem]:
    """Pydantic/FastAPI validation errors as error items, without the offending values (``input`` is dropped)."""
    out: list[ErrorItem] = []
    for error in errors:
        loc = tuple(error.get("loc") or ())
        kind = str(error.get("type") or "")
        if kind == "json_invalid":
            loc = loc[:1]
        if kind == "extra_forbidden" and loc and not is_field_name(loc[-1]):
            loc = (*loc[:-1], "<unknown field>")  # a key is request text too: repeat it only if it looks like a name
        reason = _FRIENDLY.get(kind) or str(error.get("msg") or "is invalid")
        if kind == "too_short" and loc and loc[-1] == "items":
            reason = "must list at least one item"
        if kind in ("literal_error", "enum"):
            expected = (error.get("ctx") or {}).get("expected")
            reason = f"must be one of {expected}" if expected else "is not an allowed value"
        if kind.startswith("value_error"):
            reason = reason.removeprefix("Value error, ")
        out.append({"field": field_path(loc), "reason": reason})
    return out
