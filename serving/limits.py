"""Cost-based limits on the heavy routes, a pure ASGI middleware keyed by path.

Bytes are a poor measure of work: a 1.8 MB batch of 1,000 cases x 21 items took 25 s and answered 156 MB, and a few
such requests held light ones for up to a minute. So, per worker:

* at most ``heavy_concurrency`` heavy requests (batches, letters, PDF reports) run at once; one more is refused at
  once with 503 and ``Retry-After`` rather than queued behind them, so a single pre-screen never waits for a batch;
* a batch holds at most ``max_batch_items`` disputed items over all its cases (JSON) or rows (CSV, one item a row),
  else 413 naming the limit, before any of it is validated or scored.

Items per request and per letter are checked where they are known (``serving.scoring.check_case``, the letter
parser). The middleware sits inside ``RequestGuard``: keys and body size are checked before a slot is taken, and the
body arrives already read. Keyed by path, it does not depend on where the route handlers live.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import error_response
from serving.middleware import media_type
from serving.settings import Settings

BATCH_PATH = "/v1/prescreen/batch"
HEAVY_PATHS = frozenset({BATCH_PATH, "/v1/letters", "/v1/report"})
#: Bodies up to this size are counted on the event loop; larger ones in a thread (a 64 MB array takes ~0.2 s).
INLINE_COUNT_BYTES = 256_000


@dataclass(frozen=True, slots=True)
class CostLimits:
    """The limits the middleware enforces (from ``Settings``: ``IMR_HEAVY_CONCURRENCY`` ...)."""

    heavy_concurrency: int
    max_batch_items: int
    retry_after_s: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> CostLimits:
        return cls(settings.heavy_concurrency, settings.max_batch_items, settings.retry_after_s)


def json_batch_items(body: bytes) -> int | None:
    """Disputed items over all cases of a JSON batch; None when it is not an array (the route says what is wrong)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:  # orjson refuses lone surrogates, which the route reports by field: count them all the same
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None
    if not isinstance(data, list):
        return None
    return sum(len(case["items"]) for case in data if isinstance(case, dict) and isinstance(case.get("items"), list))


def csv_rows(text: str, stop_after: int) -> int:
    """Data rows of a CSV (its header and blank lines aside), counted up to ``stop_after`` + 1 at most."""
    rows = -1
    try:
        for row in csv.reader(io.StringIO(text)):
            if any(cell.strip() for cell in row):
                rows += 1
                if rows > stop_after:
                    break
    except csv.Error:
        return 0  # malformed: the route's own CSV reader refuses it with the line
    return max(rows, 0)


async def _single(body: bytes) -> AsyncGenerator[bytes, None]:
    yield body


async def _multipart_csv(scope: Scope, body: bytes) -> str | None:
    """The text of the ``file`` part of a multipart body, or None when there is none readable."""
    parser = MultiPartParser(Headers(scope=scope), _single(body), max_files=2, max_fields=20)
    try:
        form = await parser.parse()
    except MultiPartException:
        return None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            return None
        data = await upload.read()
    finally:
        await form.close()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


async def batch_items(scope: Scope, body: bytes, limit: int) -> int:
    """Items of a batch body as the route will read it (0 when it cannot tell; the route then refuses the body)."""
    media = media_type(scope["headers"])
    inline = len(body) <= INLINE_COUNT_BYTES
    if media == "text/csv" or media == "multipart/form-data":
        text = body.decode("utf-8-sig", "replace") if media == "text/csv" else await _multipart_csv(scope, body)
        if text is None:
            return 0
        return csv_rows(text, limit) if inline else await run_in_threadpool(csv_rows, text, limit)
    count = json_batch_items(body) if inline else await run_in_threadpool(json_batch_items, body)
    return count or 0


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _request_id(scope: Scope) -> str | None:
    request_id = scope.get("state", {}).get("request_id")
    return str(request_id) if request_id else None


class CostGuard:
    """See the module docstring. The slot count lives on the event loop (one per worker): no lock is needed."""

    def __init__(self, app: ASGIApp, limits: CostLimits, heavy_paths: frozenset[str] = HEAVY_PATHS) -> None:
        self.app = app
        self.limits = limits
        self.heavy_paths = heavy_paths
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.heavy_paths:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limits.heavy_concurrency:
            await self._busy(scope, receive, send)
            return
        self.in_flight += 1
        try:
            if scope["path"] == BATCH_PATH:
                body = await _read_body(receive)
                items = await batch_items(scope, body, self.limits.max_batch_items)
                if items > self.limits.max_batch_items:
                    await self._too_many_items(scope, receive, send)
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _busy(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.heavy_concurrency
        reason = (
            f"the server is already running {limit} batch, letter or report request(s), its limit "
            "(IMR_HEAVY_CONCURRENCY): retry after the Retry-After seconds"
        )
        headers = {"Retry-After": str(self.limits.retry_after_s)}
        await error_response(503, [{"field": "request", "reason": reason}], _request_id(scope), headers)(
            scope, receive, send
        )

    async def _too_many_items(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.max_batch_items
        reason = (  # "more than": CSV rows are counted only up to the limit
            f"holds more than {limit} disputed items over all its cases or rows, the most scored in one batch "
            "(IMR_MAX_BATCH_ITEMS): split it into smaller batches"
        )
        await error_response(413, [{"field": "body", "reason": reason}], _request_id(scope))(scope, receive, send)
