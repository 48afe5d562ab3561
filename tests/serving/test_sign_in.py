"""Sign-in with the city's identity provider, against a real OpenID provider (npm's oidc-provider) on loopback:
the role comes from a group claim, the session cookie stands in for a token on the phone page's calls with the role
boundary as strict as a token's, and every way a sign-in or a session can be forged or outlive itself is refused.
"""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from assist.settings import DatabaseSettings, QdrantSettings, Settings
from serving.app import create_app
from serving.auth.routes import safe_next
from serving.auth.sessions import LOGIN_COOKIE, SESSION_COOKIE, SessionStore
from serving.config import OIDCSettings, ServingSettings
from serving.deps import Services
from serving.state.models import PendingLogin, Session
from serving.tokens import hash_token
from tests.conftest import ROLES_CITY
from tests.serving.conftest import started
from tests.serving.oidc import (
    BASE,
    CLIENT_ID,
    CLIENT_SECRET,
    ProviderBrowser,
    param,
    provider,
    with_param,
)

pytestmark = pytest.mark.integration

FEVER = "Hur länge ska ett barn med feber stanna hemma?"
FALL = "Vad gör jag om en brukare har ramlat?"
ORIGIN = {"Origin": BASE}


@dataclass
class Site:
    """The service with sign-in against the provider, driven as a browser would (TestClient over https)."""

    client: TestClient
    services: Services
    issuer: str
    browser: ProviderBrowser | None = None

    def sign_in(self, account: str, *, next_path: str = "/", tamper_state: bool = False,
                tamper_nonce: bool = False, fresh: bool = True) -> httpx.Response:
        """Start at /auth/login, log in at the provider, come back to /auth/callback: the callback's response.

        `fresh`: a new browser (no cookies here or at the provider), as another person's phone is.
        """
        if fresh or self.browser is None:
            self.client.cookies.clear()
            if self.browser is not None:
                self.browser.close()
            self.browser = ProviderBrowser()
        start = self.client.get("/auth/login", params={"next": next_path}, follow_redirects=False)
        assert start.status_code == 302, start.text
        url = start.headers["location"]
        if tamper_nonce:
            url = with_param(url, "nonce", secrets.token_urlsafe(20))
        back = self.browser.log_in(url, account)
        if tamper_state:
            back = with_param(back, "state", secrets.token_urlsafe(20))
        return self.client.get(back.removeprefix(BASE), follow_redirects=False)

    def only_cookies(self, cookies: dict[str, str]) -> None:
        """The browser's cookie jar holds exactly these (a replayed or forged cookie, nothing else)."""
        self.client.cookies.clear()
        for name, value in cookies.items():
            self.client.cookies.set(name, value)

    def session_id(self) -> str:
        return str(self.client.cookies.get(SESSION_COOKIE))

    def ask(self, question: str, **headers: str) -> httpx.Response:
        return self.client.post("/api/ask", json={"question": question}, headers=ORIGIN | headers)


def oidc_settings(issuer: str, **extra: object) -> OIDCSettings:
    return OIDCSettings(issuer=issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,  # type: ignore[arg-type]
                        redirect_base_url=BASE, scopes=["openid", "profile", "groups"], **extra)


def city_settings(built_store: Path, data_dir: Path) -> Settings:
    settings = Settings(data_dir=data_dir, qdrant=QdrantSettings(path=built_store), database=DatabaseSettings())
    settings.roles_file = ROLES_CITY
    return settings


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with provider() as url:
        yield url


@pytest.fixture(scope="module")
def site(issuer: str, built_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    settings = city_settings(built_store, tmp_path_factory.mktemp("signin"))
    serving = ServingSettings(rate_per_minute=6000, rate_burst=1000, oidc=oidc_settings(issuer))
    app = create_app(settings, serving)
    with TestClient(app, base_url=BASE) as client:
        yield Site(client=client, services=app.state.services, issuer=issuer)


def test_sign_in_maps_the_group_claim_to_a_role_and_the_session_asks(site: Site) -> None:
    back = site.sign_in("anna", next_path="/?from=link")
    assert back.status_code == 303 and back.headers["location"] == "/?from=link"
    assert back.headers["cache-control"] == "no-store"
    cookie = next(c for c in back.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path", "max-age"} <= attributes and "domain" not in attributes
    assert "samesite=lax" in cookie.lower() and f"max-age={8 * 3600}" in cookie.lower()
    assert site.client.get("/auth/session").json() == {
        "oidc": True, "signed_in": True, "role": "home-care", "login_url": "/auth/login"}

    resp = site.ask(FALL)  # no Authorization header: the session cookie alone
    assert resp.status_code == 200, resp.text
    assert {c["collection"] for c in resp.json()["citations"]} == {"home_care"}
    entry = site.services.audit.read()[-1]
    assert entry["request_id"] == resp.json()["request_id"]
    assert entry["role"] == "home-care" and entry["token_id"].startswith("u_")
    assert "anna" not in entry["token_id"]  # a pseudonymous id, never the provider's subject

    stream = site.client.post("/api/ask/stream", json={"question": FALL}, headers=ORIGIN)
    assert stream.status_code == 200 and "event: answer" in stream.text
    feedback = site.client.post("/api/feedback", json={"request_id": resp.json()["request_id"], "rating": "up"},
                                headers=ORIGIN)
    assert feedback.status_code == 201, feedback.text
    assert site.services.feedback.export()[-1]["token_id"] == entry["token_id"]


def test_only_the_hash_of_the_session_id_is_stored(site: Site) -> None:
    site.sign_in("anna")
    session_id = site.session_id()
    with site.services.database.begin() as conn:
        rows = conn.execute(select(Session.sha256)).scalars().all()
    assert hash_token(session_id) in rows and session_id not in rows
    # Someone who read the table cannot use what is in it.
    site.only_cookies({SESSION_COOKIE: hash_token(session_id)})
    assert site.ask(FALL).status_code == 401


def test_the_role_boundary_holds_for_a_signed_in_session(site: Site) -> None:
    site.sign_in("anna")  # home-care: may not read preschool
    resp = site.ask(FEVER)
    assert resp.status_code == 200, resp.text
    assert "preschool" not in {c["collection"] for c in resp.json()["citations"]}
    chat = site.client.post("/v1/chat/completions", headers=ORIGIN,
                            json={"model": "frontline-assist", "messages": [{"role": "user", "content": FEVER}]})
    assert chat.status_code == 200 and "preschool" not in {c["collection"] for c in chat.json()["citations"]}
    assert site.client.get("/metrics").status_code == 403  # not an admin

    site.sign_in("bo")  # preschool: the same question is answered from preschool
    resp = site.ask(FEVER)
    assert "preschool" in {c["collection"] for c in resp.json()["citations"]}
    site.sign_in("dag")  # frontline-admins → admin
    assert site.client.get("/metrics").status_code == 200


def test_a_user_with_no_mapped_group_gets_the_no_access_page(site: Site) -> None:
    back = site.sign_in("cecilia")
    assert back.status_code == 403
    assert "text/html" in back.headers["content-type"] and "No access" in back.text
    assert "no access to Frontline Assist" in back.text
    assert SESSION_COOKIE not in site.client.cookies
    assert site.ask(FALL).status_code == 401
    assert site.client.get("/auth/session").json()["signed_in"] is False


def test_logout_ends_the_session_here_and_at_the_provider(site: Site) -> None:
    site.sign_in("anna")
    session_id = site.session_id()
    resp = site.client.post("/auth/logout", headers=ORIGIN | {"Accept": "application/json"})
    assert resp.status_code == 200 and resp.json()["signed_out"] is True
    assert any(c.startswith(f'{SESSION_COOKIE}=""') or c.startswith(f"{SESSION_COOKIE}=;")
               for c in resp.headers.get_list("set-cookie")), resp.headers.get_list("set-cookie")
    end = resp.json()["end_session_url"]
    assert end.startswith(f"{site.issuer}/session/end?")
    assert param(end, "client_id") == CLIENT_ID and param(end, "post_logout_redirect_uri") == f"{BASE}/"
    assert site.browser is not None and site.browser.login_forms == 1
    assert site.browser.sign_out(end).startswith(f"{BASE}/")
    # Signed out at the provider too: the next sign-in from this browser asks for the login again.
    assert site.sign_in("anna", fresh=False).status_code == 303
    assert site.browser.login_forms == 2

    # The old cookie, replayed, is worth nothing: the session is gone server-side.
    site.only_cookies({SESSION_COOKIE: session_id})
    refused = site.ask(FALL)
    assert refused.status_code == 401 and "session has ended" in refused.json()["error"]["message"]
    assert site.services.sessions and site.services.sessions.resolve(session_id) is None


def test_an_expired_session_is_refused_and_its_cookie_cleared(site: Site) -> None:
    site.sign_in("anna")
    assert site.ask(FALL).status_code == 200
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="microseconds")
    with site.services.database.begin() as conn:
        conn.execute(update(Session).where(Session.sha256 == hash_token(site.session_id())).values(expires=past))
    resp = site.ask(FALL)
    assert resp.status_code == 401 and "session has ended" in resp.json()["error"]["message"]
    assert any(c.startswith(f"{SESSION_COOKIE}=;") and "Max-Age=0" in c for c in resp.headers.get_list("set-cookie"))
    assert site.client.get("/auth/session").json()["signed_in"] is False


def test_a_forged_cookie_is_refused(site: Site) -> None:
    site.only_cookies({SESSION_COOKIE: secrets.token_urlsafe(32)})
    resp = site.ask(FALL)
    assert resp.status_code == 401
    site.only_cookies({SESSION_COOKIE: "x" * 5000})
    assert site.ask(FALL).status_code in (400, 401, 431)


def test_a_tampered_state_opens_no_session(site: Site) -> None:
    back = site.sign_in("anna", tamper_state=True)
    assert back.status_code == 400 and "does not belong" in back.text
    assert SESSION_COOKIE not in site.client.cookies
    assert site.ask(FALL).status_code == 401


def test_a_tampered_nonce_opens_no_session(site: Site) -> None:
    back = site.sign_in("anna", tamper_nonce=True)
    assert back.status_code == 400 and "could not be verified" in back.text
    assert SESSION_COOKIE not in site.client.cookies
    assert site.ask(FALL).status_code == 401


def test_a_callback_is_used_once_and_only_by_the_browser_that_started_it(site: Site) -> None:
    site.client.cookies.clear()
    start = site.client.get("/auth/login", follow_redirects=False)
    login_cookie = site.client.cookies.get(LOGIN_COOKIE)
    assert login_cookie and start.headers["location"].startswith(f"{site.issuer}/auth?")
    assert param(start.headers["location"], "code_challenge_method") == "S256"
    back = ProviderBrowser().log_in(start.headers["location"], "anna").removeprefix(BASE)

    # Another browser (no login cookie: a link an attacker sends) gets nothing from the callback.
    other = TestClient(site.client.app, base_url=BASE)  # no `with`: the app is started already
    assert other.get(back, follow_redirects=False).status_code == 400
    assert site.client.get(back, follow_redirects=False).status_code == 303
    # Replayed, even by the same browser with its login cookie, it opens nothing.
    site.only_cookies({LOGIN_COOKIE: login_cookie})
    assert site.client.get(back, follow_redirects=False).status_code == 400
    assert SESSION_COOKIE not in site.client.cookies
    with site.services.database.begin() as conn:
        assert conn.execute(select(PendingLogin).where(PendingLogin.sha256 == hash_token(login_cookie))).first() is None


def test_the_landing_path_stays_on_this_service(site: Site) -> None:
    for bad in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "evil"):
        assert safe_next(bad) == "/", bad
    assert safe_next("/?q=1") == "/?q=1"
    back = site.sign_in("anna", next_path="//evil.example/")
    assert back.status_code == 303 and back.headers["location"] == "/"


def test_cookie_authenticated_posts_need_this_services_origin(site: Site) -> None:
    site.sign_in("anna")
    body = {"question": FALL}
    no_origin = site.client.post("/api/ask", json=body)
    assert no_origin.status_code == 403 and "another site" in no_origin.json()["error"]["message"]
    for origin in ("https://evil.example", "https://other.testserver", "http://testserver", "null"):
        resp = site.client.post("/api/ask", json=body, headers={"Origin": origin})
        assert resp.status_code == 403, origin
        feedback = site.client.post("/api/feedback", json={"request_id": "r_1", "rating": "down"},
                                    headers={"Origin": origin})
        assert feedback.status_code == 403, origin
    assert site.client.post("/auth/logout", headers={"Origin": "https://evil.example"}).status_code == 403
    assert site.client.get("/auth/session").json()["signed_in"] is True  # the forged logout ended nothing
    assert site.client.post("/api/ask", json=body, headers=ORIGIN).status_code == 200

    # A bearer token is never added by a browser on its own: no Origin check for it.
    _, token = site.services.tokens.create("library")
    site.client.cookies.clear()
    resp = site.client.post("/api/ask", json=body, headers={"Authorization": f"Bearer {token}",
                                                            "Origin": "https://evil.example"})
    assert resp.status_code == 200


def test_a_bearer_token_decides_alone_when_both_are_sent(site: Site) -> None:
    site.sign_in("dag")  # an admin session
    _, token = site.services.tokens.create("home-care")
    resp = site.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403  # the token's role, not the session's
    assert site.client.get("/metrics", headers={"Authorization": "Bearer fa_wrong"}).status_code == 401


def test_groups_only_at_the_userinfo_endpoint(built_store: Path, tmp_path: Path) -> None:
    with provider(groups_in="userinfo") as issuer:
        settings = city_settings(built_store, tmp_path)
        serving = ServingSettings(oidc=oidc_settings(issuer))
        app = create_app(settings, serving)
        with TestClient(app, base_url=BASE) as client:
            site = Site(client=client, services=app.state.services, issuer=issuer)
            assert site.sign_in("bo").status_code == 303
            assert client.get("/auth/session").json()["role"] == "preschool"
            assert site.sign_in("cecilia").status_code == 403


def test_a_provider_that_cannot_be_reached_is_a_clear_page(built_store: Path, tmp_path: Path) -> None:
    from tests.conftest import free_port  # noqa: PLC0415

    serving = ServingSettings(oidc=oidc_settings(f"http://127.0.0.1:{free_port()}", http_timeout_s=2))
    app = create_app(city_settings(built_store, tmp_path), serving)
    with TestClient(app, base_url=BASE) as client:
        resp = client.get("/auth/login", follow_redirects=False)
        assert resp.status_code == 503 and "cannot be reached" in resp.text
        assert SESSION_COOKIE not in client.cookies


def test_without_an_issuer_nothing_changes(make_settings) -> None:  # noqa: ANN001
    with started(make_settings()) as api:
        assert api.services.sessions is None and api.services.oidc is None
        api.client.cookies.set(SESSION_COOKIE, secrets.token_urlsafe(32))
        resp = api.client.post("/api/ask", json={"question": FALL})
        assert resp.status_code == 401 and resp.json()["error"]["message"] == "A valid bearer token is required."
        assert api.client.get("/auth/login").status_code == 401
        assert api.client.get("/auth/session").status_code == 401
        assert api.client.post("/api/ask", json={"question": FALL}, headers=api.token()).status_code == 200


def test_settings_come_from_assist_oidc_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSIST_OIDC__ISSUER", "https://login.city.example/realms/staff/")
    monkeypatch.setenv("ASSIST_OIDC__CLIENT_ID", "frontline")
    monkeypatch.setenv("ASSIST_OIDC__CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("ASSIST_OIDC__SCOPES", '["profile", "groups"]')
    monkeypatch.setenv("ASSIST_OIDC__SESSION_LIFETIME_S", "3600")
    oidc = ServingSettings().oidc
    assert oidc.enabled and oidc.issuer == "https://login.city.example/realms/staff"
    assert oidc.scopes == ["openid", "profile", "groups"] and oidc.session_lifetime_s == 3600
    assert "s3cret" not in repr(oidc) and oidc.client_secret is not None
    monkeypatch.delenv("ASSIST_OIDC__CLIENT_ID")
    with pytest.raises(ValueError, match="without ASSIST_OIDC__CLIENT_ID"):
        ServingSettings()
    monkeypatch.delenv("ASSIST_OIDC__ISSUER")
    assert not ServingSettings().oidc.enabled


def test_serve_stops_at_start_on_an_issuer_without_a_client_id(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import typer  # noqa: PLC0415

    from serving.cli import serve  # noqa: PLC0415

    monkeypatch.setenv("ASSIST_OIDC__ISSUER", "https://login.city.example")
    monkeypatch.delenv("ASSIST_OIDC__CLIENT_ID", raising=False)
    with pytest.raises(typer.Exit) as stopped:
        serve(settings=Settings(data_dir=tmp_path))
    assert stopped.value.exit_code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "without ASSIST_OIDC__CLIENT_ID" in err and err.count("\n") == 1


class TestSessionStore:
    """The store itself, on SQLite and PostgreSQL."""

    def test_sessions_open_resolve_expire_and_end(self, database) -> None:  # noqa: ANN001
        store = SessionStore(database, lifetime_s=60)
        session_id, expires = store.create(user_id="u_1", role="home-care")
        assert expires > datetime.now(UTC)
        info = store.resolve(session_id)
        assert info is not None and (info.token_id, info.role) == ("u_1", "home-care")
        assert store.resolve(session_id + "x") is None and store.resolve("") is None
        assert store.end(session_id) is True and store.resolve(session_id) is None and store.end(session_id) is False

        short = SessionStore(database, lifetime_s=-1)  # already over
        gone, _ = short.create(user_id="u_2", role="home-care")
        assert store.resolve(gone) is None
        store.create(user_id="u_3", role="home-care")  # opening a session removes the expired ones
        with database.begin() as conn:
            assert conn.execute(select(Session.sha256).where(Session.sha256 == hash_token(gone))).first() is None

    def test_a_pending_sign_in_is_taken_once(self, database) -> None:  # noqa: ANN001
        store = SessionStore(database, lifetime_s=60)
        login_id = store.begin_login(state="s", nonce="n", code_verifier="v" * 43, next_path="/")
        taken = store.take_login(login_id)
        assert taken is not None and (taken.state, taken.nonce, taken.next_path) == ("s", "n", "/")
        assert store.take_login(login_id) is None
        assert store.take_login("unknown") is None

    def test_a_session_whose_role_left_the_roles_file_resolves_to_nobody(self, database) -> None:  # noqa: ANN001
        from assist.roles import load_roles  # noqa: PLC0415

        store = SessionStore(database, lifetime_s=60, roles=load_roles(ROLES_CITY))
        session_id, _ = store.create(user_id="u_1", role="janitor")
        assert store.resolve(session_id) is None


def test_owner_pages_take_the_sign_in_session(site: Site) -> None:
    site.sign_in("anna")  # home-care staff: no owner page answers
    assert site.client.get("/api/owners/me").status_code == 403
    assert site.client.get("/api/gaps").status_code == 403
    site.sign_in("dag")  # admin: the owners' inventory and the gaps, on the session cookie alone
    me = site.client.get("/api/owners/me")
    assert me.status_code == 200, me.text
    assert site.client.get("/api/gaps").status_code == 200
