"""Feedback on answers: a thumbs up or down with an optional reason; QA exports it."""

from typing import Literal

import anyio
from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import delete

from serving.deps import AdminDep, Services, ServicesDep, TokenDep
from serving.schemas import FeedbackRequest, FeedbackResponse
from serving.state.models import Feedback

router = APIRouter(prefix="/api/feedback", tags=["feedback"])


def _forget_earlier_rating(services: Services, request_id: str, token_id: str) -> None:
    """Drop the caller's earlier ratings of this answer, so that the new one replaces them."""
    with services.feedback.db.begin() as conn:
        conn.execute(delete(Feedback).where(Feedback.request_id == request_id, Feedback.token_id == token_id))


@router.post("", status_code=201)
async def give_feedback(body: FeedbackRequest, services: ServicesDep, token: TokenDep) -> FeedbackResponse:
    """Rate an answer by its `request_id`; the stored rating carries the documents that answer cited.

    One rating per caller and answer: rating it again (changing a thumbs up to down) replaces the earlier rating,
    so that one token cannot weigh an answer, or the export QA reads, with repeated ratings.
    """
    def rate() -> str:  # database work, in a worker thread: never on the event loop
        _forget_earlier_rating(services, body.request_id, token.token_id)
        feedback_id = services.feedback.add(
            request_id=body.request_id, token_id=token.token_id, role=token.role, rating=body.rating,
            reason=body.reason,
        )
        if body.rating == "down":
            # The question behind a rated-down answer becomes a knowledge gap (only for the caller who got it).
            services.questions.rate_down(body.request_id, token.token_id)
        return feedback_id

    return FeedbackResponse(feedback_id=await anyio.to_thread.run_sync(rate))


@router.get("/export", response_model=None)
async def export_feedback(
    services: ServicesDep, token: AdminDep, format: Literal["json", "csv"] = "json"  # noqa: A002
) -> Response | dict[str, object]:
    """Every rating for QA (admin only), as JSON or CSV."""
    if format == "csv":
        return PlainTextResponse(await anyio.to_thread.run_sync(services.feedback.export_csv), media_type="text/csv")
    return {"feedback": await anyio.to_thread.run_sync(services.feedback.export)}
