"""The assistant behind OpenAI's chat completions API, streaming too; citations as footnotes and as a field."""

import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from assist.errors import AssistError, InvalidQuestionError
from assist.schemas import Answer
from assist.states import closest_heading, closest_preamble
from serving.deps import ServicesDep, TokenDep
from serving.errors import error_body
from serving.routes.common import check_question, new_request_id
from serving.schemas import ChatCompletionRequest
from serving.service import AskOptions

router = APIRouter(prefix="/v1", tags=["openai"])

MODEL_ID = "frontline-assist"


#: Characters that Markdown (CommonMark and GitHub's) reads as markup inside a line: emphasis, code, links and
#: images, autolinks and HTML, tables, strikethrough, and the backslash itself.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>!|~#&])")


def markdown_text(text: str) -> str:
    """`text` as literal Markdown: every markup character escaped and line breaks made spaces, so that a title
    (which any owner's upload sets) shows as written and cannot add a link, an image or a heading.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def footnotes(answer: Answer) -> str:
    """Numbered sources under the answer text: `[1] Title, page 2 (Section): source`, the document's own words
    escaped for Markdown (clients of this API render the message as Markdown).
    """
    lines = []
    for c in answer.citations:
        page = f", page {c.page}" if c.page else ""
        section = f" ({markdown_text(c.section)})" if c.section else ""
        lines.append(f"[{c.n}] {markdown_text(c.title)}{page}{section}: {markdown_text(c.source)}")
    return "\n\nSources:\n" + "\n".join(lines) if lines else ""


def answer_text(answer: Answer) -> str:
    """The message content: the answer and its footnotes, or for `closest` a plain statement first.

    A closest answer opens with "The routines do not answer this directly." and the terms no routine mentions,
    then "Closest routines:" with their text as a quotation, so that no client shows it as the answer.
    """
    if answer.status != "closest":
        return answer.answer + footnotes(answer)
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in answer.answer.strip().splitlines())
    opening = " ".join(closest_preamble(answer))
    return f"{opening}\n\n{closest_heading(answer)}:\n{quoted}{footnotes(answer)}"


def split_messages(body: ChatCompletionRequest) -> tuple[str, list[dict[str, str]]]:
    """The question (the last user message) and the earlier user/assistant turns."""
    if body.messages[-1].role != "user" or not body.messages[-1].text().strip():
        msg = "The last message must be the user's question."
        raise InvalidQuestionError(msg)
    history = [{"role": m.role, "content": m.text()} for m in body.messages[:-1] if m.role in ("user", "assistant")]
    return body.messages[-1].text(), history


def _extras(answer: Answer, request_id: str) -> dict[str, Any]:
    return {
        "citations": [c.model_dump() for c in answer.citations],
        "status": answer.status,
        "uncovered": answer.uncovered,
        "refused": answer.refused,
        "fallback": answer.fallback,
        "notices": answer.notices,
        "language": answer.language,
        "request_id": request_id,
    }


@router.get("/models")
async def models(token: TokenDep) -> dict[str, Any]:
    """The one model this endpoint serves."""
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "city"}]}


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, services: ServicesDep, token: TokenDep
) -> dict[str, Any] | StreamingResponse:
    """OpenAI-compatible chat completion answered from the routines the caller's role may read.

    The text ends with numbered footnotes; the response also carries `citations`, `status`, `uncovered`,
    `refused`, `fallback` and `notices` as extra fields (on the last chunk when streaming). `language` may be sent
    as an extra field.

    `status` is `answered`, `closest` or `refused`. A `closest` text starts with "The routines do not answer this
    directly." and "No routine mentions: …", and gives the closest routines' text as a quotation under "Closest
    routines:". When streaming, the text is sent once its status is known, since a plain-text client cannot
    restyle text it has already shown.
    """
    started, request_id = time.perf_counter(), new_request_id()
    route = "/v1/chat/completions"
    created = int(time.time())
    completion_id = f"chatcmpl-{request_id}"
    try:
        question, history = split_messages(body)
        await check_question(services, question, token.role, token.token_id)
    except AssistError as exc:
        await services.failed(route=route, token=token, request_id=request_id, started=started,
                              status=exc.status_code, error=exc)
        raise
    options = AskOptions(language=body.language, history=history, caller=token.token_id)

    if not body.stream:
        try:
            answer = await services.asker.ask(question, token.role, options)
        except AssistError as exc:
            await services.failed(route=route, token=token, request_id=request_id, started=started,
                                  status=exc.status_code, error=exc)
            raise
        await services.answered(route=route, token=token, request_id=request_id, started=started, answer=answer,
                                question=question)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_ID,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": answer_text(answer)},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            **_extras(answer, request_id),
        }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {
            "id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra,
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    async def events() -> AsyncIterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        async for kind, item in services.asker.stream(question, token.role, options):
            if kind == "delta":
                # Held back: only the final answer says whether this text answers the question (status), and
                # text already shown cannot be restyled as the closest routines afterwards.
                continue
            if kind == "answer":
                await services.answered(route=route, token=token, request_id=request_id, started=started, answer=item,
                                        question=question)
                yield chunk({"content": answer_text(item)})
                yield chunk({}, "stop", **_extras(item, request_id))
            else:
                status = item.status_code if isinstance(item, AssistError) else 500
                message = str(item) if isinstance(item, AssistError) else "The answer failed; see the server log."
                await services.failed(route=route, token=token, request_id=request_id, started=started,
                                      status=status, error=item)
                yield f"data: {json.dumps(error_body(status, message), ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"x-accel-buffering": "no"})
