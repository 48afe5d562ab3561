"""How uvicorn runs the app: a deadline on request headers, separate caps on connections and requests, and no token
in the access log.

uvicorn times out idle kept-alive connections, but not a connection whose request line and headers never finish:
300 such connections (slowloris) stayed open indefinitely. The protocol here closes a connection whose headers are
not complete `header_timeout_s` after it opened, or after the first byte of its next request. The request body has
its own deadline in the guard middleware (serving/security.py).

uvicorn's own `limit_concurrency` counts open connections, so clients that only trickle headers (and reconnect when
cut off) filled it and every real request got 503. Here connections without a request being answered (just opened,
still sending headers, idle between kept-alive requests) count against `max_pending_connections` only, and the one
waiting longest is closed when a new one would pass it; `limit_concurrency` counts requests whose headers are
complete (`RequestCap`).
"""

import asyncio
import json
import logging
import re
import resource
import time
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from serving.config import ServingSettings
from serving.errors import error_body

logger = logging.getLogger(__name__)

TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
#: Open files the process needs beside its connections: the stores, the database, logs, the LLM client.
SPARE_FILES = 256
#: At most one warning this often about requests refused at the cap, with how many.
WARN_EVERY_S = 10.0


def with_header_deadline(
    base: type[asyncio.Protocol], timeout_s: float, max_pending: int | None = None
) -> type[asyncio.Protocol]:
    """`base` (uvicorn's h11 or httptools protocol) with a deadline on each request's headers, and at most
    `max_pending` connections (None: no cap) that have no request being answered.

    Only attributes both of uvicorn's HTTP/1.1 protocols share are used: `cycle` (the request being answered,
    None before the first one), its `response_complete`, `on_response_complete`, `transport` and `loop`.
    """

    class HeaderDeadlineProtocol(base):  # type: ignore[valid-type,misc]
        header_timeout_s = timeout_s
        max_pending_connections = max_pending
        #: This server's connections with no request being answered, the one waiting longest first.
        pending: dict["HeaderDeadlineProtocol", None] = {}

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self._header_timer: asyncio.TimerHandle | None = None
            super().connection_made(transport)
            self._arm_header_timer()
            self._add_pending()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._awaiting_headers():
                # The first bytes of a next request on a kept-alive connection (or a body sent after the answer):
                # the deadline runs from here and is not moved by more bytes.
                self._arm_header_timer()
            else:
                self._disarm_header_timer()
                self.pending.pop(self, None)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self._awaiting_headers():
                self._add_pending()  # kept alive, waiting for its next request

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_timer()
            self.pending.pop(self, None)
            super().connection_lost(exc)

        def _awaiting_headers(self) -> bool:
            cycle = getattr(self, "cycle", None)
            return cycle is None or bool(cycle.response_complete)

        def _add_pending(self) -> None:
            self.pending[self] = None
            if self.max_pending_connections is None:
                return
            while len(self.pending) > self.max_pending_connections:
                oldest = next(iter(self.pending))
                del self.pending[oldest]
                oldest._close_pending("more connections are waiting for their request than the cap allows")

        def _arm_header_timer(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

        def _disarm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or not self._awaiting_headers():
                return
            self._close_pending(f"its request headers did not arrive within {self.header_timeout_s} s", timed_out=True)

        def _close_pending(self, why: str, *, timed_out: bool = False) -> None:
            """Close this connection, which has no request being answered: with 408 when a request was begun (or
            the connection is new), silently when it is idle between kept-alive requests."""
            if self.transport.is_closing():
                return
            logger.debug("Closed a connection: %s", why)
            if timed_out or self._header_timer is not None:
                self.transport.write(TIMEOUT_RESPONSE)
            self._disarm_header_timer()
            self.transport.close()

    HeaderDeadlineProtocol.__name__ = f"HeaderDeadline{base.__name__}"
    return HeaderDeadlineProtocol


class RequestCap:
    """At most `limit` HTTP requests being answered at once; one more gets 503 with Retry-After.

    It counts requests whose headers are complete (the app is called only then), never connections: a client that
    opens connections and sends nothing, or sends its headers slowly, takes nothing from it.
    """

    def __init__(self, app: ASGIApp, *, limit: int, retry_after_s: int) -> None:
        self.app, self.limit, self.retry_after_s = app, limit, retry_after_s
        self.active = 0
        self._refused = 0
        self._warned = -WARN_EVERY_S

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            self._note_refused()
            await self._busy(send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1

    def _note_refused(self) -> None:
        self._refused += 1
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY_S:
            logger.warning(
                "Answered 503 to %d requests: %d requests were being answered, the cap "
                "(ASSIST_SERVE__LIMIT_CONCURRENCY); raise it if the machine has room, or add a replica",
                self._refused, self.active,
            )
            self._warned, self._refused = now, 0

    async def _busy(self, send: Send) -> None:
        body = json.dumps(error_body(503, f"The service is answering as many requests as it can: try again in "
                                          f"{self.retry_after_s} s.")).encode()
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(self.retry_after_s).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})


def raise_open_files_limit(needed: int) -> int:
    """Raise this process's soft limit on open files to `needed` where the hard limit allows: the limit after.

    Each connection is a file; at the limit the server stops accepting anyone, which is what the caps are for.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        logger.warning(
            "The process may open %d files, and the connection caps need %d: raise its limit (systemd LimitNOFILE=, "
            "ulimit -n) or lower ASSIST_SERVE__MAX_PENDING_CONNECTIONS / ASSIST_SERVE__LIMIT_CONCURRENCY",
            target, needed,
        )
    return target


#: Query parameters whose value is a secret, whatever it looks like.
SECRET_PARAMS = ("token", "access_token", "api_key", "apikey", "key", "auth", "authorization", "bearer")
_SECRET_PARAM = re.compile(rf"(?i)([?&](?:{'|'.join(SECRET_PARAMS)})=)[^&#\s]*")
#: A token of this service (fa_...) anywhere else in a URL.
_TOKEN_VALUE = re.compile(r"fa_[A-Za-z0-9_\-%]+")
REDACTED = "[redacted]"


def redact_url(url: str) -> str:
    """`url` with secret query values and anything shaped like a token replaced by [redacted]."""
    return _TOKEN_VALUE.sub(REDACTED, _SECRET_PARAM.sub(rf"\g<1>{REDACTED}", url))


class RedactSecretsFilter(logging.Filter):
    """Rewrites uvicorn's access-log lines so that no token in a URL reaches the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_url(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_url(record.msg)
        return True


def install_log_redaction() -> None:
    """Add the filter to uvicorn's access logger once; uvicorn's own logging setup keeps a logger's filters."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSecretsFilter) for f in access.filters):
        access.addFilter(RedactSecretsFilter())


def server_config(app: Any, serving: ServingSettings, *, log_level: str = "info") -> uvicorn.Config:
    """uvicorn's settings for the service: one process, the limits and deadlines of `serving`.

    uvicorn's own `limit_concurrency` stays off: it counts open connections, including those still sending their
    headers, so slow clients could hold every request at 503. `RequestCap` and the protocol's cap on pending
    connections replace it.
    """
    install_log_redaction()
    raise_open_files_limit(serving.limit_concurrency + serving.max_pending_connections + SPARE_FILES)
    return uvicorn.Config(
        RequestCap(app, limit=serving.limit_concurrency, retry_after_s=serving.busy_retry_after_s),
        host=serving.host,
        port=serving.port,
        workers=1,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        http=with_header_deadline(AutoHTTPProtocol, serving.header_timeout_s, serving.max_pending_connections),
        limit_concurrency=None,
        timeout_keep_alive=serving.timeout_keep_alive_s,
    )
