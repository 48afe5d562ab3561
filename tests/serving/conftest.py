"""Fixtures for the service's tests: a small store built once, apps over it, and a running `assist serve`."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assist.components.answer_generator import ANSWERABILITY_MAX_TOKENS
from assist.settings import DatabaseSettings, GeneratorSettings, QdrantSettings, Settings
from serving.app import SQLITE_FILE, create_app
from serving.config import ServingSettings
from serving.deps import Services
from serving.state import Database
from serving.tokens import TokenStore
from tests.conftest import ROLES_CITY, free_port
from tests.servers import (
    POSTGRES_BINS,
    REDIS_BINARY,
    create_database,
    postgres_cluster,
    redis_server,
    stop,
    wait_http,
)

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port, with password sign-in: its base URL, no database."""
    if not POSTGRES_BINS:
        pytest.skip("Debian's PostgreSQL is not installed (apt-get install postgresql): the PostgreSQL backend's "
                    "tests need its server binaries in /usr/lib/postgresql/*/bin.")
    with postgres_cluster() as url:
        yield url


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """Debian's redis-server on a free loopback port for the whole session (nothing saved to disk)."""
    if REDIS_BINARY is None:
        pytest.skip("Debian's redis-server is not installed (apt-get install redis-server): the shared counters' "
                    "tests need it.")
    with redis_server() as url:
        yield url


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The session's Redis, emptied for this test."""
    import redis  # noqa: PLC0415

    client = redis.Redis.from_url(redis_server_url)
    client.flushall()
    client.close()
    return redis_server_url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database of its own on the throwaway cluster (so tests never see each other's rows)."""
    import psycopg  # noqa: PLC0415

    url = create_database(postgres_server)
    yield url
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on both backends: a SQLite file under the test's folder, and a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'serving.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A Database over `database_url`, closed after the test."""
    db = Database(database_url)
    yield db
    db.close()


@pytest.fixture(scope="session")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded store holding the fixture routines (home_care, preschool, library, general)."""
    from ingest.pipeline import Ingestor  # noqa: PLC0415

    data_dir = tmp_path_factory.mktemp("store")
    settings = Settings(data_dir=data_dir)
    ingestor = Ingestor(settings)
    report = ingestor.ingest([DATA])
    ingestor.close()
    assert not report.failed, report.to_dict()
    return settings.store_path


@pytest.fixture
def make_settings(built_store: Path, tmp_path: Path) -> Callable[..., Settings]:
    """Settings over the shared store with this test's own data dir (tokens, audit log, feedback)."""

    def make(database_url: str | None = None, **generator: object) -> Settings:
        return Settings(
            data_dir=tmp_path,
            qdrant=QdrantSettings(path=built_store),
            generator=GeneratorSettings(**generator),  # type: ignore[arg-type]
            database=DatabaseSettings(url=database_url),
        )

    return make


@dataclass
class Api:
    """A TestClient over a started app, with a way to mint tokens."""

    client: TestClient
    services: Services

    def token(self, role: str = "home-care") -> dict[str, str]:
        _, token = self.services.tokens.create(role)
        return {"Authorization": f"Bearer {token}"}


@contextmanager
def started(settings: Settings, serving: ServingSettings | None = None) -> Iterator[Api]:
    app = create_app(settings, serving or ServingSettings(rate_per_minute=6000, rate_burst=1000))
    with TestClient(app) as client:
        yield Api(client=client, services=app.state.services)


@pytest.fixture
def api(make_settings: Callable[..., Settings]) -> Iterator[Api]:
    """The service on the extractive generator."""
    with started(make_settings()) as a:
        yield a


@dataclass
class LiveServer:
    """`assist serve` running in a subprocess on loopback."""

    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None

    def token(self, role: str = "home-care") -> str:
        store = TokenStore(self.data_dir / SQLITE_FILE)
        try:
            return store.create(role)[1]
        finally:
            store.close()


@contextmanager
def serve_process(
    data_dir: Path, extra_env: dict[str, str] | None = None, log_level: str = "warning", port: int | None = None
) -> Iterator[LiveServer]:
    """`assist serve` in its own process on a loopback port (default a free one) over `data_dir`, until it answers
    /readyz.
    """
    port = port or free_port()
    env = os.environ | {
        "HF_HUB_OFFLINE": "1",
        "ASSIST_DATA_DIR": str(data_dir),
        "ASSIST_QDRANT__PATH": str(data_dir / "qdrant"),
        "ASSIST_SERVE__PORT": str(port),
        "ASSIST_SERVE__RATE_PER_MINUTE": "6000",
        "ASSIST_SERVE__RATE_BURST": "1000",
        # One process: these tests look at one process's state (its log, its limits); tests/serving/test_workers.py
        # runs several.
        "ASSIST_SERVE__WORKERS": "1",
        **(extra_env or {}),
    }
    log_path = data_dir / "server.log"
    log = log_path.open("w")
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", f"from serving.cli import serve; serve(log_level={log_level!r})"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base_url}/readyz", proc, "assist serve", 120, log_path.read_text)
        yield LiveServer(base_url=base_url, data_dir=data_dir, process=proc)
    finally:
        stop(proc, timeout=15)
        log.close()


@pytest.fixture(scope="session")
def live_server(built_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The serve command in its own process, over its own copy of the store (a shard is one process's)."""
    data_dir = tmp_path_factory.mktemp("live")
    shutil.copytree(built_store, data_dir / "qdrant")
    with serve_process(data_dir) as server:
        yield server


# An OpenAI-compatible LLM stand-in's replies, shared by the admission and fairness tests.
def answerability_check(body: dict[str, Any]) -> bool:
    """The core's short YES/NO call before generation (assist/components/answer_generator.py)."""
    return body.get("max_tokens") == ANSWERABILITY_MAX_TOKENS


def chat_reply(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stand-in", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@pytest.fixture
def city_api(make_settings: Callable[..., Settings]) -> Iterator[Api]:
    """The service with the city's roles file: an owner of home_care, staff roles and an admin."""
    settings = make_settings()
    settings.roles_file = ROLES_CITY
    with started(settings) as a:
        yield a
