"""What the answering routes share: checking the question up front and naming request ids."""

import secrets

from assist.pipeline import validate_question
from serving.deps import Services


def new_request_id() -> str:
    """A short id that ties an answer to its audit entry and its feedback."""
    return f"r_{secrets.token_hex(8)}"


async def check_question(services: Services, question: object, role: str, caller: str | None = None) -> None:
    """Raise the core's 400 errors, and 429 for a caller who has its share of questions in flight, before any
    work (and before a stream has started with status 200).
    """
    services.settings.roles.role(role)
    validate_question(question, services.settings.retrieval.max_question_chars)
    if caller is not None:
        await services.asker.scheduler.check(caller)
