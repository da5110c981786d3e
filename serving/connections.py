"""Connection limits uvicorn's httptools protocol lacks, in a subclass of it (``http=`` of the uvicorn config).

uvicorn 0.54 with httptools has a keep-alive timeout and nothing else: no limit on the size or number of headers
(httptools buffers an endless header in memory), no deadline for a request's head or body (a connection that never
sends a byte stays open for ever), and no cap on open connections. This protocol adds, per connection:

* **head deadline**: the request line and headers must arrive within ``header_timeout_s`` of the connection opening
  (or of the first byte of a later request on a kept-alive connection); otherwise 408 (or a silent close when
  nothing came at all);
* **head size and count**: more than ``max_header_bytes`` before the head ends, or more than ``max_headers``
  header fields, gets 431 and a close, before anything is parsed further;
* **body deadline**: the body must arrive within ``body_timeout_s`` of the head (a slow sender gets 408 and a close);
* **open connections**: beyond ``max_connections`` a new connection gets 503 with ``Retry-After`` at once, before
  it is read.

Idle kept-alive connections are closed by uvicorn's own ``timeout_keep_alive``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

log = logging.getLogger("imr.serving.connections")

#: The attribute of the uvicorn ``Config`` that carries the limits (it travels to spawned workers with the config).
LIMITS_ATTRIBUTE = "imr_connection_limits"


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """See the module docstring; ``serving.settings.Settings`` holds the configured values."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    max_header_bytes: int = 32_768
    max_headers: int = 100
    max_connections: int = 1000


def _response(status: int, reason: str, text: str, extra: bytes = b"") -> bytes:
    body = orjson.dumps({"errors": [{"field": "connection", "reason": text}], "request_id": None})
    return (
        (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n"
        ).encode()
        + extra
        + b"\r\n"
        + body
    )


OVERLOADED = _response(503, "Service Unavailable", "too many open connections", b"retry-after: 1\r\n")
HEAD_TOO_LARGE = _response(431, "Request Header Fields Too Large", "request headers too large or too many")
HEAD_TIMEOUT = _response(408, "Request Timeout", "request headers not received in time")
BODY_TIMEOUT = _response(408, "Request Timeout", "request body not received in time")


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing; uvicorn then calls send_400_response, which sends the 431."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of the module docstring."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: ConnectionLimits = getattr(config, LIMITS_ATTRIBUTE, None) or ConnectionLimits()
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = True  # between requests or reading one's head: bytes count toward the head
        self._head_bytes = 0
        self._header_count = 0
        self._head_size = 0  # request target and header fields parsed so far
        self._too_large = False
        self._refused = False
        self._received = False

    # -- the connection --------------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refused = True
            self.transport = transport
            transport.write(OVERLOADED)
            transport.close()
            return
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_s, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._refused and self.flow is None:  # refused at once: uvicorn never saw it
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._received = True
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # The head is still not complete after this many bytes: it is too large (httptools would buffer it all).
        if self._in_head and self._head_bytes > self.limits.max_header_bytes and not self.transport.is_closing():
            self._refuse(HEAD_TOO_LARGE, "request head too large")

    # -- parser callbacks ------------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._header_count = 0
        self._head_size = 0
        if self._deadline is None:  # a later request on a kept-alive connection: its head has the same deadline
            self._arm(self.limits.header_timeout_s, self._head_timed_out)

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._count_head(len(name) + len(value) + 4)
        if self._header_count > self.limits.max_headers:
            self._too_large = True
            raise _HeadTooLarge
        super().on_header(name, value)

    def _count_head(self, size: int) -> None:
        # A head that arrives whole in one read is parsed before data_received can count it: count it here too.
        self._head_size += size
        if self._head_size > self.limits.max_header_bytes:
            self._too_large = True
            raise _HeadTooLarge

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        self._arm(self.limits.body_timeout_s, self._body_timed_out)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse(HEAD_TOO_LARGE, "request head too large or too many headers")
            return
        super().send_400_response(msg)

    # -- deadlines and refusals ------------------------------------------------------------------------------------

    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _refuse(self, response: bytes, why: str) -> None:
        self._disarm()
        self._refused = True
        if not self.transport.is_closing():
            if self.cycle is None or not self.cycle.response_started:
                self.transport.write(response)
            self.transport.close()
        log.info("connection refused", extra={"reason": why})

    def _head_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; its own deadlines apply
        if not self._received or not self._head_bytes:
            self._refused = True
            self.transport.close()  # never sent a byte (or idle between requests): nothing to answer
            return
        self._refuse(HEAD_TIMEOUT, "request head timed out")

    def _body_timed_out(self) -> None:
        self._deadline = None
        if self.cycle is not None and not self.cycle.more_body:
            return
        self._refuse(BODY_TIMEOUT, "request body timed out")
