"""Where the terminal client gets its answers: the assist core in-process, or a running `assist serve`."""

from __future__ import annotations

import inspect
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx

from assist.errors import AssistError, BackendUnavailableError, ConfigError, InvalidQuestionError
from assist.schemas import Answer
from assist.settings import Settings

logger = logging.getLogger(__name__)

#: One earlier turn of the conversation, as the core and the HTTP API take it.
Turn = dict[str, str]
TextCallback = Callable[[str], None]


class Backend(Protocol):
    """What the app needs from a backend; every method may block and is called from a worker thread."""

    @property
    def description(self) -> str:
        """Shown in the status bar: where the answers come from."""

    @property
    def picks_role(self) -> bool:
        """True when the user picks the role; False when the server decides it from the token."""

    @property
    def supports_collections(self) -> bool:
        """True when the backend can narrow the search to some of the role's collections."""

    def warm_up(self) -> None: ...

    def ask(
        self,
        question: str,
        role: str,
        language: str | None,
        history: list[Turn],
        *,
        collections: list[str] | None = None,
        on_text: TextCallback | None = None,
    ) -> Answer: ...

    def close(self) -> None: ...


def _accepts(func: Callable[..., Any], name: str) -> bool:
    """True when `func` takes a keyword argument called `name` (the core gains parameters over time)."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


class LocalBackend:
    """The assist core in this process, reading the local store."""

    picks_role = True

    def __init__(self, settings: Settings, *, assistant: Any | None = None):
        self.settings = settings
        self._assistant = assistant
        # The pipeline and the embedded shard are not safe to use from two threads at once.
        self._lock = threading.Lock()
        self.description = "server " + settings.qdrant.url if settings.qdrant.url else "local store"

    @property
    def supports_collections(self) -> bool:
        from assist.pipeline import Assistant  # noqa: PLC0415

        return _accepts(Assistant.ask, "collections")

    def _get(self) -> Any:
        if self._assistant is None:
            from assist.pipeline import Assistant  # noqa: PLC0415

            self._assistant = Assistant(self.settings)
        return self._assistant

    def warm_up(self) -> None:
        """Open the store and load the models, so the first question is not slow."""
        with self._lock:
            self._get().warm_up()

    def ask(
        self,
        question: str,
        role: str,
        language: str | None,
        history: list[Turn],
        *,
        collections: list[str] | None = None,
        on_text: TextCallback | None = None,
    ) -> Answer:
        with self._lock:
            assistant = self._get()
            kwargs: dict[str, Any] = {"language": language}
            if on_text is not None:
                kwargs["streaming_callback"] = lambda chunk: on_text(chunk.content or "")
            if history and _accepts(assistant.ask, "history"):
                kwargs["history"] = history
            if collections and _accepts(assistant.ask, "collections"):
                kwargs["collections"] = collections
            answer: Answer = assistant.ask(question, role, **kwargs)
            return answer

    def close(self) -> None:
        with self._lock:
            if self._assistant is not None:
                self._assistant.close()
                self._assistant = None


class RemoteBackend:
    """A running `assist serve`, reached over HTTP with a bearer token that decides the role."""

    picks_role = False
    supports_collections = False

    def __init__(self, url: str, token: str | None, *, timeout_s: float = 120.0, transport: Any | None = None):
        self.url = url.rstrip("/")
        self.description = f"server {self.url}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(
            base_url=self.url, headers=headers, timeout=httpx.Timeout(timeout_s, connect=5.0), transport=transport
        )

    def warm_up(self) -> None:
        """Check the server answers; a server that is not ready yet is reported, not fatal."""
        try:
            response = self._client.get("/readyz")
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 500:
            msg = f"The server at {self.url} is not ready ({response.status_code}): {_detail(response.text)}"
            raise BackendUnavailableError(msg)

    def ask(
        self,
        question: str,
        role: str,  # the token decides the role on the server
        language: str | None,
        history: list[Turn],
        *,
        collections: list[str] | None = None,  # the HTTP API has no such field yet
        on_text: TextCallback | None = None,
    ) -> Answer:
        body: dict[str, Any] = {"question": question}
        if language:
            body["language"] = language
        if history:
            body["history"] = history
        try:
            if on_text is not None:
                return self._ask_streaming(body, on_text)
            response = self._client.post("/api/ask", json=body)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        self._check(response)
        return self._answer(response.text)

    def _ask_streaming(self, body: dict[str, Any], on_text: TextCallback) -> Answer:
        """POST /api/ask/stream: `delta` events carry text as it is written, `answer` the final Answer."""
        with self._client.stream("POST", "/api/ask/stream", json=body) as response:
            if response.status_code in (404, 405):  # an older server without streaming
                response.close()
                answer = self._answer(self._checked(self._client.post("/api/ask", json=body)).text)
                on_text(answer.answer)
                return answer
            if response.status_code >= 400:
                response.read()
                self._check(response)
            for event, data in _server_sent_events(response.iter_lines()):
                if event == "delta":
                    on_text(str(json.loads(data).get("text", "")))
                elif event == "answer":
                    return self._answer(data)
                elif event == "error":
                    raise self._error(int(json.loads(data).get("error", {}).get("code", 500)), data)
        msg = f"The server at {self.url} ended the answer early: ask again."
        raise BackendUnavailableError(msg)

    def _checked(self, response: httpx.Response) -> httpx.Response:
        self._check(response)
        return response

    def _check(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            raise self._error(response.status_code, response.text)

    def _error(self, status: int, text: str) -> AssistError:
        detail = _detail(text) or f"status {status}"
        if status in (401, 403):
            return ConfigError(f"The server at {self.url} refused the token ({status}): check --token.")
        if 400 <= status < 500:
            return InvalidQuestionError(detail)
        return BackendUnavailableError(f"The server at {self.url} failed ({status}): {detail}")

    def _answer(self, text: str) -> Answer:
        try:
            return Answer.model_validate_json(text)
        except ValueError as exc:
            msg = f"The server at {self.url} sent something that is not an answer: is the URL right?"
            raise BackendUnavailableError(msg) from exc

    def _unreachable(self, exc: Exception) -> AssistError:
        logger.warning("Cannot reach %s: %s", self.url, exc)
        return BackendUnavailableError(f"Cannot reach the server at {self.url}: is `assist serve` running?")

    def close(self) -> None:
        self._client.close()


def _detail(text: str) -> str:
    """The message of an error body: {"error": {"message"}} from assist serve, {"detail"} from FastAPI."""
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            return str(error.get("message", ""))[:200]
        return str(data.get("detail") or error or data)[:200]
    return str(data)[:200]


def _server_sent_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream; comments and pings are skipped."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield event, "\n".join(data)


def make_backend(
    url: str | None, token: str | None, store: Path | None, settings: Settings | None = None
) -> LocalBackend | RemoteBackend:
    """A RemoteBackend when `url` is given, else a LocalBackend over the configured (or given) store."""
    if url:
        return RemoteBackend(url, token)
    settings = settings or Settings()
    if store is not None:
        settings.qdrant.path = store
    return LocalBackend(settings)
