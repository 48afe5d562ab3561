"""Retrieves passages for a question from Qdrant, scoped to the caller's collections inside the query.

Two steps: Qdrant returns rank lists of candidate chunks (dense and BM25, the role filter and the exclusion of
replaced routines inside each query), fused here by reciprocal rank fusion, the dense ones calibrated per document
language; then the candidates' documents are ranked with their titles as a second view of each routine (the title
vectors stored at ingest in each chunk's payload), and the best chunks of the best documents are kept.

Every ranking step breaks ties by a stable key (document id, chunk number, point id): the store returns points of
equal score in no fixed order, and the same question must always get the same answer.
"""

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from datetime import date
from typing import Any, Literal

import numpy as np
from haystack import Document, component
from haystack.dataclasses import SparseEmbedding

from assist.components.edge_store import RRF_K, EdgeDocumentStore
from assist.components.title_embedder import stored_title_vector
from assist.components.unit_embedder import UNIT_VECTORS
from assist.grounding import by_routine

logger = logging.getLogger(__name__)

RetrievalMode = Literal["dense", "sparse", "hybrid"]
TITLE_CACHE_SIZE = 50_000  # title vectors embedded here (no stored one) kept in memory (1.5 KB each)


def collection_filter(collections: list[str]) -> dict[str, Any]:
    """The Haystack filter that keeps a query inside the collections a role may read."""
    if not collections:
        msg = "A query needs at least one collection; an empty scope would read nothing."
        raise ValueError(msg)
    return {"field": "meta.collection", "operator": "in", "value": list(collections)}


def scope_filter(collections: list[str], replaced: list[str]) -> dict[str, Any]:
    """The role's collections, less the routines that a newer version replaces."""
    scope = collection_filter(collections)
    if not replaced:
        return scope
    return {
        "operator": "AND",
        "conditions": [scope, {"field": "meta.doc_id", "operator": "not in", "value": list(replaced)}],
    }


def replaced_doc_ids(payloads: list[dict[str, Any]], today: date | None = None) -> set[str]:
    """Doc ids not in force today: those a stored document replaces (meta `replaces`) once the replacement is in
    force, and the replacements themselves while their `valid_from` lies in the future.

    A replacement whose `valid_from` lies in the future does not yet replace anything: until that day the older
    routine is the one that applies, and the new one is not answered from (it is stored early so that it takes
    over on the day without anyone running an ingest).
    """
    day = (today or date.today()).isoformat()
    out: set[str] = set()
    for p in payloads:
        meta = p.get("meta", p)
        old = str(meta.get("replaces") or "").strip()
        if not old or old == meta.get("doc_id"):
            continue
        if str(meta.get("valid_from") or "") <= day:
            out.add(old)
        else:
            out.add(str(meta.get("doc_id")))
    return out


def language_filter(language: str, languages: list[str]) -> dict[str, Any]:
    """The Haystack filter that keeps a query to documents in one language (payload `language`); the empty
    language "" stands for the documents in none of `languages` (no language recorded)."""
    if language:
        return {"field": "meta.language", "operator": "==", "value": language}
    named = [lang for lang in languages if lang]
    return {"operator": "NOT", "conditions": [{"field": "meta.language", "operator": "in", "value": named}]}


def stored_languages(store: Any) -> list[str]:
    """The distinct document languages in a store, sorted; empty when the store cannot say.

    The embedded shard answers from its payload index on `language` (a facet) or, on a shard built without that
    index, from a scroll of that one field. A server answers through its facet call, which needs the index.
    """
    if isinstance(store, EdgeDocumentStore):
        if not store.exists():
            return []
        with contextlib.suppress(Exception):  # a shard written before the language index existed
            return store.distinct_values("meta.language")
        return sorted(
            {str((p.get("meta") or {}).get("language") or "") for p in store.filter_payloads(fields=["meta.language"])}
            - {""}
        )
    client: Any = getattr(store, "_client", None)
    try:
        hits = client.facet(collection_name=store.index, key="meta.language", limit=1000, exact=True).hits
    except Exception:  # noqa: BLE001 - no facet (older server, no index): one dense list for all languages
        logger.info("The store cannot list its languages; dense candidates are ranked as one list.")
        return []
    return sorted({str(h.value) for h in hits} - {""})


def stable_key(doc: Document) -> tuple[str, int, str]:
    """The tie-breaker of every ranking step: document id, chunk number, point id."""
    chunk = doc.meta.get("chunk")
    return (str(doc.meta.get("doc_id", doc.id)), chunk if isinstance(chunk, int) else 0, str(doc.id))


def ranked(docs: list[Document]) -> list[Document]:
    """One store result list in a fixed order: best score first, equal scores by the stable key."""
    return sorted(docs, key=lambda d: (-(d.score if d.score is not None else 0.0), stable_key(d)))


def rrf_fuse(lists: list[tuple[float, list[Document]]], limit: int, k: int = RRF_K) -> list[Document]:
    """Weighted reciprocal rank fusion: a point scores the sum of weight / (k + rank) over the lists it is in.

    Ranks count from 0, as Qdrant's RRF does, so a list's first point adds weight / k. Each list is first put in
    its fixed order (`ranked`), and equal fused scores are ordered by the stable key.
    """
    scores: dict[str, float] = {}
    docs: dict[str, Document] = {}
    for weight, items in lists:
        for rank, doc in enumerate(ranked(items)):
            scores[doc.id] = scores.get(doc.id, 0.0) + weight / (k + rank)
            docs.setdefault(doc.id, doc)
    order = sorted(docs, key=lambda i: (-scores[i], stable_key(docs[i])))[:limit]
    return [replace(docs[i], score=scores[i]) for i in order]


def calibrated(per_language: list[list[Document]], rank: int) -> list[Document]:
    """One dense list from per-language ones: each chunk scored by its cosine less its language's `rank`-th best.

    A language with fewer chunks than `rank` is measured from its last one. Scores are differences of cosines,
    comparable across languages; the raw cosine stays the evidence the relevance gate reads.
    """
    merged: list[Document] = []
    for language_docs in per_language:
        docs = ranked(language_docs)
        if docs:
            base = docs[min(rank, len(docs)) - 1].score or 0.0
            merged += [replace(d, score=(d.score or 0.0) - base) for d in docs]
    return ranked(merged)


#: Meta fields the candidates are read without: the sentence vectors, read afterwards for the chunks kept. The title
#: vector (about 1 KB) stays in the candidates' payload: the title ranking reads it for every candidate document.
CANDIDATE_UNREAD = (UNIT_VECTORS,)


def as_floats(vector: list[float] | np.ndarray) -> list[float]:
    """A query vector as the stores take it: a list of Python floats (from an array in one C call)."""
    return np.asarray(vector, dtype=np.float32).tolist() if isinstance(vector, np.ndarray) else list(vector)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (0 against a zero vector)."""
    return float(a @ b / ((float(np.linalg.norm(a)) or 1.0) * (float(np.linalg.norm(b)) or 1.0)))


@component
class ScopedRetriever:
    """Dense, sparse (BM25) or hybrid (RRF) retrieval on an embedded shard or a Qdrant server.

    The role's collections become a filter inside the Qdrant query, never a filter applied afterwards; so does the
    exclusion of routines replaced by a newer version in force. Each returned document carries
    `meta["relevance"]`: its cosine similarity to the question, the score the relevance gate reads (fused RRF
    scores are ranks, not evidence).

    Dense candidates are calibrated per document language (`by_language`): a question's cosines to routines in its
    own language run higher than to routines in another language, whatever the topic, so in one dense list a
    same-language routine on another topic pushes out the right routine in another language. For a question in
    one of the stored languages, each language's chunks are fetched apart and scored by how far their cosine
    stands above that language's `language_rank`-th best for this question; the one dense list then ranks the
    languages' chunks on that common scale.

    With a `title_embedder` (the passage embedder), the candidates' documents are re-ranked with their titles:
    a title says what a routine is about in a few words, and that short text matches a question in another
    language better than a long passage does. Dense-only ranking adds `title_weight` x the title's cosine to each
    document's best chunk cosine; fused (hybrid or sparse) ranking adds the title order as a further rank list with
    weight `title_weight_fused`. Then at most `per_doc` chunks of each document are returned, best documents first,
    `top_k` in all.

    The title vectors come from the candidates' payload (`title_vector`, stored by ingest with the same embedder and
    the same text), so ranking runs no model and a restart costs nothing. A chunk without a stored vector that fits
    its title (a store ingested before they were stored; `assist ingest --rebuild` adds them) has its title embedded
    by `title_embedder` when a question first needs it, and kept in a least-recently-used cache of
    `title_cache_size` titles.
    """

    def __init__(  # noqa: PLR0913 - each knob is a measured setting
        self,
        *,
        document_store: Any,
        mode: RetrievalMode = "hybrid",
        top_k: int = 8,
        candidates: int = 32,
        per_doc: int = 2,
        title_embedder: Any | None = None,
        title_weight: float = 1.0,
        title_weight_fused: float = 0.5,
        by_language: bool = True,
        language_rank: int = 3,
        lexical_languages: tuple[str, ...] = ("sv", "en", "no", "da"),
        replaced_ttl_s: float = 60.0,
    ):
        if mode not in ("dense", "sparse", "hybrid"):
            msg = f"Unknown retrieval mode {mode!r}: use dense, sparse or hybrid."
            raise ValueError(msg)
        self.document_store = document_store
        self.mode = mode
        self.top_k = top_k
        self.candidates = candidates
        self.per_doc = per_doc
        self.title_embedder = title_embedder
        self.title_weight = title_weight
        self.title_weight_fused = title_weight_fused
        if language_rank < 1:
            msg = f"language_rank must be at least 1 (the language's best chunk), not {language_rank}."
            raise ValueError(msg)
        self.by_language = by_language
        self.language_rank = language_rank
        self.lexical_languages = lexical_languages
        self.replaced_ttl_s = replaced_ttl_s
        self._replaced: tuple[float, list[str], str | None] | None = None
        self._languages: tuple[float, list[str]] | None = None
        self._titles: OrderedDict[str, np.ndarray] = OrderedDict()  # least recently used first
        self.title_cache_size = TITLE_CACHE_SIZE
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the title embedder's model, for the titles of a store ingested without title vectors.

        No title is embedded at start: a store ingested with title vectors needs none, and an older store's titles
        are embedded when a question first needs them (about 7 ms each here). Embedding every title after each start
        took 151 s of CPU at 100k chunks (12,500 titles), beside the questions it was meant to speed up.
        """
        if self.title_embedder is not None and hasattr(self.title_embedder, "warm_up"):
            self.title_embedder.warm_up()

    def stored_titles(self) -> list[str]:
        """Every distinct document title on the embedded shard (empty for a server); with `embed_titles`, what a
        benchmark embeds ahead of its questions."""
        store = self.document_store
        if not isinstance(store, EdgeDocumentStore) or not store.exists():
            return []
        payloads = store.filter_payloads(fields=["meta.title"])  # the title alone: a 20x cheaper scroll
        return sorted({str((p.get("meta") or {}).get("title") or "") for p in payloads} - {""})

    def embed_titles(self, titles: list[str], batch_size: int = 32) -> int:
        """Embed the titles not yet cached (into the cache of titles without a stored vector); returns how many were
        embedded."""
        missing = [t for t in titles if t and t not in self._titles][: self.title_cache_size]
        for start in range(0, len(missing), batch_size):
            self._embed_titles(missing[start : start + batch_size])
        return len(missing)

    def _embed_titles(self, titles: list[str]) -> None:
        embedded = self.title_embedder.run(documents=[Document(content=t) for t in titles])["documents"]
        with self._lock:
            for d in embedded:
                self._titles[d.content] = np.asarray(d.embedding, dtype=np.float32)
            while len(self._titles) > self.title_cache_size:
                self._titles.popitem(last=False)  # the least recently used

    @component.output_types(documents=list[Document], outside_best=float, query_vector=np.ndarray)
    def run(
        self,
        query_embedding: list[float] | np.ndarray,
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
        collection_filter(collections)  # an empty scope fails before the store is read
        filters = scope_filter(collections, self.replaced())
        mode = self.mode if language in self.lexical_languages else "dense"
        limit = max(k, self.candidates)
        docs, fused = self._candidates(mode, query_embedding, query_sparse_embedding, filters, limit, language)
        q = np.asarray(query_embedding, dtype=np.float32)
        scored = []
        for doc in docs:
            vec = doc.embedding
            relevance = cosine(q, np.asarray(vec, dtype=np.float32)) if vec is not None else 0.0
            scored.append(replace(doc, embedding=None, meta={**doc.meta, "relevance": relevance}))
        ranked_docs = self._with_unit_vectors(self._by_document(scored, q, fused=fused)[:k])
        return {
            "documents": ranked_docs,
            "outside_best": self._outside_best(query_embedding, collections),
            # The question's vector for the components after this one, as an array: the pipeline deep-copies every
            # component's inputs, and a list of 384 floats is copied float by float (~5 ms a consumer on 2 cores).
            "query_vector": np.asarray(query_embedding, dtype=np.float64),
        }

    def _with_unit_vectors(self, documents: list[Document]) -> list[Document]:
        """The chunks with their stored sentence vectors (for the grounding decision), read for these chunks only:
        the candidates are read without them, as they are most of a chunk's payload (a Qdrant server's store returns
        whole payloads, so its chunks have them already)."""
        store = self.document_store
        if not documents or not isinstance(store, EdgeDocumentStore):
            return documents
        vectors = store.meta_values([d.id for d in documents], UNIT_VECTORS)
        return [replace(d, meta={**d.meta, UNIT_VECTORS: vectors[d.id]}) if d.id in vectors else d for d in documents]

    def replaced(self) -> list[str]:
        """Doc ids replaced by a newer routine in force; read from the store at most once per `replaced_ttl_s`."""
        now = time.monotonic()
        store = self.document_store
        # A newly published store version (an owner's upload or retirement) is read at once, not after the ttl.
        version = store.version if isinstance(store, EdgeDocumentStore) and store.exists() else None
        with self._lock:
            if (self._replaced is not None and now - self._replaced[0] < self.replaced_ttl_s
                    and self._replaced[2] == version):
                return self._replaced[1]
        flt = {"field": "meta.replaces", "operator": "!=", "value": ""}
        if isinstance(store, EdgeDocumentStore):
            fields = ["meta.replaces", "meta.doc_id", "meta.valid_from", "meta.collection"]
            payloads = store.filter_payloads(flt, fields=fields) if store.exists() else []
        else:
            payloads = [{"meta": d.meta} for d in store.filter_documents(flt)]
        # A routine replaces only one of its own collection (ingest refuses the others; a store written before that
        # check may still hold them): one collection's document never hides another's.
        targets = sorted({str(p["meta"].get("replaces")) for p in payloads})
        home: dict[str, str] = {}
        if targets:
            tflt = {"field": "meta.doc_id", "operator": "in", "value": targets}
            if isinstance(store, EdgeDocumentStore):
                found = [p["meta"] for p in store.filter_payloads(tflt, fields=["meta.doc_id", "meta.collection"])]
            else:
                found = [d.meta for d in store.filter_documents(tflt)]
            home = {str(m.get("doc_id")): str(m.get("collection")) for m in found}
        payloads = [
            p for p in payloads if home.get(str(p["meta"].get("replaces"))) in (None, p["meta"].get("collection"))
        ]
        ids = sorted(replaced_doc_ids(payloads))
        with self._lock:
            self._replaced = (now, ids, version)
        return ids

    def languages(self) -> list[str]:
        """The stored documents' languages (payload `language`), sorted, then "" when some chunks have none; read
        at most once per `replaced_ttl_s`."""
        now = time.monotonic()
        with self._lock:
            if self._languages is not None and now - self._languages[0] < self.replaced_ttl_s:
                return self._languages[1]
        langs = stored_languages(self.document_store)
        store = self.document_store
        unlabelled = language_filter("", langs)
        if len(langs) > 1 and (
            store.count_documents(unlabelled)
            if isinstance(store, EdgeDocumentStore)
            else store.count_documents_by_filter(unlabelled)
        ):
            langs.append("")  # chunks with no language recorded form a list of their own, never lost
        with self._lock:
            self._languages = (now, langs)
        return langs

    def _candidates(  # noqa: PLR0913
        self,
        mode: str,
        dense: list[float],
        sparse: SparseEmbedding | None,
        filters: dict[str, Any],
        limit: int,
        language: str,
    ) -> tuple[list[Document], bool]:
        """Candidate chunks with their dense vectors, and whether their order is a fusion of rank lists.

        Each list comes from the store with the filter inside the query; the fusion happens here, so that ties
        are broken by the stable key. The dense candidates are calibrated per document language when the question
        is in one of the stored languages: that is where its own language's routines have the edge. A question in
        none of them (German against Swedish and English routines) is foreign to every routine alike.
        """
        lists: list[tuple[float, list[Document]]] = []
        if mode in ("sparse", "hybrid"):
            lists.append((1.0, self._query("sparse", dense, sparse, filters, limit, without=CANDIDATE_UNREAD)))
        if mode in ("dense", "hybrid"):
            langs = self.languages() if self.by_language else []
            if len(langs) > 1 and language in langs:
                per_language = [
                    self._query(
                        "dense",
                        dense,
                        None,
                        {"operator": "AND", "conditions": [filters, language_filter(lang, langs)]},
                        limit,
                        without=CANDIDATE_UNREAD,
                    )
                    for lang in langs
                ]
                lists.append((1.0, calibrated(per_language, self.language_rank)[:limit]))
            else:
                lists.append((1.0, ranked(self._query("dense", dense, None, filters, limit, without=CANDIDATE_UNREAD))))
        if mode == "dense":
            return lists[0][1], False
        return rrf_fuse(lists, limit), True

    def _query(
        self,
        mode: str,
        dense: list[float] | np.ndarray,
        sparse: SparseEmbedding | None,
        filters: dict[str, Any],
        limit: int,
        without: tuple[str, ...] = (),
    ) -> list[Document]:
        """One rank list with its dense vectors, from the embedded shard or qdrant-haystack's server store (the two
        share these calls; the server's are private in qdrant-haystack). The shard leaves out the meta fields
        `without` names (`("*",)`: all of them)."""
        store = self.document_store
        edge = isinstance(store, EdgeDocumentStore)
        args: dict[str, Any] = {"filters": filters, "top_k": limit, "return_embedding": True}
        if edge and without:
            args["without"] = without
        if mode == "dense":
            query = as_floats(dense)
            docs: list[Document] = (store.query_by_embedding if edge else store._query_by_embedding)(query, **args)
        else:
            docs = (store.query_by_sparse if edge else store._query_by_sparse)(sparse, **args)
        return docs

    def _by_document(self, chunks: list[Document], q: np.ndarray, *, fused: bool) -> list[Document]:
        """Chunks ordered by their document's score, at most `per_doc` of each, in candidate order within one.

        Equal document scores keep the candidate order, itself fixed by the stable key.
        """
        groups = by_routine(chunks)
        order = list(groups)  # by each document's best candidate rank
        position = {doc_id: i for i, doc_id in enumerate(order)}
        titles = self._title_scores(groups, q)
        if titles:
            if fused:
                by_title = sorted(order, key=lambda doc_id: (-titles[doc_id], position[doc_id]))
                title_rank = {doc_id: rank for rank, doc_id in enumerate(by_title)}
                score = {
                    doc_id: 1 / (RRF_K + position[doc_id]) + self.title_weight_fused / (RRF_K + title_rank[doc_id])
                    for doc_id in order
                }
            else:
                score = {
                    doc_id: max(c.meta["relevance"] for c in groups[doc_id]) + self.title_weight * titles[doc_id]
                    for doc_id in order
                }
            order = sorted(order, key=lambda doc_id: (-score[doc_id], position[doc_id]))
        return [c for doc_id in order for c in groups[doc_id][: self.per_doc]]

    def _title_scores(self, groups: dict[str, list[Document]], q: np.ndarray) -> dict[str, float]:
        """Cosine of the question to each document's title: its stored title vector, else one embedded here."""
        if self.title_embedder is None or not (self.title_weight or self.title_weight_fused):
            return {}
        titles = {doc_id: str(cs[0].meta.get("title") or "") for doc_id, cs in groups.items()}
        vectors = {doc_id: self._stored_title(groups[doc_id], t, len(q)) for doc_id, t in titles.items()}
        live = {t for doc_id, t in titles.items() if t and vectors[doc_id] is None}
        missing = sorted(t for t in live if t not in self._titles)
        if missing:
            self._embed_titles(missing)
        with self._lock:  # least recently used goes first: the titles questions need stay, however large the store
            for doc_id, t in titles.items():
                if t in live:
                    vectors[doc_id] = self._titles.get(t)
            for t in live:
                if t in self._titles:
                    self._titles.move_to_end(t)
        return {doc_id: cosine(q, v) if v is not None else 0.0 for doc_id, v in vectors.items()}

    @staticmethod
    def _stored_title(chunks: list[Document], title: str, dim: int) -> np.ndarray | None:
        """The title vector stored with a document's chunks for `title`, if one of them has one that fits."""
        for chunk in chunks:
            vector = stored_title_vector(chunk, title, dim)
            if vector is not None:
                return vector
        return None

    def _outside_best(self, query_embedding: list[float] | np.ndarray, collections: list[str]) -> float:
        """Best dense score among the collections the caller may NOT read; 0 when there are none.

        Only the score leaves this method, for the relevance gate: a question whose answer clearly lives in
        another role's routines is refused rather than answered from a weaker passage in the caller's own.
        """
        outside = {"field": "meta.collection", "operator": "not in", "value": list(collections)}
        docs = self._query("dense", query_embedding, None, outside, 1, without=("*",))
        return float(docs[0].score) if docs and docs[0].score is not None else 0.0
