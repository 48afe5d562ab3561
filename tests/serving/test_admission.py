"""Admission control: past the cap on answers in flight to the LLM, a caller is answered at once, never queued.

The LLM is a stand-in OpenAI-compatible server on loopback that holds every completion until the test lets go,
so the order of events is fixed by the test, not by timing: two answers hold the two slots, the other six are
answered (busy, or extractively) while those two are still waiting for their first token.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from assist.settings import Settings
from serving.config import ServingSettings
from serving.service import DEFAULT_OPENAI_IN_FLIGHT, AskService
from tests.serving.conftest import Api, answerability_check, chat_reply, started

pytestmark = pytest.mark.integration

FALL = "Vad gör jag om en brukare har ramlat?"
CAP, CALLERS = 2, 8
SAFETY_S = 60  # only so that a broken build fails instead of hanging; nothing asserts on time


class HeldLLM:
    """An OpenAI-compatible chat endpoint that answers only when `release()` is called."""

    def __init__(self) -> None:
        self.received = 0  # generation calls
        self.checks = 0  # answerability calls, answered YES at once
        self._released = threading.Event()
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": "stand-in", "object": "model", "created": 0, "owned_by": "t"}]}

        @app.post("/v1/chat/completions")
        async def completions(body: dict[str, Any]) -> dict[str, Any]:
            if answerability_check(body):
                self.checks += 1
                return chat_reply(body, "YES")
            self.received += 1
            while not self._released.is_set():
                await asyncio.sleep(0.01)
            text = "Larma sjuksköterskan och hjälp inte brukaren upp själv [1]."
            return chat_reply(body, text)

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def release(self) -> None:
        self._released.set()

    def wait_received(self, n: int) -> None:
        deadline = time.monotonic() + SAFETY_S
        while self.received < n:
            assert time.monotonic() < deadline, f"the LLM got {self.received} requests, expected {n}"
            time.sleep(0.01)


@pytest.fixture
def held_llm() -> Iterator[HeldLLM]:
    llm = HeldLLM()
    thread = threading.Thread(target=llm.server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + SAFETY_S
    while not llm.server.started:
        assert time.monotonic() < deadline, "the stand-in LLM did not start"
        time.sleep(0.01)
    try:
        yield llm
    finally:
        llm.release()
        llm.server.should_exit = True
        thread.join(timeout=10)


def capped(make_settings: Callable[..., Settings], llm: HeldLLM, policy: str,
           monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, ServingSettings]:
    settings = make_settings(backend="openai", api_base_url=llm.base_url, model="stand-in", timeout_s=SAFETY_S)
    # One token sends every question here: the per-token cap (tests/serving/test_fairness.py) is lifted.
    serving = ServingSettings(rate_per_minute=6000, rate_burst=1000, max_generator_in_flight=CAP, busy_policy=policy,
                              max_in_flight_per_token=None)
    # The service reads the admission settings from the environment when the app does not hand them over.
    monkeypatch.setenv("ASSIST_SERVE__MAX_GENERATOR_IN_FLIGHT", str(CAP))
    monkeypatch.setenv("ASSIST_SERVE__BUSY_POLICY", policy)
    return settings, serving


def fire(api: Api, path: str = "/api/ask") -> tuple[ThreadPoolExecutor, list[Future[httpx.Response]]]:
    headers = api.token("home-care")
    pool = ThreadPoolExecutor(CALLERS)
    futures = [pool.submit(api.client.post, path, json={"question": FALL}, headers=headers) for _ in range(CALLERS)]
    return pool, futures


def first_done(futures: list[Future[httpx.Response]], n: int) -> list[Future[httpx.Response]]:
    done = []
    for future in as_completed(futures, timeout=SAFETY_S):
        done.append(future)
        if len(done) == n:
            break
    return done


def test_callers_past_the_cap_get_the_busy_answer_while_the_admitted_wait(
    make_settings: Callable[..., Settings], held_llm: HeldLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, serving = capped(make_settings, held_llm, "busy", monkeypatch)
    with started(settings, serving) as api:
        assert api.services.asker.generator_cap == CAP
        pool, futures = fire(api)
        busy = first_done(futures, CALLERS - CAP)
        held_llm.wait_received(CAP)
        # Six answered while the two admitted ones are still waiting for the LLM.
        assert sum(not f.done() for f in futures) == CAP
        for future in busy:
            resp = future.result()
            assert resp.status_code == 503
            assert resp.headers["Retry-After"] == "3"
            assert "busy" in resp.json()["error"]["message"]
            assert resp.json()["error"]["type"] == "server_error"
        # The other routes say the same while the slots are held.
        headers = api.token("home-care")
        chat = api.client.post("/v1/chat/completions", headers=headers,
                               json={"model": "frontline-assist", "messages": [{"role": "user", "content": FALL}]})
        assert chat.status_code == 503
        assert "Retry-After" in chat.headers
        stream = api.client.post("/api/ask/stream", json={"question": FALL}, headers=headers)
        assert "event: error" in stream.text
        assert "busy" in stream.text
        assert held_llm.received == CAP  # nothing past the cap reached the LLM
        held_llm.release()
        admitted = [f.result(timeout=SAFETY_S) for f in futures if f not in busy]
        pool.shutdown()
        assert [r.status_code for r in admitted] == [200] * CAP
        for resp in admitted:
            body = resp.json()
            assert body["fallback"] is False
            assert body["generator"] != "extractive"
            assert body["citations"][0]["doc_id"] == "fall"
        assert api.services.asker.generator_in_flight == 0
        # Slots are given back: the next question is admitted.
        assert api.client.post("/api/ask", json={"question": FALL}, headers=headers).status_code == 200


def test_extractive_policy_answers_past_the_cap_from_the_routines_marked(
    make_settings: Callable[..., Settings], held_llm: HeldLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, serving = capped(make_settings, held_llm, "extractive", monkeypatch)
    with started(settings, serving) as api:
        pool, futures = fire(api)
        quoted = first_done(futures, CALLERS - CAP)
        held_llm.wait_received(CAP)
        assert sum(not f.done() for f in futures) == CAP
        for future in quoted:
            resp = future.result()
            assert resp.status_code == 200
            body = resp.json()
            assert body["fallback"] is True
            assert body["generator"] == "extractive"
            assert body["citations"][0]["doc_id"] == "fall"
            assert any("busy" in n or "upptagen" in n for n in body["notices"])
        held_llm.release()
        admitted = [f.result(timeout=SAFETY_S) for f in futures if f not in quoted]
        pool.shutdown()
        assert all(r.status_code == 200 and r.json()["fallback"] is False for r in admitted)
        assert held_llm.received == CAP
        assert held_llm.checks == CAP  # nor its answerability call


def test_defaults_cap_an_openai_endpoint_and_leave_extractive_alone(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSIST_SERVE__MAX_GENERATOR_IN_FLIGHT", raising=False)
    monkeypatch.delenv("ASSIST_SERVE__BUSY_POLICY", raising=False)
    openai = AskService(make_settings(backend="openai", api_base_url="http://127.0.0.1:9/v1"))
    assert openai.generator_cap == DEFAULT_OPENAI_IN_FLIGHT
    assert openai.busy_policy == "busy"
    # Admitted answers never wait for a worker thread.
    assert openai.limiter.total_tokens >= DEFAULT_OPENAI_IN_FLIGHT
    assert AskService(make_settings()).generator_cap is None
    assert AskService(make_settings(), max_generator_in_flight=2).generator_cap is None
    assert AskService(make_settings(backend="llamacpp")).generator_cap is None
    with pytest.raises(ValueError, match="busy"):
        AskService(make_settings(), max_generator_in_flight=2, busy_policy="queue", retry_after_s=3)
