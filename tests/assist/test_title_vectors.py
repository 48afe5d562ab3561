"""Title vectors stored at ingest: one per chunk, equal to the live embedding of its title, read by the retriever
to rank the candidates without running the model (same order as live title embeddings), ignored when they do not fit
the chunk's title, kept by both store backends, and never embedded again at start."""

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from haystack import Document
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from assist.components.bm25_embedder import Bm25TextSparseEmbedder
from assist.components.e5_embedder import E5DocumentEmbedder, E5TextEmbedder
from assist.components.edge_store import EdgeDocumentStore
from assist.components.retriever import ScopedRetriever, cosine
from assist.components.title_embedder import TITLE_VECTOR, TitleDocumentEmbedder, stored_title_vector, title_digest
from assist.grounding import by_routine
from tests.assist.conftest import CountingEmbedder, RefusingEmbedder

#: Questions whose candidates span several routines: Swedish (hybrid), English, and Polish (dense only).
QUESTIONS = [
    "Vad gör jag om en brukare har ramlat?",
    "Hur bokar jag ett grupprum på biblioteket?",
    "What does preschool cost per month?",
    "Klientka upadła, do kogo dzwonię?",
]
COLLECTIONS = ["home_care", "preschool", "library", "general"]


def without_title_vectors(docs: list[Document]) -> list[Document]:
    """The chunks as a store ingested before title vectors were stored holds them."""
    return [replace(d, meta={k: v for k, v in d.meta.items() if k != TITLE_VECTOR}) for d in docs]


def ask(text: str) -> dict:
    return {
        "query_embedding": E5TextEmbedder().run(text)["embedding"],
        "query_sparse_embedding": Bm25TextSparseEmbedder().run(text)["sparse_embedding"],
        "collections": COLLECTIONS,
        "language": "pl" if "upadła" in text else ("en" if text.startswith("What") else "sv"),
    }


def test_ingest_stores_each_chunk_its_title_vector_equal_to_the_live_one(chunks: list[Document]) -> None:
    titles = sorted({d.meta["title"] for d in chunks})
    live = {
        d.content: np.asarray(d.embedding)
        for d in E5DocumentEmbedder().run([Document(content=t) for t in titles])["documents"]
    }
    assert chunks
    for d in chunks:
        packed = d.meta[TITLE_VECTOR]
        assert packed["dim"] == 384
        assert packed["digest"] == title_digest(d.meta["title"])
        vector = stored_title_vector(d, d.meta["title"], 384)
        assert vector is not None, d.meta["doc_id"]
        assert cosine(vector, live[d.meta["title"]]) > 0.999  # noqa: PLR2004 - float16 rounding only


def test_a_file_costs_one_title_embedding_however_many_batches_its_chunks_span(chunks: list[Document]) -> None:
    """Ingest cuts batches across files: each distinct title is embedded once, not once per chunk or batch."""
    ordered = sorted(chunks, key=lambda d: (d.meta["doc_id"], d.meta["chunk"]))
    counting = CountingEmbedder()
    titles = TitleDocumentEmbedder(embedder=counting)
    out = []
    for start in range(0, len(ordered), 3):
        out += titles.run(documents=without_title_vectors(ordered[start : start + 3]))["documents"]
    assert sorted(counting.embedded) == sorted({d.meta["title"] for d in ordered})
    assert [d.meta[TITLE_VECTOR] for d in out] == [d.meta[TITLE_VECTOR] for d in ordered]


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_the_retriever_ranks_with_the_stored_vectors_as_with_live_titles(
    store_dir: Path, chunks: list[Document], tmp_path: Path, mode: str
) -> None:
    stored = EdgeDocumentStore(path=str(store_dir / "qdrant"), create=False)
    older = EdgeDocumentStore(path=str(tmp_path / "older"), embedding_dim=384)  # as ingested before the vectors
    older.write_documents(without_title_vectors(chunks))
    try:
        with_stored = ScopedRetriever(document_store=stored, mode=mode, title_embedder=RefusingEmbedder())
        counting = CountingEmbedder()
        with_live = ScopedRetriever(document_store=older, mode=mode, title_embedder=counting)
        for question in QUESTIONS:
            got = with_stored.run(**ask(question))["documents"]
            want = with_live.run(**ask(question))["documents"]
            assert [d.id for d in got] == [d.id for d in want], question
        assert counting.embedded, "the older store's titles were embedded live"
    finally:
        stored.close()
        older.close()


def test_stored_title_cosines_equal_the_live_ones(chunks: list[Document]) -> None:
    q = np.asarray(E5TextEmbedder().run(QUESTIONS[0])["embedding"], dtype=np.float32)
    groups = by_routine(chunks)
    stored = ScopedRetriever(document_store=None, title_embedder=RefusingEmbedder())._title_scores(groups, q)  # noqa: SLF001
    live_groups = {doc_id: without_title_vectors(cs) for doc_id, cs in groups.items()}
    live = ScopedRetriever(document_store=None, title_embedder=E5DocumentEmbedder())._title_scores(live_groups, q)  # noqa: SLF001
    assert stored.keys() == live.keys() == groups.keys()
    assert max(abs(stored[k] - live[k]) for k in live) < 1e-3  # noqa: PLR2004 - float16 rounding
    assert min(stored.values()) > 0.5  # noqa: PLR2004 - every routine has a title, and its vector was read


def test_a_title_vector_that_does_not_fit_the_title_is_not_used(chunks: list[Document]) -> None:
    """A changed title (digest), another model (dimension) or a damaged value: that title is embedded live, alone."""
    q = np.asarray(E5TextEmbedder().run(QUESTIONS[0])["embedding"], dtype=np.float32)
    groups = by_routine(chunks)
    fall = groups["fall-dag"]
    retitled = [replace(d, meta={**d.meta, "title": "Fall hos brukare, ny version"}) for d in fall]
    other_model = [replace(d, meta={**d.meta, TITLE_VECTOR: {**d.meta[TITLE_VECTOR], "dim": 768}}) for d in fall]
    damaged = [replace(d, meta={**d.meta, TITLE_VECTOR: {**d.meta[TITLE_VECTOR], "vector": "%%"}}) for d in fall]
    for changed in (retitled, other_model, damaged):
        counting = CountingEmbedder()
        retriever = ScopedRetriever(document_store=None, title_embedder=counting)
        scores = retriever._title_scores({**groups, "fall-dag": changed}, q)  # noqa: SLF001
        title = changed[0].meta["title"]
        assert counting.embedded == [title]  # that title alone: the others' stored vectors fit
        live = np.asarray(E5DocumentEmbedder().run([Document(content=title)])["documents"][0].embedding)
        assert scores["fall-dag"] == pytest.approx(cosine(q, live), abs=1e-6)
        assert list(retriever._titles) == [title]  # noqa: SLF001 - kept in the cache of titles embedded here


def test_the_qdrant_server_path_reads_the_title_vectors_from_its_payloads(chunks: list[Document]) -> None:
    """qdrant-haystack (qdrant-client's local mode standing in for a server) returns whole payloads."""
    store = QdrantDocumentStore(
        location=":memory:", embedding_dim=384, use_sparse_embeddings=True, sparse_idf=True, progress_bar=False
    )
    store.write_documents(chunks)
    got = ScopedRetriever(document_store=store, title_embedder=RefusingEmbedder()).run(**ask(QUESTIONS[0]))
    assert got["documents"][0].meta["doc_id"] == "fall-dag"
    assert all(TITLE_VECTOR in d.meta for d in got["documents"])


def test_nothing_is_embedded_at_start_and_no_title_vector_reaches_the_answer(assistant_factory) -> None:  # noqa: ANN001
    assistant = assistant_factory()
    retriever = assistant.pipeline.get_component("retriever")
    counting = CountingEmbedder()
    retriever.title_embedder = counting
    before = set(threading.enumerate())
    assistant.warm_up()
    # A title pass started at warm-up is either still running here or has embedded its titles by now.
    started = set(threading.enumerate()) - before
    assert not [t.name for t in started if "title" in t.name]
    answer, retrieved = assistant.answer_with_sources("Vad gör jag om en brukare har ramlat?", "home-care")
    assert answer.citations[0].doc_id == "fall-dag"
    assert counting.embedded == []  # neither at start nor for the question: every title vector was read
    assert not retriever._titles  # noqa: SLF001
    assert all(TITLE_VECTOR in d.meta for d in retrieved)
    assert TITLE_VECTOR not in answer.model_dump_json()
