"""What the routes share: checking the question up front, naming request ids, and reading a capped JSON body after
the caller's role is checked.
"""

import secrets
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from assist.pipeline import validate_question
from serving.deps import Services

Body = TypeVar("Body", bound=BaseModel)


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


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it is known to be over `limit` bytes: by its Content-Length before a byte
    is read, else once the bytes read pass the limit (nothing past it is read).
    """
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise HTTPException(413, f"The request body is {length} bytes: this route takes at most {limit}.",
                            headers={"Connection": "close"})
    chunks: list[bytes] = []
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise HTTPException(413, f"The request body is over this route's limit of {limit} bytes.",
                                headers={"Connection": "close"})
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, model: type[Body], limit: int) -> Body | None:
    """The JSON body as `model` (None when empty), read at most `limit` bytes of.

    A route takes its body this way, instead of as a pydantic parameter, when it checks the caller's role first:
    FastAPI reads and parses a parameter body before any dependency runs, so a role that may not use the route
    could still make the server parse the largest body the guard lets through.
    """
    data = await read_body(request, limit)
    if not data.strip():
        return None
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        # The same 400 (not JSON) and 422 (wrong fields) as a parameter body gets.
        raise RequestValidationError(exc.errors(include_url=False)) from None


def json_body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI's request body for a route that reads `model` with `read_json` (FastAPI cannot see it there)."""
    return {"requestBody": {"content": {"application/json": {"schema": model.model_json_schema()}}}}
