"""Local SQLite record of the terminal client's conversations and feedback, under settings.data_dir."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from assist.privacy import scrub
from assist.schemas import Answer
from assist.store import private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    role TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    time TEXT NOT NULL,
    role TEXT NOT NULL,
    language TEXT,
    question TEXT NOT NULL,
    answer_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_conversation ON turns(conversation_id);
-- Same columns as the web's feedback: what was rated, how, why, by which role, and which documents were cited.
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    question_id INTEGER NOT NULL REFERENCES turns(id),
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    reason TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,
    answer_doc_ids TEXT NOT NULL,
    refused INTEGER NOT NULL,
    fallback INTEGER NOT NULL,
    generator TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT ''
);
"""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TurnRecord:
    """One question and its answer, as saved."""

    id: int
    conversation_id: int
    time: datetime
    role: str
    language: str | None
    question: str
    answer: Answer


class HistoryStore:
    """Conversations, turns and feedback in one SQLite file; safe to call from worker threads.

    Only what the user typed, with personal data replaced as the pipeline replaces it (`assist.privacy.scrub`), and
    what the assistant answered is stored: no user name, host or path. The question as typed never reaches the
    file (nor its write-ahead log), so a name or a street in it is not left on the librarian's disk.
    """

    def __init__(self, path: Path | str, *, clock: Clock = utc_now):
        self.path = Path(path)
        if str(path) != ":memory:":
            # What was asked about clients and what was answered: for this user only (SQLite gives its -wal and
            # -shm files the database file's mode).
            private_file(self.path)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA foreign_keys = ON")
        with self._db:
            self._db.executescript(SCHEMA)

    @classmethod
    def in_data_dir(cls, data_dir: Path, *, clock: Clock = utc_now) -> HistoryStore:
        return cls(data_dir / "tui.sqlite", clock=clock)

    def _now(self) -> str:
        return self._clock().isoformat(timespec="seconds")

    def start_conversation(self, role: str) -> int:
        with self._lock, self._db:
            cur = self._db.execute("INSERT INTO conversations (started, role) VALUES (?, ?)", (self._now(), role))
            return int(cur.lastrowid or 0)

    def add_turn(self, conversation_id: int, role: str, language: str | None, question: str, answer: Answer) -> int:
        """Save one turn; the question is stored scrubbed of personal data."""
        question = scrub(question).text
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO turns (conversation_id, time, role, language, question, answer_json)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, self._now(), role, language, question, answer.model_dump_json()),
            )
            return int(cur.lastrowid or 0)

    def conversation(self, conversation_id: int) -> list[TurnRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM turns WHERE conversation_id = ? ORDER BY id", (conversation_id,)
            ).fetchall()
        return [_record(r) for r in rows]

    def search(self, text: str = "", *, limit: int = 200) -> list[TurnRecord]:
        """Turns whose question or answer contains `text` (any case), newest first; all turns when empty."""
        pattern = "%" + text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM turns WHERE question LIKE ?1 ESCAPE '\\' OR json_extract(answer_json, '$.answer')"
                " LIKE ?1 ESCAPE '\\' ORDER BY id DESC LIMIT ?2",
                (pattern, limit),
            ).fetchall()
        return [_record(r) for r in rows]

    def add_feedback(self, question_id: int, rating: str, role: str, answer: Answer, reason: str = "") -> int:
        if rating not in ("up", "down"):
            msg = f"Unknown rating {rating!r}: use up or down."
            raise ValueError(msg)
        doc_ids = sorted({c.doc_id for c in answer.citations})
        # A reason is free text typed about a client: personal data in it is replaced like a question's.
        reason = scrub(reason.strip()).text
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO feedback (time, question_id, rating, reason, role, answer_doc_ids, refused, fallback,"
                " generator, language) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self._now(),
                    question_id,
                    rating,
                    reason.strip(),
                    role,
                    json.dumps(doc_ids),
                    int(answer.refused),
                    int(answer.fallback),
                    answer.generator,
                    answer.language,
                ),
            )
            return int(cur.lastrowid or 0)

    def feedback(self) -> list[dict[str, object]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM feedback ORDER BY id").fetchall()
        return [{**dict(r), "answer_doc_ids": json.loads(r["answer_doc_ids"])} for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _record(row: sqlite3.Row) -> TurnRecord:
    return TurnRecord(
        id=row["id"],
        conversation_id=row["conversation_id"],
        time=datetime.fromisoformat(row["time"]),
        role=row["role"],
        language=row["language"],
        question=row["question"],
        answer=Answer.model_validate_json(row["answer_json"]),
    )
