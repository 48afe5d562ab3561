"""The guard in front of every route: bearer token (header only), per-token rate limit, body size and deadline,
security headers.
"""

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import error_body
from serving.metrics import Metrics
from serving.tokens import TOKEN_PREFIX, TokenStore

#: Paths anyone may fetch: the page and its files, and the probes a load balancer calls without a token.
PUBLIC_PATHS = frozenset({
    "/", "/healthz", "/readyz", "/favicon.ico", "/manifest.webmanifest",
    # The gaps page is a shell that asks /api/gaps with the caller's token; the transparency record is public.
    "/gaps", "/transparency", "/transparency.yaml", "/transparency.md",
})
PUBLIC_PREFIXES = ("/static/",)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", CSP.encode()),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def is_public(path: str) -> bool:
    """True for paths served without a token."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class RateLimiter:
    """A token bucket per token id: `burst` requests at once, then `per_minute` sustained."""

    def __init__(self, per_minute: float, burst: int):
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        level, last = self._buckets.get(key, (self.burst, now))
        level = min(self.burst, level + (now - last) * self.rate)
        if level >= 1.0:
            self._buckets[key] = (level - 1.0, now)
            return 0.0
        self._buckets[key] = (level, now)
        return (1.0 - level) / self.rate if self.rate > 0 else 60.0


#: Query parameters that would carry a token; a URL ends up in access logs, proxies' logs and browser history.
TOKEN_PARAMS = frozenset({"token", "access_token", "api_key", "apikey", "key", "auth", "authorization", "bearer"})
TOKEN_IN_URL = (
    "Send the token in the Authorization header (Authorization: Bearer <token>), never in the URL: URLs are "
    "written to logs. If this URL passed through a proxy that logs, revoke the token and create a new one."
)


def token_in_query(scope: Scope) -> bool:
    """True when the query string carries a token: a token-like parameter name, or a value shaped like ours."""
    query = scope.get("query_string", b"").decode("latin-1")
    if not query:
        return False
    return any(
        name.lower() in TOKEN_PARAMS or name.startswith(TOKEN_PREFIX) or value.startswith(TOKEN_PREFIX)
        for name, value in parse_qsl(query, keep_blank_values=True)
    )


def bearer_token(scope: Scope) -> str | None:
    """The token of an `Authorization: Bearer ...` header."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return str(token.strip())
    return None


class GuardMiddleware:
    """Pure ASGI middleware, so it also covers streamed responses and runs before the body is parsed.

    Without a valid token a protected path answers 401 and nothing else: no validation errors, no hint of
    which routes exist.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: TokenStore,
        limiter: RateLimiter,
        max_body_bytes: int,
        metrics: Metrics,
        hsts: bool = False,
        body_timeout_s: float = 30.0,
    ):
        self.app = app
        self.tokens = tokens
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.metrics = metrics
        self.headers = SECURITY_HEADERS + ([(b"strict-transport-security", b"max-age=31536000")] if hsts else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = {"status": 500}
        send = self._wrap_send(send, scope, status_holder)
        try:
            await self._guarded(scope, receive, send)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe_http(scope["path"], scope["method"], status_holder["status"], elapsed)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if token_in_query(scope):
            self.metrics.auth_failures.inc()
            await _send_error(send, 401, TOKEN_IN_URL, {"www-authenticate": "Bearer"})
            return
        if not is_public(path):
            token = bearer_token(scope)
            info = self.tokens.verify(token) if token else None
            if info is None:
                self.metrics.auth_failures.inc()
                await _send_error(send, 401, "A valid bearer token is required.", {"www-authenticate": "Bearer"})
                return
            wait = self.limiter.allow(info.token_id)
            if wait > 0:
                self.metrics.rate_limited.inc()
                retry = str(max(1, round(wait)))
                await _send_error(send, 429, f"Too many requests: try again in {retry} s.", {"retry-after": retry})
                return
            scope.setdefault("state", {})["token"] = info
        length = _content_length(scope)
        if length is not None and length > self.max_body_bytes:
            await _send_error(send, 413, f"The request body is {length} bytes: the limit is {self.max_body_bytes}.")
            return
        await self.app(scope, self._limit_receive(receive), send)

    def _limit_receive(self, receive: Receive) -> Receive:
        """Counts a body sent without Content-Length (chunked) and stops it at the limit; a body that is not
        complete `body_timeout_s` after the headers gets 408 (a client that trickles its body holds no worker).
        """
        seen = 0
        done = False
        limit = self.max_body_bytes
        timeout = self.body_timeout_s
        deadline = time.monotonic() + timeout

        async def limited() -> Message:
            nonlocal seen, done
            if done:  # after the body only http.disconnect is left to wait for, with no deadline
                return await receive()
            try:
                with anyio.fail_after(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                msg = f"The request body did not arrive within {timeout:g} s: send it whole, at once."
                raise HTTPException(408, msg, headers={"Connection": "close"}) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    msg = f"The request body is over the limit of {limit} bytes."
                    raise HTTPException(413, msg, headers={"Connection": "close"})
            return message

        return limited

    def _wrap_send(self, send: Send, scope: Scope, holder: dict[str, int]) -> Send:
        async def wrapped(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.extend(self.headers)
                if not is_public(scope["path"]) or scope["path"] in ("/healthz", "/readyz"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        return wrapped


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_error(send: Callable[[Message], Awaitable[None]], status: int, message: str,
                      headers: dict[str, str] | None = None) -> None:
    body = json.dumps(error_body(status, message)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
