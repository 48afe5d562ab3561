"""A Haystack document store on Qdrant's own engine in-process (`qdrant-edge-py`): an on-disk shard, no server.

Points are laid out exactly as `qdrant-haystack` lays them out on a Qdrant server (same point ids, same payload,
same named vectors `text-dense` / `text-sparse` with the IDF modifier), and Haystack filters are translated through
`qdrant-haystack`'s own converter, so a shard and a server collection answer the same calls the same way.
"""

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import qdrant_edge as qe
from haystack import Document, default_from_dict, default_to_dict
from haystack.dataclasses import SparseEmbedding
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.types import DuplicatePolicy
from haystack_integrations.document_stores.qdrant.converters import (
    DENSE_VECTORS_NAME,
    SPARSE_VECTORS_NAME,
    convert_id,
)
from haystack_integrations.document_stores.qdrant.filters import convert_filters_to_qdrant
from qdrant_client.http import models as rest

from assist.errors import StoreNotFoundError

logger = logging.getLogger(__name__)

#: Payload fields the role filter and ingest bookkeeping look up; indexed so filtered HNSW stays fast.
INDEXED_FIELDS = ("meta.collection", "meta.doc_id", "meta.source", "meta.language")
RRF_K = 2  # Qdrant server's default, so Edge and server fuse alike.


def _to_edge_condition(cond: Any) -> Any:
    """Translate one qdrant-client filter condition into its qdrant-edge twin."""
    if isinstance(cond, rest.Filter):
        return _to_edge_filter(cond)
    if isinstance(cond, rest.FieldCondition):
        match = cond.match
        if isinstance(match, rest.MatchValue):
            return qe.FieldCondition(key=cond.key, match=qe.MatchValue(match.value))
        if isinstance(match, rest.MatchAny):
            return qe.FieldCondition(key=cond.key, match=qe.MatchAny(list(match.any)))  # type: ignore[arg-type]
        if isinstance(match, rest.MatchExcept):
            return qe.FieldCondition(key=cond.key, match=qe.MatchExcept(list(match.except_)))  # type: ignore[arg-type]
        if isinstance(cond.range, rest.Range):
            r = cond.range
            return qe.FieldCondition(key=cond.key, range=qe.RangeFloat(gt=r.gt, gte=r.gte, lt=r.lt, lte=r.lte))
        if cond.is_empty is not None or cond.is_null is not None:
            return qe.FieldCondition(key=cond.key, is_empty=cond.is_empty, is_null=cond.is_null)
    if isinstance(cond, rest.IsNullCondition):
        return qe.IsNullCondition(cond.is_null.key)
    if isinstance(cond, rest.IsEmptyCondition):
        return qe.IsEmptyCondition(cond.is_empty.key)
    msg = f"Filter condition {cond!r} is not supported on the embedded store."
    raise ValueError(msg)


def _to_edge_filter(flt: rest.Filter) -> qe.Filter:
    def conv(items: Any) -> list[Any] | None:
        if items is None:
            return None
        items = items if isinstance(items, list) else [items]
        return [_to_edge_condition(c) for c in items]

    return qe.Filter(must=conv(flt.must), should=conv(flt.should), must_not=conv(flt.must_not))


def convert_filters_to_edge(filters: dict[str, Any] | None) -> qe.Filter | None:
    """Haystack filter dict → qdrant-edge Filter, through qdrant-haystack's own converter."""
    converted = convert_filters_to_qdrant(filters)
    return _to_edge_filter(converted) if converted is not None else None


class EdgeDocumentStore:
    """Haystack DocumentStore on an embedded Qdrant Edge shard at `path`.

    Usage:
        store = EdgeDocumentStore(path="data/qdrant", embedding_dim=384)
        store.write_documents(docs, policy=DuplicatePolicy.OVERWRITE)
        store.query_hybrid(query_embedding=..., query_sparse_embedding=..., filters=..., top_k=5)
    """

    def __init__(self, *, path: str, embedding_dim: int = 384, create: bool = True, write_batch_size: int = 256):
        self.path = str(path)
        self.embedding_dim = embedding_dim
        self.create = create
        self.write_batch_size = write_batch_size
        self._shard: qe.EdgeShard | None = None
        # The shard is one process's; this lock keeps a threaded server's writes and reads from interleaving.
        self._lock = threading.RLock()

    # --- lifecycle -------------------------------------------------------------------------------------------------
    def _config(self) -> qe.EdgeConfig:
        return qe.EdgeConfig(
            vectors={DENSE_VECTORS_NAME: qe.EdgeVectorParams(size=self.embedding_dim, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE_VECTORS_NAME: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )

    def exists(self) -> bool:
        """True when a shard has been created at `path`."""
        return (Path(self.path) / "edge_config.json").exists()

    @property
    def shard(self) -> qe.EdgeShard:
        """The open shard; created on first write when `create` is true."""
        with self._lock:
            if self._shard is None:
                if self.exists():
                    self._shard = qe.EdgeShard.load(self.path)
                elif self.create:
                    Path(self.path).mkdir(parents=True, exist_ok=True)
                    self._shard = qe.EdgeShard.create(self.path, self._config())
                    for field in INDEXED_FIELDS:
                        self._shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))
                else:
                    msg = f"No document store at {self.path}: run `assist ingest knowledge` first."
                    raise StoreNotFoundError(msg)
            return self._shard

    def flush(self) -> None:
        """Persist pending writes."""
        with self._lock:
            if self._shard is not None:
                self._shard.flush()

    def optimize(self) -> None:
        """Merge segments and build the HNSW index; worth it after a large ingest."""
        with self._lock:
            self.shard.optimize()

    def close(self) -> None:
        """Flush and release the shard (only one process may hold it)."""
        with self._lock:
            if self._shard is not None:
                self._shard.flush()
                self._shard.close()
                self._shard = None

    def to_dict(self) -> dict[str, Any]:
        """Serialise for Haystack pipelines."""
        return default_to_dict(self, path=self.path, embedding_dim=self.embedding_dim, create=self.create)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EdgeDocumentStore":
        """Deserialise."""
        return default_from_dict(cls, data)

    # --- DocumentStore protocol ----------------------------------------------------------------------------------
    def count_documents(self, filters: dict[str, Any] | None = None) -> int:
        """Number of documents, optionally matching `filters`."""
        if self._shard is None and not self.exists():
            return 0
        with self._lock:
            return int(self.shard.count(qe.CountRequest(exact=True, filter=convert_filters_to_edge(filters))))

    def _scroll(
        self, filters: dict[str, Any] | None, with_vector: bool = False, fields: list[str] | None = None
    ) -> Iterator[Any]:
        flt = convert_filters_to_edge(filters)
        with_payload: Any = fields if fields is not None else True
        offset = None
        while True:
            with self._lock:
                records, offset = self.shard.scroll(
                    qe.ScrollRequest(
                        offset=offset, limit=1000, filter=flt, with_payload=with_payload, with_vector=with_vector
                    )
                )
            yield from records
            if offset is None:
                return

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """All documents matching a Haystack filter."""
        if self._shard is None and not self.exists():
            return []
        return [self._to_document(r.payload, None, r.vector) for r in self._scroll(filters, with_vector=True)]

    def filter_payloads(
        self, filters: dict[str, Any] | None = None, fields: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Payloads only (no vectors): cheap bookkeeping reads. `fields` (e.g. ["meta.title"]) reads just those."""
        if self._shard is None and not self.exists():
            return []
        return [dict(r.payload or {}) for r in self._scroll(filters, fields=fields)]

    def write_documents(self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE) -> int:
        """Write documents with their dense (and, when present, sparse) embeddings."""
        if policy in (DuplicatePolicy.NONE, DuplicatePolicy.FAIL, DuplicatePolicy.SKIP):
            existing = {convert_id(d.id) for d in self._retrieve_ids([d.id for d in documents])}
            if existing and policy != DuplicatePolicy.SKIP:
                msg = f"{len(existing)} documents already exist in the store."
                raise DuplicateDocumentError(msg)
            documents = [d for d in documents if convert_id(d.id) not in existing]
        written = 0
        for start in range(0, len(documents), self.write_batch_size):
            batch = documents[start : start + self.write_batch_size]
            points = [self._to_point(doc) for doc in batch]
            with self._lock:
                self.shard.update(qe.UpdateOperation.upsert_points(points))
            written += len(batch)
        return written

    def delete_documents(self, document_ids: list[str]) -> None:
        """Delete by Haystack document id."""
        if not document_ids or (self._shard is None and not self.exists()):
            return
        with self._lock:
            self.shard.update(qe.UpdateOperation.delete_points([convert_id(i) for i in document_ids]))

    def delete_by_filter(self, filters: dict[str, Any]) -> None:
        """Delete every document matching a Haystack filter."""
        flt = convert_filters_to_edge(filters)
        if flt is None:
            msg = "delete_by_filter needs a filter; refusing to delete everything."
            raise ValueError(msg)
        with self._lock:
            self.shard.update(qe.UpdateOperation.delete_points_by_filter(flt))

    # --- queries (same signatures as QdrantDocumentStore's) -------------------------------------------------------
    def query_by_embedding(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        return_embedding: bool = False,
    ) -> list[Document]:
        """Dense nearest neighbours, the filter applied inside the query."""
        request = qe.QueryRequest(
            limit=top_k,
            query=qe.Query.Nearest(list(query_embedding), using=DENSE_VECTORS_NAME),
            filter=convert_filters_to_edge(filters),
            with_payload=True,
            with_vector=[DENSE_VECTORS_NAME] if return_embedding else None,
        )
        return self._run(request)

    def query_by_sparse(
        self,
        query_sparse_embedding: SparseEmbedding,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        return_embedding: bool = False,
    ) -> list[Document]:
        """BM25 keyword search on the sparse vectors, the filter applied inside the query."""
        request = qe.QueryRequest(
            limit=top_k,
            query=qe.Query.Nearest(self._sparse(query_sparse_embedding), using=SPARSE_VECTORS_NAME),
            filter=convert_filters_to_edge(filters),
            with_payload=True,
            with_vector=[DENSE_VECTORS_NAME] if return_embedding else None,
        )
        return self._run(request)

    def query_hybrid(
        self,
        query_embedding: list[float],
        query_sparse_embedding: SparseEmbedding,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        prefetch_limit: int | None = None,
        rrf_k: int = RRF_K,
        return_embedding: bool = False,
    ) -> list[Document]:
        """Dense + sparse prefetches fused by reciprocal rank fusion in one query, both filtered inside."""
        flt = convert_filters_to_edge(filters)
        limit = prefetch_limit or max(top_k, 10)
        request = qe.QueryRequest(
            limit=top_k,
            prefetches=[
                qe.Prefetch(
                    limit=limit,
                    query=qe.Query.Nearest(self._sparse(query_sparse_embedding), using=SPARSE_VECTORS_NAME),
                    filter=flt,
                ),
                qe.Prefetch(
                    limit=limit, query=qe.Query.Nearest(list(query_embedding), using=DENSE_VECTORS_NAME), filter=flt
                ),
            ],
            query=qe.Fusion.Rrf(k=rrf_k),  # type: ignore[arg-type]  # the stub omits nested Fusion classes
            with_payload=True,
            with_vector=[DENSE_VECTORS_NAME] if return_embedding else None,
        )
        return self._run(request)

    def distinct_values(self, key: str, limit: int = 1000) -> list[str]:
        """The distinct values of an indexed payload field (e.g. "meta.language"), sorted."""
        with self._lock:
            hits = self.shard.facet(qe.FacetRequest(key, limit=limit, exact=True)).hits
        return sorted({str(h.value) for h in hits} - {""})

    # --- helpers ----------------------------------------------------------------------------------------------------
    def _run(self, request: qe.QueryRequest) -> list[Document]:
        with self._lock:
            points = self.shard.query(request)
        return [self._to_document(p.payload, p.score, p.vector) for p in points]

    def _retrieve_ids(self, ids: list[str]) -> list[Document]:
        if not ids or (self._shard is None and not self.exists()):
            return []
        with self._lock:
            records = self.shard.retrieve([convert_id(i) for i in ids], with_payload=True, with_vector=False)
        return [self._to_document(r.payload, None, None) for r in records]

    def dense_vectors(self, ids: list[str]) -> dict[str, list[float]]:
        """Dense vectors of the given documents, by Haystack id."""
        if not ids:
            return {}
        with self._lock:
            records = self.shard.retrieve(
                [convert_id(i) for i in ids], with_payload=["id"], with_vector=[DENSE_VECTORS_NAME]
            )
        out: dict[str, list[float]] = {}
        for r in records:
            vec = r.vector.get(DENSE_VECTORS_NAME) if isinstance(r.vector, dict) else r.vector
            if r.payload and vec is not None:
                out[r.payload["id"]] = list(vec)  # type: ignore[arg-type]
        return out

    @staticmethod
    def _sparse(emb: SparseEmbedding) -> qe.SparseVector:
        return qe.SparseVector(indices=list(emb.indices), values=list(emb.values))

    def _to_point(self, doc: Document) -> qe.Point:
        if doc.embedding is None:
            msg = f"Document {doc.id} has no embedding: run it through a document embedder before writing."
            raise ValueError(msg)
        payload = doc.to_dict(flatten=False)
        payload.pop("embedding", None)
        payload.pop("sparse_embedding", None)
        payload.pop("score", None)
        vector: dict[str, Any] = {DENSE_VECTORS_NAME: list(doc.embedding)}
        if doc.sparse_embedding is not None:
            vector[SPARSE_VECTORS_NAME] = self._sparse(doc.sparse_embedding)
        return qe.Point(id=convert_id(doc.id), vector=vector, payload=payload)

    @staticmethod
    def _to_document(payload: dict[str, Any] | None, score: float | None, vector: Any) -> Document:
        data = dict(payload or {})
        data["score"] = score
        if isinstance(vector, dict):
            data["embedding"] = vector.get(DENSE_VECTORS_NAME)
            sparse = vector.get(SPARSE_VECTORS_NAME)
            if sparse is not None:
                data["sparse_embedding"] = {"indices": list(sparse.indices), "values": list(sparse.values)}
        return Document.from_dict(data)
