"""Issue 25: every request's database work ran on the event loop, so one slow round trip held every other request.

A real server (uvicorn in a thread) over the real database; one statement is held inside the database layer (a
SQLAlchemy hook that waits) while other requests are sent. Nothing asserts on time: the timeouts only turn a held
event loop into a failure instead of a hang.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from sqlalchemy import event

from assist.settings import Settings
from serving.app import create_app
from serving.config import ServingSettings
from tests.conftest import free_port

FALL = "Vad gör jag om en brukare har ramlat?"
SAFETY_S = 20  # a held event loop fails the test after this, instead of hanging it


@contextmanager
def served(settings: Settings, serving: ServingSettings) -> Iterator[tuple[str, object]]:
    app = create_app(settings, serving)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="slow-db-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", app.state.services
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class HeldStatement:
    """Holds the first statement that `matches` inside the database layer until released."""

    def __init__(self, matches: Callable[[str], bool]):
        self.matches = matches
        self.entered = threading.Event()
        self.release = threading.Event()
        self._taken = False
        self._lock = threading.Lock()

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001, PLR0913
        with self._lock:
            if self._taken or not self.matches(statement):
                return
            self._taken = True
        self.entered.set()
        self.release.wait(60)


@pytest.fixture
def server(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, object]]:
    with served(make_settings(), ServingSettings(rate_per_minute=6000, rate_burst=1000)) as s:
        yield s


def test_a_held_database_statement_holds_no_other_request(server) -> None:  # noqa: ANN001
    base, services = server
    first, second = services.tokens.create("home-care")[1], services.tokens.create("home-care")[1]
    held = HeldStatement(lambda sql: sql.lstrip().upper().startswith("INSERT INTO AUDIT"))
    event.listen(services.database.engine, "before_cursor_execute", held)
    results: dict[str, int] = {}

    def ask_first() -> None:
        with httpx.Client(timeout=120) as client:
            resp = client.post(f"{base}/api/ask", json={"question": FALL}, headers={"Authorization": f"Bearer {first}"})
            results["first"] = resp.status_code

    asking = threading.Thread(target=ask_first)
    asking.start()
    try:
        assert held.entered.wait(120), "the first answer's audit entry was never written"
        with httpx.Client(timeout=SAFETY_S) as client:
            # The first request's audit insert is held in the database layer; the service still answers others.
            assert client.get(f"{base}/healthz").status_code == 200
            other = client.post(f"{base}/api/ask", json={"question": FALL},
                                headers={"Authorization": f"Bearer {second}"})
            assert other.status_code == 200 and other.json()["citations"]
        assert "first" not in results  # it is still held
    finally:
        held.release.set()
        asking.join(timeout=120)
        event.remove(services.database.engine, "before_cursor_execute", held)
    assert results["first"] == 200


def test_a_token_is_looked_up_once_within_the_cache_and_a_revocation_here_is_at_once(server) -> None:  # noqa: ANN001
    base, services = server
    token_id, token = services.tokens.create("home-care")
    lookups: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001, PLR0913
        if "FROM tokens" in statement:
            lookups.append(statement)

    event.listen(services.database.engine, "before_cursor_execute", count)
    try:
        with httpx.Client(timeout=60) as client:
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(3):
                assert client.get(f"{base}/api/owners/me", headers=headers).status_code in (200, 403)
            assert len(lookups) == 1  # the later two within the cache's seconds reused the first lookup
            assert services.tokens.revoke(token_id)
            assert client.get(f"{base}/api/owners/me", headers=headers).status_code == 401
    finally:
        event.remove(services.database.engine, "before_cursor_execute", count)
