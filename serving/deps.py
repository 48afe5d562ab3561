"""Dependencies of the routes, as Annotated aliases; each can be replaced with app.dependency_overrides."""

import functools
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

import anyio
from fastapi import Depends, HTTPException, Request

from assist.schemas import Answer
from assist.settings import Settings
from owners.gaps import QuestionLog
from serving.audit import AuditLog
from serving.auth.oidc import OIDCClient
from serving.auth.sessions import SessionStore
from serving.config import ServingSettings
from serving.counters import Counters
from serving.feedback import FeedbackStore
from serving.metrics import Metrics
from serving.service import AskService
from serving.state import Database
from serving.tokens import TokenInfo, TokenStore


@lru_cache
def get_settings() -> Settings:
    """The core settings, read once from the environment."""
    return Settings()


@lru_cache
def get_serving_settings() -> ServingSettings:
    """The service's own settings, read once from the environment."""
    return ServingSettings()


@dataclass
class Services:
    """What the routes use, built once per app."""

    settings: Settings
    serving: ServingSettings
    asker: AskService
    database: Database
    tokens: TokenStore
    audit: AuditLog
    feedback: FeedbackStore
    metrics: Metrics
    #: Rate buckets and slots: this process's own, or Redis's shared by every replica.
    counters: Counters
    questions: QuestionLog
    #: Signed-in browsers' sessions and the provider: both None unless ASSIST_OIDC__ISSUER is set.
    sessions: SessionStore | None = None
    oidc: OIDCClient | None = None

    def record_answer(
        self, *, route: str, token: TokenInfo, request_id: str, started: float, answer: Answer, question: str = ""
    ) -> None:
        """Audit and count a delivered answer; remember it for feedback; record the question (scrubbed) for the
        owners' knowledge gaps.
        """
        seconds = time.perf_counter() - started
        self.metrics.observe_answer(route, token.role, answer, seconds)
        # The audit entry and the remembered answer: one transaction, one round trip to commit.
        with self.audit.db.begin() as conn:
            self.audit.record(request_id=request_id, token_id=token.token_id, role=token.role, route=route,
                              status=200, latency_ms=seconds * 1000, answer=answer, conn=conn)
            self.feedback.remember(request_id, token.token_id, answer, conn=conn)
        if question:
            present = self.asker.assistant.collections if self.asker.assistant else []
            self.questions.record(request_id=request_id, token_id=token.token_id, role=token.role, question=question,
                                  answer=answer, roles=self.settings.roles, present=present)

    async def answered(self, **kwargs: Any) -> None:
        """`record_answer` in a worker thread: its database work never holds the event loop (every other request)."""
        await anyio.to_thread.run_sync(functools.partial(self.record_answer, **kwargs))

    async def failed(self, **kwargs: Any) -> None:
        """`record_error` in a worker thread (see `answered`)."""
        await anyio.to_thread.run_sync(functools.partial(self.record_error, **kwargs))

    def record_error(self, *, route: str, token: TokenInfo, request_id: str, started: float, status: int,
                     error: Exception) -> None:
        """Audit and count a failed question."""
        self.metrics.errors.labels(route, type(error).__name__).inc()
        self.audit.record(request_id=request_id, token_id=token.token_id, role=token.role, route=route, status=status,
                          latency_ms=(time.perf_counter() - started) * 1000, error=type(error).__name__)


def get_services(request: Request) -> Services:
    """The app's services."""
    services: Services = request.app.state.services
    return services


def current_token(request: Request) -> TokenInfo:
    """The caller's token, checked by the guard middleware before the route runs; a signed-in browser's session
    stands in for it, with the role the sign-in mapped to and the person's pseudonymous id as `token_id`.
    """
    info = getattr(request.state, "token", None)
    if not isinstance(info, TokenInfo):
        raise HTTPException(401, "A valid bearer token is required.", headers={"WWW-Authenticate": "Bearer"})
    return info


def admin_token(request: Request, token: Annotated[TokenInfo, Depends(current_token)]) -> TokenInfo:
    """The caller's token, whose role must be an admin one (`admin = true` in the roles file)."""
    if not get_services(request).settings.roles.is_admin(token.role):
        raise HTTPException(403, "This needs an admin token.")
    return token


def gaps_scope(request: Request, token: Annotated[TokenInfo, Depends(current_token)]) -> list[str] | None:
    """The collections whose knowledge gaps the caller may see: None (all) for an admin, its `owns` for an owner;
    any other role gets 403.
    """
    from owners.gaps import visible_collections  # noqa: PLC0415

    try:
        return visible_collections(get_services(request).settings.roles, token.role)
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServicesDep = Annotated[Services, Depends(get_services)]
TokenDep = Annotated[TokenInfo, Depends(current_token)]
AdminDep = Annotated[TokenInfo, Depends(admin_token)]
GapsScopeDep = Annotated[list[str] | None, Depends(gaps_scope)]
