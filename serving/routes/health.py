"""Probes and metrics: liveness, readiness (store and generator reachable), Prometheus."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.deps import AdminDep, ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(services: ServicesDep) -> JSONResponse:
    """Ready when the store can be read and the generator reached; 503 names the part that is not."""
    checks: dict[str, Any] = await services.asker.readiness()
    ready = all(c["ok"] for c in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(services: ServicesDep, token: AdminDep) -> Response:
    """Prometheus metrics (an admin token is needed: configure it as the scraper's bearer token)."""
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
