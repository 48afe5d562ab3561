"""Fixtures for the service's tests: a small store built once, apps over it, and a running `assist serve`."""

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from assist.components.answer_generator import ANSWERABILITY_MAX_TOKENS
from assist.settings import DatabaseSettings, GeneratorSettings, QdrantSettings, Settings
from serving.app import SQLITE_FILE, create_app
from serving.config import ServingSettings
from serving.deps import Services
from serving.state import Database
from serving.tokens import TokenStore
from tests.conftest import free_port

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]
#: Debian's PostgreSQL server binaries (`apt-get install postgresql`; .ci/run installs it).
POSTGRES_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
PG_PASSWORD = "assist-test-" + secrets.token_hex(4)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port, with password sign-in: its base URL, no database.

    Run as the `postgres` user when the tests run as root (the server refuses to run as root).
    """
    if not POSTGRES_BINS:
        pytest.skip("Debian's PostgreSQL is not installed (apt-get install postgresql): the PostgreSQL backend's "
                    "tests need its server binaries in /usr/lib/postgresql/*/bin.")
    bindir = POSTGRES_BINS[-1].parent
    root = Path(tempfile.mkdtemp(prefix="assist-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
    pwfile = root / "pw"
    pwfile.write_text(PG_PASSWORD, encoding="utf-8")
    if as_user:
        shutil.chown(pwfile, "postgres", "postgres")
    port = free_port()
    data = root / "data"

    def run(*argv: object) -> None:
        subprocess.run([*as_user, *map(str, argv)], check=True, capture_output=True, timeout=120)  # noqa: S603

    run(bindir / "initdb", "-D", data, "-U", "assist", f"--pwfile={pwfile}", "--auth=scram-sha-256",
        "--encoding=UTF8", "--no-sync")
    try:
        run(bindir / "pg_ctl", "-D", data, "-l", root / "server.log", "-w", "-t", "60", "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off", "start")
        yield f"postgresql://assist:{PG_PASSWORD}@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],  # noqa: S603
                       check=False, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database of its own on the throwaway cluster (so tests never see each other's rows)."""
    import psycopg  # noqa: PLC0415

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{postgres_server}/{name}"
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
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"assist serve exited: {log_path.read_text()}")
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"assist serve did not get ready: {log_path.read_text()}")
            time.sleep(0.3)
        yield LiveServer(base_url=base_url, data_dir=data_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
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
