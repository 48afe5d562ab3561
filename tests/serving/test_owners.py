"""The owners' routes through TestClient: who may see and change what, uploads through the guard, and the change
log on both database backends."""

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from assist.settings import DatabaseSettings, QdrantSettings, Settings
from assist.store import CURRENT_FILE
from owners.changes import Change, ChangeLog
from serving.config import ServingSettings
from serving.state import Database
from tests.conftest import ROLES_CITY
from tests.owners.docs import ICE, ICE_QUESTION, ICE_TITLE, docx_bytes
from tests.serving.conftest import Api, started

PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
OWNER_ROUTES = [
    ("GET", "/api/owners/me"),
    ("GET", "/api/owners/documents"),
    ("GET", "/api/owners/changes"),
    ("POST", "/api/owners/documents?collection=home_care&filename=a.docx"),
    ("POST", "/api/owners/documents/fall/replace?collection=home_care&filename=a.docx"),
    ("POST", "/api/owners/documents/fall/retire?collection=home_care"),
]


@pytest.fixture(scope="module")
def owners_api(built_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The service over its own copy of the store, the city's roles (with a content owner) and a knowledge folder."""
    root = tmp_path_factory.mktemp("owners-api")
    shutil.copytree(built_store, root / "qdrant")
    (root / "knowledge").mkdir()
    settings = Settings(data_dir=root, qdrant=QdrantSettings(path=root / "qdrant"), knowledge_dir=root / "knowledge",
                        roles_file=ROLES_CITY)
    serving = ServingSettings(rate_per_minute=6000, rate_burst=1000, max_upload_mb=1.0)
    with started(settings, serving) as api:
        yield api


def _current(api: Api) -> str:
    return (api.services.settings.store_path / CURRENT_FILE).read_text()


@pytest.mark.parametrize("role", ["home-care", "preschool", "reception", "family-services"])
def test_staff_roles_get_403_on_every_owner_route(owners_api: Api, role: str) -> None:
    headers = owners_api.token(role)
    for method, path in OWNER_ROUTES:
        resp = owners_api.client.request(method, path, headers=headers, content=b"x" if method == "POST" else None)
        assert resp.status_code == 403, (method, path, resp.text)
        assert "owns no collection" in resp.json()["error"]["message"]


def test_without_a_token_owner_routes_answer_401_and_the_page_is_a_static_shell(owners_api: Api) -> None:
    assert owners_api.client.get("/api/owners/documents").status_code == 401
    page = owners_api.client.get("/owners")
    assert page.status_code == 200 and "<h1>Routines</h1>" in page.text
    assert "fall" not in page.text  # no data in the shell: it all comes from the routes above, with a token
    assert owners_api.client.get("/static/owners.js").status_code == 200
    # A caller who is identified (here by a token; later by a sign-in session) and owns nothing gets 403 there too.
    assert owners_api.client.get("/owners", headers=owners_api.token("home-care")).status_code == 403
    assert owners_api.client.get("/owners", headers=owners_api.token("owner-home-care")).status_code == 200


def test_an_owner_sees_and_changes_only_its_own_collection(owners_api: Api) -> None:
    headers = owners_api.token("owner-home-care")
    client = owners_api.client
    assert client.get("/api/owners/me", headers=headers).json() == {
        "role": "owner-home-care", "collections": ["home_care"], "admin": False}
    rows = client.get("/api/owners/documents", headers=headers).json()
    assert {r["collection"] for r in rows} == {"home_care"}
    assert {r["doc_id"] for r in rows} >= {"fall", "keys"}
    before = _current(owners_api)
    for method, path in [
        ("GET", "/api/owners/documents?collection=preschool"),
        ("POST", "/api/owners/documents?collection=preschool&filename=halka.docx"),
        ("POST", "/api/owners/documents/illness/replace?collection=preschool&filename=halka.docx"),
        ("POST", "/api/owners/documents/illness/retire?collection=preschool"),
    ]:
        resp = client.request(method, path, headers=headers, content=docx_bytes(ICE_TITLE, ICE))
        assert resp.status_code == 403, (method, path)
        assert "does not own the collection 'preschool'" in resp.json()["error"]["message"]
    # Naming its own collection does not reach another's routine either.
    resp = client.post("/api/owners/documents/illness/retire?collection=home_care", headers=headers)
    assert resp.status_code == 404
    assert _current(owners_api) == before  # nothing was written


def test_an_admin_manages_every_collection(owners_api: Api) -> None:
    me = owners_api.client.get("/api/owners/me", headers=owners_api.token("admin")).json()
    assert me["admin"] is True
    assert set(me["collections"]) >= {"home_care", "preschool", "library", "general"}


def test_an_upload_is_answered_from_and_logged(owners_api: Api) -> None:
    client = owners_api.client
    owner = owners_api.token("owner-home-care")
    data = docx_bytes(ICE_TITLE, ICE)
    resp = client.post("/api/owners/documents?collection=home_care&filename=Halka.docx&review_date=2026-01-15",
                       content=data, headers=owner)
    assert resp.status_code == 201, resp.text
    assert resp.json()["doc_id"] == "halka"
    answer = client.post("/api/ask", json={"question": ICE_QUESTION}, headers=owners_api.token("home-care")).json()
    assert answer["status"] == "answered"
    assert answer["citations"][0]["doc_id"] == "halka"
    assert any("2026-01-15" in n for n in answer["notices"])
    overdue = client.get("/api/owners/documents?overdue=true&q=halka", headers=owner).json()
    assert [r["doc_id"] for r in overdue] == ["halka"]
    changes = client.get("/api/owners/changes", headers=owner).json()
    assert (changes[0]["action"], changes[0]["doc_id"], changes[0]["role"]) == ("add", "halka", "owner-home-care")


def test_uploads_pass_the_guard_up_to_their_own_limit_and_bad_files_are_refused(owners_api: Api) -> None:
    client = owners_api.client
    owner = owners_api.token("owner-home-care")
    before = _current(owners_api)
    big = client.post("/api/owners/documents?collection=home_care&filename=big.txt", content=b"a" * (2 << 20),
                      headers=owner)
    assert big.status_code == 413
    png = client.post("/api/owners/documents?collection=home_care&filename=rutin.docx", content=PNG,
                      headers=owner)
    assert png.status_code == 415
    assert "PNG image" in png.json()["error"]["message"]
    # Over the 64 KB of other requests, under the upload limit: through the guard to the file check.
    pdf_named = client.post("/api/owners/documents?collection=home_care&filename=x.pdf", content=b"b" * 100_000,
                            headers=owner)
    assert pdf_named.status_code == 415 and "content is text" in pdf_named.json()["error"]["message"]
    assert client.post("/api/ask", content=b"{" + b" " * 100_000 + b"}", headers=owner).status_code == 413
    assert _current(owners_api) == before


def test_the_change_log_on_both_backends(database: Database) -> None:
    database.ensure_current()
    log = ChangeLog(database)
    for action, collection in [("add", "home_care"), ("retire", "preschool"), ("replace", "home_care")]:
        log.record(Change(time=f"2026-12-0{len(log.list()) + 1}T10:00:00+00:00", token_id="t_1", role="owner",
                          action=action, collection=collection, doc_id="r", detail={"chunks": 2, "å": "ä"}))
    assert [c.action for c in log.list(["home_care"])] == ["replace", "add"]
    assert log.list(["preschool"])[0].detail == {"chunks": 2, "å": "ä"}
    assert len(log.list()) == 3


def test_settings_default_keeps_uploads_off_the_web_root() -> None:
    from owners.uploads import uploads_root  # noqa: PLC0415
    from serving.routes.pages import STATIC_DIR  # noqa: PLC0415

    root = uploads_root(Settings(data_dir=Path("/srv/assist"), knowledge_dir=None,
                                 database=DatabaseSettings()))
    assert root == Path("/srv/assist/uploads")
    assert not root.is_relative_to(STATIC_DIR)
    assert date.today()  # the review notice compares with today's date: the test machine's clock must be sane
