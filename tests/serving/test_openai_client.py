"""A running `assist serve` answers the official openai client, plain and streamed."""

import httpx
import openai
import pytest

from tests.serving.closest import serve_closest
from tests.serving.conftest import LiveServer

pytestmark = pytest.mark.integration

FALL = "Vad gör jag om en brukare har ramlat?"


def client(server: LiveServer, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=token, max_retries=0, timeout=60)


def test_completion(live_server: LiveServer) -> None:
    resp = client(live_server, live_server.token("home-care")).chat.completions.create(
        model="frontline-assist", messages=[{"role": "user", "content": FALL}]
    )
    content = resp.choices[0].message.content or ""
    assert "ramlat" in content
    assert "Sources:\n[1] Fall hos brukare" in content
    extra = resp.model_extra or {}
    assert extra["citations"][0]["doc_id"] == "fall"
    assert extra["refused"] is False


def test_streamed_completion(live_server: LiveServer) -> None:
    stream = client(live_server, live_server.token("home-care")).chat.completions.create(
        model="frontline-assist", messages=[{"role": "user", "content": FALL}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "ramlat" in text
    assert "[1] Fall hos brukare" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["citations"][0]["doc_id"] == "fall"


def test_wrong_key_is_an_authentication_error(live_server: LiveServer) -> None:
    with pytest.raises(openai.AuthenticationError, match="valid bearer token"):
        client(live_server, "fa_not-a-token").chat.completions.create(
            model="frontline-assist", messages=[{"role": "user", "content": FALL}]
        )


def test_binds_to_loopback_and_answers_probes(live_server: LiveServer) -> None:
    assert live_server.base_url.startswith("http://127.0.0.1:")
    assert httpx.get(f"{live_server.base_url}/healthz").json() == {"status": "ok"}


def test_closest_answer_through_the_official_client(make_settings) -> None:  # noqa: ANN001
    """The official client reads a `closest` answer as a plain statement first, streamed or not.

    Served in-process with the ClosestAsker double at the serving boundary (tests/serving/closest.py): the real
    service answers, and only the final answer's status becomes `closest`.
    """
    with serve_closest(make_settings(), ["semesterdagar"]) as server:
        api = client(server, server.token("home-care"))  # type: ignore[arg-type]
        messages = [{"role": "user", "content": FALL}]
        resp = api.chat.completions.create(model="frontline-assist", messages=messages)  # type: ignore[arg-type]
        content = resp.choices[0].message.content or ""
        assert content.startswith("Rutinerna svarar inte direkt på detta. Ingen rutin nämner: semesterdagar.")
        assert (resp.model_extra or {})["status"] == "closest"
        stream = api.chat.completions.create(model="frontline-assist", messages=messages, stream=True)  # type: ignore[arg-type]
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text.startswith("Rutinerna svarar inte direkt på detta. Ingen rutin nämner: semesterdagar.")
        assert "\n\nNärmaste rutiner:\n> " in text
        assert (chunks[-1].model_extra or {})["uncovered"] == ["semesterdagar"]
