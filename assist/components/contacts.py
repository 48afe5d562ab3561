"""Finds who to ask when the routines do not cover a question: the closest passage of the contacts document."""

from typing import Any

from haystack import Document, component

from assist.components.edge_store import EdgeDocumentStore


@component
class ContactsLookup:
    """Runs only for refused questions; returns the contacts passage nearest the question (empty if none)."""

    def __init__(self, *, document_store: Any, doc_id: str):
        self.document_store = document_store
        self.doc_id = doc_id

    @component.output_types(documents=list[Document])
    def run(
        self, rejected: list[Document], query_embedding: list[float], collections: list[str]
    ) -> dict[str, list[Document]]:
        """Look up the contacts document within the caller's `collections`: a role that may not read the
        collection holding it (in the shipped knowledge, `general`) gets no contacts passage.
        """
        if not collections:
            return {"documents": []}
        filters = {
            "operator": "AND",
            "conditions": [
                {"field": "meta.doc_id", "operator": "==", "value": self.doc_id},
                {"field": "meta.collection", "operator": "in", "value": list(collections)},
            ],
        }
        store = self.document_store
        if isinstance(store, EdgeDocumentStore):
            docs = store.query_by_embedding(query_embedding, filters=filters, top_k=1)
        else:
            docs = store._query_by_embedding(query_embedding, filters=filters, top_k=1)
        return {"documents": docs}
