"""BM25 sparse vectors from Qdrant Edge's own model (stemmer + stopwords per language), as Haystack embedders.

Its config mirrors the Qdrant server's BM25, and the collection applies the IDF modifier, so the same sparse
vectors work on the embedded shard and on a server.
"""

from dataclasses import replace
from typing import Any

import qdrant_edge as qe
from haystack import Document, component
from haystack.dataclasses import SparseEmbedding

from assist.components.e5_embedder import embedding_text

#: Languages whose stemmer and stopwords ship with qdrant-edge (ISO 639-1 → Bm25Config language).
BM25_LANGUAGES = {
    "sv": "swedish",
    "en": "english",
    "fi": "finnish",
    "ar": "arabic",
    "no": "norwegian",
    "da": "danish",
    "de": "german",
    "ru": "russian",
}


def _model(language: str) -> Any:
    return qe.Bm25(qe.Bm25Config(language=BM25_LANGUAGES.get(language, "swedish")))


def _to_sparse(vec: Any) -> SparseEmbedding:
    return SparseEmbedding(indices=list(vec.indices), values=list(vec.values))


@component
class Bm25TextSparseEmbedder:
    """Sparse query vector (each unique stemmed token weighs 1; IDF comes from the collection)."""

    def __init__(self, *, language: str = "sv"):
        self.language = language
        self._model = _model(language)

    @component.output_types(sparse_embedding=SparseEmbedding)
    def run(self, text: str) -> dict[str, SparseEmbedding]:
        """Embed one query text."""
        return {"sparse_embedding": _to_sparse(self._model.embed_query(text))}


@component
class Bm25DocumentSparseEmbedder:
    """Sparse term-frequency vectors for chunks, stemmed in the corpus language."""

    def __init__(self, *, language: str = "sv"):
        self.language = language
        self._model = _model(language)

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """Set `sparse_embedding` on each document."""
        return {
            "documents": [
                replace(d, sparse_embedding=_to_sparse(self._model.embed_document(embedding_text(d))))
                for d in documents
            ]
        }
