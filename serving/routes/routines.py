"""A whole routine, for the page's reader: its passages in order, grouped by section, within what the role may read."""

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Path

from serving.deps import ServicesDep, TokenDep

router = APIRouter(tags=["routines"])

#: Collection and document ids as ingest writes them (file stems, folder names).
_ID = r"^[\w.\-]{1,200}$"
NOT_FOUND = "No such routine among those your role may read."


@router.get("/api/routines/{collection}/{doc_id}", include_in_schema=True)
async def routine(
    services: ServicesDep,
    token: TokenDep,
    collection: str = Path(pattern=_ID),
    doc_id: str = Path(pattern=_ID),
) -> dict[str, Any]:
    """The routine `doc_id` of `collection` as sections (heading path, page, text in the routine's Markdown), in
    their order. A collection the caller's role may not read answers 404 exactly like a routine that does not exist,
    so that the reply does not tell which routines other roles have.
    """
    assistant = services.asker.assistant
    if assistant is None:
        raise HTTPException(503, "The assistant is still starting: try again in a moment.")
    if collection not in assistant.roles.collections_for(token.role, assistant.collections):
        raise HTTPException(404, NOT_FOUND)
    filters = {
        "operator": "AND",
        "conditions": [
            {"field": "meta.doc_id", "operator": "==", "value": doc_id},
            {"field": "meta.collection", "operator": "==", "value": collection},
        ],
    }
    chunks = await asyncio.to_thread(assistant.document_store.filter_documents, filters)
    if not chunks:
        raise HTTPException(404, NOT_FOUND)
    chunks.sort(key=lambda c: (int(c.meta.get("chunk", 0) or 0), c.id))
    meta = chunks[0].meta
    return {
        "doc_id": doc_id,
        "collection": collection,
        "title": str(meta.get("title") or doc_id),
        "language": str(meta.get("language") or ""),
        "review_date": str(meta.get("review_date") or ""),
        "sections": sections([(str(c.meta.get("section") or ""), c.meta.get("page"), c.content or "") for c in chunks]),
    }


def sections(parts: list[tuple[str, Any, str]]) -> list[dict[str, Any]]:
    """Consecutive passages of one section (and page) joined into one, each with an anchor id; the sentence a long
    block's passages share at their cut is kept once.
    """
    out: list[dict[str, Any]] = []
    for section, page, text in parts:
        if out and out[-1]["section"] == section and out[-1]["page"] == page:
            prev = out[-1]["text"]
            out[-1]["text"] = f"{prev}\n\n{text[_overlap(prev, text):].lstrip()}".rstrip()
            continue
        out.append({"id": f"sec-{len(out) + 1}", "section": section, "page": page, "text": text.strip()})
    return out


def _overlap(prev: str, text: str, limit: int = 800) -> int:
    """Length of the longest start of `text` that ends `prev` (the one sentence of overlap ingest adds at a cut)."""
    for k in range(min(len(text), len(prev), limit), 10, -1):
        if prev.endswith(text[:k]):
            return k
    return 0
