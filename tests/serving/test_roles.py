"""The service under a city's roles file with more roles than the packaged four: the boundary holds over HTTP."""

from collections.abc import Callable
from pathlib import Path

import pytest

from assist.errors import ConfigError
from assist.roles import load_roles
from assist.settings import Settings
from serving.cli import check_roles_at_start
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


def test_serve_stops_at_start_on_a_role_naming_a_missing_collection(city_settings: Settings, tmp_path: Path) -> None:
    check_roles_at_start(city_settings)  # the city file names only collections the store holds
    bad = tmp_path / "roles.toml"
    bad.write_text('[roles.social]\ncollections = ["social_services"]\n', encoding="utf-8")
    city_settings.roles_file = bad
    with pytest.raises(ConfigError, match=r"role 'social' names 'social_services'.*no such collection"):
        check_roles_at_start(city_settings)


def test_readyz_names_the_roles_problem_to_an_admin(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    roles = tmp_path / "roles.toml"
    roles.write_text(
        '[roles.social]\ncollections = ["social_services"]\n[roles.admin]\ncollections = ["*"]\nadmin = true\n',
        encoding="utf-8",
    )
    settings = make_settings()
    settings.roles_file = roles
    with started(settings) as api:
        resp = api.client.get("/readyz", headers=api.token("admin"))
        assert resp.status_code == 503
        assert "social_services" in resp.json()["checks"]["store"]["detail"]
