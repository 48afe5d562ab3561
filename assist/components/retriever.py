"""Retrieves passages for a question from Qdrant, scoped to the caller's collections inside the query."""

from dataclasses import replace
from typing import Any, Literal

import numpy as np
from haystack import Document, component
from haystack.dataclasses import SparseEmbedding

from assist.components.edge_store import EdgeDocumentStore
from assist.roles import COLLECTIONS

RetrievalMode = Literal["dense", "sparse", "hybrid"]


def collection_filter(collections: list[str]) -> dict[str, Any]:
    """The Haystack filter that keeps a query inside the collections a role may read."""
    if not collections:
        msg = "A query needs at least one collection; an empty scope would read nothing."
        raise ValueError(msg)
    return {"field": "meta.collection", "operator": "in", "value": list(collections)}


@component
class ScopedRetriever:
    """Dense, sparse (BM25) or hybrid (RRF) retrieval on an embedded shard or a Qdrant server.

    The role's collections become a filter inside the Qdrant query, never a filter applied afterwards. Each
    returned document carries `meta["relevance"]`: its cosine similarity to the question, the score the
    relevance gate reads (fused RRF scores are ranks, not evidence).
    """

    def __init__(
        self,
        *,
        document_store: Any,
        mode: RetrievalMode = "hybrid",
        top_k: int = 5,
        lexical_languages: tuple[str, ...] = ("sv", "en", "no", "da"),
    ):
        if mode not in ("dense", "sparse", "hybrid"):
            msg = f"Unknown retrieval mode {mode!r}: use dense, sparse or hybrid."
            raise ValueError(msg)
        self.document_store = document_store
        self.mode = mode
        self.top_k = top_k
        self.lexical_languages = lexical_languages

    @component.output_types(documents=list[Document], outside_best=float)
    def run(
        self,
        query_embedding: list[float],
        query_sparse_embedding: SparseEmbedding,
        collections: list[str],
        top_k: int | None = None,
        language: str = "sv",
    ) -> dict[str, Any]:
        """Retrieve the top passages the caller may read.

        A question in a language that shares no words with the corpus (Arabic, Somali, ... against Swedish
        routines) gets dense retrieval only: its keyword ranks would be noise fused into the dense ones.
        """
        k = top_k or self.top_k
        filters = collection_filter(collections)
        store = self.document_store
        mode = self.mode if language in self.lexical_languages else "dense"
        if isinstance(store, EdgeDocumentStore):
            if mode == "dense":
                docs = store.query_by_embedding(query_embedding, filters=filters, top_k=k)
            elif mode == "sparse":
                docs = store.query_by_sparse(query_sparse_embedding, filters=filters, top_k=k)
            else:
                docs = store.query_hybrid(query_embedding, query_sparse_embedding, filters=filters, top_k=k)
            vectors = store.dense_vectors([d.id for d in docs])
        else:  # qdrant-haystack's QdrantDocumentStore on a server (or local mode in tests)
            if mode == "dense":
                docs = store._query_by_embedding(query_embedding, filters=filters, top_k=k, return_embedding=True)
            elif mode == "sparse":
                docs = store._query_by_sparse(query_sparse_embedding, filters=filters, top_k=k, return_embedding=True)
            else:
                docs = store._query_hybrid(
                    query_embedding, query_sparse_embedding, filters=filters, top_k=k, return_embedding=True
                )
            vectors = {d.id: d.embedding for d in docs}
        q = np.asarray(query_embedding, dtype=np.float32)
        qn = float(np.linalg.norm(q)) or 1.0
        out = []
        for doc in docs:
            vec = vectors.get(doc.id)
            relevance = 0.0
            if vec is not None:
                v = np.asarray(vec, dtype=np.float32)
                relevance = float(q @ v / (qn * (float(np.linalg.norm(v)) or 1.0)))
            out.append(replace(doc, embedding=None, meta={**doc.meta, "relevance": relevance}))
        return {"documents": out, "outside_best": self._outside_best(query_embedding, collections)}

    def _outside_best(self, query_embedding: list[float], collections: list[str]) -> float:
        """Best dense score among the collections the caller may NOT read; 0 when there are none.

        Only the score leaves this method, for the relevance gate: a question whose answer clearly lives in
        another role's routines is refused rather than answered from a weaker passage in the caller's own.
        """
        outside = [c for c in COLLECTIONS if c not in collections]
        if not outside:
            return 0.0
        filters = collection_filter(outside)
        store = self.document_store
        if isinstance(store, EdgeDocumentStore):
            docs = store.query_by_embedding(query_embedding, filters=filters, top_k=1)
        else:
            docs = store._query_by_embedding(query_embedding, filters=filters, top_k=1)
        return float(docs[0].score) if docs and docs[0].score is not None else 0.0
