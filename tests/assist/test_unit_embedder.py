"""Sentence vectors stored at ingest: one per unit of each chunk, equal to live embeddings, used by the relevance gate
without running the model, ignored when they do not fit, and kept by both store backends."""

from dataclasses import replace

import pytest
from haystack import Document
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from assist.components.bm25_embedder import Bm25DocumentSparseEmbedder
from assist.components.e5_embedder import E5DocumentEmbedder, E5TextEmbedder
from assist.components.relevance_gate import RelevanceGate
from assist.components.unit_embedder import (
    UNIT_VECTORS,
    UnitDocumentEmbedder,
    stored_unit_cosines,
    stored_unit_vectors,
)
from assist.grounding import passage_units
from tests.assist.conftest import CountingEmbedder, RefusingEmbedder

QUESTION = "Klientka upadła, do kogo dzwonię?"  # Polish: no routine is written in it


@pytest.fixture(scope="module")
def query() -> list[float]:
    return E5TextEmbedder().run(QUESTION)["embedding"]


def without_vectors(docs: list[Document]) -> list[Document]:
    """The chunks as a store ingested before sentence vectors were stored holds them."""
    return [replace(d, meta={k: v for k, v in d.meta.items() if k != UNIT_VECTORS}) for d in docs]


def live_cosines(docs: list[Document], query: list[float]) -> dict[str, float]:
    gate = RelevanceGate(unit_embedder=E5DocumentEmbedder(), max_units=10_000)
    scores: dict[str, float] = {}
    for d in without_vectors(docs):
        scores.update(gate.unit_scores(query, [d]))
    return scores


def test_ingest_stores_one_vector_per_unit(chunks: list[Document]) -> None:
    assert chunks
    for d in chunks:
        units = passage_units(d.content or "")
        packed = d.meta[UNIT_VECTORS]
        assert packed["dim"] == 384
        assert len(packed["vectors"]) == len(units), d.meta["doc_id"]
        vectors = stored_unit_vectors(d, units, 384)
        assert vectors is not None and vectors.shape == (len(units), 384)


def test_stored_cosines_equal_the_live_ones(chunks: list[Document], query: list[float]) -> None:
    stored = stored_unit_cosines(query, chunks)
    live = live_cosines(chunks, query)
    assert stored.keys() == live.keys()
    assert max(abs(stored[u] - live[u]) for u in live) <= 2e-4  # 4-decimal rounding of float16 vs float32


def test_gate_uses_stored_vectors_without_running_the_model(chunks: list[Document], query: list[float]) -> None:
    fall = [d for d in chunks if d.meta["doc_id"] == "fall-dag"]
    scores = RelevanceGate(unit_embedder=RefusingEmbedder()).unit_scores(query, fall)
    live = RelevanceGate(unit_embedder=E5DocumentEmbedder()).unit_scores(query, without_vectors(fall))
    assert list(scores) == list(live)  # the same units, in the same order
    assert scores == pytest.approx(live, abs=2e-4)


def test_gate_embeds_live_when_vectors_are_absent_or_do_not_fit(chunks: list[Document], query: list[float]) -> None:
    fall = [d for d in chunks if d.meta["doc_id"] == "fall-dag"]
    with pytest.raises(AssertionError, match="the model was run"):
        RelevanceGate(unit_embedder=RefusingEmbedder()).unit_scores(query, without_vectors(fall))

    other_model = [replace(d, meta={**d.meta, UNIT_VECTORS: {**d.meta[UNIT_VECTORS], "dim": 768}}) for d in fall]
    edited = [replace(d, content=(d.content or "") + "\nEn ny mening om larmet.") for d in fall]
    damaged = [replace(d, meta={**d.meta, UNIT_VECTORS: {**d.meta[UNIT_VECTORS], "vectors": ["%%"]}}) for d in fall]
    for docs in (other_model, edited, damaged):
        counting = CountingEmbedder()
        scores = RelevanceGate(unit_embedder=counting).unit_scores(query, docs)
        assert counting.embedded, "stored vectors that do not fit were used"
        assert set(scores) == set(counting.embedded)


def test_qdrant_server_path_keeps_the_vectors(query: list[float]) -> None:
    """qdrant-haystack (qdrant-client's local mode standing in for a server) returns them as written."""
    embedder = E5DocumentEmbedder()
    docs = [
        Document(content="Ring sjuksköterskan. Skriv en avvikelse samma dag.", meta={"doc_id": "a", "title": "Fall"}),
        Document(content="| Dag | Tid |\n| --- | --- |\n| Måndag | 8-16 |", meta={"doc_id": "b", "title": "Tider"}),
    ]
    docs = UnitDocumentEmbedder(embedder=embedder).run(embedder.run(docs)["documents"])["documents"]
    store = QdrantDocumentStore(
        location=":memory:", embedding_dim=384, use_sparse_embeddings=True, sparse_idf=True, progress_bar=False
    )
    store.write_documents(Bm25DocumentSparseEmbedder().run(docs)["documents"])
    back = store._query_by_embedding(query, top_k=2)  # noqa: SLF001 - the call the retriever makes
    assert {d.meta["doc_id"] for d in back} == {"a", "b"}
    assert stored_unit_cosines(query, back) == pytest.approx(stored_unit_cosines(query, docs))
    assert len(stored_unit_cosines(query, back)) == 3


def test_every_question_is_compared_with_the_top_routines_sentences_by_meaning(chunks: list[Document]) -> None:
    """The calibration's `sentence_cosine`, for a Swedish question too, from the stored vectors alone."""
    question = "brukaren har ramlat, vem ringer jag?"
    swedish = E5TextEmbedder().run(question)["embedding"]
    ids = list(dict.fromkeys(d.meta["doc_id"] for d in chunks))
    ordered = sorted(chunks, key=lambda d: ids.index(d.meta["doc_id"]) if d.meta["doc_id"] != "fall-dag" else -1)
    top3 = list(dict.fromkeys(d.meta["doc_id"] for d in ordered))[:3]
    assessment = RelevanceGate(unit_embedder=RefusingEmbedder()).assess(question, ordered, "sv", [], swedish)
    nearest = stored_unit_cosines(swedish, [d for d in ordered if d.meta["doc_id"] in top3])
    assert len(nearest) <= 40  # noqa: PLR2004 - every sentence of the three routines is compared
    assert assessment.features["sentence_cosine"] == max(nearest.values())
    assert assessment.features["sentence_cosine"] > 0.8  # noqa: PLR2004 - the fall routine says who to call
    assert not assessment.unit_scores  # a Swedish question's sentences are still chosen by its words


def test_a_foreign_question_is_answered_from_the_routine_with_the_nearest_sentence(
    chunks: list[Document], query: list[float]
) -> None:
    """The Polish fall question, with the group-room routine ranked first: the fall routine's sentences are nearer."""
    ranked = [d for d in chunks if d.meta["doc_id"] == "grupprum"] + [
        d for d in chunks if d.meta["doc_id"] == "fall-dag"
    ]
    gate = RelevanceGate(unit_embedder=RefusingEmbedder())
    assessment = gate.assess(QUESTION, ranked, "pl", [], query)
    reordered = gate.nearest_routine_first(ranked, query, assessment)
    assert reordered[0].meta["doc_id"] == "fall-dag"
    assert sorted(d.id for d in reordered) == sorted(d.id for d in ranked)  # nothing added or lost
    fall_units = {u for d in ranked if d.meta["doc_id"] == "fall-dag" for u in passage_units(d.content or "")}
    assert set(assessment.unit_scores) <= fall_units  # the extractive answer quotes the fall routine
    # In the retrieval order already: nothing moves.
    assert gate.nearest_routine_first(reordered, query, assessment) == reordered
