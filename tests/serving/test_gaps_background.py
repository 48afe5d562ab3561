"""Issue 23: the first /api/gaps call embedded every new question inside the request (82 s). The service's worker
thread embeds recorded questions; the gaps routes only read what is embedded and say how many still wait.
"""

import threading
import time

import numpy as np

from owners.gaps import make_embedder
from tests.serving.conftest import Api
from tests.serving.test_owners_routes import ASKED


class CountingEmbedder:
    """The configured embedder, noting the thread of every call."""

    def __init__(self, api: Api):
        self.embed, self.name = make_embedder(api.services.settings)
        self.threads: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.threads.append(threading.current_thread().name)
        return self.embed(texts)


def test_the_gaps_routes_never_embed_and_the_worker_does(city_api: Api) -> None:
    questions = city_api.services.questions
    counting = CountingEmbedder(city_api)
    questions._embed = (counting, counting.name)  # noqa: SLF001 - the real model, counted
    questions.embed_in_background = False  # held back: the questions wait, as they do while the worker is busy
    for question in ASKED:
        resp = city_api.client.post("/api/ask", json={"question": question}, headers=city_api.token("home-care"))
        assert resp.json()["status"] in ("refused", "closest"), resp.json()
    admin = city_api.token("admin")

    resp = city_api.client.get("/api/gaps", headers=admin)
    assert resp.status_code == 200
    assert resp.json()["waiting"] == len(ASKED) and resp.json()["topics"] == []
    assert city_api.client.get("/api/gaps/export?format=json", headers=admin).json()["waiting"] == len(ASKED)
    assert counting.threads == []  # neither route embedded anything

    questions.embed_in_background = True
    assert city_api.client.get("/api/gaps", headers=admin).json()["waiting"] == len(ASKED)  # it wakes the worker
    for _ in range(600):  # the worker embeds in the background; wait for it (no bound on its time is asserted)
        if questions.pending() == 0:
            break
        time.sleep(0.1)
    assert counting.threads and set(counting.threads) == {"gaps-embedder"}
    calls = len(counting.threads)

    body = city_api.client.get("/api/gaps", headers=admin).json()
    assert body["waiting"] == 0
    [topic] = body["topics"]
    assert topic["count"] == len(ASKED)
    marked = city_api.client.post("/api/gaps/handled", json={"key": topic["key"], "until": topic["last_asked"]},
                                  headers=admin)
    assert marked.status_code == 200
    assert len(counting.threads) == calls  # reading and marking embedded nothing more


def test_the_answer_carries_its_answerability_to_the_gaps(city_api: Api) -> None:
    """Issue 24: an answered question is recorded when its answerability is within the margin above the threshold.
    With the margin wide open every answer is 'low confidence'; with none, an answered question is not recorded.
    """
    from sqlalchemy import select  # noqa: PLC0415

    from serving.state.models import Question  # noqa: PLC0415

    questions = city_api.services.questions
    questions.embed_in_background = False
    headers = city_api.token("home-care")
    asked = []
    for margin in (0.0, 1.0):
        questions.gaps.low_confidence_margin = margin
        resp = city_api.client.post("/api/ask", json={"question": "Vad gör jag om en brukare har ramlat?"},
                                    headers=headers)
        assert resp.json()["status"] == "answered", resp.json()
        assert "answerability" not in resp.json()  # not part of the reply
        asked.append(resp.json()["request_id"])
    with city_api.services.database.begin() as conn:
        rows = conn.execute(select(Question.request_id, Question.status)).all()
    assert [(r.request_id, r.status) for r in rows] == [(asked[1], "answered")]


def test_the_worker_stops_with_the_service(make_settings) -> None:  # noqa: ANN001
    from tests.conftest import ROLES_CITY
    from tests.serving.conftest import started

    settings = make_settings()
    settings.roles_file = ROLES_CITY
    with started(settings) as api:
        resp = api.client.post("/api/ask", json={"question": ASKED[0]}, headers=api.token("home-care"))
        assert resp.status_code == 200
        worker = api.services.questions._worker  # noqa: SLF001 - the thread the service started
        assert worker is not None
    worker.join(timeout=60)  # stopped after its pass, not left waiting for the next question
    assert not worker.is_alive()
