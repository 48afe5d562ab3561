"""Ask a question: one JSON answer, or server-sent events as the answer is written."""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from sse_starlette import EventSourceResponse

from assist.errors import AssistError
from serving.deps import ServicesDep, TokenDep
from serving.errors import error_body
from serving.routes.common import check_question, new_request_id
from serving.schemas import AskRequest, AskResponse
from serving.service import AskOptions

router = APIRouter(prefix="/api", tags=["ask"])


def _options(body: AskRequest, caller: str) -> AskOptions:
    return AskOptions(
        language=body.language, plain=body.plain, history=[m.model_dump() for m in body.history], caller=caller
    )


@router.post("/ask")
async def ask(body: AskRequest, services: ServicesDep, token: TokenDep) -> AskResponse:
    """Answer a question from the routines the caller's role may read, with numbered, quoted sources.

    `status` says whether the routines answer the question:
    - `answered`: they do; the text is the answer and the citations its sources.
    - `closest`: no routine answers it directly. The citations are the nearest routines and `uncovered` lists the
      question's key terms that no routine mentions ("No routine mentions: …"). Show them as the closest routines,
      never as an answer.
    - `refused`: no routine is relevant; the text says who to ask.

    `refused` is true whenever `status` is not `answered` (kept for older clients). `fallback` is true when the
    language model could not be reached and the answer quotes the routines instead (`notices` says so in words).
    """
    started, request_id = time.perf_counter(), new_request_id()
    try:
        await check_question(services, body.question, token.role, token.token_id)
        answer = await services.asker.ask(body.question, token.role, _options(body, token.token_id))
    except AssistError as exc:
        await services.failed(route="/api/ask", token=token, request_id=request_id, started=started,
                              status=exc.status_code, error=exc)
        raise
    await services.answered(route="/api/ask", token=token, request_id=request_id, started=started, answer=answer,
                            question=body.question)
    return AskResponse(request_id=request_id, **answer.model_dump())


@router.post("/ask/stream")
async def ask_stream(body: AskRequest, services: ServicesDep, token: TokenDep) -> EventSourceResponse:
    """The same answer as server-sent events: `meta` (request id), `delta` (text as it is written), then
    `answer` (the full answer, as from /api/ask, whose text replaces the deltas) or `error`.

    Whether the text answers the question is known only from the final `answer` event: its `status` (`answered`,
    `closest` or `refused`) and `uncovered` decide how the text is shown. A client shows the deltas as a draft
    and restyles them when that event arrives; a `closest` text must never be left looking like an answer.
    """
    started, request_id = time.perf_counter(), new_request_id()
    try:
        await check_question(services, body.question, token.role, token.token_id)
    except AssistError as exc:
        await services.failed(route="/api/ask/stream", token=token, request_id=request_id, started=started,
                              status=exc.status_code, error=exc)
        raise

    async def events() -> AsyncIterator[dict[str, Any]]:
        yield {"event": "meta", "data": json.dumps({"request_id": request_id})}
        async for kind, item in services.asker.stream(body.question, token.role, _options(body, token.token_id)):
            if kind == "delta":
                yield {"event": "delta", "data": json.dumps({"text": item}, ensure_ascii=False)}
            elif kind == "answer":
                await services.answered(route="/api/ask/stream", token=token, request_id=request_id,
                                        started=started, answer=item, question=body.question)
                data = AskResponse(request_id=request_id, **item.model_dump()).model_dump_json()
                yield {"event": "answer", "data": data}
            else:
                status = item.status_code if isinstance(item, AssistError) else 500
                message = str(item) if isinstance(item, AssistError) else "The answer failed; see the server log."
                await services.failed(route="/api/ask/stream", token=token, request_id=request_id,
                                      started=started, status=status, error=item)
                yield {"event": "error", "data": json.dumps(error_body(status, message), ensure_ascii=False)}

    return EventSourceResponse(events(), ping=15)
