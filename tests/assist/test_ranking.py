"""Retrieval ranking: replaced routines are left out inside the query, titles re-rank documents, and the
extractive answer quotes the best routine's matching sentences."""

from datetime import date

import numpy as np
import pytest
from haystack import Document, component
from haystack.dataclasses import SparseEmbedding
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from assist.components.bm25_embedder import Bm25DocumentSparseEmbedder, Bm25TextSparseEmbedder
from assist.components.e5_embedder import E5DocumentEmbedder, E5TextEmbedder
from assist.components.edge_store import EdgeDocumentStore
from assist.components.extractive import extract
from assist.components.retriever import ScopedRetriever, replaced_doc_ids

SICK = [
    ("sjuk-2023", "", "2023-01-09", "Barnet ska vara hemma 24 timmar efter att det kräkts eller haft diarré."),
    ("sjuk-2023", "", "2023-01-09", "Vid feber ska barnet vara hemma tills det är feberfritt."),
    ("sjuk-2024", "sjuk-2023", "2024-08-12", "Barnet ska vara hemma 48 timmar efter att det kräkts eller haft diarré."),
    ("sjuk-2024", "sjuk-2023", "2024-08-12", "Vid feber ska barnet vara hemma ett dygn efter sista febertoppen."),
    ("avgift", "", "2024-01-01", "Avgiften för förskolan är högst 1 688 kronor per månad för första barnet."),
]


def sick_docs(newer_valid_from: str = "2024-08-12") -> list[Document]:
    docs = [
        Document(
            content=text,
            meta={
                "collection": "preschool",
                "doc_id": doc_id,
                "title": "Sjukdom och återgång" if doc_id.startswith("sjuk") else "Avgifter",
                "replaces": replaces,
                "valid_from": newer_valid_from if replaces else valid_from,
                "chunk": i,
            },
        )
        for i, (doc_id, replaces, valid_from, text) in enumerate(SICK)
    ]
    docs = E5DocumentEmbedder().run(docs)["documents"]
    return Bm25DocumentSparseEmbedder().run(docs)["documents"]


def make_store(kind: str, tmp_path, docs: list[Document]):
    if kind == "edge":
        store = EdgeDocumentStore(path=str(tmp_path / "edge"), embedding_dim=384)
    else:  # qdrant-client's local mode stands in for a Qdrant server
        store = QdrantDocumentStore(
            location=":memory:", embedding_dim=384, use_sparse_embeddings=True, sparse_idf=True, progress_bar=False
        )
    store.write_documents(docs)
    return store


def query(text: str) -> dict:
    return {
        "query_embedding": E5TextEmbedder().run(text)["embedding"],
        "query_sparse_embedding": Bm25TextSparseEmbedder().run(text)["sparse_embedding"],
        "collections": ["preschool", "general"],
    }


@pytest.mark.parametrize("kind", ["edge", "local"])
@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_a_replaced_routine_is_never_retrieved(kind, mode, tmp_path):
    store = make_store(kind, tmp_path, sick_docs())
    retriever = ScopedRetriever(document_store=store, mode=mode, top_k=5)
    got = retriever.run(**query("hur länge ska barnet vara hemma efter kräkning"))["documents"]
    # Inside the query, not after it: all three chunks still in force come back for top_k=5.
    assert sorted(d.meta["doc_id"] for d in got) == ["avgift", "sjuk-2024", "sjuk-2024"]
    assert retriever.replaced() == ["sjuk-2023"]


def test_a_replacement_not_yet_in_force_leaves_the_older_routine_in_use(tmp_path):
    store = make_store("edge", tmp_path, sick_docs(newer_valid_from="2999-01-01"))
    got = ScopedRetriever(document_store=store, top_k=5).run(**query("hemma efter kräkning"))["documents"]
    ids = {d.meta["doc_id"] for d in got}
    assert "sjuk-2023" in ids
    assert "sjuk-2024" not in ids  # the replacement is stored early, and answered from only from its day


def test_replaced_doc_ids_reads_replaces_and_valid_from():
    payloads = [
        {"meta": {"doc_id": "b", "replaces": "a", "valid_from": "2024-08-12"}},
        {"meta": {"doc_id": "c", "replaces": "x", "valid_from": "2025-01-01"}},
        {"meta": {"doc_id": "d", "replaces": "", "valid_from": "2020-01-01"}},
        {"meta": {"doc_id": "e", "replaces": "e", "valid_from": "2020-01-01"}},
    ]
    # Before its day, "c" is not in force (and "x" still is); from its day, "c" replaces "x".
    assert replaced_doc_ids(payloads, today=date(2024, 12, 1)) == {"a", "c"}
    assert replaced_doc_ids(payloads, today=date(2025, 1, 1)) == {"a", "x"}


@component
class TitleVectors:
    """A passage embedder with fixed vectors per title, so the ranking arithmetic can be checked exactly."""

    def __init__(self, vectors: dict[str, list[float]]):
        self.vectors = vectors
        self.calls = 0

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict:
        self.calls += 1
        return {"documents": [Document(content=d.content, embedding=self.vectors[d.content]) for d in documents]}


def chunk(doc_id: str, title: str, relevance: float) -> Document:
    return Document(content=f"{doc_id} text", meta={"doc_id": doc_id, "title": title, "relevance": relevance})


def test_dense_ranking_adds_the_title_cosine_and_caps_chunks_per_document():
    q = np.array([1.0, 0.0], dtype=np.float32)
    titles = TitleVectors({"Fall": [1.0, 0.0], "Nycklar": [0.0, 1.0]})  # cosine 1 and 0 to the question
    r = ScopedRetriever(document_store=None, per_doc=2, title_embedder=titles, title_weight=1.0)
    chunks = [chunk("keys", "Nycklar", 0.85), chunk("keys", "Nycklar", 0.84), chunk("keys", "Nycklar", 0.83)]
    chunks += [chunk("fall", "Fall", 0.80), chunk("fall", "Fall", 0.79)]
    got = [d.meta["doc_id"] for d in r._by_document(chunks, q, fused=False)]
    assert got == ["fall", "fall", "keys", "keys"]  # 0.80 + 1.0 beats 0.85 + 0; a third "keys" chunk is dropped
    r._by_document(chunks, q, fused=False)
    assert titles.calls == 1  # title vectors are cached


def test_fused_ranking_adds_the_title_order_as_a_weighted_rank_list():
    q = np.array([1.0, 0.0], dtype=np.float32)
    titles = TitleVectors({"A": [0.0, 1.0], "B": [0.6, 0.8], "C": [1.0, 0.0]})
    chunks = [chunk("a", "A", 0.9), chunk("b", "B", 0.9), chunk("c", "C", 0.9)]
    weak = ScopedRetriever(document_store=None, title_embedder=titles, title_weight_fused=0.5)
    strong = ScopedRetriever(document_store=None, title_embedder=titles, title_weight_fused=3.0)
    # RRF with k=2: a = 1/2 + w/4, b = 1/3 + w/3, c = 1/4 + w/2.
    assert [d.meta["doc_id"] for d in weak._by_document(chunks, q, fused=True)] == ["a", "b", "c"]
    assert [d.meta["doc_id"] for d in strong._by_document(chunks, q, fused=True)] == ["c", "b", "a"]


def test_without_a_title_embedder_documents_keep_their_candidate_order():
    r = ScopedRetriever(document_store=None, per_doc=1)
    chunks = [chunk("b", "B", 0.7), chunk("a", "A", 0.9), chunk("b", "B", 0.6)]
    got = r._by_document(chunks, np.array([1.0, 0.0], dtype=np.float32), fused=False)
    assert [d.meta["doc_id"] for d in got] == ["b", "a"]


def passage(doc_id: str, text: str) -> Document:
    return Document(content=text, meta={"doc_id": doc_id})


def test_extractive_answer_quotes_the_best_routine_and_the_step_after_a_matching_sentence():
    docs = [
        passage(
            "fall",
            "Om brukaren har ramlat ska du inte lyfta brukaren själv. Ring sjuksköterskan på 08-123 40 20. "
            "Personalrummet städas på fredagar.",
        ),
        passage("lift", "Brukaren som har ramlat lyfts alltid med lyftsele av två personer."),
    ]
    text = extract("brukaren har ramlat", docs, "sv")
    assert "08-123 40 20" in text  # the step after the matching sentence comes along
    assert "Personalrummet" not in text  # a sentence that matches nothing and follows nothing chosen stays out
    assert text.splitlines()[0].endswith("[1]")


def test_extractive_answer_takes_a_weaker_routine_only_for_a_far_better_match():
    docs = [
        passage("a", "Nyckeln kvitteras i loggen. Bilen tankas varje fredag."),
        passage("b", "Nyckelskåpet har kod, och koden byts varje månad när nyckelskåpet töms."),
    ]
    assert "[2]" not in extract("nyckel logg", docs, "sv")
    assert "[2]" in extract("koden till nyckelskåpet byts när", docs, "sv")


def test_empty_sparse_query_still_retrieves_densely(tmp_path):
    store = make_store("edge", tmp_path, sick_docs())
    q = query("hemma efter kräkning") | {"query_sparse_embedding": SparseEmbedding(indices=[], values=[])}
    got = ScopedRetriever(document_store=store, mode="dense", top_k=2).run(**q)["documents"]
    assert [d.meta["doc_id"] for d in got] == ["sjuk-2024", "sjuk-2024"]


def test_a_store_without_title_vectors_has_its_titles_embedded_when_a_question_needs_them(tmp_path):
    """Chunks written without `title_vector` (a store ingested before they were stored): nothing is embedded at
    start, and a question embeds its candidates' titles once, into the cache."""
    store = make_store("edge", tmp_path, sick_docs())
    retriever = ScopedRetriever(document_store=store, title_embedder=E5DocumentEmbedder())
    assert retriever.stored_titles() == ["Avgifter", "Sjukdom och återgång"]
    retriever.warm_up()
    assert not retriever._titles
    retriever.run(**query("hur länge ska barnet vara hemma efter kräkning"))
    assert set(retriever._titles) == {"Avgifter", "Sjukdom och återgång"}
    store.close()
