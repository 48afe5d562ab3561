"""The FastAPI app: `create_app(settings)` wires routes, guard and stores; the models load in `lifespan`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from assist.errors import AssistError
from assist.settings import Settings
from owners.changes import ChangeLog
from owners.gaps import QuestionLog
from owners.uploads import RoutineDesk
from serving.audit import AUDIT_FILE, AuditLog
from serving.auth import routes as auth_routes
from serving.auth.csrf import allowed_origins
from serving.auth.oidc import OIDCClient
from serving.auth.sessions import SessionStore
from serving.config import ServingSettings
from serving.counters import counters_for
from serving.deps import Services, get_serving_settings, get_settings
from serving.errors import error_response
from serving.feedback import FeedbackStore
from serving.metrics import Metrics
from serving.routes import ask, feedback, gaps, health, openai_compat, owners, pages, transparency
from serving.routes.pages import STATIC_DIR
from serving.security import AddressLimiter, GuardMiddleware, RateLimiter
from serving.server import install_log_redaction
from serving.service import AskService
from serving.state import SQLITE_FILE, database_for
from serving.tokens import TokenStore

logger = logging.getLogger(__name__)

__all__ = ["AUDIT_FILE", "SQLITE_FILE", "build_services", "create_app"]


def build_services(settings: Settings, serving: ServingSettings, *, shared_counters: Path | None = None) -> Services:
    """The stores and the answering service of one app (cheap: no model is loaded and no database is opened here).

    `shared_counters` is the file the worker processes of one `assist serve --workers N` share their counters in.
    """
    database = database_for(settings)
    counters = counters_for(settings.redis, shared_file=shared_counters)
    return Services(
        settings=settings,
        serving=serving,
        asker=AskService(
            settings,
            workers=serving.ask_workers,
            max_waiting=serving.max_waiting,
            max_generator_in_flight=serving.max_generator_in_flight,
            busy_policy=serving.busy_policy,
            retry_after_s=serving.busy_retry_after_s,
            max_in_flight_per_caller=serving.max_in_flight_per_token,
            counters=counters,
        ),
        database=database,
        tokens=TokenStore(database, roles=settings.roles, cache_s=serving.token_cache_s),
        audit=AuditLog(database),
        feedback=FeedbackStore(database),
        metrics=Metrics(),
        counters=counters,
        questions=QuestionLog(database, settings=settings),
        sessions=(SessionStore(database, lifetime_s=serving.oidc.session_lifetime_s, roles=settings.roles)
                  if serving.oidc.enabled else None),
        oidc=OIDCClient(settings=serving.oidc) if serving.oidc.enabled else None,
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Bring the database to the current schema and load the pipeline and models before the first request; release
    the store and the database's connections on shutdown.
    """
    services: Services = app.state.services
    await anyio.to_thread.run_sync(services.database.ensure_current)
    await anyio.to_thread.run_sync(services.asker.start)
    await services.counters.start()
    try:
        yield
    finally:
        await services.counters.close()
        await anyio.to_thread.run_sync(services.asker.close)
        await anyio.to_thread.run_sync(services.questions.close)  # the gaps' embedding worker, after its pass
        services.database.close()


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = next((e.get("ctx", {}).get("error", "") for e in errors if e.get("type") == "json_invalid"), "")
        return 400, f"The request body is not valid JSON ({detail or 'decode error'}): send a JSON object."
    parts = []
    for e in errors[:5]:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return 422, "Invalid request: " + "; ".join(parts) + "."


def install_error_handlers(app: FastAPI) -> None:
    """Every error as {"error": {...}} with a clear message; never a traceback."""

    @app.exception_handler(AssistError)
    async def assist_error(request: Request, exc: AssistError) -> JSONResponse:
        return error_response(exc.status_code, str(exc), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return error_response(status, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404:
            message = f"No route {request.url.path}."
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}."
        return error_response(exc.status_code, message, headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("Unexpected error on %s", request.url.path)
        return error_response(500, "Something went wrong in the service; the error is in its log.")


def create_app(
    settings: Settings | None = None, serving: ServingSettings | None = None, *, shared_counters: Path | None = None
) -> FastAPI:
    """The service for `settings` (default: from the environment); `shared_counters` as `build_services`'s."""
    settings = settings or get_settings()
    serving = serving or get_serving_settings()
    services = build_services(settings, serving, shared_counters=shared_counters)
    app = FastAPI(
        title="Frontline Assist",
        description="Answers city staff's questions from the city's own routines, with citations.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.routine_desk = RoutineDesk(
        settings=settings, changes=ChangeLog(services.database), max_upload_mb=serving.max_upload_mb
    )
    app.dependency_overrides[get_settings] = lambda: settings
    app.dependency_overrides[get_serving_settings] = lambda: serving
    install_error_handlers(app)
    for module in (pages, ask, openai_compat, feedback, health, owners, gaps, transparency):
        app.include_router(module.router)
    if services.oidc is not None:
        app.include_router(auth_routes.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(
        GuardMiddleware,
        tokens=services.tokens,
        limiter=RateLimiter(serving.rate_per_minute, serving.rate_burst, counters=services.counters),
        max_body_bytes=serving.max_body_bytes,
        metrics=services.metrics,
        hsts=serving.hsts,
        body_timeout_s=serving.body_timeout_s,
        sessions=services.sessions,
        public_paths=auth_routes.AUTH_PATHS if services.oidc is not None else frozenset(),
        origins=allowed_origins([serving.oidc.redirect_base_url, serving.public_url]),
        upload_prefix="/api/owners/documents",
        max_upload_bytes=int(serving.max_upload_mb * 1024 * 1024),
        public_limiter=AddressLimiter(serving.public_rate_per_minute, serving.public_rate_burst),
        login_limiter=AddressLimiter(serving.login_rate_per_minute, serving.login_rate_burst),
    )
    install_log_redaction()
    if serving.cors_origins:
        # Outside the guard, so a browser's preflight (which carries no token) is answered.
        app.add_middleware(
            CORSMiddleware, allow_origins=serving.cors_origins, allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app
