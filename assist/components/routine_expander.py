"""Adds the rest of the best-ranked routine to the passages an answer is written from.

Retrieval returns the passages nearest the question, a few per routine; the sentence that answers it can sit in
another part of the same routine (a loan-periods table below the reservation rules). The grounding decision has
already been made on the retrieved passages: this only widens what the answer may quote, within that one routine.
"""

import logging
from dataclasses import replace
from typing import Any

from haystack import Document, component

from assist.components.unit_embedder import without_stored_meta

logger = logging.getLogger(__name__)


@component
class RoutineExpander:
    """Appends the best-ranked routine's other passages (in their order in the routine) after the retrieved ones.

    The passages keep their numbers; the added ones follow, so a citation [n] still points at the same passage.
    They are read from the same collection as the routine's retrieved passage, so no other role's text comes in.
    """

    def __init__(self, *, document_store: Any | None = None, max_added: int = 12):
        self.document_store = document_store
        self.max_added = max_added

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """The retrieved passages, then the top routine's passages that were not retrieved."""
        if not documents or self.document_store is None or self.max_added <= 0:
            return {"documents": documents}
        top = documents[0].meta
        doc_id, collection = top.get("doc_id"), top.get("collection")
        if not doc_id or not collection:
            return {"documents": documents}
        filters = {
            "operator": "AND",
            "conditions": [
                {"field": "meta.doc_id", "operator": "==", "value": doc_id},
                {"field": "meta.collection", "operator": "==", "value": collection},
            ],
        }
        try:
            chunks = self.document_store.filter_documents(filters=filters)
        except Exception:  # noqa: BLE001 - the retrieved passages alone still make an answer
            logger.warning("Could not read the rest of routine %s; answering from the retrieved passages", doc_id)
            return {"documents": documents}
        have = {d.id for d in documents}
        texts = {d.content for d in documents}
        added = [
            replace(c, embedding=None, sparse_embedding=None, meta={
                **without_stored_meta(c.meta), "relevance": 0.0, "expanded": True})
            for c in sorted(chunks, key=lambda c: (int(c.meta.get("chunk", 0) or 0), c.id))
            if c.id not in have and c.content not in texts
        ]
        return {"documents": documents + added[: self.max_added]}
