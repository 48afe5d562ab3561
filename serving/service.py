"""Runs the synchronous assist core off the event loop, a bounded number at a time, and streams its text.

Admission control: vLLM's waiting queue is unbounded, so the service itself caps the answers in flight to an LLM
generator (`ASSIST_SERVE__MAX_GENERATOR_IN_FLIGHT`). A question past the cap never waits: it gets the busy answer
(503 with Retry-After) or, with `ASSIST_SERVE__BUSY_POLICY=extractive`, the quoted routines marked as a fallback.
"""

import asyncio
import copy
import inspect
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from haystack.dataclasses import StreamingChunk
from starlette.exceptions import HTTPException

from assist.components.edge_store import EdgeDocumentStore
from assist.errors import AssistError, ConfigError, StoreDamagedError, StoreNotFoundError
from assist.languages import phrase
from assist.pipeline import Assistant, build_answer_pipeline
from assist.schemas import Answer
from assist.settings import Settings
from serving.counters import Counters

logger = logging.getLogger(__name__)

PLAIN_INSTRUCTION = "(Answer in plain, simple words that a parent can understand.)"
PLAIN_NEEDS_LLM = "Plain-language rewording needs a language model; this answer quotes the routines as written."
#: How old a readiness result an anonymous /readyz may be answered with.
READINESS_MAX_AGE_S = 1.0
#: Answers in flight to an OpenAI-compatible endpoint by default: one H100 serving a 7-8B model keeps its time to
#: first token under about a second up to some 16-32 streams (docs/bench/README.md, serving/vllm/README.md).
DEFAULT_OPENAI_IN_FLIGHT = 32
BUSY_MESSAGE = "The service is busy: try again in a few seconds."
BUSY_NOTICE = {
    "sv": "Språkmodellen är upptagen just nu: svaret är citerade meningar ur rutinerna.",
    "en": "The language model is busy right now: the answer quotes the routines directly.",
}


class BusyError(AssistError):
    """Too many questions are already waiting."""

    status_code = 503


class CallerBusyError(HTTPException, AssistError):
    """This caller already has as many questions in flight as one caller may: 429 with Retry-After."""

    status_code = 429

    def __init__(self, limit: int, retry_after_s: int):
        message = (
            f"You already have {limit} question{'s' if limit != 1 else ''} being answered: "
            f"wait for {'one' if limit != 1 else 'it'} to finish, then ask again."
        )
        super().__init__(429, message, headers={"Retry-After": str(retry_after_s)})

    def __str__(self) -> str:
        return str(self.detail)


class FairScheduler:
    """Worker slots shared fairly between callers (token ids), so that no one token can starve another.

    Each caller may have `per_caller` questions in flight (running or waiting); one more gets CallerBusyError.
    When a slot frees, it goes to the waiting caller with the fewest questions running, and among those to the
    one served longest ago: a caller who floods the service waits behind everyone else's next question, and
    another caller's question waits at most for a running one to finish. Past `max_waiting` questions waiting in
    all, a caller gets BusyError. Runs on the event loop only, so plain counters are enough.

    With shared `counters` (Redis), a caller's share counts its questions on every replica: each question holds a
    lease on one of the caller's `per_caller` slots there; the worker slots stay this replica's own.
    """

    def __init__(self, workers: int, *, per_caller: int | None, max_waiting: int, retry_after_s: int,
                 counters: Counters | None = None):
        self.workers = workers
        self.per_caller = per_caller
        self.counters = counters if counters is not None and counters.shared else None
        self.max_waiting = max_waiting
        self.retry_after_s = retry_after_s
        self.running = 0
        self._running_by: dict[str, int] = {}
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}
        self._served: dict[str, int] = {}
        self._turn = 0

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    def in_flight(self, caller: str) -> int:
        """Questions of `caller` running or waiting."""
        return self._running_by.get(caller, 0) + len(self._waiting.get(caller, ()))

    async def check(self, caller: str) -> None:
        """Raise CallerBusyError when `caller` has its share in flight now: a stream is refused before it starts.

        The slot itself checks again; this only lets a streamed answer get a 429 status instead of an error event.
        """
        if self.per_caller is None:
            return
        held = await self.counters.held(caller_key(caller)) if self.counters else self.in_flight(caller)
        if held >= self.per_caller:
            raise CallerBusyError(self.per_caller, self.retry_after_s)

    @asynccontextmanager
    async def slot(self, caller: str) -> AsyncIterator[None]:
        """Hold one worker slot for `caller`; raises at once when the caller or the queue is over its limit."""
        lease = None
        if self.counters is not None and self.per_caller is not None:
            lease = await self.counters.take(caller_key(caller), self.per_caller)
            if lease is None:
                raise CallerBusyError(self.per_caller, self.retry_after_s)
        elif self.per_caller is not None and self.in_flight(caller) >= self.per_caller:
            raise CallerBusyError(self.per_caller, self.retry_after_s)
        try:
            async with self._worker(caller):
                yield
        finally:
            if lease is not None and self.counters is not None:
                await self.counters.give_back(caller_key(caller), lease)

    @asynccontextmanager
    async def _worker(self, caller: str) -> AsyncIterator[None]:
        """One of this replica's worker slots, given fairly between the callers waiting for one."""
        if self.running < self.workers and not self._waiting:
            self._take(caller)
        else:
            if self.waiting >= self.max_waiting:
                raise BusyError(BUSY_MESSAGE)
            ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(caller, deque()).append(ticket)
            try:
                await ticket
            except BaseException:
                if ticket.done() and not ticket.cancelled():
                    self._release(caller)  # the slot was handed over just as the caller left
                else:
                    self._drop(caller, ticket)
                raise
        try:
            yield
        finally:
            self._release(caller)

    def _take(self, caller: str) -> None:
        self.running += 1
        self._running_by[caller] = self._running_by.get(caller, 0) + 1
        self._turn += 1
        self._served[caller] = self._turn

    def _release(self, caller: str) -> None:
        self.running -= 1
        left = self._running_by[caller] - 1
        if left:
            self._running_by[caller] = left
        else:
            del self._running_by[caller]
            if caller not in self._waiting:
                self._served.pop(caller, None)
        self._dispatch()

    def _drop(self, caller: str, ticket: asyncio.Future[None]) -> None:
        queue = self._waiting.get(caller)
        if queue is not None and ticket in queue:
            queue.remove(ticket)
            if not queue:
                del self._waiting[caller]
                if caller not in self._running_by:
                    self._served.pop(caller, None)

    def _dispatch(self) -> None:
        while self.running < self.workers and self._waiting:
            caller = min(self._waiting, key=lambda c: (self._running_by.get(c, 0), self._served.get(c, 0)))
            queue = self._waiting[caller]
            ticket = queue.popleft()
            if not queue:
                del self._waiting[caller]
            if ticket.cancelled():
                continue
            self._take(caller)
            ticket.set_result(None)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, e.g. a container's cpuset), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def caller_key(caller: str) -> str:
    """The shared counter of one caller's questions in flight."""
    return f"caller:{caller}"


#: The shared counter of answers in flight to the LLM generator (one pool of LLM replicas behind every API replica).
GENERATOR_KEY = "generator"


class GeneratorBusyError(HTTPException, BusyError):
    """The LLM generator already has as many answers in flight as it may.

    Starlette's HTTPException comes first in the bases so that the app's HTTP error handler answers it like any
    503 (OpenAI-style type `service_unavailable`, Retry-After header); it is still an AssistError for the routes
    and the stream.
    """

    status_code = 503

    def __init__(self, retry_after_s: int):
        super().__init__(503, BUSY_MESSAGE, headers={"Retry-After": str(retry_after_s)})
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        return str(self.detail)


@dataclass
class AskOptions:
    """What a surface may ask for besides the question itself."""

    language: str | None = None
    plain: bool = False
    history: list[dict[str, str]] = field(default_factory=list)
    #: Who asks (the token id): worker slots are shared fairly between callers.
    caller: str = ""


class AskService:
    """The one Assistant of the process, answered from a small worker pool.

    llama.cpp's in-process model is not thread-safe, so that backend gets one worker; the extractive and
    OpenAI-endpoint backends get several (the embedded store locks its own shard).
    """

    def __init__(
        self, settings: Settings, *, workers: int | None = None, max_waiting: int = 256,
        max_generator_in_flight: int | None = None, busy_policy: str | None = None, retry_after_s: int | None = None,
        max_in_flight_per_caller: int | None = 2, counters: Counters | None = None,
    ):
        self.settings = settings
        #: Shared by every replica when Redis is configured: the generator cap is then the LLM pool's, not this
        #: replica's, and a caller's share counts its questions on every replica.
        self.counters = counters if counters is not None and counters.shared else None
        backend = settings.generator.backend
        cap = max_generator_in_flight
        if cap is None and backend == "openai":
            cap = DEFAULT_OPENAI_IN_FLIGHT
        #: None: no cap (the extractive generator, and llama.cpp unless set: its one worker and MAX_WAITING bound it).
        self.generator_cap: int | None = None if backend == "extractive" else cap
        self.busy_policy = busy_policy or "busy"
        if self.busy_policy not in ("busy", "extractive"):
            msg = f"Unknown busy policy {self.busy_policy!r}: use 'busy' or 'extractive'."
            raise ValueError(msg)
        self.retry_after_s = retry_after_s or 3
        if workers is None:
            if backend == "llamacpp":
                workers = 1
            elif backend == "openai" and self.generator_cap is not None:
                # Admitted answers never wait for a thread; a few more for extractive fallbacks.
                workers = self.generator_cap + 4
            else:
                # The extractive answer is all CPU (embedding, search, sentence matching): more threads than cores
                # only slice the same cores, so every question in flight, another token's too, takes longer.
                workers = min(4, usable_cpus())
        #: Threads for the answers; the scheduler admits at most `workers` at once, so this never makes one wait.
        self.limiter = anyio.CapacityLimiter(workers)
        self.scheduler = FairScheduler(
            workers, per_caller=max_in_flight_per_caller, max_waiting=max_waiting, retry_after_s=self.retry_after_s,
            counters=self.counters,
        )
        self.max_waiting = max_waiting
        #: Answers holding a generator slot; changed only on the event loop, so a plain counter is enough.
        self.generator_in_flight = 0
        self.busy_answers = 0
        self.assistant: Assistant | None = None
        self.extractive: Assistant | None = None
        self.startup_error: str | None = None
        self._ask_params: frozenset[str] = frozenset()
        self._readiness: tuple[float, dict[str, dict[str, Any]]] | None = None
        self._readiness_lock = asyncio.Lock()

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
        if self.generator_cap is not None and self.busy_policy == "extractive":
            self.extractive = self._extractive_assistant(self.assistant)

    def _extractive_assistant(self, assistant: Assistant) -> Assistant:
        """The same assistant with the extractive generator, over the same open store (a shard is one process's)."""
        generator = self.settings.generator.model_copy(update={"backend": "extractive"})
        settings = self.settings.model_copy(update={"generator": generator})
        fallback = copy.copy(assistant)
        fallback.settings = settings
        fallback.pipeline = build_answer_pipeline(settings, assistant.document_store)
        if self.startup_error is None:
            fallback.pipeline.warm_up()
        return fallback

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
        if self.generator_cap is None:
            return await self._answer(self.assistant, question, role, options, callback)
        # Admission: take a generator slot without waiting; locally, no await between the check and the increment.
        lease = None
        if self.counters is not None:
            lease = await self.counters.take(GENERATOR_KEY, self.generator_cap)
            admitted = lease is not None
        else:
            admitted = self.generator_in_flight < self.generator_cap
        if not admitted:
            self.busy_answers += 1
            if self.busy_policy == "extractive" and self.extractive is not None:
                answer = await self._answer(self.extractive, question, role, options, callback, llm=False)
                if not answer.refused:
                    answer.fallback = True
                    answer.notices.append(phrase(BUSY_NOTICE, answer.language))
                return answer
            raise GeneratorBusyError(self.retry_after_s)
        self.generator_in_flight += 1
        try:
            return await self._answer(self.assistant, question, role, options, callback)
        finally:
            self.generator_in_flight -= 1
            if lease is not None and self.counters is not None:
                await self.counters.give_back(GENERATOR_KEY, lease)

    async def _answer(
        self, assistant: Assistant, question: str, role: str, options: AskOptions,
        callback: Callable[[StreamingChunk], None] | None, *, llm: bool | None = None,
    ) -> Answer:
        if llm is None:
            llm = self.settings.generator.backend != "extractive"
        text = self._question(question, options) if llm else question
        kwargs = self._kwargs(options, callback)
        async with self.scheduler.slot(options.caller):
            answer = await anyio.to_thread.run_sync(
                lambda: assistant.ask(text, role, **kwargs), limiter=self.limiter
            )
        if options.plain and not llm and not answer.refused:
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
    async def shared_readiness(self, max_age_s: float = READINESS_MAX_AGE_S) -> dict[str, dict[str, Any]]:
        """The last readiness result while it is younger than `max_age_s`, else a fresh one; concurrent callers
        share one check. For anonymous probes: a flood of them then costs one check a second, not one each.
        """
        async with self._readiness_lock:
            now = time.monotonic()
            if self._readiness is None or now - self._readiness[0] > max_age_s:
                self._readiness = (now, await self.readiness())
            return copy.deepcopy(self._readiness[1])

    async def readiness(self) -> dict[str, dict[str, Any]]:
        """{"store": {"ok", "detail"}, "generator": {"ok", "detail"}}, and "counters" when they are shared."""
        checks = {"store": await anyio.to_thread.run_sync(self._store_check),
                  "generator": await self._generator_check()}
        if self.counters is not None:
            checks["counters"] = await self._counters_check()
        return checks

    async def _counters_check(self) -> dict[str, Any]:
        assert self.counters is not None  # noqa: S101 - only called when shared
        try:
            held = await self.counters.held(GENERATOR_KEY)
        except AssistError as exc:
            return {"ok": False, "detail": str(exc)}
        return {"ok": True, "detail": f"{self.counters}: {held} answers in flight to the generator"}

    def _store_check(self) -> dict[str, Any]:
        """The store's state in words that name no file system path (anyone may call /readyz)."""
        if self.assistant is None:
            return {"ok": False, "detail": "starting"}
        store = self.assistant.document_store
        try:
            self.assistant.warm_up()
            problem = store.health() if isinstance(store, EdgeDocumentStore) else None
            if problem:
                return {"ok": False, "detail": problem}
            count = store.count_documents()
        except StoreDamagedError as exc:
            return {"ok": False, "detail": exc.public}
        except StoreNotFoundError:
            return {"ok": False, "detail": "there is no document store yet: run `assist ingest knowledge`"}
        except ConfigError as exc:
            # A configuration mistake (e.g. a role naming a collection the store lacks) says what to fix; /readyz
            # shows details to admin tokens only.
            return {"ok": False, "detail": str(exc)}
        except AssistError as exc:
            logger.warning("Store check failed: %s", exc)
            return {"ok": False, "detail": f"the store cannot be used ({type(exc).__name__}): see the service log"}
        except Exception as exc:  # noqa: BLE001 - any store failure means not ready
            logger.warning("Store check failed: %s", type(exc).__name__)
            return {"ok": False, "detail": f"the store cannot be read ({type(exc).__name__})"}
        if count == 0:
            return {"ok": False, "detail": "the store is empty: run `assist ingest knowledge`"}
        detail = f"{count} passages"
        if isinstance(store, EdgeDocumentStore):
            detail += f", version {store.version}"
            if store.swap_error:
                detail += f"; a newer version could not be opened, so this one stays in use: {store.swap_error}"
        return {"ok": True, "detail": detail}

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
