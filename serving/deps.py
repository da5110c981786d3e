"""What the route modules share: the app's services, the letter parser, the declared error responses and a few
request helpers. Routes get these through FastAPI dependencies so that tests can override them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from features.schema import Item
from serving.champions import Champion, ChampionStore
from serving.errors import ApiError
from serving.letter_pool import (
    LetterBusy,
    LetterFailed,
    LetterPool,
    LetterRefused,
    LetterTimeout,
    check_letter_items,
)
from serving.metrics import Metrics
from serving.schemas import ErrorResponse
from serving.scoring import Rules
from serving.settings import Settings

_ERROR_TEXTS: dict[int, str] = {
    400: "Unreadable body (invalid UTF-8, JSON or multipart)",
    401: "Missing or wrong X-API-Key",
    403: "Admin routes are off on this server (no IMR_ADMIN_KEY)",
    404: "No such plot for this champion",
    413: "Body too large",
    415: "Wrong Content-Type",
    422: "Invalid request: see errors[].field and errors[].reason",
    503: "No model loaded for the jurisdiction yet",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries for these status codes, in the one error shape."""
    return {code: {"model": ErrorResponse, "description": _ERROR_TEXTS[code]} for code in codes}


#: What every /v1 route can answer; body routes add 400, 413, 415 and 422 (a GET has no body to refuse).
V1_RESPONSES = error_responses(401, 403, 503)
BODY_RESPONSES = error_responses(400, 413, 415, 422)

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


def _parse_in_pool(pool: LetterPool, data: bytes, source: str) -> list[Item]:
    """One letter parsed in a worker process; its refusals become :class:`LetterRejected`, a full pool a 503."""
    try:
        return pool.parse(data, source)
    except LetterRefused as exc:
        raise LetterRejected(str(exc)) from None
    except LetterTimeout as exc:
        raise LetterRejected(f"{source}: {exc}") from None
    except LetterBusy:
        raise ApiError.one(503, "file", "every letter worker is busy: retry shortly", {"Retry-After": "1"}) from None
    except LetterFailed as exc:
        raise RuntimeError(f"letter worker failed ({exc})") from None


async def get_letter_parser(request: Request) -> LetterParser:
    """``features.letters.parse_letter_bytes`` in the app's letter worker processes (with their time limit), or in
    this process when there are none; a refusal becomes :class:`LetterRejected`, a full pool a 503."""
    try:
        from features import letters
    except ImportError:
        raise ApiError.one(503, "file", "letter parsing is not available on this server") from None
    pool: LetterPool | None = getattr(request.app.state, "letter_pool", None)
    max_items = request.app.state.services.settings.max_letter_items  # the pool checks its own

    def parse(data: bytes, source: str) -> list[Item]:
        if pool is not None:
            return _parse_in_pool(pool, data, source)
        try:
            return check_letter_items(list(letters.parse_letter_bytes(data, source)), source, max_items)
        except (letters.LetterError, LetterRefused) as exc:
            raise LetterRejected(str(exc)) from None

    return parse


LetterParserDep = Annotated[LetterParser, Depends(get_letter_parser)]


def request_id(request: Request) -> str:
    """The id the middleware gave this request ("" outside it)."""
    return str(request.scope.get("state", {}).get("request_id", ""))


def note_model(request: Request, ref: str) -> None:
    """Record the model version(s) that answered, for the access log and the response header."""
    request.scope.setdefault("state", {})["model_version"] = ref


def champion_for(store: ChampionStore, jurisdiction: str) -> Champion:
    """The champion for a jurisdiction, or a 503 that says none is loaded yet."""
    champion = store.get(jurisdiction)
    if champion is None:
        raise ApiError.one(503, "jurisdiction", f"no model is loaded for {jurisdiction} yet")
    return champion
