"""The service under a city's roles file with more roles than the packaged four: the boundary holds over HTTP."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from assist.roles import load_roles
from assist.settings import Settings
from serving.cli import check_store_and_roles
from tests.conftest import ROLES_CITY
from tests.serving.conftest import started

QUESTIONS = [
    "Vad gör jag om en brukare har ramlat?",
    "Hur länge ska ett barn med feber stanna hemma?",
    "Var förvaras brukarnas nycklar?",
    "När har stadsbiblioteket öppet på lördagar?",
    "Vem ringer jag om IT-support?",
]
CITY = load_roles(ROLES_CITY)
SCOPED = [name for name, role in CITY.roles.items() if not role.reads_all]


@pytest.fixture
def city_settings(make_settings: Callable[..., Settings]) -> Settings:
    settings = make_settings()
    settings.roles_file = ROLES_CITY
    return settings


def test_every_role_of_the_city_file_gets_citations_only_from_what_it_may_read(city_settings: Settings) -> None:
    assert len(CITY.names) > 4
    with started(city_settings) as api:
        for role in SCOPED:
            allowed = set(CITY.collections_for(role))
            headers = api.token(role)
            cited = set()
            for question in QUESTIONS:
                resp = api.client.post("/api/ask", json={"question": question}, headers=headers)
                assert resp.status_code == 200, (role, question, resp.text)
                collections = {c["collection"] for c in resp.json()["citations"]}
                assert collections <= allowed, (role, question, collections)
                cited |= collections
            assert cited, role  # answered from what it may read, not refused everything


def test_admin_comes_from_the_file_not_the_role_name(city_settings: Settings) -> None:
    with started(city_settings) as api:
        assert api.client.get("/metrics", headers=api.token("owner-home-care")).status_code == 403
        assert api.client.get("/metrics", headers=api.token("admin")).status_code == 200
        resp = api.client.post("/api/ask", json={"question": QUESTIONS[3]}, headers=api.token("admin"))
        assert {c["collection"] for c in resp.json()["citations"]} == {"library"}


def test_a_token_for_a_role_the_file_lacks_is_refused(city_settings: Settings) -> None:
    with started(city_settings) as api, pytest.raises(Exception, match="Unknown role 'janitor'"):
        api.token("janitor")


def test_serve_warns_at_start_on_a_role_naming_a_missing_collection(city_settings: Settings, tmp_path: Path) -> None:
    assert check_store_and_roles(city_settings) is None  # the city file names only collections the store holds
    bad = tmp_path / "roles.toml"
    bad.write_text('[roles.social]\ncollections = ["social_services"]\n', encoding="utf-8")
    city_settings.roles_file = bad
    warning = check_store_and_roles(city_settings)
    assert warning is not None
    assert re.search(r"role 'social' names 'social_services'.*no such collection", warning)


def test_readyz_names_the_roles_problem_to_an_admin_and_other_roles_are_answered(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    roles = tmp_path / "roles.toml"
    roles.write_text(
        '[roles.social]\ncollections = ["social_services"]\n[roles.admin]\ncollections = ["*"]\nadmin = true\n',
        encoding="utf-8",
    )
    settings = make_settings()
    settings.roles_file = roles
    with started(settings) as api:
        resp = api.client.get("/readyz", headers=api.token("admin"))
        assert resp.status_code == 200, resp.text  # the admin's questions are answered: the service is ready
        assert "social_services" in resp.json()["checks"]["roles"]["detail"]
        assert "roles" not in api.client.get("/readyz").json()["checks"]  # the details are for admins
        admin = api.client.post("/api/ask", json={"question": QUESTIONS[2]}, headers=api.token("admin"))
        assert admin.status_code == 200, admin.text
        assert admin.json()["citations"]
        social = api.client.post("/api/ask", json={"question": QUESTIONS[2]}, headers=api.token("social"))
        assert social.status_code >= 400
        message = social.json()["error"]["message"]
        assert "Role 'social' names 'social_services', but the store has no such collection" in message
        assert str(roles) not in message  # no path to a caller who is not an admin
