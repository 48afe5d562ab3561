"""`assist serve` and `assist ingest` on one embedded store, as separate processes; a damaged store at start-up."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from assist import store as versions
from serving.app import SQLITE_FILE
from serving.tokens import TokenStore
from tests.conftest import free_port, garble_vectors
from tests.servers import stop, wait_http

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]
NEW_ROUTINE = """---
title: Sopsortering i hemtjänsten
language: sv
---
# Sopsortering

Matavfall hos brukaren läggs i den bruna påsen och ställs i kärlet vid porten varje tisdag.
Batterier lämnas alltid i den röda lådan på enheten, aldrig i hushållssoporna.
"""


def env_for(data_dir: Path, store: Path, port: int | None = None) -> dict[str, str]:
    env = os.environ | {
        "HF_HUB_OFFLINE": "1",
        "ASSIST_DATA_DIR": str(data_dir),
        "ASSIST_QDRANT__PATH": str(store),
        "ASSIST_SERVE__RATE_PER_MINUTE": "6000",
        "ASSIST_SERVE__RATE_BURST": "1000",
        "PYTHONPATH": str(REPO),
    }
    if port is not None:
        env["ASSIST_SERVE__PORT"] = str(port)
    return env


def assist(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603, PLW1510 - our own interpreter and module; the test reads the status
        [sys.executable, "-m", "assist.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )


@contextmanager
def serving(data_dir: Path, store: Path) -> Iterator[str]:
    """`assist serve` in its own process; yields its base URL once it answers /healthz (ready or not)."""
    port = free_port()
    log_path = data_dir / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "assist.cli", "serve", "--port", str(port)],
            cwd=REPO, env=env_for(data_dir, store, port), stdout=log, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{base}/healthz", proc, "assist serve", 180, log_path.read_text)
            yield base
        finally:
            stop(proc, timeout=20)
    assert "Traceback" not in log_path.read_text()


def token(data_dir: Path, role: str = "home-care") -> dict[str, str]:
    tokens = TokenStore(data_dir / SQLITE_FILE)
    try:
        return {"Authorization": f"Bearer {tokens.create(role)[1]}"}
    finally:
        tokens.close()


def ask(base: str, headers: dict[str, str], question: str) -> httpx.Response:
    return httpx.post(f"{base}/api/ask", json={"question": question}, headers=headers, timeout=120)


@pytest.fixture
def store_copy(built_store: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(data dir, store) holding a private copy of the built store."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copytree(built_store, data_dir / "qdrant")
    return data_dir, data_dir / "qdrant"


def test_ingest_while_the_service_runs_and_the_service_answers_from_the_new_routines(store_copy, tmp_path):
    data_dir, store = store_copy
    kb = tmp_path / "kb"
    shutil.copytree(DATA, kb)
    (kb / "home_care" / "sopor.md").write_text(NEW_ROUTINE, encoding="utf-8")
    question = "Var lämnar jag batterier hos brukaren?"
    with serving(data_dir, store) as base:
        headers = token(data_dir)
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200
        before = ask(base, headers, question).json()
        assert "sopor" not in [c["doc_id"] for c in before["citations"]]

        result = assist("ingest", str(kb), "--json", env=env_for(data_dir, store))
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        assert report["counts"]["ingested"] >= 1
        assert "Traceback" not in result.stderr

        after = ask(base, headers, question)
        assert after.status_code == 200, after.text
        assert [c["doc_id"] for c in after.json()["citations"]][:1] == ["sopor"]
        # Another reader of the version the service holds (Qdrant Edge admits one process per shard folder).
        cli = assist("ask", question, "--role", "home-care", "--json", env=env_for(data_dir, store))
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout)["citations"][0]["doc_id"] == "sopor"
        ready = httpx.get(f"{base}/readyz", headers=token(data_dir, "admin"), timeout=30).json()  # details: admins
        published = (store / versions.CURRENT_FILE).read_text().strip()
        assert published in ready["checks"]["store"]["detail"]
    # Once the service has let the first version go, only the published one is left on disk.
    assert sorted(p.name for p in (store / versions.VERSIONS_DIR).iterdir()) == [published]


def test_service_starts_while_an_ingest_holds_the_store(store_copy):
    data_dir, store = store_copy
    lock = versions.IngestLock(store)  # an ingest in this (another) process is writing
    try:
        with serving(data_dir, store) as base:
            assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200
            resp = ask(base, token(data_dir), "Var förvaras nycklarna?")
            assert resp.status_code == 200
            assert resp.json()["citations"][0]["doc_id"] == "keys"
    finally:
        lock.release()


def test_second_ingest_at_once_gets_a_clear_error_and_exit_2(store_copy):
    data_dir, store = store_copy
    lock = versions.IngestLock(store)
    try:
        result = assist("ingest", str(DATA), "--json", env=env_for(data_dir, store))
        plain = assist("ingest", str(DATA), env=env_for(data_dir, store))
    finally:
        lock.release()
    assert result.returncode == 2
    error = json.loads(result.stdout)["error"]
    assert f"the store is busy: another ingest is running (pid {os.getpid()})" in error.lower()
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr
    assert "another ingest is running" in plain.stderr



def test_damaged_store_service_starts_not_ready_without_paths_cli_says_how_to_recover(store_copy):
    data_dir, store = store_copy
    garble_vectors(store)
    cli = assist("ask", "Var förvaras nycklarna?", "--role", "home-care", env=env_for(data_dir, store))
    assert cli.returncode != 0
    assert "Traceback" not in cli.stderr
    lines = [line for line in cli.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, cli.stderr
    assert "damaged" in lines[0]
    assert "--rebuild" in lines[0]
    with serving(data_dir, store) as base:
        ready = httpx.get(f"{base}/readyz", timeout=60)
        assert ready.status_code == 503
        assert str(data_dir) not in ready.text
        # The reason goes to admin tokens, still without a path.
        ready = httpx.get(f"{base}/readyz", headers=token(data_dir, "admin"), timeout=60)
        detail = ready.json()["checks"]["store"]["detail"]
        assert "damaged" in detail
        assert str(data_dir) not in ready.text
        asked = ask(base, token(data_dir), "Var förvaras nycklarna?")
        assert asked.status_code == 503
        # An update would carry the damage into the next version: refused, one JSON object, exit 2.
        update = assist("ingest", str(DATA), "--json", env=env_for(data_dir, store))
        assert update.returncode == 2
        assert "--rebuild" in json.loads(update.stdout)["error"]
        # Recovery while the service runs: a rebuild publishes a fresh version, and the service takes it up.
        rebuilt = assist("ingest", str(DATA), "--rebuild", "--json", env=env_for(data_dir, store))
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert httpx.get(f"{base}/readyz", timeout=60).status_code == 200
        assert ask(base, token(data_dir), "Var förvaras nycklarna?").json()["citations"][0]["doc_id"] == "keys"
