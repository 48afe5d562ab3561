"""Probes and metrics: liveness, readiness (store and generator reachable), Prometheus."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.deps import AdminDep, Services, ServicesDep
from serving.security import bearer_token

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request, services: ServicesDep) -> JSONResponse:
    """Ready when the store can be read and the generator reached; 503 when a part is not.

    Anyone (a load balancer) gets the status and which part is not ready; the details, which name paths and
    endpoints, go only to a caller with an admin token (and to the service's log), and so does a "roles" warning
    when a role reads a collection the store does not hold (the others are answered, so the service stays ready).
    """
    token = bearer_token(request.scope)
    info = services.tokens.verify(token) if token else None
    admin = info is not None and services.settings.roles.is_admin(info.role)
    # Anyone may call this: others share one check a second, so a flood of probes does not read the store each time.
    checks: dict[str, Any] = await (services.asker.readiness() if admin else services.asker.shared_readiness())
    ready = all(c["ok"] for c in checks.values())
    if not admin:
        checks = {name: {"ok": c["ok"]} for name, c in checks.items()}
    else:
        roles = _roles_check(services)
        if roles:
            checks["roles"] = roles
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


def _roles_check(services: Services) -> dict[str, Any] | None:
    """For admins: the roles that read a collection the store does not hold. Not a readiness failure: every other
    role is answered, and each of those roles' questions gets an error naming what is missing.
    """
    assistant = services.asker.assistant
    incomplete = getattr(assistant, "incomplete_roles", None)
    if not incomplete:
        return None
    roles = services.settings.roles
    return {"ok": True, "warning": True, "detail": roles.missing_message(incomplete, assistant.collections)}


@router.get("/metrics")
async def metrics(services: ServicesDep, token: AdminDep) -> Response:
    """Prometheus metrics (an admin token is needed: configure it as the scraper's bearer token)."""
    return Response(generate_latest(services.metrics.exposition_registry()), media_type=CONTENT_TYPE_LATEST)
