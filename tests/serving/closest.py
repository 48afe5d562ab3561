"""A test double at the serving boundary that reports the real service's answers as `closest`.

The surfaces' rendering of a `closest` answer is tested before (and independently of) the core deciding it: the
real AskService answers over the real store, with real citations and streamed text, and this wrapper changes only
the final Answer's `status` to `closest` and sets `uncovered`. It is put in through the app's dependency overrides
(`get_services`), so routes, guard, audit and the page stay real.
"""

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import uvicorn
from fastapi import FastAPI

from assist.schemas import Answer
from assist.settings import Settings
from serving.app import create_app
from serving.config import ServingSettings
from serving.deps import Services, get_services
from serving.service import AskOptions, AskService
from tests.conftest import free_port


class ClosestAsker:
    """The real answer service; an answered question comes back as `closest` with the given uncovered terms."""

    def __init__(self, real: AskService, uncovered: list[str]) -> None:
        self.real = real
        self.uncovered = uncovered
        #: The answers as the real service gave them, to check that the double changed only the status.
        self.originals: list[Answer] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def _closest(self, answer: Answer) -> Answer:
        self.originals.append(answer.model_copy(deep=True))
        if answer.status != "answered":
            return answer
        return answer.model_copy(update={"status": "closest", "refused": True, "uncovered": list(self.uncovered)})

    async def ask(self, question: str, role: str, options: AskOptions, callback: Callable[..., None] | None = None
                  ) -> Answer:
        return self._closest(await self.real.ask(question, role, options, callback))

    async def stream(self, question: str, role: str, options: AskOptions) -> AsyncIterator[tuple[str, Any]]:
        async for kind, item in self.real.stream(question, role, options):
            yield kind, self._closest(item) if kind == "answer" else item


def answer_closest(app: FastAPI, uncovered: list[str]) -> ClosestAsker:
    """Make `app`'s routes get a ClosestAsker in place of its answer service; returns the double."""
    services: Services = app.state.services
    double = ClosestAsker(services.asker, uncovered)
    overridden = replace(services, asker=double)  # type: ignore[arg-type]
    app.dependency_overrides[get_services] = lambda: overridden
    return double


@dataclass
class ClosestServer:
    """The app served by uvicorn on loopback in a thread of the test process, its answers made `closest`."""

    base_url: str
    app: FastAPI
    double: ClosestAsker

    def token(self, role: str = "home-care") -> str:
        return self.app.state.services.tokens.create(role)[1]


@contextmanager
def serve_closest(settings: Settings, uncovered: list[str]) -> Iterator[ClosestServer]:
    """A real HTTP server (uvicorn, lifespan and all) whose answer service is a ClosestAsker."""
    app = create_app(settings, ServingSettings(rate_per_minute=6000, rate_burst=1000))
    double = answer_closest(app, uncovered)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="closest-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                msg = "The in-process server did not start."
                raise RuntimeError(msg)
            time.sleep(0.1)
        yield ClosestServer(base_url=f"http://127.0.0.1:{port}", app=app, double=double)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
