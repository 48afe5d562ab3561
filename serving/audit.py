"""The audit log: one JSON line per answered (or failed) question, for an auditor; never the question itself."""

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assist.schemas import Answer
from serving.files import private_file


class AuditLog:
    """Appends JSON lines: time, request id, token id, role, route, documents cited, refused, fallback, latency.

    The question is deliberately absent: it may hold personal data the scrubber missed, and the cited documents,
    refusal and latency are what an audit of the service needs.
    """

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._private = False

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
    ) -> dict[str, Any]:
        """Write one entry and return it."""
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
        line = json.dumps(entry, ensure_ascii=False)
        with self._lock:
            if not self._private:
                private_file(self.path)
                self._private = True
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        return entry

    def read(self) -> list[dict[str, Any]]:
        """Every entry, oldest first."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
