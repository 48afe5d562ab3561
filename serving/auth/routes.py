"""Sign-in routes: /auth/login starts the provider's authorization code flow, /auth/callback opens a session,
/auth/logout ends it (and at the provider), /auth/session tells the page who is signed in.
"""

import logging
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from serving.auth.csrf import CROSS_SITE, allowed_origins, same_origin
from serving.auth.errors import ProviderUnavailableError, SignInError
from serving.auth.oidc import OIDCClient
from serving.auth.pages import no_access, provider_down, sign_in_failed
from serving.auth.sessions import LOGIN_COOKIE, LOGIN_TTL_S, SESSION_COOKIE, SessionStore, user_id_for
from serving.deps import Services, ServicesDep
from serving.errors import error_response

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/auth", tags=["sign-in"])

#: Every sign-in path: reachable without a token (each checks what it needs itself).
AUTH_PATHS = frozenset({"/auth/login", "/auth/callback", "/auth/logout", "/auth/session"})


def _parts(services: Services) -> tuple[OIDCClient, SessionStore]:
    # The router is mounted only when an issuer is configured, and then both exist.
    assert services.oidc is not None and services.sessions is not None  # noqa: S101
    return services.oidc, services.sessions


def base_url(services: Services, request: Request) -> str:
    """Where browsers reach the service: the sign-in redirect base, else the public URL, else this request's."""
    configured = services.serving.oidc.redirect_base_url or services.serving.public_url
    return (configured or str(request.base_url)).rstrip("/")


def _callback_url(services: Services, request: Request) -> str:
    return f"{base_url(services, request)}/auth/callback"


def safe_next(path: str | None) -> str:
    """A path on this service to land on after sign-in; anything else (another site, `//host`) is `/`."""
    if not path or len(path) > 200 or not path.startswith("/") or path.startswith(("//", "/\\")):
        return "/"
    if any(c in path for c in "\\\r\n\t") or ":" in path.split("?", 1)[0]:
        return "/"
    return path


def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    """Secure, HttpOnly, SameSite=Lax, whole site: always Secure, also on loopback (browsers treat
    http://127.0.0.1 and http://localhost as secure and keep such cookies there).
    """
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="lax")


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="lax")


@router.get("/login")
async def login(request: Request, services: ServicesDep, next: Annotated[str | None, Query()] = None  # noqa: A002
                ) -> Response:
    """Start signing in with the city's identity provider: redirect there (authorization code flow with PKCE)."""
    oidc, sessions = _parts(services)
    try:
        started = await oidc.start(_callback_url(services, request))
    except ProviderUnavailableError as exc:
        return provider_down(str(exc))
    login_id = sessions.begin_login(state=started["state"], nonce=started["nonce"],
                                    code_verifier=started["code_verifier"], next_path=safe_next(next))
    response = RedirectResponse(started["url"], status_code=302)
    set_cookie(response, LOGIN_COOKIE, login_id, LOGIN_TTL_S)
    return response


@router.get("/callback")
async def callback(
    request: Request,
    services: ServicesDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
    iss: str | None = None,
) -> Response:
    """Where the provider sends the browser back: check the answer, map the claims to a role, open a session."""
    oidc, sessions = _parts(services)
    login_id = request.cookies.get(LOGIN_COOKIE, "")
    pending = sessions.take_login(login_id)
    response = await _finish(request, services, oidc, sessions, pending, code=code, state=state, error=error,
                             error_description=error_description, iss=iss)
    clear_cookie(response, LOGIN_COOKIE)
    return response


async def _finish(request: Request, services: Services, oidc: OIDCClient, sessions: SessionStore, pending: Any, *,
                  code: str | None, state: str | None, error: str | None, error_description: str | None,
                  iss: str | None) -> Response:
    if pending is None:
        return sign_in_failed("This sign-in was not started from this browser, has expired or was already used: "
                              "start again.")
    if not state or not secrets.compare_digest(state.encode(), pending.state.encode()):
        logger.warning("Sign-in refused: the state the provider returned is not the one this browser sent")
        return sign_in_failed("This sign-in's answer does not belong to the sign-in this browser started: "
                              "start again.")
    if error:
        text = (error_description or error)[:300]
        return sign_in_failed(f"The city's sign-in service did not sign you in: {text}")
    if iss is not None and iss.rstrip("/") != oidc.issuer:
        logger.warning("Sign-in refused: the answer names issuer %r", iss)
        return sign_in_failed("This sign-in's answer came from another sign-in service: start again.")
    if not code:
        return sign_in_failed("The sign-in service sent no authorization code: start again.")
    try:
        signed_in = await oidc.finish(code=code, login=pending, redirect_uri=_callback_url(services, request))
        mapping = services.settings.roles.claims
        claims = signed_in.claims
        if mapping.claim.split(".")[0] not in claims:
            # Some providers keep groups out of ID tokens; userinfo has them then.
            claims = claims | await oidc.userinfo(signed_in)
    except SignInError as exc:
        return sign_in_failed(str(exc))
    except ProviderUnavailableError as exc:
        return provider_down(str(exc))
    user_id = user_id_for(signed_in.issuer, signed_in.subject)
    role = mapping.role_for(claims)
    if role is None:
        logger.info("Sign-in of %s: no group of theirs maps to a role; no access", user_id)
        return no_access()
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        sessions.end(old)  # a fresh id at every sign-in: a session id planted before it is worth nothing
    session_id, _ = sessions.create(user_id=user_id, role=role)
    logger.info("Sign-in of %s as %s", user_id, role)
    response = RedirectResponse(pending.next_path, status_code=303)
    set_cookie(response, SESSION_COOKIE, session_id, sessions.lifetime_s)
    return response


@router.post("/logout")
async def logout(request: Request, services: ServicesDep) -> Response:
    """End this browser's session here and at the provider: answers `{"signed_out", "end_session_url"}` (the
    provider's logout page to send the browser to, or null when it has none) and clears the cookie.
    """
    oidc, sessions = _parts(services)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        allowed = allowed_origins([services.serving.oidc.redirect_base_url, services.serving.public_url])
        if not same_origin(request.scope, allowed):
            return error_response(403, CROSS_SITE)
    ended = sessions.end(session_id) if session_id else False
    end_session_url = await oidc.end_session_url(f"{base_url(services, request)}/")
    response = JSONResponse({"signed_out": ended, "end_session_url": end_session_url})
    clear_cookie(response, SESSION_COOKIE)
    return response


@router.get("/session")
async def session(request: Request, services: ServicesDep) -> dict[str, object]:
    """Who this browser is signed in as: `{"oidc": true, "signed_in", "role", "login_url"}` (the phone page shows a
    sign-in link or a sign-out button from it).
    """
    _, sessions = _parts(services)
    info = sessions.resolve(request.cookies.get(SESSION_COOKIE, ""))
    return {"oidc": True, "signed_in": info is not None, "role": info.role if info else None,
            "login_url": "/auth/login"}
