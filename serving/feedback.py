"""Thumbs up or down on an answer, with an optional reason, kept in the service's database and exportable for QA."""

import csv
import io
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from assist.privacy import scrub
from assist.schemas import Answer
from serving.state import Database
from serving.state.models import Feedback, RecentAnswer
from serving.tokens import as_database

EXPORT_FIELDS = (
    "feedback_id", "created", "request_id", "token_id", "role", "rating", "reason",
    "documents", "refused", "fallback", "generator", "language",
)
#: Answers remembered for feedback (the newest), pruned every PRUNE_EVERY answers a process remembers.
RECENT_ANSWERS = 10_000
PRUNE_EVERY = 500


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
    """Stores feedback; remembers recent answers' metadata (not their text) so feedback names the documents.

    The remembered answers are in the database too, so feedback given through one replica names the documents of
    an answer another replica gave.
    """

    def __init__(self, where: Path | Database):
        self.db = as_database(where)
        self._remembered = 0

    def remember(self, request_id: str, token_id: str, answer: Answer, conn: Connection | None = None) -> None:
        """Keep what feedback on this answer should carry: cited documents, refused, fallback; within the caller's
        transaction `conn` when given."""
        row = {
            "request_id": request_id,
            "token_id": token_id,
            "created": datetime.now(UTC).isoformat(timespec="microseconds"),
            "documents": json.dumps(sorted({c.doc_id for c in answer.citations})),
            "refused": answer.refused,
            "fallback": answer.fallback,
            "generator": answer.generator,
            "language": answer.language,
        }
        if conn is None:
            with self.db.begin() as own:
                self._remember(own, row)
        else:
            self._remember(conn, row)

    def _remember(self, conn: Connection, row: dict[str, Any]) -> None:
        conn.execute(insert(RecentAnswer).values(**row))
        self._remembered += 1
        if self._remembered % PRUNE_EVERY == 0:
            # Keep the newest RECENT_ANSWERS: feedback comes soon after an answer, or not at all.
            newest = conn.execute(select(func.max(RecentAnswer.seq))).scalar_one()
            conn.execute(delete(RecentAnswer).where(RecentAnswer.seq <= newest - RECENT_ANSWERS))

    def add(self, *, request_id: str, token_id: str, role: str, rating: str, reason: str = "") -> str:
        """Store one rating; returns its id. A remembered answer adds its documents."""
        feedback_id = f"f_{secrets.token_hex(6)}"
        with self.db.begin() as conn:
            seen = conn.execute(select(RecentAnswer).where(RecentAnswer.request_id == request_id)).mappings().first()
            # Only the caller who received the answer can attach its metadata; others rate a bare request id.
            meta: Any = seen if seen and seen["token_id"] == token_id else {}
            conn.execute(insert(Feedback).values(
                feedback_id=feedback_id,
                created=datetime.now(UTC).isoformat(timespec="microseconds"),
                request_id=request_id, token_id=token_id, role=role, rating=rating,
                # A reason is free text typed at a client's door: personal data in it is replaced like a question's.
                reason=scrub(reason.strip()).text if reason.strip() else "",
                documents=meta.get("documents", "[]"), refused=meta.get("refused"), fallback=meta.get("fallback"),
                generator=meta.get("generator", ""), language=meta.get("language", ""),
            ))
        return feedback_id

    def export(self) -> list[dict[str, Any]]:
        """Every rating, oldest first, documents as a list."""
        columns = [getattr(Feedback, name) for name in EXPORT_FIELDS]
        with self.db.begin() as conn:
            rows = conn.execute(select(*columns).order_by(Feedback.created, Feedback.feedback_id)).all()
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
        self.db.close()
