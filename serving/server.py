"""How uvicorn runs the app: a deadline on request headers, a connection cap, and no token in the access log.

uvicorn times out idle kept-alive connections, but not a connection whose request line and headers never finish:
300 such connections (slowloris) stayed open indefinitely. The protocol here closes a connection whose headers are
not complete `header_timeout_s` after it opened, or after the first byte of its next request. The request body has
its own deadline in the guard middleware (serving/security.py).
"""

import asyncio
import logging
import re
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from serving.config import ServingSettings

logger = logging.getLogger(__name__)

TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


def with_header_deadline(base: type[asyncio.Protocol], timeout_s: float) -> type[asyncio.Protocol]:
    """`base` (uvicorn's h11 or httptools protocol) with a deadline on each request's headers.

    Only attributes both of uvicorn's HTTP/1.1 protocols share are used: `cycle` (the request being answered,
    None before the first one), its `response_complete`, `transport` and `loop`.
    """

    class HeaderDeadlineProtocol(base):  # type: ignore[valid-type,misc]
        header_timeout_s = timeout_s

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self._header_timer: asyncio.TimerHandle | None = None
            super().connection_made(transport)
            self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._awaiting_headers():
                # The first bytes of a next request on a kept-alive connection (or a body sent after the answer):
                # the deadline runs from here and is not moved by more bytes.
                self._arm_header_timer()
            else:
                self._disarm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_timer()
            super().connection_lost(exc)

        def _awaiting_headers(self) -> bool:
            cycle = getattr(self, "cycle", None)
            return cycle is None or bool(cycle.response_complete)

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
            logger.debug("Closed a connection whose request headers did not arrive within %s s", self.header_timeout_s)
            self.transport.write(TIMEOUT_RESPONSE)
            self.transport.close()

    HeaderDeadlineProtocol.__name__ = f"HeaderDeadline{base.__name__}"
    return HeaderDeadlineProtocol


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
    """uvicorn's settings for the service: one process, the limits and deadlines of `serving`."""
    install_log_redaction()
    return uvicorn.Config(
        app,
        host=serving.host,
        port=serving.port,
        workers=1,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        http=with_header_deadline(AutoHTTPProtocol, serving.header_timeout_s),
        limit_concurrency=serving.limit_concurrency,
        timeout_keep_alive=serving.timeout_keep_alive_s,
    )
