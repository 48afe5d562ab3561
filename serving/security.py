"""The guard in front of every route: bearer token (header only) or a signed-in browser's session cookie, per-caller
rate limit, cross-site checks for cookie-authenticated requests, body size and deadline, security headers.
"""

import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assist.errors import BackendUnavailableError
from serving.auth.csrf import CROSS_SITE, UNSAFE_METHODS, same_origin
from serving.auth.sessions import SESSION_COOKIE, SessionStore
from serving.counters import Counters, bucket_wait
from serving.errors import error_body
from serving.metrics import Metrics
from serving.tokens import TOKEN_PREFIX, TokenInfo, TokenStore

logger = logging.getLogger(__name__)

COUNTERS_DOWN = "The service cannot reach its shared counters right now: try again in a few seconds."

#: Paths anyone may fetch: the page and its files, and the probes a load balancer calls without a token.
PUBLIC_PATHS = frozenset({
    "/", "/owners", "/healthz", "/readyz", "/favicon.ico", "/manifest.webmanifest",
    # The gaps page is a shell that asks /api/gaps with the caller's token; the transparency record is public.
    "/gaps", "/transparency", "/transparency.yaml", "/transparency.md",
})
PUBLIC_PREFIXES = ("/static/",)
#: Public pages that still learn who the caller is when a valid token comes with the request (the owners' page
#: refuses staff roles then); without one, or with an invalid one, they are served as to anyone.
IDENTIFIED_PAGES = frozenset({"/owners"})

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
    """A token bucket per token id: `burst` requests at once, then `per_minute` sustained.

    With shared counters (Redis) the buckets are every replica's: a token gets its rate once, not once per replica.
    """

    def __init__(self, per_minute: float, burst: int, *, counters: Counters | None = None):
        self.per_minute = per_minute
        self.burst = burst
        self.counters = counters if counters is not None and counters.shared else None
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float | None = None) -> float:
        """This process's bucket: 0 when the request may go ahead, else the seconds to wait."""
        return bucket_wait(self._buckets, key, self.per_minute, self.burst, time.monotonic() if now is None else now)

    async def check(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds to wait; the shared bucket when there is one."""
        if self.counters is None:
            return self.allow(key)
        return await self.counters.rate(key, self.per_minute, self.burst)


class AddressLimiter:
    """A token bucket per client address, for the paths anyone may call (the page, its files, the probes, sign-in).

    This process's own buckets, never the shared counters: refusing a flood must cost less than serving it, and a
    probe must not wait on Redis. Full buckets are forgotten when there are many addresses, so memory stays bounded.
    """

    MAX_ADDRESSES = 50_000

    def __init__(self, per_minute: float, burst: int):
        self.per_minute = per_minute
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, address: str, now: float | None = None) -> float:
        """0 when a request from `address` may go ahead, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        if len(self._buckets) >= self.MAX_ADDRESSES:
            self._forget_full(now)
        return bucket_wait(self._buckets, address, self.per_minute, self.burst, now)

    def _forget_full(self, now: float) -> None:
        rate = self.per_minute / 60.0
        full = [a for a, (level, last) in self._buckets.items() if level + (now - last) * rate >= self.burst]
        for a in full:
            del self._buckets[a]
        if len(self._buckets) >= self.MAX_ADDRESSES:
            self._buckets.clear()  # a flood from as many addresses: no one's history is worth the memory


def client_address(scope: Scope) -> str:
    """The caller's address as the server saw it (behind a proxy, the one uvicorn's proxy headers give)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


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


REDACTED = "[redacted]"
#: A token of this service, once its text is percent-decoded.
_TOKEN_TEXT = re.compile(rf"{re.escape(TOKEN_PREFIX)}[A-Za-z0-9_\-]+")


def _decoded(text: str) -> str:
    """`text` percent-decoded (and `+` read as a space) until it no longer changes: a token encoded twice is
    still a token to whoever reads the log.
    """
    for _ in range(4):
        plain = unquote_plus(text)
        if plain == text:
            break
        text = plain
    return text


def redact_logged_url(url: str) -> str:
    """`url` as the access log may show it: a query value whose name is a token's, and each path segment, query name
    or value that holds a token once percent-decoded, replaced by [redacted]; the rest as it was sent.
    """
    path, sep, query = url.partition("?")
    segments = [REDACTED if _TOKEN_TEXT.search(_decoded(s)) else s for s in path.split("/")]
    pieces = [_redacted_param(piece) for piece in query.split("&")] if sep else []
    return "/".join(segments) + sep + "&".join(pieces)


def _redacted_param(piece: str) -> str:
    name, eq, value = piece.partition("=")
    plain_name = _decoded(name)
    if _TOKEN_TEXT.search(plain_name):
        return REDACTED
    if plain_name.lower() in TOKEN_PARAMS or _TOKEN_TEXT.search(_decoded(value)):
        return f"{name}{eq}{REDACTED}"
    return piece


class DecodedTokenFilter(logging.Filter):
    """Redacts tokens from uvicorn's access-log lines after percent-decoding (`?x=fa%5F...`), which a pattern over
    the URL as sent does not see.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_logged_url(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str) and not record.args:
            record.msg = redact_logged_url(record.msg)
        return True


def install_decoded_redaction() -> None:
    """Add the filter to uvicorn's access logger once (uvicorn's own logging setup keeps a logger's filters)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DecodedTokenFilter) for f in access.filters):
        access.addFilter(DecodedTokenFilter())


def bearer_token(scope: Scope) -> str | None:
    """The token of an `Authorization: Bearer ...` header."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return str(token.strip())
    return None


def session_cookie(scope: Scope) -> str | None:
    """The session cookie's value, if the request carries one."""
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            found = cookie_parser(value.decode("latin-1")).get(SESSION_COOKIE)
            if found:
                return found
    return None


#: Clears the session cookie of a browser whose session has ended (expired, signed out elsewhere, unknown).
CLEAR_SESSION = f"{SESSION_COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=lax"
SIGN_IN = "Sign in with your city account, or send a valid bearer token."
SESSION_ENDED = "Your session has ended: sign in again."


class GuardMiddleware:
    """Pure ASGI middleware, so it also covers streamed responses and runs before the body is parsed.

    Without a valid token a protected path answers 401 and nothing else: no validation errors, no hint of
    which routes exist. With `sessions` (sign-in configured), a request without an Authorization header may be
    authenticated by the session cookie instead; such a request that may change something (POST, ...) must carry
    this service's Origin, or it gets 403. A bearer header, when present, decides alone.
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
        sessions: SessionStore | None = None,
        public_paths: frozenset[str] = frozenset(),
        origins: frozenset[str] = frozenset(),
        upload_prefix: str = "",
        max_upload_bytes: int = 0,
        public_limiter: AddressLimiter | None = None,
        login_limiter: AddressLimiter | None = None,
    ):
        self.app = app
        #: Per address, on every path served without a token (the sign-in routes included).
        self.public_limiter = public_limiter
        #: Per address, on /auth/login besides: each sign-in started keeps a pending sign-in in the database.
        self.login_limiter = login_limiter
        self.sessions = sessions
        #: Paths served without a token besides PUBLIC_PATHS (the sign-in routes, which check what they need).
        self.public_paths = public_paths
        #: The service's own origins besides the one each request was sent to (see serving/auth/csrf.py).
        self.origins = origins
        #: POSTs under this path take bodies up to `max_upload_bytes` (the owners' file uploads), the rest
        #: `max_body_bytes`.
        self.upload_prefix = upload_prefix
        self.max_upload_bytes = max_upload_bytes
        self.tokens = tokens
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.metrics = metrics
        self.headers = SECURITY_HEADERS + ([(b"strict-transport-security", b"max-age=31536000")] if hsts else [])
        # The guard refuses a token in a URL; the server still logs that URL: decoded, a token is redacted there.
        install_decoded_redaction()

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
        # The cheapest refusals come first (a declared size, a token in the URL, a public path's rate), before a
        # token is looked up, a body read or a route run: a flood of requests refused anyway costs next to nothing.
        path = scope["path"]
        limit = self.max_body_bytes
        if self.upload_prefix and scope["method"] == "POST" and path.startswith(self.upload_prefix):
            limit = max(limit, self.max_upload_bytes)
        length = _content_length(scope)
        if length is not None and length > limit:
            await _send_error(send, 413, f"The request body is {length} bytes: the limit is {limit}.",
                              {"connection": "close"})
            return
        if token_in_query(scope):
            self.metrics.auth_failures.inc()
            await _send_error(send, 401, TOKEN_IN_URL, {"www-authenticate": "Bearer"})
            return
        public = is_public(path) or path in self.public_paths
        if public and await self._address_refused(scope, send):
            return
        if not public:
            info = await self._caller(scope, send)
            if info is None:
                return
            try:
                wait = await self.limiter.check(info.token_id)
            except BackendUnavailableError as exc:
                logger.error("Rate limit not checked: %s", exc)  # noqa: TRY400 - a known state, no traceback
                await _send_error(send, 503, COUNTERS_DOWN, {"retry-after": "5"})
                return
            if wait > 0:
                self.metrics.rate_limited.inc()
                retry = str(max(1, round(wait)))
                await _send_error(send, 429, f"Too many requests: try again in {retry} s.", {"retry-after": retry})
                return
            scope.setdefault("state", {})["token"] = info
        elif path in IDENTIFIED_PAGES:
            # A page a browser navigates to: the caller, when known, by token or by sign-in session.
            token = bearer_token(scope)
            session_id = session_cookie(scope) if token is None and self.sessions is not None else None
            if token:
                info = await self._verify(token)
            else:
                info = await self._resolve(session_id) if session_id else None
            if info is not None:
                scope.setdefault("state", {})["token"] = info
        await self.app(scope, self._limit_receive(receive, limit), send)

    async def _address_refused(self, scope: Scope, send: Send) -> bool:
        """Answer 429 with Retry-After when the caller's address is past a public path's rate; True once refused."""
        address = client_address(scope)
        limiters = [self.public_limiter]
        if scope["path"] == "/auth/login":
            limiters.append(self.login_limiter)
        for limiter in limiters:
            wait = limiter.allow(address) if limiter is not None else 0.0
            if wait > 0:
                self.metrics.rate_limited.inc()
                retry = str(max(1, math.ceil(wait)))
                await _send_error(send, 429, f"Too many requests from this address: try again in {retry} s.",
                                  {"retry-after": retry})
                return True
        return False

    async def _caller(self, scope: Scope, send: Send) -> TokenInfo | None:
        """The caller of a protected path, from the bearer token or else the session cookie; None once refused."""
        token = bearer_token(scope)
        if token is not None or self.sessions is None:
            info = await self._verify(token) if token else None
            if info is None:
                self.metrics.auth_failures.inc()
                message = "A valid bearer token is required." if self.sessions is None else SIGN_IN
                await _send_error(send, 401, message, {"www-authenticate": "Bearer"})
            return info
        session_id = session_cookie(scope)
        info = await self._resolve(session_id) if session_id else None
        if info is None:
            self.metrics.auth_failures.inc()
            headers = {"www-authenticate": "Bearer"} | ({"set-cookie": CLEAR_SESSION} if session_id else {})
            await _send_error(send, 401, SESSION_ENDED if session_id else SIGN_IN, headers)
            return None
        if scope["method"] in UNSAFE_METHODS and not same_origin(scope, self.origins):
            self.metrics.auth_failures.inc()
            await _send_error(send, 403, CROSS_SITE)
            return None
        return info

    async def _verify(self, token: str) -> TokenInfo | None:
        """The token's owner: a recent lookup, else the database's answer, asked in a worker thread so that a slow
        database never holds the event loop (every other request) while it answers."""
        known, info = self.tokens.cached(token)
        if known:
            return info
        return await anyio.to_thread.run_sync(self.tokens.verify, token)

    async def _resolve(self, session_id: str) -> TokenInfo | None:
        """A signed-in browser's session, looked up in a worker thread (see `_verify`)."""
        if self.sessions is None:
            return None
        return await anyio.to_thread.run_sync(self.sessions.resolve, session_id)

    def _limit_receive(self, receive: Receive, limit: int) -> Receive:
        """Counts a body sent without Content-Length (chunked) and stops it at the limit; a body that is not
        complete `body_timeout_s` after the headers gets 408 (a client that trickles its body holds no worker).
        """
        seen = 0
        done = False
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
