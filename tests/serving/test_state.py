"""The service's state on both backends (SQLite file and PostgreSQL): schema and migrations, tokens, feedback and
the audit log, shared by two Database objects as two replicas share one database; and `assist serve` on PostgreSQL.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from typer.testing import CliRunner

from assist.cli import app as cli_app
from assist.errors import BackendUnavailableError, ConfigError
from assist.schemas import Answer, Citation
from assist.settings import Settings
from serving.audit import AuditLog
from serving.feedback import FeedbackStore
from serving.state import Database
from serving.state.models import Base
from serving.tokens import TokenStore, hash_token
from tests.conftest import free_port
from tests.servers import stop, wait_http
from tests.serving.conftest import REPO, started

FALL = "Vad gör jag om en brukare har ramlat?"


def answer(*doc_ids: str) -> Answer:
    citations = [
        Citation(n=i, doc_id=d, title=d, source=f"{d}.md", quote="...", collection="home_care")
        for i, d in enumerate(doc_ids, 1)
    ]
    return Answer(answer="Ring sjuksköterskan [1].", citations=citations, status="answered", generator="extractive",
                  language="sv")


class TestSchema:
    def test_a_fresh_database_is_migrated_to_the_models(self, database: Database) -> None:
        assert database.revision() is None
        assert database.upgrade() == (None, Database.head())
        assert database.upgrade() == (Database.head(), Database.head())
        with database.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []

    def test_replicas_starting_together_migrate_once(self, database_url: str) -> None:
        errors: list[BaseException] = []

        def start() -> None:
            db = Database(database_url)
            try:
                db.upgrade()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.close()

        threads = [threading.Thread(target=start) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert Database(database_url).revision() == Database.head()

    def test_an_unreachable_server_is_a_clear_503_without_the_password(self) -> None:
        db = Database(f"postgresql://assist:s3cret@127.0.0.1:{free_port()}/assist")
        with pytest.raises(BackendUnavailableError, match="cannot be reached") as err:
            TokenStore(db).verify("fa_x")
        assert "s3cret" not in str(err.value)
        assert err.value.status_code == 503

    @pytest.mark.parametrize("url", ["mysql://u:p@host/db", "not a url"])
    def test_an_unsupported_url_names_the_shape_to_write(self, url: str) -> None:
        with pytest.raises(ConfigError, match=r"postgresql://user:password@host:port/database"):
            Database(url)


class TestSharedByReplicas:
    def test_a_token_made_on_one_works_on_the_other(self, database_url: str) -> None:
        one, two = Database(database_url), Database(database_url)
        token_id, token = TokenStore(one).create("home-care")
        info = TokenStore(two).verify(token)
        assert info is not None
        assert (info.token_id, info.role) == (token_id, "home-care")
        assert TokenStore(two).revoke(token_id)
        assert TokenStore(one).verify(token) is None
        assert [t.revoked is not None for t in TokenStore(one).list()] == [True]
        one.close()
        two.close()

    def test_tokens_are_listed_oldest_first(self, database: Database) -> None:
        store = TokenStore(database)
        made = [store.create("library")[0] for _ in range(5)]
        assert [t.token_id for t in store.list()] == made

    def test_feedback_on_another_replica_carries_the_answers_documents(self, database_url: str) -> None:
        one, two = Database(database_url), Database(database_url)
        FeedbackStore(one).remember("r_1", "t_1", answer("fall", "larm"))
        FeedbackStore(two).add(request_id="r_1", token_id="t_1", role="home-care", rating="down", reason="Too long")
        # A caller who did not receive the answer rates a bare request id.
        FeedbackStore(two).add(request_id="r_1", token_id="t_2", role="home-care", rating="up")
        rows = FeedbackStore(one).export()
        assert [(r["token_id"], r["documents"], r["refused"], r["generator"]) for r in rows] == [
            ("t_1", ["fall", "larm"], False, "extractive"),
            ("t_2", [], None, ""),
        ]
        assert rows[0]["reason"] == "Too long"
        one.close()
        two.close()

    def test_only_the_newest_answers_are_remembered(self, database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("serving.feedback.RECENT_ANSWERS", 3)
        monkeypatch.setattr("serving.feedback.PRUNE_EVERY", 5)
        store = FeedbackStore(database)
        for i in range(5):
            store.remember(f"r_{i}", "t_1", answer(f"doc-{i}"))
        for i in (0, 1, 2, 4):
            store.add(request_id=f"r_{i}", token_id="t_1", role="home-care", rating="up")
        assert [r["documents"] for r in store.export()] == [[], [], ["doc-2"], ["doc-4"]]

    def test_a_bad_rating_is_refused_by_the_schema(self, database: Database) -> None:
        from sqlalchemy.exc import IntegrityError  # noqa: PLC0415

        with pytest.raises(IntegrityError):
            FeedbackStore(database).add(request_id="r_1", token_id="t_1", role="home-care", rating="meh")
        assert FeedbackStore(database).export() == []

    def test_audit_entries_from_both_replicas_read_back_as_written(self, database_url: str) -> None:
        one, two = Database(database_url), Database(database_url)
        first = AuditLog(one).record(request_id="r_1", token_id="t_1", role="home-care", route="/api/ask",
                                     status=200, latency_ms=12.34, answer=answer("fall"))
        second = AuditLog(two).record(request_id="r_2", token_id="t_1", role="home-care", route="/api/ask",
                                      status=503, latency_ms=1.0, error="BackendUnavailableError")
        assert AuditLog(one).read() == [first, second]
        assert first["documents"] == ["fall"]
        assert first["citations"] == [{"n": 1, "doc_id": "fall", "page": None}]
        assert second["error"] == "BackendUnavailableError"
        one.close()
        two.close()

    def test_an_older_audit_log_file_moves_into_the_database_once(self, database: Database, tmp_path: Path) -> None:
        old = tmp_path / "audit.log"
        entries = [{"time": "2026-11-30T10:00:00.000+00:00", "request_id": f"r_{i}", "token_id": "t_1",
                    "role": "library", "route": "/api/ask", "status": 200, "latency_ms": 5.0} for i in range(3)]
        old.write_text("".join(json.dumps(e) + "\n" for e in entries) + "not json\n", encoding="utf-8")
        log = AuditLog(database)
        assert log.adopt_file(old) == 3
        assert log.read() == entries
        assert not old.exists()
        assert (tmp_path / "audit.log.imported").exists()
        assert log.adopt_file(old) == 0


def old_version_file(path: Path, token: str) -> None:
    """A serving.sqlite exactly as the version before migrations made it, with one token and one rating."""
    conn = sqlite3.connect(path)
    conn.execute("""CREATE TABLE IF NOT EXISTS tokens (
        token_id TEXT PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, role TEXT NOT NULL, created TEXT NOT NULL,
        revoked TEXT)""")
    conn.execute("""CREATE TABLE IF NOT EXISTS feedback (
        feedback_id TEXT PRIMARY KEY, created TEXT NOT NULL, request_id TEXT NOT NULL, token_id TEXT NOT NULL,
        role TEXT NOT NULL, rating TEXT NOT NULL CHECK (rating IN ('up', 'down')), reason TEXT NOT NULL DEFAULT '',
        documents TEXT NOT NULL DEFAULT '[]', refused INTEGER, fallback INTEGER, generator TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT '')""")
    conn.execute("INSERT INTO tokens VALUES (?, ?, ?, ?, NULL)",
                 ("t_0ld", hash_token(token), "preschool", "2026-11-30T09:00:00+00:00"))
    conn.execute("INSERT INTO feedback VALUES ('f_0ld', '2026-11-30T09:01:00+00:00', 'r_0ld', 't_0ld', 'preschool', "
                 "'down', 'Fel rutin', '[\"feber\"]', 0, 1, 'extractive', 'sv')")
    conn.commit()
    conn.close()


class TestOlderSqliteFile:
    def test_tokens_and_feedback_of_the_old_schema_keep_working(self, tmp_path: Path) -> None:
        token = "fa_" + "x" * 43
        path = tmp_path / "serving.sqlite"
        old_version_file(path, token)
        db = Database.sqlite(path)
        assert db.revision() is None
        info = TokenStore(db).verify(token)  # migrates on first use
        assert info is not None
        assert (info.token_id, info.role) == ("t_0ld", "preschool")
        assert db.revision() == Database.head()
        feedback = FeedbackStore(db)
        feedback.add(request_id="r_new", token_id="t_0ld", role="preschool", rating="up")
        rows = feedback.export()
        assert [r["feedback_id"] for r in rows][0] == "f_0ld"
        assert rows[0] | {"documents": rows[0]["documents"]} == rows[0]
        assert (rows[0]["documents"], rows[0]["refused"], rows[0]["fallback"]) == (["feber"], False, True)
        assert len(rows) == 2
        db.close()
        assert path.stat().st_mode & 0o777 == 0o600


class TestCommands:
    def test_db_upgrade_and_token_create_use_the_configured_database(
        self, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        data_dir = tmp_path / "data"
        monkeypatch.setenv("ASSIST_DATA_DIR", str(data_dir))
        monkeypatch.setenv("ASSIST_DATABASE__URL", database_url)
        data_dir.mkdir()
        old_entry = {"time": "2026-11-30T10:00:00.000+00:00", "request_id": "r_old", "token_id": "t_1",
                     "role": "library", "route": "/api/ask", "status": 200, "latency_ms": 5.0}
        (data_dir / "audit.log").write_text(json.dumps(old_entry) + "\n", encoding="utf-8")
        runner = CliRunner()
        first = runner.invoke(cli_app, ["db", "upgrade"])
        assert first.exit_code == 0, first.output
        assert f"upgraded from no schema to {Database.head()}" in first.output
        assert "assist-test" not in first.output  # the password stays out of the output
        again = runner.invoke(cli_app, ["db", "upgrade"])
        assert "at the current schema" in again.output
        made = runner.invoke(cli_app, ["token", "create", "--role", "library"])
        assert made.exit_code == 0, made.output
        token = made.stdout.strip().splitlines()[0]
        db = Database(database_url)
        info = TokenStore(db).verify(token)
        assert AuditLog(db).read() == [old_entry]  # an older version's audit.log moved in
        db.close()
        assert info is not None
        assert info.role == "library"
        if database_url.startswith("postgresql"):
            assert not (data_dir / "serving.sqlite").exists()

    def test_a_database_that_cannot_be_reached_is_one_clear_line(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("ASSIST_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("ASSIST_DATABASE__URL", f"postgresql://assist:pw@127.0.0.1:{free_port()}/assist")
        result = CliRunner().invoke(cli_app, ["token", "create", "--role", "library"])
        assert result.exit_code == 2
        assert "cannot be reached" in result.output
        assert "Traceback" not in result.output


class TestServiceOnBothBackends:
    def test_answer_feedback_and_audit_through_the_api(
        self, database_url: str, make_settings: Callable[..., Settings]
    ) -> None:
        with started(make_settings(database_url=database_url)) as api:
            headers = api.token("home-care")
            rid = api.client.post("/api/ask", json={"question": FALL}, headers=headers).json()["request_id"]
            assert api.client.post("/api/feedback", json={"request_id": rid, "rating": "down"},
                                   headers=headers).status_code == 201
            rows = api.client.get("/api/feedback/export", headers=api.token("admin")).json()["feedback"]
            entry = next(e for e in api.services.audit.read() if e["request_id"] == rid)
        assert "fall" in rows[0]["documents"]
        assert "fall" in entry["documents"]
        # Another process (a second replica, or an auditor's script) reads the same rows.
        db = Database(database_url)
        assert any(e["request_id"] == rid for e in AuditLog(db).read())
        assert FeedbackStore(db).export()[0]["request_id"] == rid
        db.close()


@pytest.mark.integration
def test_assist_serve_migrates_a_fresh_postgresql_at_start_and_writes_there(
    built_store: Path, postgres_url: str, tmp_path: Path
) -> None:
    shutil.copytree(built_store, tmp_path / "qdrant")
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASSIST_DATA_DIR": str(tmp_path / "data"),
           "ASSIST_QDRANT__PATH": str(tmp_path / "qdrant"), "ASSIST_SERVE__PORT": str(port),
           "ASSIST_DATABASE__URL": postgres_url}
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-c", "from serving.cli import serve; serve(log_level='warning')"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/readyz", proc, "assist serve", 120, log.read_text)
        db = Database(postgres_url)
        assert db.revision() == Database.head()  # migrated by `assist serve` itself
        _, token = TokenStore(db).create("home-care")
        resp = httpx.post(f"{base}/api/ask", json={"question": FALL}, headers={"Authorization": f"Bearer {token}"},
                          timeout=120)
        assert resp.status_code == 200, resp.text
        rid = resp.json()["request_id"]
        assert [e["documents"] for e in AuditLog(db).read() if e["request_id"] == rid] == [["fall"]]
        db.close()
        assert not (tmp_path / "data" / "serving.sqlite").exists()
    finally:
        stop(proc, timeout=20)
