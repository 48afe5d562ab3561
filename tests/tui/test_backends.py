"""The two backends: the core in-process over a small real store, and the HTTP client for `assist serve`."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from textual.widgets import Input

from assist.errors import BackendUnavailableError, ConfigError, InvalidQuestionError
from assist.settings import Settings
from assist.states import readable_quote
from tests.serving.closest import serve_closest
from tests.tui.conftest import LOAN_CARD
from tui.app import AssistApp
from tui.backends import LocalBackend, RemoteBackend, make_backend
from tui.history import HistoryStore
from tui.widgets import AnswerView, RolePicker, SourceList

HISTORY = [{"role": "user", "content": "Hur får ett barn lånekort?"}, {"role": "assistant", "content": "Så här [1]."}]


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sse(*events: tuple[str, object]) -> str:
    return "".join(f"event: {e}\ndata: {json.dumps(d, ensure_ascii=False)}\n\n" for e, d in events)


STREAM = sse(
    ("meta", {"request_id": "r1"}),
    ("delta", {"text": "A child gets "}),
    ("delta", {"text": "a card."}),
    ("answer", {**LOAN_CARD.model_dump(mode="json"), "request_id": "r1"}),
)


def recording_server(status: int = 200, body: object | None = None, stream: str | None = STREAM):  # type: ignore[no-untyped-def]
    """A stand-in for `assist serve`'s /api/ask and /api/ask/stream, recording the requests."""
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == "/readyz":
            return httpx.Response(200, json={"status": "ready"})
        if request.url.path == "/api/ask/stream":
            if stream is None:
                return httpx.Response(404, json={"detail": "Not Found"})
            if status == 200:
                return httpx.Response(200, text=stream, headers={"content-type": "text/event-stream"})
        return httpx.Response(
            status, json=LOAN_CARD.model_dump(mode="json") | {"request_id": "r1"} if body is None else body
        )

    return requests, httpx.MockTransport(handle)


class TestRemoteBackend:
    def test_posts_question_language_history_with_the_token(self) -> None:
        requests, transport = recording_server()
        backend = RemoteBackend("http://assist.test/", "s3cret", transport=transport)
        streamed: list[str] = []
        answer = backend.ask("Hur får ett barn lånekort?", "ignored", "sv", HISTORY, on_text=streamed.append)
        backend.close()
        assert answer == LOAN_CARD
        assert streamed == ["A child gets ", "a card."]
        request = requests[-1]
        assert request.url.path == "/api/ask/stream"
        assert request.headers["authorization"] == "Bearer s3cret"
        assert json.loads(request.content) == {
            "question": "Hur får ett barn lånekort?",
            "language": "sv",
            "history": HISTORY,
        }

    def test_server_without_streaming_answers_in_one_piece(self) -> None:
        requests, transport = recording_server(stream=None)
        streamed: list[str] = []
        answer = RemoteBackend("http://assist.test", "t", transport=transport).ask(
            "Lånekort?", "library", None, [], on_text=streamed.append
        )
        assert answer == LOAN_CARD
        assert streamed == [LOAN_CARD.answer]
        assert [r.url.path for r in requests] == ["/api/ask/stream", "/api/ask"]

    @pytest.mark.parametrize(
        ("stream", "words"),
        [
            (
                sse(("meta", {}), ("error", {"error": {"message": "The generator is down", "code": 503}})),
                "generator is down",
            ),
            (sse(("meta", {}), ("delta", {"text": "A child"})), "ended the answer early"),
        ],
    )
    def test_stream_errors_become_backend_unavailable(self, stream: str, words: str) -> None:
        _, transport = recording_server(stream=stream)
        backend = RemoteBackend("http://assist.test", "t", transport=transport)
        with pytest.raises(BackendUnavailableError, match=words):
            backend.ask("Lånekort?", "library", None, [], on_text=lambda _: None)

    def test_first_question_sends_no_history_or_language(self) -> None:
        requests, transport = recording_server()
        RemoteBackend("http://assist.test", None, transport=transport).ask("Lånekort?", "library", None, [])
        assert json.loads(requests[-1].content) == {"question": "Lånekort?"}
        assert "authorization" not in requests[-1].headers

    @pytest.mark.parametrize(
        ("status", "body", "error", "words"),
        [
            (401, {"detail": "bad token"}, ConfigError, "refused the token"),
            (422, {"detail": "The question is empty"}, InvalidQuestionError, "The question is empty"),
            (400, {"error": {"message": "Too long", "code": 400}}, InvalidQuestionError, "Too long"),
            (503, {"detail": "Qdrant is down"}, BackendUnavailableError, "Qdrant is down"),
            (200, {"not": "an answer"}, BackendUnavailableError, "not an answer"),
        ],
    )
    def test_server_errors_become_assist_errors(self, status: int, body: object, error: type, words: str) -> None:
        _, transport = recording_server(status, body)
        backend = RemoteBackend("http://assist.test", "t", transport=transport)
        with pytest.raises(error, match=words):
            backend.ask("Lånekort?", "library", None, [])

    def test_closed_port_is_backend_unavailable(self) -> None:
        url = f"http://127.0.0.1:{closed_port()}"
        backend = RemoteBackend(url, "t")
        with pytest.raises(BackendUnavailableError, match="is `assist serve` running"):
            backend.warm_up()
        with pytest.raises(BackendUnavailableError, match=url):
            backend.ask("Lånekort?", "library", None, [])
        backend.close()


@pytest.mark.anyio
async def test_unreachable_server_shows_an_error_notification(history: HistoryStore) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    app = AssistApp(RemoteBackend(url, "t"), history)
    async with app.run_test(notifications=True) as pilot:
        await app.workers.wait_for_complete()
        assert app.query_one(RolePicker).disabled  # the token decides the role
        app.query_one("#question", Input).value = "Hur får ett barn lånekort?"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        errors = [n for n in app._notifications if n.severity == "error"]
        assert len(errors) == 2  # at start-up, and for the question
        assert all(f"Cannot reach the server at {url}" in n.message for n in errors)
        assert app.query_one(AnswerView).has_class("-error")
        assert app.is_running


@pytest.mark.anyio
async def test_local_backend_answers_from_a_real_store_with_citations(
    real_settings: Settings, history: HistoryStore
) -> None:
    backend = LocalBackend(real_settings)
    app = AssistApp(backend, history, role="library")
    try:
        async with app.run_test() as pilot:
            await app.workers.wait_for_complete()
            app.query_one("#question", Input).value = "Vad behöver ett barn för att få lånekort?"
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            answer = app.query_one(AnswerView).answer
            assert answer is not None
            assert not answer.refused
            assert answer.citations
            assert {c.doc_id for c in answer.citations} == {"lanekort-barn"}
            assert {c.collection for c in answer.citations} <= {"library", "general"}

            sources = app.query_one(SourceList)
            # One line per routine: its passages are read together.
            assert sources.option_count == 1
            await pilot.press("ctrl+s", "enter")
            passage = str(app.query_one("#passage-text").render())
            first = answer.citations[0]
            assert first.title in passage
            assert first.section in passage
            assert all(readable_quote(c.quote) in passage for c in answer.citations)
    finally:
        backend.close()
    saved = history.search("lånekort")
    assert [t.answer.citations[0].doc_id for t in saved] == ["lanekort-barn"]


def test_local_backend_keeps_the_role_scope(real_settings: Settings) -> None:
    backend = LocalBackend(real_settings)
    try:
        answer = backend.ask("Vad gör jag om jag har tappat en nyckel till en brukare?", "library", None, HISTORY)
    finally:
        backend.close()
    assert all(c.collection in {"library", "general"} for c in answer.citations)
    assert "nycklar" not in {c.doc_id for c in answer.citations}


def test_make_backend_picks_remote_for_a_url(tmp_path) -> None:  # type: ignore[no-untyped-def]
    remote = make_backend("http://assist.test", "t", None)
    assert isinstance(remote, RemoteBackend)
    remote.close()
    local = make_backend(None, None, tmp_path / "store", Settings(data_dir=tmp_path))
    assert isinstance(local, LocalBackend)
    assert local.settings.store_path == tmp_path / "store"


@pytest.mark.anyio
async def test_remote_closest_answer_is_shown_as_closest_routines(
    real_settings: Settings, history: HistoryStore
) -> None:
    """Against a real `assist serve` app on loopback whose answer service reports answers as `closest`.

    The ClosestAsker double at the serving boundary (tests/serving/closest.py) leaves retrieval, citations and
    streaming real; only the final answer's status becomes `closest`, with uncovered ["surfplatta"].
    """
    with serve_closest(real_settings, ["surfplatta"]) as server:
        backend = RemoteBackend(server.base_url, server.token("library"))
        app = AssistApp(backend, history, role="library")
        async with app.run_test() as pilot:
            await app.workers.wait_for_complete()
            app.query_one("#question", Input).value = "Får ett barn låna en surfplatta med sitt lånekort?"
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            view = app.query_one(AnswerView)
            assert view.answer is not None and view.answer.status == "closest"
            assert view.has_class("-closest")
            opening = "**\u26a0 Rutinerna svarar inte direkt på detta.**\n\nIngen rutin nämner: surfplatta."
            assert view.source.startswith(opening)
            sources = app.query_one(SourceList)
            assert sources.border_title == "Närmaste rutiner"
            assert sources.option_count == len(view.answer.citations) > 0
