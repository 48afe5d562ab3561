"""Finds who to ask when the routines do not cover a question: the contacts document's rows nearest the question."""

from typing import Any

from haystack import Document, component

from assist.components.answer_builder import contacts_in
from assist.components.edge_store import EdgeDocumentStore
from assist.components.unit_embedder import UNIT_VECTORS, stored_unit_cosines

#: Passages of the contacts document read per question (nearest first): its sections by area of work.
CONTACT_PASSAGES = 3


@component
class ContactsLookup:
    """Runs only for refused questions; returns the contacts document's contact rows nearest the question (empty if
    none): each row one Document with its passage's meta, the nearest first."""

    def __init__(self, *, document_store: Any, doc_id: str):
        self.document_store = document_store
        self.doc_id = doc_id

    @component.output_types(documents=list[Document])
    def run(
        self, rejected: list[Document], query_embedding: list[float], collections: list[str]
    ) -> dict[str, list[Document]]:
        """Look up the contacts document within the caller's `collections`: a role that may not read the
        collection holding it (in the shipped knowledge, `general`) gets no contacts.

        The CONTACT_PASSAGES passages nearest the question are read; only lines that are contacts (a phone number or
        an e-mail address with whom it reaches, `contacts_in`) come back, ordered by how near each is to the question
        in meaning (the sentence vectors stored at ingest), else in the passages' order. A passage that names no
        contact (the list's purpose, its scope) never gives one.
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
            docs = store.query_by_embedding(query_embedding, filters=filters, top_k=CONTACT_PASSAGES)
        else:
            docs = store._query_by_embedding(query_embedding, filters=filters, top_k=CONTACT_PASSAGES)
        cosines = stored_unit_cosines(query_embedding, docs)
        rows: list[tuple[float, int, Document]] = []
        for doc in docs:
            meta = {k: v for k, v in doc.meta.items() if k != UNIT_VECTORS}
            for row in contacts_in(doc):
                rows.append((cosines.get(row, 0.0), len(rows), Document(content=row, meta=meta)))
        rows.sort(key=lambda r: (-r[0], r[1]))
        return {"documents": [d for _, _, d in rows]}
