"""The request guard, a pure ASGI middleware around the whole app.

It gives every request an id, checks what can be checked before parsing (content type, declared and actual body size,
UTF-8), times the request, counts it, logs one JSON line without any request text, and turns an unexpected exception
into the error shape (logged by type only).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import ApiError, error_response
from serving.metrics import Metrics

access_log = logging.getLogger("imr.serving.access")
error_log = logging.getLogger("imr.serving.errors")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PAGE_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
COMMON_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
PAGE_HEADERS = [(b"content-security-policy", PAGE_CSP.encode()), (b"x-frame-options", b"DENY")]
API_HEADERS = [(b"cache-control", b"no-store")]
JSON_TYPES = ("application/json",)
TEXT_TYPES = ("text/plain", "text/csv")


@dataclass(frozen=True, slots=True)
class BodyRule:
    """What a POST route accepts: media types and the largest body."""

    content_types: tuple[str, ...]
    max_bytes: int
    check_utf8: bool = True  # JSON and text bodies must be UTF-8 (off where a parser knows other encodings)


def media_type(headers: Mapping[str, str] | list[tuple[bytes, bytes]]) -> str | None:
    """The media type of a Content-Type header, lower case, without parameters."""
    raw: str | None = None
    if isinstance(headers, list):
        for key, value in headers:
            if key == b"content-type":
                raw = value.decode("latin-1")
                break
    else:
        raw = headers.get("content-type")
    if raw is None:
        return None
    return raw.split(";", 1)[0].strip().lower() or None


def is_json(media: str | None) -> bool:
    return media is not None and (media in JSON_TYPES or media.endswith("+json"))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _route_name(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


async def _read_body(scope: Scope, receive: Receive, rule: BodyRule) -> bytes:
    media = media_type(scope["headers"])
    if media is None:
        raise ApiError.one(415, "Content-Type", f"is required (accepted: {', '.join(rule.content_types)})")
    if media not in rule.content_types and not (is_json(media) and "application/json" in rule.content_types):
        raise ApiError.one(415, "Content-Type", f"must be one of: {', '.join(rule.content_types)}")
    declared = _header(scope, b"content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError.one(400, "Content-Length", "is not a number") from None
        if size > rule.max_bytes:
            raise ApiError.one(413, "body", f"is larger than {rule.max_bytes} bytes")
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError.one(400, "body", "the client disconnected before sending it all")
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > rule.max_bytes:
            raise ApiError.one(413, "body", f"is larger than {rule.max_bytes} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if rule.check_utf8 and (is_json(media) or media in TEXT_TYPES):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError.one(400, "body", f"is not valid UTF-8 (at byte {exc.start})") from None
    return body


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def key_digest(key: str) -> bytes:
    """SHA-256 of a key: comparing digests takes the same time whatever the lengths."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def unauthorized() -> ApiError:
    """A new 401 error for every refusal.

    Never one shared instance: each ``raise`` of the same exception object appends the raising frames to its
    ``__traceback__``, which then holds every refused request's frames forever (10 kB each: 2 GB in 30 s of wrong
    keys, found by ``benchmarks/soak.py``).
    """
    return ApiError.one(401, "X-API-Key", "missing or wrong API key", headers={"WWW-Authenticate": "X-API-Key"})


def admin_off() -> ApiError:
    """The server has a key but no admin key: the admin routes are off (the scoring key never opens them)."""
    return ApiError.one(403, "X-API-Key", "admin routes are off on this server (set IMR_ADMIN_KEY)")


class RequestGuard:
    """See the module docstring. ``rules`` maps a POST path to what it accepts.

    Keys (``X-API-Key``, compared in constant time): with ``api_key`` set, every /v1 path needs it, except
    ``/v1/admin/*``, which needs ``admin_key`` (and is off without one); ``/metrics`` needs either key unless
    ``metrics_public``; ``/readyz`` answers everyone but shows its details only with a key (``state["key_ok"]``).
    """

    def __init__(
        self,
        app: ASGIApp,
        rules: Mapping[str, BodyRule],
        metrics: Metrics,
        api_key: SecretStr | None = None,
        admin_key: SecretStr | None = None,
        metrics_public: bool = False,
    ) -> None:
        self.app = app
        self.rules = dict(rules)
        self.metrics = metrics
        self._key_digest = key_digest(api_key.get_secret_value()) if api_key is not None else None
        self._admin_digest = key_digest(admin_key.get_secret_value()) if admin_key is not None else None
        self.metrics_public = metrics_public

    def _matches(self, scope: Scope, digest: bytes | None) -> bool:
        given = _header(scope, b"x-api-key") or ""
        return digest is not None and secrets.compare_digest(key_digest(given), digest)

    def _check_key(self, scope: Scope, path: str) -> None:
        """The key a path needs when the server has one (see the class docstring)."""
        if path.startswith("/v1/admin/"):
            if self._admin_digest is None:
                raise unauthorized() if not self._matches(scope, self._key_digest) else admin_off()
            if not self._matches(scope, self._admin_digest):
                raise unauthorized()
            return
        if path.startswith("/v1/"):
            if not self._matches(scope, self._key_digest):
                raise unauthorized()
            return
        if path == "/metrics" and not self.metrics_public and not self._any_key(scope):
            raise unauthorized()

    def _any_key(self, scope: Scope) -> bool:
        # Both digests are always compared: the time taken does not tell which key (if any) was close.
        scoring = self._matches(scope, self._key_digest)
        admin = self._matches(scope, self._admin_digest)
        return scoring or admin

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        """The checks that need no parsing (key, body type and size), then the app; a refusal answers at once."""
        path: str = scope["path"]
        rule = self.rules.get(path) if scope["method"] == "POST" else None
        try:
            if self._key_digest is not None:
                self._check_key(scope, path)
                if path == "/readyz":
                    scope["state"]["key_ok"] = self._any_key(scope)
            if rule is not None:
                receive = _replay(await _read_body(scope, receive, rule), receive)
        except ApiError as exc:
            response = error_response(exc.status_code, exc.errors, request_id, exc.headers)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _record(self, scope: Scope, status: int, elapsed: float, request_id: str) -> None:
        """Count and log the request: one JSON line, without any request text."""
        route = _route_name(scope)
        if route == "unmatched" and scope["path"] in self.rules:
            route = scope["path"]
        self.metrics.observe(scope["method"], route, status, elapsed)
        access_log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "status": status,
                "latency_ms": round(elapsed * 1000.0, 3),
                "model_version": scope["state"].get("model_version"),
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope["path"]
        extra = [(b"x-request-id", request_id.encode("latin-1")), *COMMON_HEADERS]
        if path in ("/", "/docs") or path.startswith("/page/"):
            extra += PAGE_HEADERS
        elif path.startswith("/v1/"):
            extra += API_HEADERS
        status = 500
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            await self._guarded(scope, receive, send_wrapper, request_id)
        except Exception as exc:  # never a traceback with a message, never a bare 500
            error_log.error(
                "unhandled error",
                extra={"request_id": request_id, "route": _route_name(scope), "exc_type": type(exc).__name__},
                exc_info=True,
            )
            if not started:
                response = error_response(500, [{"field": "server", "reason": "internal error"}], request_id)
                await response(scope, receive, send_wrapper)
        finally:
            self._record(scope, status, time.perf_counter() - start, request_id)
