"""Finds who to ask when the routines do not cover a question: the contact rows of the contacts list's nearest part."""

from typing import Any

import numpy as np
from haystack import Document, component

from assist.components.answer_builder import contacts_in
from assist.components.edge_store import EdgeDocumentStore
from assist.components.retriever import as_floats
from assist.components.unit_embedder import STORED_VECTORS, without_stored_meta

#: Passages of the contacts document read per question (nearest first): its sections by area of work.
CONTACT_PASSAGES = 3


@component
class ContactsLookup:
    """Runs for refused and closest answers; returns the contact rows of the contacts document's passages nearest the
    question (empty if none): each row one Document with its passage's meta, the nearest passage's rows first."""

    def __init__(self, *, document_store: Any, doc_id: str):
        self.document_store = document_store
        self.doc_id = doc_id

    @component.output_types(documents=list[Document])
    def run(
        self, rejected: list[Document], query_embedding: list[float] | np.ndarray, collections: list[str]
    ) -> dict[str, list[Document]]:
        """Look up the contacts document within the caller's `collections`: a role that may not read the
        collection holding it (in the shipped knowledge, `general`) gets no contacts.

        The CONTACT_PASSAGES passages nearest the question are read; only lines that are contacts (a phone number or
        an e-mail address with whom it reaches, `contacts_in`) come back, the nearest passage's first. A passage
        that names no contact (the list's purpose, its scope) never gives one.
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
            docs = store.query_by_embedding(as_floats(query_embedding), filters=filters, top_k=CONTACT_PASSAGES,
                                            without=STORED_VECTORS)
        else:
            docs = store._query_by_embedding(as_floats(query_embedding), filters=filters, top_k=CONTACT_PASSAGES)
        # Each passage is a section of the list by area of work, its first row the area's general entry point
        # (Samordning hemtjänst, Förskolekontoret, Informationsdisken): the nearest passage that names a contact
        # decides, in the list's own order. Ranking the rows themselves by meaning picked the wrong desk too often
        # ("Digitala tjänster" for a library card, "Kostenheten" for fire extinguishers).
        rows = []
        for doc in docs:
            meta = without_stored_meta(doc.meta)
            rows += [Document(content=row, meta=meta) for row in contacts_in(doc)]
        return {"documents": rows}
