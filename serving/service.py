"""Runs the synchronous assist core off the event loop, a bounded number at a time, and streams its text."""

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from haystack.dataclasses import StreamingChunk

from assist.errors import AssistError
from assist.pipeline import Assistant
from assist.schemas import Answer
from assist.settings import Settings

logger = logging.getLogger(__name__)

PLAIN_INSTRUCTION = "(Answer in plain, simple words that a parent can understand.)"
PLAIN_NEEDS_LLM = "Plain-language rewording needs a language model; this answer quotes the routines as written."


class BusyError(AssistError):
    """Too many questions are already waiting."""

    status_code = 503


@dataclass
class AskOptions:
    """What a surface may ask for besides the question itself."""

    language: str | None = None
    plain: bool = False
    history: list[dict[str, str]] = field(default_factory=list)


class AskService:
    """The one Assistant of the process, answered from a small worker pool.

    llama.cpp's in-process model is not thread-safe, so that backend gets one worker; the extractive and
    OpenAI-endpoint backends get several (the embedded store locks its own shard).
    """

    def __init__(self, settings: Settings, *, workers: int | None = None, max_waiting: int = 256):
        self.settings = settings
        if workers is None:
            workers = 1 if settings.generator.backend == "llamacpp" else 4
        self.limiter = anyio.CapacityLimiter(workers)
        self.max_waiting = max_waiting
        self.assistant: Assistant | None = None
        self.startup_error: str | None = None
        self._ask_params: frozenset[str] = frozenset()

    # --- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Build the pipeline and load the models; a missing store is reported by /readyz, not fatal."""
        self.assistant = Assistant(self.settings)
        self._ask_params = frozenset(inspect.signature(self.assistant.ask).parameters)
        try:
            self.assistant.warm_up()
            self.startup_error = None
        except AssistError as exc:
            self.startup_error = str(exc)
            logger.error("The assistant is not ready: %s", exc)  # noqa: TRY400 - a known state, no traceback

    def close(self) -> None:
        if self.assistant is not None:
            self.assistant.close()
            self.assistant = None

    # --- answering -------------------------------------------------------------------------------------------------
    def _kwargs(self, options: AskOptions, callback: Callable[[StreamingChunk], None] | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"language": options.language, "streaming_callback": callback}
        # The core gains `history` for follow-up questions; pass it only where it exists.
        if options.history and "history" in self._ask_params:
            kwargs["history"] = options.history
        return kwargs

    def _question(self, question: str, options: AskOptions) -> str:
        if options.plain and self.settings.generator.backend != "extractive":
            return f"{question.strip()}\n{PLAIN_INSTRUCTION}"
        return question

    async def ask(
        self, question: str, role: str, options: AskOptions,
        callback: Callable[[StreamingChunk], None] | None = None,
    ) -> Answer:
        """Answer in a worker thread; raises AssistError subclasses for the routes to map."""
        if self.assistant is None:
            msg = "The assistant is still starting: try again in a moment."
            raise BusyError(msg)
        if self.limiter.statistics().tasks_waiting >= self.max_waiting:
            msg = "The service is busy: try again in a few seconds."
            raise BusyError(msg)
        assistant = self.assistant
        text = self._question(question, options)
        kwargs = self._kwargs(options, callback)
        answer = await anyio.to_thread.run_sync(
            lambda: assistant.ask(text, role, **kwargs), limiter=self.limiter
        )
        if options.plain and self.settings.generator.backend == "extractive" and not answer.refused:
            answer.notices.append(PLAIN_NEEDS_LLM)
        return answer

    async def stream(self, question: str, role: str, options: AskOptions) -> AsyncIterator[tuple[str, Any]]:
        """("delta", text) as the generator writes, then ("answer", Answer) or ("error", exception)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def on_chunk(chunk: StreamingChunk) -> None:
            if chunk.content:
                loop.call_soon_threadsafe(queue.put_nowait, ("delta", chunk.content))

        async def run() -> None:
            try:
                answer = await self.ask(question, role, options, on_chunk)
            except Exception as exc:  # noqa: BLE001 - handed to the route, which maps it to an error event
                queue.put_nowait(("error", exc))
            else:
                queue.put_nowait(("answer", answer))

        task = asyncio.create_task(run())
        try:
            while True:
                kind, item = await queue.get()
                yield kind, item
                if kind != "delta":
                    return
        finally:
            # A client that leaves early does not stop the worker thread; the answer is simply dropped.
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    # --- readiness ---------------------------------------------------------------------------------------------------
    async def readiness(self) -> dict[str, dict[str, Any]]:
        """{"store": {"ok", "detail"}, "generator": {"ok", "detail"}}."""
        return {"store": await anyio.to_thread.run_sync(self._store_check), "generator": await self._generator_check()}

    def _store_check(self) -> dict[str, Any]:
        if self.assistant is None:
            return {"ok": False, "detail": "starting"}
        try:
            self.assistant.warm_up()
            count = self.assistant.document_store.count_documents()
        except AssistError as exc:
            return {"ok": False, "detail": str(exc)}
        except Exception as exc:  # noqa: BLE001 - any store failure means not ready
            logger.warning("Store check failed: %s", type(exc).__name__)
            return {"ok": False, "detail": f"the store cannot be read ({type(exc).__name__})"}
        if count == 0:
            return {"ok": False, "detail": "the store is empty: run `assist ingest knowledge`"}
        return {"ok": True, "detail": f"{count} passages"}

    async def _generator_check(self) -> dict[str, Any]:
        g = self.settings.generator
        if g.backend != "openai":
            return {"ok": self.assistant is not None, "detail": g.backend}
        url = (g.api_base_url or "").rstrip("/") + "/models"
        headers = {"Authorization": f"Bearer {g.api_key.get_secret_value()}"}
        try:
            async with httpx.AsyncClient(timeout=3.0) as client:
                resp = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            return {"ok": False, "detail": f"the LLM endpoint cannot be reached ({type(exc).__name__}); "
                                           "answers fall back to extractive"}
        if resp.status_code >= 500:
            return {"ok": False, "detail": f"the LLM endpoint answers {resp.status_code}"}
        return {"ok": True, "detail": f"openai:{g.model}"}
