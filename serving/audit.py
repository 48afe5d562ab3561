"""The audit log: one JSON entry per answered (or failed) question, for an auditor; never the question itself."""

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select

from assist.schemas import Answer
from serving.state import Database
from serving.state.models import AuditEntry
from serving.tokens import as_database

logger = logging.getLogger(__name__)

#: Where versions before the database kept the log, as JSON lines under the data dir.
AUDIT_FILE = "audit.log"


class AuditLog:
    """Appends entries: time, request id, token id, role, route, documents cited, refused, fallback, latency.

    The question is deliberately absent: it may hold personal data the scrubber missed, and the cited documents,
    refusal and latency are what an audit of the service needs. Entries live in the service's database (one table
    for every replica); `read()` gives them back as the JSON objects the log's lines were.
    """

    def __init__(self, where: Path | Database):
        self.db = as_database(where)

    def record(
        self,
        *,
        request_id: str,
        token_id: str,
        role: str,
        route: str,
        status: int,
        latency_ms: float,
        answer: Answer | None = None,
        error: str | None = None,
        conn: Connection | None = None,
    ) -> dict[str, Any]:
        """Write one entry and return it; within the caller's transaction `conn` when given."""
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request_id": request_id,
            "token_id": token_id,
            "role": role,
            "route": route,
            "status": status,
            "latency_ms": round(latency_ms, 1),
        }
        if answer is not None:
            entry |= {
                "documents": sorted({c.doc_id for c in answer.citations}),
                "citations": [{"n": c.n, "doc_id": c.doc_id, "page": c.page} for c in answer.citations],
                "refused": answer.refused,
                "fallback": answer.fallback,
                "generator": answer.generator,
                "language": answer.language,
                "notices": len(answer.notices),
                # Whether personal data was replaced in the question (the core's scrubber), never what it was.
                "scrubbed": bool(getattr(answer, "scrubbed", False)),
            }
        if error is not None:
            entry["error"] = error
        if conn is not None:
            conn.execute(insert(AuditEntry).values(**_columns(entry)))
            return entry
        with self.db.begin() as own:
            own.execute(insert(AuditEntry).values(**_columns(entry)))
        return entry

    def read(self) -> list[dict[str, Any]]:
        """Every entry, oldest first."""
        with self.db.begin() as conn:
            lines = conn.execute(select(AuditEntry.entry).order_by(AuditEntry.seq)).scalars().all()
        return [json.loads(line) for line in lines]

    def adopt_file(self, path: Path) -> int:
        """Move the entries of an older version's JSON-lines log at `path` into the database, once: the file is
        renamed to `<name>.imported` afterwards. Returns how many entries moved.
        """
        if not path.is_file():
            return 0
        rows = []
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rows.append(_columns(json.loads(line)))
                except (ValueError, KeyError, TypeError):
                    logger.warning("Audit log %s line %d is not an entry; it stays in the renamed file only.", path, n)
        with self.db.begin() as conn:
            if rows:
                conn.execute(insert(AuditEntry), rows)
        path.rename(path.with_name(path.name + ".imported"))
        return len(rows)


def _columns(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "time": entry["time"], "request_id": entry["request_id"], "token_id": entry["token_id"],
        "role": entry["role"], "route": entry["route"], "status": int(entry["status"]),
        "latency_ms": float(entry["latency_ms"]), "entry": json.dumps(entry, ensure_ascii=False),
    }
