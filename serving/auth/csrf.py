"""Cross-site request forgery checks for cookie-authenticated requests.

A browser attaches the session cookie on its own, so a request that changes something (POST, ...) and was
authenticated by the cookie must come from the service's own page: its `Origin` header must be the service's
origin. SameSite=Lax already keeps the cookie off other sites' POSTs; the Origin check also covers sibling hosts
of the same site (another-app.city.example), which SameSite counts as the same site. Bearer tokens need no check:
a browser never adds them by itself.
"""

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import Scope

#: Methods that may change something; the others must not (and need no check).
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CROSS_SITE = (
    "This request came from another site (its Origin header is not this service's address): refused. "
    "Use the service's own page, or a bearer token from a script."
)


def origin_of(url: str | None) -> str | None:
    """`scheme://host[:port]` of a URL, lower-cased; None for anything else."""
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(urls: Iterable[str | None]) -> frozenset[str]:
    """The origins of the configured addresses of the service (public URL, sign-in redirect base)."""
    return frozenset(o for o in map(origin_of, urls) if o)


def same_origin(scope: Scope, allowed: frozenset[str]) -> bool:
    """True when the request's Origin is the service's: a configured address, or the address the request was sent
    to (its scheme and Host header, which a page on another site cannot set). A missing or `null` Origin is not.
    """
    headers = dict(scope.get("headers", []))
    raw = headers.get(b"origin")
    if not raw or raw == b"null":
        return False
    origin = raw.decode("latin-1").strip().lower()
    if origin in allowed:
        return True
    host = headers.get(b"host")
    return host is not None and origin == f"{scope.get('scheme', 'http')}://{host.decode('latin-1').lower()}"
