"""Thumbs up or down on an answer, with an optional reason, kept in SQLite and exportable for QA."""

import csv
import io
import json
import secrets
import sqlite3
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assist.privacy import scrub
from assist.schemas import Answer
from serving.tokens import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    feedback_id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    request_id TEXT NOT NULL,
    token_id TEXT NOT NULL,
    role TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    reason TEXT NOT NULL DEFAULT '',
    documents TEXT NOT NULL DEFAULT '[]',
    refused INTEGER,
    fallback INTEGER,
    generator TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT ''
)
"""

EXPORT_FIELDS = (
    "feedback_id", "created", "request_id", "token_id", "role", "rating", "reason",
    "documents", "refused", "fallback", "generator", "language",
)
RECENT_ANSWERS = 10_000


#: What OWASP's CSV injection advice lists as the start of a formula: = + - @, tab and carriage return.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell that starts like a formula gets a leading single quote, so a spreadsheet shows it as text.

    Following OWASP's CSV injection advice; the csv writer then quotes every cell and doubles embedded quotes.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class FeedbackStore:
    """Stores feedback; remembers recent answers' metadata (not their text) so feedback names the documents."""

    def __init__(self, path: Path):
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, dict[str, Any]] = OrderedDict()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path)
            self._conn.execute(_SCHEMA)
        return self._conn

    def remember(self, request_id: str, token_id: str, answer: Answer) -> None:
        """Keep what feedback on this answer should carry: cited documents, refused, fallback."""
        with self._lock:
            self._recent[request_id] = {
                "token_id": token_id,
                "documents": sorted({c.doc_id for c in answer.citations}),
                "refused": answer.refused,
                "fallback": answer.fallback,
                "generator": answer.generator,
                "language": answer.language,
            }
            while len(self._recent) > RECENT_ANSWERS:
                self._recent.popitem(last=False)

    def add(self, *, request_id: str, token_id: str, role: str, rating: str, reason: str = "") -> str:
        """Store one rating; returns its id. An answer seen by this process adds its documents."""
        with self._lock:
            seen = self._recent.get(request_id)
        # Only the caller who received the answer can attach its metadata; others rate a bare request id.
        meta = seen if seen and seen["token_id"] == token_id else {}
        feedback_id = f"f_{secrets.token_hex(6)}"
        row = (
            feedback_id, datetime.now(UTC).isoformat(timespec="seconds"), request_id, token_id, role, rating,
            # A reason is free text typed at a client's door: personal data in it is replaced like a question's.
            scrub(reason.strip()).text if reason.strip() else "",
            json.dumps(meta.get("documents", [])), meta.get("refused"), meta.get("fallback"),
            meta.get("generator", ""), meta.get("language", ""),
        )
        with self._lock:
            self.conn.execute(f"INSERT INTO feedback VALUES ({', '.join('?' * len(row))})", row)
        return feedback_id

    def export(self) -> list[dict[str, Any]]:
        """Every rating, oldest first, documents as a list."""
        with self._lock:
            rows = self.conn.execute(f"SELECT {', '.join(EXPORT_FIELDS)} FROM feedback ORDER BY created").fetchall()
        out = []
        for row in rows:
            item = dict(zip(EXPORT_FIELDS, row, strict=True))
            item["documents"] = json.loads(item["documents"])
            for key in ("refused", "fallback"):
                item[key] = None if item[key] is None else bool(item[key])
            out.append(item)
        return out

    def export_csv(self) -> str:
        """The export as CSV (documents joined by spaces), for a spreadsheet; every cell quoted, and a cell that a
        spreadsheet would run as a formula is defused (see `csv_cell`).
        """
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        for item in self.export():
            row = item | {"documents": " ".join(item["documents"])}
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
        return buf.getvalue()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
