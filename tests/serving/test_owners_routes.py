"""The owners' pages on the service: knowledge gaps for owners and admins (403 for staff), the public transparency
record.
"""

from collections.abc import Callable

import pytest
import yaml
from sqlalchemy import select

from assist.settings import GeneratorSettings, Settings
from owners.transparency import load_schema, required_attributes
from serving.state.models import Question
from tests.owners.test_transparency import LLM_MODEL, LLM_URL, QDRANT_URL, UNPUBLISHED
from tests.serving.conftest import Api, started

#: Questions no fixture routine answers (a monthly bus ticket's price), worded four ways: refused for every role.
BUS = [
    "Vad kostar en månadsbiljett på bussen?",
    "Hur mycket kostar ett månadskort för bussen?",
    "Vad kostar busskortet per månad?",
    "Vad är priset på en månadsbiljett för buss?",
]
#: Refused (or only closest) for preschool staff.
LAUNDRY = [
    "Hur bokar jag tvättstugan åt brukaren?",
    "Var bokar man tvättstuga i brukarens hus?",
    "Kan jag boka en tid i tvättstugan åt brukaren?",
]


#: Each question from a token of its own (the gaps' floor counts people, not texts); the first from three people, so
#: that its text may be shown as an example.
ASKED = [BUS[0], BUS[0], *BUS]


def ask_unanswered(api: Api, role: str = "home-care") -> None:
    for question in ASKED:
        resp = api.client.post("/api/ask", json={"question": question}, headers=api.token(role))
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] in ("refused", "closest"), resp.json()
    api.services.questions.embed_missing()  # what the service's worker does in the background


def test_unanswered_questions_become_a_topic_for_owners_and_admins(city_api: Api) -> None:
    ask_unanswered(city_api)
    for role in ("admin", "owner-home-care"):
        resp = city_api.client.get("/api/gaps", headers=city_api.token(role))
        assert resp.status_code == 200, resp.text
        [topic] = resp.json()["topics"]
        assert topic["examples"] == [BUS[0]]  # the others were asked by one person each
        assert topic["collection"] == "home_care" and topic["count"] == len(ASKED)
        assert topic["statuses"]["refused"] + topic["statuses"]["closest"] == len(ASKED)
        # Refusals name no routine: the store's nearest one to the topic's centre stands in.
        assert topic["nearest_doc_id"] and topic["nearest_doc_id"] != "contacts"

    csv_resp = city_api.client.get("/api/gaps/export", headers=city_api.token("admin"))
    assert csv_resp.status_code == 200 and csv_resp.headers["content-type"].startswith("text/csv")
    assert "månadsbiljett" in csv_resp.text

    owner = city_api.token("owner-home-care")
    marked = city_api.client.post("/api/gaps/handled", json={"key": topic["key"], "until": topic["last_asked"]},
                                  headers=owner)
    assert marked.status_code == 200 and marked.json()["marked"] == len(ASKED)
    assert all(set(t["examples"]) - set(BUS)
               for t in city_api.client.get("/api/gaps", headers=owner).json()["topics"])
    gone = city_api.client.post("/api/gaps/handled", json={"key": "q_missing", "until": topic["last_asked"]},
                                headers=owner)
    assert gone.status_code == 404


def test_owners_see_only_their_own_collections(city_api: Api) -> None:
    for question in LAUNDRY:
        resp = city_api.client.post("/api/ask", json={"question": question}, headers=city_api.token("preschool"))
        assert resp.json()["status"] != "answered", resp.json()
    city_api.services.questions.embed_missing()  # what the service's worker does in the background
    owner = city_api.client.get("/api/gaps", headers=city_api.token("owner-home-care")).json()
    assert owner["collections"] == ["home_care"]
    assert all(t["collection"] == "home_care" for t in owner["topics"])
    admin = city_api.client.get("/api/gaps", headers=city_api.token("admin")).json()
    assert any(t["collection"] == "preschool" for t in admin["topics"])


@pytest.mark.parametrize("role", ["home-care", "family-services", "reception"])
def test_staff_roles_get_403_on_every_gaps_route(city_api: Api, role: str) -> None:
    headers = city_api.token(role)
    assert city_api.client.get("/api/gaps", headers=headers).status_code == 403
    assert city_api.client.get("/api/gaps/export", headers=headers).status_code == 403
    assert city_api.client.get("/api/gaps/export?format=json", headers=headers).status_code == 403
    resp = city_api.client.post("/api/gaps/handled", json={"key": "q_x", "until": "2030-01-01"}, headers=headers)
    assert resp.status_code == 403
    assert city_api.client.get("/api/gaps").status_code == 401  # and without a token, nothing at all


def test_a_thumbs_down_records_the_answered_question_as_a_gap(city_api: Api) -> None:
    headers = city_api.token("home-care")
    resp = city_api.client.post("/api/ask", json={"question": "Vad gör jag om en brukare har ramlat?"},
                                headers=headers)
    assert resp.json()["status"] == "answered", resp.json()
    request_id = resp.json()["request_id"]
    rated = city_api.client.post("/api/feedback", json={"request_id": request_id, "rating": "down"},
                                 headers=headers)
    assert rated.status_code == 201
    with city_api.services.database.begin() as conn:
        row = conn.execute(select(Question).where(Question.request_id == request_id)).mappings().one()
    assert row["thumbs_down"] and row["status"] == "answered" and row["nearest_doc_id"]


def test_the_transparency_record_is_public(city_api: Api) -> None:
    page = city_api.client.get("/transparency")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Algorithmic Transparency Standard" in page.text
    record = yaml.safe_load(city_api.client.get("/transparency.yaml").text)
    assert [a for a in required_attributes() if not record.get(a)] == []
    assert set(record) <= {p["attribute"] for p in load_schema()}
    # Signed out, the store only in aggregate: no collection's name, size or languages.
    assert "documents" in record["source_data"] and "collections" in record["source_data"]
    md = city_api.client.get("/transparency.md")
    assert md.status_code == 200 and md.text.startswith("# ")
    for text in (page.text, md.text):
        # The example city file's own prose says "preschool hall": the collections' names as the store holds them.
        assert "home_care" not in text
        assert not [c for c in ("preschool", "library", "general") if f"{c}:" in text or f"{c} (" in text]
        assert "passages (" not in text  # no collection's size or languages
    assert city_api.client.get("/gaps").status_code == 200  # the page shell; its data needs a token


def test_the_public_record_shows_no_credentials_and_no_internal_host(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    settings.generator = GeneratorSettings(backend="openai", api_base_url=LLM_URL, model=LLM_MODEL)
    with started(settings) as api:
        # No Qdrant server runs here, so the service opened the embedded store; the settings it builds the record
        # from then name a server with a user and password, as a deployment's do.
        api.services.settings.qdrant.url = QDRANT_URL
        for path in ("/transparency", "/transparency.yaml", "/transparency.md"):
            resp = api.client.get(path)  # anonymous
            assert resp.status_code == 200, path
            assert [s for s in UNPUBLISHED if s in resp.text] == [], path
            assert "Qdrant server" in resp.text, path
