"""Paths anyone may call cost little to refuse: a per-address rate limit on them (429 with Retry-After), sign-ins
under way bounded in the database, the declared body size refused before a token is looked up, and anonymous
/readyz floods sharing one readiness check. Nothing here asserts on time: each test counts rows, checks or lookups.
"""

import shutil
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from serving.auth.sessions import MAX_PENDING_LOGINS, SessionStore
from serving.config import ServingSettings
from serving.security import AddressLimiter
from serving.state import SQLITE_FILE, Database
from serving.state.models import PendingLogin
from tests.conftest import ROLES_CITY
from tests.serving.conftest import LiveServer, serve_process, started
from tests.serving.oidc import CLIENT_ID, CLIENT_SECRET, provider

LOGINS = 500
#: The live server's limits: a slow test machine must not refill a bucket as fast as the test drains it.
PUBLIC = ServingSettings(public_rate_per_minute=6, public_rate_burst=600, login_rate_per_minute=6,
                         login_rate_burst=10)


def most_let_through(per_minute: float, burst: int, started: float) -> int:
    """What a token bucket may let through since `started`: its burst and what it refilled meanwhile."""
    return burst + int(per_minute * (time.monotonic() - started) / 60) + 1


@pytest.fixture(scope="module")
def signin_server(built_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`assist serve` with sign-in configured, on a real socket, with the default public limits."""
    with provider() as issuer:
        data_dir = tmp_path_factory.mktemp("public-limits")
        shutil.copytree(built_store, data_dir / "qdrant")
        env = {
            "ASSIST_ROLES_FILE": str(ROLES_CITY),
            "ASSIST_OIDC__ISSUER": issuer,
            "ASSIST_OIDC__CLIENT_ID": CLIENT_ID,
            "ASSIST_OIDC__CLIENT_SECRET": CLIENT_SECRET,
            "ASSIST_SERVE__PUBLIC_RATE_PER_MINUTE": str(PUBLIC.public_rate_per_minute),
            "ASSIST_SERVE__PUBLIC_RATE_BURST": str(PUBLIC.public_rate_burst),
            "ASSIST_SERVE__LOGIN_RATE_PER_MINUTE": str(PUBLIC.login_rate_per_minute),
            "ASSIST_SERVE__LOGIN_RATE_BURST": str(PUBLIC.login_rate_burst),
        }
        with serve_process(data_dir, env) as server:
            yield server


def pending_logins(data_dir: Path) -> int:
    engine = create_engine(f"sqlite:///{data_dir / SQLITE_FILE}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(PendingLogin)).scalar_one())
    finally:
        engine.dispose()


def test_a_flood_of_anonymous_sign_ins_leaves_a_bounded_number_of_rows(signin_server: LiveServer) -> None:
    began = time.monotonic()
    before = pending_logins(signin_server.data_dir)

    def login(_: int) -> httpx.Response:
        with httpx.Client(base_url=signin_server.base_url, timeout=60) as client:
            return client.get("/auth/login", follow_redirects=False)

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(login, range(LOGINS)))
    statuses = [r.status_code for r in replies]
    started_logins = statuses.count(302)
    assert 0 < started_logins <= most_let_through(PUBLIC.login_rate_per_minute, PUBLIC.login_rate_burst, began)
    assert set(statuses) == {302, 429}
    refused = next(r for r in replies if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert "try again" in refused.json()["error"]["message"]
    assert pending_logins(signin_server.data_dir) - before == started_logins


def test_public_pages_are_rate_limited_per_address(signin_server: LiveServer) -> None:
    began = time.monotonic()  # the sign-in flood before this test took from the same bucket
    with httpx.Client(base_url=signin_server.base_url, timeout=60) as client:
        statuses = [client.get("/healthz").status_code for _ in range(PUBLIC.public_rate_burst + 50)]
        assert 429 in statuses
        assert statuses.count(200) <= most_let_through(PUBLIC.public_rate_per_minute, PUBLIC.public_rate_burst, began)
        refused = client.get("/transparency")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


def test_an_oversized_body_is_refused_before_its_token_is_looked_up(make_settings: Any) -> None:
    with started(make_settings()) as api:
        token = api.token()
        looked_up: list[str] = []
        verify = api.services.tokens.verify
        api.services.tokens.verify = lambda t: looked_up.append(t) or verify(t)  # type: ignore[method-assign]
        body = b'{"question": "' + b"x" * (ServingSettings().max_body_bytes + 10) + b'"}'
        resp = api.client.post("/api/ask", content=body, headers=token | {"content-type": "application/json"})
        assert resp.status_code == 413
        assert looked_up == []


def test_anonymous_readiness_probes_share_one_check(make_settings: Any) -> None:
    with started(make_settings()) as api:
        checks = 0
        readiness = api.services.asker.readiness

        async def counted() -> dict[str, Any]:
            nonlocal checks
            checks += 1
            return await readiness()

        api.services.asker.readiness = counted  # type: ignore[method-assign]
        for _ in range(20):
            assert api.client.get("/readyz").status_code == 200
        assert checks <= 2  # one per second at most, and these twenty take well under two
        assert api.client.get("/readyz", headers=api.token("admin")).status_code == 200
        assert checks <= 3  # an admin always gets a fresh check, with its details


def test_an_oversized_body_is_refused_without_reading_it_over_a_real_socket(signin_server: LiveServer) -> None:
    host, port = signin_server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 50000000\r\n\r\n")
        reply = sock.recv(4096).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413")


def test_the_address_limiter_forgets_full_buckets_when_addresses_pile_up() -> None:
    limiter = AddressLimiter(60, 2)
    limiter.MAX_ADDRESSES = 100
    for i in range(1000):
        assert limiter.allow(f"10.0.{i // 256}.{i % 256}", now=float(i)) == 0
    assert len(limiter._buckets) <= 100
    assert limiter.allow("192.0.2.1", now=0.0) == 0 and limiter.allow("192.0.2.1", now=0.0) == 0
    assert limiter.allow("192.0.2.1", now=0.0) > 0


def test_pending_sign_ins_are_capped(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'serving.sqlite'}")
    store = SessionStore(database, lifetime_s=3600)
    first = store.begin_login(state="s", nonce="n", code_verifier="v" * 43, next_path="/")
    for _ in range(MAX_PENDING_LOGINS + 5):
        store.begin_login(state="s", nonce="n", code_verifier="v" * 43, next_path="/")
    assert store.take_login(first) is None  # the oldest gave way
    with database.begin() as conn:
        assert conn.execute(select(func.count()).select_from(PendingLogin)).scalar_one() <= MAX_PENDING_LOGINS
    store.close()
