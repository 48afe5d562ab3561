"""The HTTP API through TestClient: answers with the right citations, streaming, OpenAI shape, and bad input."""

import json
from collections.abc import Callable

from assist.schemas import Answer, Citation
from assist.settings import Settings
from serving.app import SQLITE_FILE
from serving.config import ServingSettings
from serving.routes.openai_compat import answer_text
from tests.serving.closest import answer_closest
from tests.serving.conftest import Api, free_port, started

FALL = "Vad gör jag om en brukare har ramlat?"
FALL_DE = "Der Kunde ist gestürzt, wen rufe ich an?"  # no routine is in German: the gate compares sentences
FEVER = "Hur länge ska ett barn med feber stanna hemma?"
NOT_COVERED = "Vad kostar en månadsbiljett på bussen?"
PERSONNUMMER = "19121212-1212"


def sse(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a server-sent events body."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data:
            out.append((event, "\n".join(data)))
    return out


class TestPublicRoutes:
    def test_healthz(self, api: Api) -> None:
        assert api.client.get("/healthz").json() == {"status": "ok"}

    def test_readyz_when_store_and_generator_are_up(self, api: Api) -> None:
        resp = api.client.get("/readyz")
        assert resp.status_code == 200
        assert resp.json()["checks"]["store"]["ok"] is True

    def test_page_and_its_files_with_security_headers(self, api: Api) -> None:
        page = api.client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "<label for=\"question\">" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert api.client.get("/static/app.js").status_code == 200
        assert api.client.get("/static/app.css").status_code == 200

    def test_no_cors_unless_configured(self, api: Api) -> None:
        resp = api.client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in resp.headers


class TestAccess:
    def test_no_token_is_401_and_nothing_else(self, api: Api) -> None:
        for method, path, body in [
            ("POST", "/api/ask", {"question": FALL}),
            ("POST", "/api/ask", "{not json"),
            ("POST", "/v1/chat/completions", {}),
            ("GET", "/metrics", None),
            ("GET", "/no/such/route", None),
            ("GET", "/openapi.json", None),
        ]:
            content = body if isinstance(body, str) else json.dumps(body) if body is not None else None
            resp = api.client.request(method, path, content=content, headers={"Content-Type": "application/json"})
            assert resp.status_code == 401, (method, path)
            assert resp.headers["www-authenticate"] == "Bearer"
            assert resp.json() == {"error": {
                "message": "A valid bearer token is required.", "type": "authentication_error", "code": 401,
            }}

    def test_wrong_token(self, api: Api) -> None:
        api.token()
        for auth in ("Bearer fa_wrong", "Bearer ", "Basic dXNlcjpwYXNz", "fa_x"):
            resp = api.client.post("/api/ask", json={"question": FALL}, headers={"Authorization": auth})
            assert resp.status_code == 401

    def test_revoked_token(self, api: Api) -> None:
        headers = api.token()
        token_id = api.services.tokens.list()[-1].token_id
        assert api.services.tokens.revoke(token_id)
        assert api.client.post("/api/ask", json={"question": FALL}, headers=headers).status_code == 401

    def test_rate_limit_per_token(self, make_settings: Callable[..., Settings]) -> None:
        with started(make_settings(), ServingSettings(rate_per_minute=1, rate_burst=2)) as a:
            first, second = a.token(), a.token()
            codes = [a.client.get("/v1/models", headers=first).status_code for _ in range(3)]
            assert codes == [200, 200, 429]
            limited = a.client.get("/v1/models", headers=first)
            assert int(limited.headers["retry-after"]) >= 1
            assert "Too many requests" in limited.json()["error"]["message"]
            assert a.client.get("/v1/models", headers=second).status_code == 200

    def test_metrics_needs_admin(self, api: Api) -> None:
        assert api.client.get("/metrics", headers=api.token("home-care")).status_code == 403
        resp = api.client.get("/metrics", headers=api.token("admin"))
        assert resp.status_code == 200
        assert "assist_http_request_seconds" in resp.text

    def test_cors_when_configured(self, make_settings: Callable[..., Settings]) -> None:
        serving = ServingSettings(cors_origins=["https://intranet.example"])
        with started(make_settings(), serving) as a:
            resp = a.client.options("/api/ask", headers={
                "Origin": "https://intranet.example", "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            })
            assert resp.status_code == 200
            assert resp.headers["access-control-allow-origin"] == "https://intranet.example"


class TestAsk:
    def test_answer_cites_the_right_routine(self, api: Api) -> None:
        resp = api.client.post("/api/ask", json={"question": FALL}, headers=api.token("home-care"))
        assert resp.status_code == 200
        body = resp.json()
        assert body["refused"] is False
        assert body["citations"][0]["doc_id"] == "fall"
        assert body["citations"][0]["title"] == "Fall hos brukare"
        assert "ramlat" in body["citations"][0]["quote"]
        assert "[1]" in body["answer"]
        assert body["request_id"].startswith("r_")
        assert body["generator"] == "extractive"
        assert "unit_vectors" not in resp.text  # the passages' stored sentence vectors stay inside

    def test_foreign_question_answer_carries_no_stored_vectors(self, api: Api) -> None:
        resp = api.client.post("/api/ask", json={"question": FALL_DE}, headers=api.token("home-care"))
        assert resp.status_code == 200
        assert resp.json()["citations"], "no routine was cited, so no sentence vector could have been sent"
        assert "unit_vectors" not in resp.text

    def test_role_reads_only_its_collections(self, api: Api) -> None:
        resp = api.client.post("/api/ask", json={"question": FALL}, headers=api.token("preschool"))
        assert resp.status_code == 200
        assert {c["collection"] for c in resp.json()["citations"]} <= {"preschool", "general"}

    def test_role_comes_from_the_token_not_the_body(self, api: Api) -> None:
        resp = api.client.post("/api/ask", json={"question": FALL, "role": "admin"}, headers=api.token("preschool"))
        assert resp.status_code == 422
        assert "role" in resp.json()["error"]["message"]

    def test_unanswerable_question_is_refused(self, api: Api) -> None:
        resp = api.client.post("/api/ask", json={"question": NOT_COVERED}, headers=api.token("preschool"))
        assert resp.status_code == 200
        assert resp.json()["refused"] is True
        assert resp.json()["citations"] == []
        metrics = api.client.get("/metrics", headers=api.token("admin")).text
        assert 'assist_refusals_total{role="preschool"} 1.0' in metrics

    def test_language_is_passed_on(self, api: Api) -> None:
        resp = api.client.post("/api/ask", json={"question": NOT_COVERED, "language": "en"}, headers=api.token())
        assert resp.json()["language"] == "en"
        assert resp.json()["answer"] == "The routines do not cover this question."

    def test_plain_language_on_the_extractive_generator_says_it_quotes(self, api: Api) -> None:
        resp = api.client.post("/api/ask", json={"question": FEVER, "plain": True}, headers=api.token("preschool"))
        assert resp.status_code == 200
        assert any("Plain-language" in n for n in resp.json()["notices"])

    def test_stream_sends_deltas_then_the_answer(self, api: Api) -> None:
        headers = api.token("preschool")
        with api.client.stream("POST", "/api/ask/stream", json={"question": FEVER}, headers=headers) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            events = sse(r.read().decode())
        kinds = [e for e, _ in events]
        assert kinds[0] == "meta"
        assert "delta" in kinds
        assert kinds[-1] == "answer"
        answer = json.loads(events[-1][1])
        assert answer["citations"][0]["doc_id"] == "illness"
        assert answer["request_id"] == json.loads(events[0][1])["request_id"]
        assert not [e for e, data in events if "unit_vectors" in data]

    def test_stream_rejects_a_bad_question_before_streaming(self, api: Api) -> None:
        resp = api.client.post("/api/ask/stream", json={"question": "   "}, headers=api.token())
        assert resp.status_code == 400
        assert "empty" in resp.json()["error"]["message"]

    def test_audit_log_has_what_an_auditor_needs_and_never_the_question(self, api: Api) -> None:
        headers = api.token("home-care")
        token_id = api.services.tokens.list()[-1].token_id
        rid = api.client.post("/api/ask", json={"question": FALL}, headers=headers).json()["request_id"]
        entry = next(e for e in api.services.audit.read() if e["request_id"] == rid)
        assert entry["token_id"] == token_id
        assert entry["role"] == "home-care"
        assert "fall" in entry["documents"]
        assert entry["refused"] is False
        assert entry["latency_ms"] > 0
        assert "time" in entry
        assert "ramlat" not in json.dumps(api.services.audit.read(), ensure_ascii=False)
        sqlite = api.services.settings.data_dir / SQLITE_FILE
        written = b"".join(p.read_bytes() for p in (sqlite, sqlite.with_name(SQLITE_FILE + "-wal")) if p.exists())
        assert b"fall" in written  # the entry is in these bytes, the question is not
        assert b"ramlat" not in written


class TestOpenAICompatible:
    def test_completion_has_footnotes_and_citations(self, api: Api) -> None:
        resp = api.client.post("/v1/chat/completions", headers=api.token("home-care"), json={
            "model": "frontline-assist", "messages": [{"role": "user", "content": FALL}], "temperature": 0,
        })
        assert resp.status_code == 200
        body = resp.json()
        content = body["choices"][0]["message"]["content"]
        assert "\n\nSources:\n[1] Fall hos brukare" in content
        assert body["citations"][0]["doc_id"] == "fall"
        assert body["object"] == "chat.completion"
        assert "unit_vectors" not in resp.text

    def test_streamed_completion(self, api: Api) -> None:
        payload = {"messages": [{"role": "user", "content": [{"type": "text", "text": FEVER}]}], "stream": True}
        with api.client.stream("POST", "/v1/chat/completions", json=payload, headers=api.token("preschool")) as r:
            assert r.status_code == 200
            datas = [d for _, d in sse(r.read().decode())]
        assert datas[-1] == "[DONE]"
        chunks = [json.loads(d) for d in datas[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert "feber" in text
        assert "Sources:\n[1] Sjukdom och återgång i förskolan" in text
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert chunks[-1]["citations"][0]["doc_id"] == "illness"

    def test_last_message_must_be_the_users(self, api: Api) -> None:
        resp = api.client.post("/v1/chat/completions", headers=api.token(), json={
            "messages": [{"role": "user", "content": FALL}, {"role": "assistant", "content": "ok"}],
        })
        assert resp.status_code == 400
        assert "last message" in resp.json()["error"]["message"]


class TestBadInput:
    def test_malformed_json(self, api: Api) -> None:
        resp = api.client.post("/api/ask", content=b'{"question": "Vad', headers=api.token() | {
            "Content-Type": "application/json"})
        assert resp.status_code == 400
        assert "not valid JSON" in resp.json()["error"]["message"]

    def test_missing_field(self, api: Api) -> None:
        resp = api.client.post("/api/ask", json={"fråga": FALL}, headers=api.token())
        assert resp.status_code == 422
        assert "question: Field required" in resp.json()["error"]["message"]

    def test_oversized_body(self, make_settings: Callable[..., Settings]) -> None:
        with started(make_settings(), ServingSettings(max_body_bytes=1024)) as a:
            resp = a.client.post("/api/ask", json={"question": "x" * 5000}, headers=a.token())
            assert resp.status_code == 413
            assert "limit is 1024" in resp.json()["error"]["message"]

    def test_oversized_chunked_body(self, make_settings: Callable[..., Settings]) -> None:
        with started(make_settings(), ServingSettings(max_body_bytes=1024)) as a:
            def body():  # no Content-Length: sent chunked
                yield b'{"question": "'
                yield b"x" * 4000
                yield b'"}'

            resp = a.client.post("/api/ask", content=body(), headers=a.token() | {"Content-Type": "application/json"})
            assert resp.status_code == 413

    def test_too_long_question(self, api: Api) -> None:
        resp = api.client.post("/api/ask", json={"question": "ord " * 1000}, headers=api.token())
        assert resp.status_code == 400
        assert "keep it under 2000" in resp.json()["error"]["message"]

    def test_binary_question(self, api: Api) -> None:
        resp = api.client.post("/api/ask", json={"question": "a\x00b"}, headers=api.token())
        assert resp.status_code == 400
        assert "binary" in resp.json()["error"]["message"]

    def test_bad_language_code(self, api: Api) -> None:
        resp = api.client.post("/api/ask", json={"question": FALL, "language": "svenska!"}, headers=api.token())
        assert resp.status_code == 422

    def test_question_with_personal_data(self, api: Api) -> None:
        question = f"Brukaren Anna Svensson {PERSONNUMMER}, tel 070-123 45 67, har ramlat. Vad gör jag?"
        resp = api.client.post("/api/ask", json={"question": question}, headers=api.token("home-care"))
        assert resp.status_code == 200
        body = resp.json()
        assert body["citations"][0]["doc_id"] == "fall"
        assert PERSONNUMMER not in json.dumps(body)
        assert body["scrubbed"] is True
        assert "Personuppgifter" in body["notices"][0]
        rid = body["request_id"]
        reason = f"Fel svar för {PERSONNUMMER}"
        assert api.client.post("/api/feedback", json={"request_id": rid, "rating": "down", "reason": reason},
                               headers=api.token("home-care")).status_code == 201
        logged = json.dumps(api.services.audit.read(), ensure_ascii=False)
        assert api.services.audit.read()[-1]["scrubbed"] is True
        assert PERSONNUMMER not in logged
        assert "Svensson" not in logged
        export = api.client.get("/api/feedback/export", headers=api.token("admin")).text
        assert PERSONNUMMER not in export

    def test_generator_down_falls_back_to_extractive(self, make_settings: Callable[..., Settings]) -> None:
        closed = f"http://127.0.0.1:{free_port()}/v1"
        with started(make_settings(backend="openai", api_base_url=closed, timeout_s=2.0)) as a:
            resp = a.client.post("/api/ask", json={"question": FALL}, headers=a.token("home-care"))
            assert resp.status_code == 200
            body = resp.json()
            assert body["fallback"] is True
            assert body["generator"] == "extractive"
            assert body["notices"]
            assert body["citations"][0]["doc_id"] == "fall"
            ready = a.client.get("/readyz", headers=a.token("admin"))
            assert ready.status_code == 503
            assert "cannot be reached" in ready.json()["checks"]["generator"]["detail"]
            assert "assist_fallbacks_total 1.0" in a.client.get("/metrics", headers=a.token("admin")).text

    def test_store_missing_is_503_with_what_to_do(self, tmp_path, make_settings: Callable[..., Settings]) -> None:
        settings = make_settings()
        settings.qdrant.path = tmp_path / "no-store"
        with started(settings) as a:
            resp = a.client.post("/api/ask", json={"question": FALL}, headers=a.token())
            assert resp.status_code == 503
            assert "assist ingest" in resp.json()["error"]["message"]
            assert a.client.get("/readyz").status_code == 503
            assert "Traceback" not in resp.text


class TestFeedback:
    def test_feedback_is_stored_with_the_cited_documents_and_exported(self, api: Api) -> None:
        headers = api.token("home-care")
        rid = api.client.post("/api/ask", json={"question": FALL}, headers=headers).json()["request_id"]
        resp = api.client.post("/api/feedback", json={"request_id": rid, "rating": "down", "reason": "Too long"},
                               headers=headers)
        assert resp.status_code == 201
        assert api.client.get("/api/feedback/export", headers=headers).status_code == 403
        rows = api.client.get("/api/feedback/export", headers=api.token("admin")).json()["feedback"]
        assert len(rows) == 1
        assert rows[0]["rating"] == "down"
        assert rows[0]["reason"] == "Too long"
        assert "fall" in rows[0]["documents"]
        assert rows[0]["refused"] is False
        csv = api.client.get("/api/feedback/export?format=csv", headers=api.token("admin"))
        assert csv.headers["content-type"].startswith("text/csv")
        assert "Too long" in csv.text

    def test_bad_rating(self, api: Api) -> None:
        resp = api.client.post("/api/feedback", json={"request_id": "r_1", "rating": "meh"}, headers=api.token())
        assert resp.status_code == 422


class TestAnswerStates:
    """`status` and `uncovered` on every HTTP surface.

    The `closest` cases use the ClosestAsker double at the serving boundary (tests/serving/closest.py): the real
    service answers over the real store, and only the final answer's status becomes `closest`.
    """

    def test_answered_and_refused_carry_their_status(self, api: Api) -> None:
        answered = api.client.post("/api/ask", json={"question": FALL}, headers=api.token("home-care")).json()
        assert (answered["status"], answered["refused"], answered["uncovered"]) == ("answered", False, [])
        refused = api.client.post("/api/ask", json={"question": NOT_COVERED}, headers=api.token("preschool")).json()
        assert (refused["status"], refused["refused"]) == ("refused", True)

    def test_closest_in_json(self, api: Api) -> None:
        double = answer_closest(api.client.app, ["semesterdagar"])
        body = api.client.post("/api/ask", json={"question": FALL}, headers=api.token("home-care")).json()
        assert body["status"] == "closest"
        assert body["refused"] is True
        assert body["uncovered"] == ["semesterdagar"]
        assert [c["doc_id"] for c in body["citations"]] == [c.doc_id for c in double.originals[-1].citations]

    def test_closest_in_the_stream_comes_with_the_final_event(self, api: Api) -> None:
        answer_closest(api.client.app, ["semesterdagar"])
        headers = api.token("home-care")
        with api.client.stream("POST", "/api/ask/stream", json={"question": FALL}, headers=headers) as r:
            events = sse(r.read().decode())
        kinds = [e for e, _ in events]
        assert kinds[0] == "meta"
        assert kinds[-1] == "answer"
        final = json.loads(events[-1][1])
        assert (final["status"], final["refused"], final["uncovered"]) == ("closest", True, ["semesterdagar"])

    def test_closest_as_openai_text_starts_with_a_plain_statement(self, api: Api) -> None:
        answer_closest(api.client.app, ["semesterdagar"])
        resp = api.client.post("/v1/chat/completions", headers=api.token("home-care"),
                               json={"messages": [{"role": "user", "content": FALL}]})
        body = resp.json()
        content = body["choices"][0]["message"]["content"]
        first, rest = content.split("\n", 1)
        assert first == "Rutinerna svarar inte direkt på detta. Ingen rutin nämner: semesterdagar."
        assert rest.startswith("\nNärmaste rutiner:\n> ")
        assert "\n\nSources:\n[1] Fall hos brukare" in content
        # Every line of the routines' text is a quotation, so that no client renders it as the answer.
        quoted = rest.split("\n\nSources:")[0].split("\n")[2:]
        assert quoted and all(line.startswith(">") for line in quoted)
        assert (body["status"], body["uncovered"], body["refused"]) == ("closest", ["semesterdagar"], True)

    def test_closest_openai_stream_sends_no_text_before_the_statement(self, api: Api) -> None:
        answer_closest(api.client.app, ["semesterdagar"])
        payload = {"messages": [{"role": "user", "content": FALL}], "stream": True}
        with api.client.stream("POST", "/v1/chat/completions", json=payload, headers=api.token("home-care")) as r:
            datas = [d for _, d in sse(r.read().decode())]
        chunks = [json.loads(d) for d in datas[:-1]]
        texts = [c["choices"][0]["delta"].get("content", "") for c in chunks]
        first = next(t for t in texts if t)
        assert first.startswith("Rutinerna svarar inte direkt på detta. Ingen rutin nämner: semesterdagar.")
        assert chunks[-1]["status"] == "closest"
        assert chunks[-1]["uncovered"] == ["semesterdagar"]

    def test_answered_openai_text_is_unchanged(self, api: Api) -> None:
        resp = api.client.post("/v1/chat/completions", headers=api.token("home-care"),
                               json={"messages": [{"role": "user", "content": FALL}]})
        body = resp.json()
        content = body["choices"][0]["message"]["content"]
        assert not content.startswith(">")
        assert "svarar inte direkt" not in content
        assert body["status"] == "answered"

    def test_openapi_documents_the_states(self, api: Api) -> None:
        spec = api.client.get("/openapi.json", headers=api.token()).json()
        props = spec["components"]["schemas"]["AskResponse"]["properties"]
        assert props["status"]["enum"] == ["answered", "closest", "refused"]
        assert props["uncovered"]["type"] == "array"
        ask_doc = spec["paths"]["/api/ask"]["post"]["description"]
        assert "closest" in ask_doc
        assert "uncovered" in ask_doc
        assert "closest" in spec["paths"]["/v1/chat/completions"]["post"]["description"]


def test_openai_text_of_an_english_closest_answer() -> None:
    answer = Answer(answer="Step one [1].\n\nStep two [1].", status="closest", uncovered=["vacation", "overtime"],
                    language="en", citations=[Citation(n=1, doc_id="d", title="Falls", source="f.md", quote="q")])
    assert answer_text(answer) == (
        "The routines do not answer this directly. No routine mentions: vacation, overtime.\n\n"
        "Closest routines:\n> Step one [1].\n>\n> Step two [1].\n\nSources:\n[1] Falls: f.md"
    )
