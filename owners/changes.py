"""The owners' change log in the service's database: every routine added, replaced or retired, and by whom."""

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import insert, select

from serving.state import Database
from serving.state.models import OwnerChange

Action = Literal["add", "replace", "retire"]


class Change(BaseModel):
    """One recorded change."""

    time: str
    token_id: str
    role: str
    action: Action
    collection: str
    doc_id: str
    title: str = ""
    source: str = ""
    detail: dict[str, Any] = {}


class ChangeLog:
    """Records and lists the owners' changes.

    Usage:
        log = ChangeLog(database_for(settings))
        log.record(Change(time=..., token_id="t_1", role="owner-home-care", action="retire", ...))
        log.list(["home_care"])
    """

    def __init__(self, database: Database):
        self.db = database

    def record(self, change: Change) -> None:
        """Write one change."""
        values = change.model_dump()
        values["detail"] = json.dumps(change.detail, ensure_ascii=False, sort_keys=True)
        with self.db.begin() as conn:
            conn.execute(insert(OwnerChange).values(**values))

    def list(self, collections: list[str] | None = None, limit: int = 200) -> list[Change]:
        """The newest changes first, in `collections` (None: all)."""
        query = select(OwnerChange).order_by(OwnerChange.seq.desc()).limit(limit)
        if collections is not None:
            query = query.where(OwnerChange.collection.in_(collections))
        with self.db.begin() as conn:
            rows = conn.execute(query).mappings().all()
        fields = [k for k in Change.model_fields if k != "detail"]
        return [Change(**{k: row[k] for k in fields}, detail=json.loads(row["detail"] or "{}")) for row in rows]


def now() -> str:
    """The time a change is recorded at, as the state's other tables write it."""
    return datetime.now(UTC).isoformat(timespec="seconds")
