"""Fair admission: one token flooding the service can neither take more than its share nor starve another token.

Nothing here asserts on time. The scheduler's tests drive it step by step on one event loop; the service's test
holds every answer at a stand-in LLM on loopback and lets them go one at a time, so the order in which the LLM
sees the questions is the order in which the service handed out its worker.
"""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from assist.settings import Settings
from serving.config import ServingSettings
from serving.service import BusyError, CallerBusyError, FairScheduler
from tests.conftest import free_port
from tests.serving.conftest import answerability_check, chat_reply, started

FALL = "Vad gör jag om en brukare har ramlat?"
KEYS = "Var förvaras brukarnas nycklar?"
FEVER = "Hur länge ska ett barn med feber stanna hemma?"
SAFETY_S = 60  # only so that a broken build fails instead of hanging; nothing asserts on time


async def settle() -> None:
    """Let every task that can run, run."""
    for _ in range(20):
        await asyncio.sleep(0)


class Worker:
    """One question holding a scheduler slot until the test lets it go."""

    def __init__(self, scheduler: FairScheduler, caller: str, name: str, order: list[str]):
        self.done = asyncio.Event()
        self.error: BaseException | None = None
        self.task = asyncio.create_task(self._run(scheduler, caller, name, order))

    async def _run(self, scheduler: FairScheduler, caller: str, name: str, order: list[str]) -> None:
        try:
            async with scheduler.slot(caller):
                order.append(name)
                await self.done.wait()
        except (CallerBusyError, BusyError) as exc:
            self.error = exc


class TestFairScheduler:
    def test_a_token_past_its_share_is_told_at_once_with_retry_after(self) -> None:
        async def run() -> None:
            scheduler = FairScheduler(1, per_caller=2, max_waiting=100, retry_after_s=3)
            order: list[str] = []
            a1, a2 = Worker(scheduler, "A", "a1", order), Worker(scheduler, "A", "a2", order)
            await settle()
            a3 = Worker(scheduler, "A", "a3", order)
            await settle()
            assert isinstance(a3.error, CallerBusyError)
            assert a3.error.status_code == 429
            assert a3.error.headers == {"Retry-After": "3"}
            assert "2 questions" in str(a3.error)
            assert order == ["a1"]
            assert scheduler.in_flight("A") == 2
            # Another token is still admitted.
            b1 = Worker(scheduler, "B", "b1", order)
            await settle()
            assert b1.error is None
            for w in (a1, b1, a2):
                w.done.set()
                await settle()
            assert order == ["a1", "b1", "a2"]
            assert scheduler.running == 0
            assert scheduler.waiting == 0

        asyncio.run(run())

    def test_a_flooding_token_waits_behind_another_tokens_next_question(self) -> None:
        async def run() -> None:
            scheduler = FairScheduler(2, per_caller=None, max_waiting=100, retry_after_s=3)
            order: list[str] = []
            flood = [Worker(scheduler, "A", f"a{i}", order) for i in range(10)]
            await settle()
            b1 = Worker(scheduler, "B", "b1", order)
            c1 = Worker(scheduler, "C", "c1", order)
            await settle()
            assert order == ["a0", "a1"]
            flood[0].done.set()
            await settle()
            # The freed slot goes to a token with nothing running, not to A's eight waiting questions.
            assert order == ["a0", "a1", "b1"]
            flood[1].done.set()
            await settle()
            assert order == ["a0", "a1", "b1", "c1"]
            b1.done.set()
            c1.done.set()
            await settle()
            assert order[4:] == ["a2", "a3"]
            for w in flood:
                w.done.set()
            await settle()
            await settle()
            assert order[6:] == [f"a{i}" for i in range(4, 10)]
            assert scheduler.running == 0

        asyncio.run(run())

    def test_tokens_take_turns_when_both_queue(self) -> None:
        async def run() -> None:
            scheduler = FairScheduler(1, per_caller=None, max_waiting=100, retry_after_s=3)
            order: list[str] = []
            workers = [Worker(scheduler, "A", f"a{i}", order) for i in range(3)]
            await settle()
            workers += [Worker(scheduler, "B", f"b{i}", order) for i in range(3)]
            await settle()
            # Finish the slot holder each round; the holder is the last name in `order`.
            names = {f"a{i}": workers[i] for i in range(3)} | {f"b{i}": workers[3 + i] for i in range(3)}
            while len(order) < 6:
                names[order[-1]].done.set()
                await settle()
            names[order[-1]].done.set()
            await settle()
            assert order == ["a0", "b0", "a1", "b1", "a2", "b2"]

        asyncio.run(run())

    def test_a_caller_who_leaves_while_waiting_gives_back_its_place(self) -> None:
        async def run() -> None:
            scheduler = FairScheduler(1, per_caller=2, max_waiting=100, retry_after_s=3)
            order: list[str] = []
            a1, a2 = Worker(scheduler, "A", "a1", order), Worker(scheduler, "A", "a2", order)
            await settle()
            a2.task.cancel()
            await settle()
            assert scheduler.waiting == 0
            assert scheduler.in_flight("A") == 1
            a1.done.set()
            await settle()
            assert scheduler.running == 0
            b1 = Worker(scheduler, "B", "b1", order)
            await settle()
            assert order == ["a1", "b1"]
            b1.done.set()
            await settle()

        asyncio.run(run())

    def test_a_full_queue_is_busy(self) -> None:
        async def run() -> None:
            scheduler = FairScheduler(1, per_caller=None, max_waiting=2, retry_after_s=3)
            order: list[str] = []
            workers = [Worker(scheduler, c, c, order) for c in "ABC"]
            await settle()
            late = Worker(scheduler, "D", "D", order)
            await settle()
            assert isinstance(late.error, BusyError)
            for w in workers:
                w.done.set()
                await settle()
            assert order == ["A", "B", "C"]

        asyncio.run(run())


class SteppedLLM:
    """An OpenAI-compatible chat endpoint that answers one held request per `step()`, recording what it was asked."""

    def __init__(self) -> None:
        self.questions: list[str] = []
        self._allowed = 0
        self._lock = threading.Lock()
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": "stand-in", "object": "model", "created": 0, "owned_by": "t"}]}

        @app.post("/v1/chat/completions")
        async def completions(body: dict[str, Any]) -> dict[str, Any]:
            if answerability_check(body):
                # Runs inside the worker slot the scheduler gave, so generation calls still show the order.
                return chat_reply(body, "YES")
            prompt = str(body["messages"][-1]["content"])
            with self._lock:
                turn = len(self.questions)
                self.questions.append(next(q for q in (FALL, KEYS, FEVER) if q in prompt))
            while self._allowed <= turn:
                await asyncio.sleep(0.01)
            text = "Följ rutinen [1]."
            return chat_reply(body, text)

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def step(self) -> None:
        self._allowed += 1

    def wait_questions(self, n: int) -> None:
        until(lambda: len(self.questions) >= n, f"the LLM was asked {len(self.questions)} questions, expected {n}")


def until(condition: Callable[[], bool], message: str) -> None:
    deadline = time.monotonic() + SAFETY_S
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.01)


@pytest.fixture
def stepped_llm() -> Iterator[SteppedLLM]:
    llm = SteppedLLM()
    thread = threading.Thread(target=llm.server.run, daemon=True)
    thread.start()
    until(lambda: llm.server.started, "the stand-in LLM did not start")
    try:
        yield llm
    finally:
        llm._allowed = 10**6
        llm.server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.integration
def test_a_flooding_token_does_not_delay_another_tokens_question_beyond_its_slot(
    make_settings: Callable[..., Settings], stepped_llm: SteppedLLM
) -> None:
    settings = make_settings(backend="openai", api_base_url=stepped_llm.base_url, model="stand-in", timeout_s=SAFETY_S)
    serving = ServingSettings(rate_per_minute=6000, rate_burst=1000, ask_workers=1, max_in_flight_per_token=2)
    with started(settings, serving) as api, ThreadPoolExecutor(4) as pool:
        scheduler = api.services.asker.scheduler
        flooder, other = api.token("home-care"), api.token("preschool")

        def ask(question: str, headers: dict[str, str], path: str = "/api/ask") -> httpx.Response:
            if path == "/api/ask":
                return api.client.post(path, json={"question": question}, headers=headers)
            body = {"model": "frontline-assist", "messages": [{"role": "user", "content": question}]}
            return api.client.post(path, json=body, headers=headers)

        first = pool.submit(ask, FALL, flooder)
        stepped_llm.wait_questions(1)  # the flooder's first question holds the one worker
        second = pool.submit(ask, KEYS, flooder, "/v1/chat/completions")
        until(lambda: scheduler.waiting == 1, "the flooder's second question did not queue")
        # Past its share the flooder is told at once, on every route; nothing of it reaches the LLM.
        for path in ("/api/ask", "/v1/chat/completions"):
            refused = ask(FALL, flooder, path)
            assert refused.status_code == 429
            assert refused.headers["Retry-After"] == "3"
            assert refused.json()["error"]["type"] == "rate_limit_error"
            assert "2 questions" in refused.json()["error"]["message"]
        # A stream is refused with the status too, before it starts.
        stream = api.client.post("/api/ask/stream", json={"question": FALL}, headers=flooder)
        assert stream.status_code == 429
        chat_stream = api.client.post("/v1/chat/completions", headers=flooder, json={
            "model": "frontline-assist", "stream": True, "messages": [{"role": "user", "content": FALL}]})
        assert chat_stream.status_code == 429
        assert "Retry-After" in chat_stream.headers
        theirs = pool.submit(ask, FEVER, other)
        until(lambda: scheduler.waiting == 2, "the other token's question did not queue")

        stepped_llm.step()
        assert first.result(timeout=SAFETY_S).status_code == 200
        stepped_llm.wait_questions(2)
        # The freed worker went to the other token, although the flooder's second question came first.
        assert stepped_llm.questions == [FALL, FEVER]
        stepped_llm.step()
        assert theirs.result(timeout=SAFETY_S).json()["citations"]
        stepped_llm.step()
        assert second.result(timeout=SAFETY_S).status_code == 200
        # The flooder's second question was served last; whether it reached generation depends on the grounding
        # check's verdict on the test corpus, not on admission.
        assert stepped_llm.questions in ([FALL, FEVER], [FALL, FEVER, KEYS])
        assert scheduler.running == 0
        assert scheduler.waiting == 0
