"""The routine inventory: every document per collection with its metadata, replacement chain, review date and the
outcome of its last ingest, read from the store's payloads and ingest's status file.
"""

from collections.abc import Iterable
from datetime import date
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, Field

from assist.components.edge_store import EdgeDocumentStore
from assist.review import is_overdue, parse_day
from assist.roles import Roles

#: Payload fields read for the inventory (no text, no vectors).
FIELDS = [
    "meta.doc_id", "meta.title", "meta.collection", "meta.source", "meta.page", "meta.language", "meta.owner",
    "meta.valid_from", "meta.review_date", "meta.replaces", "meta.doc_version", "meta.chunk_count",
]


class DocumentRow(BaseModel):
    """One routine of the inventory (`assist docs --json` prints a list of these)."""

    doc_id: str
    collection: str
    title: str = ""
    file: str = Field(default="", description="The source file, as the store names it.")
    format: str = Field(default="", description="pdf, docx, md, html or txt (from the file's extension).")
    pages: int | None = Field(default=None, description="Pages of a paged format; None for the others.")
    chunks: int = 0
    language: str = ""
    owner: str = Field(default="", description="The owner the document names (its `owner` field).")
    owner_roles: list[str] = Field(default_factory=list, description="Roles of the roles file that own its collection.")
    valid_from: str = ""
    in_force: bool = Field(default=True, description="False while its valid_from lies ahead, or once it is replaced.")
    replaces: str = ""
    replaced_by: str = Field(default="", description="The routine in force (or scheduled) that replaces this one.")
    replaced: bool = Field(default=False, description="True when a replacement is in force: no longer answered from.")
    review_date: str = ""
    review_overdue: bool = Field(default=False, description="Its review date has passed and it is still in force "
                                 "(never for a replaced routine).")
    ingested_at: str = Field(default="", description="When its current version was last ingested (UTC).")
    status: str = Field(description="indexed | scheduled (valid_from ahead) | replaced | failed (see reason)")
    reason: str = Field(default="", description="Why the last ingest of its file failed.")
    notes: list[str] = Field(default_factory=list, description="The last ingest's notes on the file.")


def read_payloads(store: Any) -> list[dict[str, Any]]:
    """The inventory fields of every stored chunk: the embedded shard's payloads, or a server's documents."""
    if isinstance(store, EdgeDocumentStore):
        return [dict(p.get("meta") or {}) for p in store.filter_payloads(fields=FIELDS)] if store.exists() else []
    return [dict(d.meta) for d in store.filter_documents()]


def build_inventory(
    payloads: Iterable[dict[str, Any]],
    status: dict[str, dict[str, Any]],
    roles: Roles | None = None,
    today: date | None = None,
) -> list[DocumentRow]:
    """The inventory from the stored chunks' metadata and ingest's status file (source -> last outcome).

    A file whose last ingest failed appears too: with the version still stored, if any, and the failure's reason.
    """
    day = today or date.today()
    docs: dict[str, dict[str, Any]] = {}
    for meta in payloads:
        doc_id = str(meta.get("doc_id") or "")
        if not doc_id:
            continue
        d = docs.setdefault(doc_id, {"meta": meta, "chunks": 0, "pages": set()})
        d["chunks"] += 1
        if isinstance(meta.get("page"), int):
            d["pages"].add(meta["page"])
    rows: dict[str, DocumentRow] = {}
    for doc_id, d in docs.items():
        meta = d["meta"]
        source = str(meta.get("source") or "")
        last = status.get(source, {})
        rows[doc_id] = DocumentRow(
            doc_id=doc_id,
            collection=str(meta.get("collection") or ""),
            title=str(meta.get("title") or doc_id),
            file=source,
            format=PurePosixPath(source).suffix.lstrip(".").lower(),
            pages=max(d["pages"]) if d["pages"] else None,
            chunks=d["chunks"],
            language=str(meta.get("language") or ""),
            owner=str(meta.get("owner") or ""),
            valid_from=str(meta.get("valid_from") or ""),
            replaces=str(meta.get("replaces") or ""),
            review_date=str(meta.get("review_date") or ""),
            review_overdue=is_overdue(meta.get("review_date"), day),
            ingested_at=str(last.get("ingested_at") or ""),
            status="failed" if last.get("status") == "failed" else "indexed",
            reason=str(last.get("reason") or "") if last.get("status") == "failed" else "",
            notes=list(last.get("notes") or []),
        )
    for source, last in sorted(status.items()):
        doc_id = str(last.get("doc_id") or "")
        if last.get("status") != "failed" or not doc_id or doc_id in rows:
            continue
        rows[doc_id] = DocumentRow(
            doc_id=doc_id, collection=str(last.get("collection") or ""), title=doc_id, file=source,
            format=PurePosixPath(source).suffix.lstrip(".").lower(), status="failed",
            reason=str(last.get("reason") or ""), notes=list(last.get("notes") or []), in_force=False,
        )
    _link_replacements(rows, day)
    if roles is not None:
        for row in rows.values():
            row.owner_roles = roles.owners_of(row.collection)
    return sorted(rows.values(), key=lambda r: (r.collection, r.title.lower(), r.doc_id))


def _link_replacements(rows: dict[str, DocumentRow], day: date) -> None:
    """Fill `replaced_by`, `replaced`, `in_force` and the status from each routine's `replaces` and `valid_from`,
    as retrieval applies them (assist.components.retriever.replaced_doc_ids): one collection's routine never
    replaces another's, and a replacement takes over on its valid_from day.
    """
    for row in sorted(rows.values(), key=lambda r: r.valid_from):
        old = rows.get(row.replaces)
        if not row.replaces or old is None or old.doc_id == row.doc_id or old.collection != row.collection:
            continue
        start = parse_day(row.valid_from)
        takes_over = start is None or start <= day
        old.replaced_by = row.doc_id
        if takes_over:
            # No longer answered from: its review date is the replacement's business, not an overdue routine.
            old.replaced, old.in_force, old.review_overdue = True, False, False
            if old.status == "indexed":
                old.status = "replaced"
        else:
            row.in_force = False
            if row.status == "indexed":
                row.status = "scheduled"


def filter_rows(
    rows: Iterable[DocumentRow],
    *,
    collections: Iterable[str] | None = None,
    query: str = "",
    overdue: bool = False,
    failed: bool = False,
    replaced: bool = False,
) -> list[DocumentRow]:
    """The rows in `collections` (None: all) matching the search words (title, id, file, owner) and every filter."""
    allowed = set(collections) if collections is not None else None
    words = query.lower().split()
    out = []
    for row in rows:
        if allowed is not None and row.collection not in allowed:
            continue
        hay = f"{row.title} {row.doc_id} {row.file} {row.owner}".lower()
        if any(w not in hay for w in words):
            continue
        if overdue and not row.review_overdue:
            continue
        if failed and row.status != "failed":
            continue
        if replaced and not (row.replaced or row.replaced_by):
            continue
        out.append(row)
    return out
