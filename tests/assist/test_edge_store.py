"""EdgeDocumentStore: the DocumentStore contract, and parity with qdrant-haystack on qdrant-client's local mode."""

import pytest
from haystack import Document
from haystack.dataclasses import SparseEmbedding
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.types import DuplicatePolicy
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from assist.components.bm25_embedder import Bm25DocumentSparseEmbedder, Bm25TextSparseEmbedder
from assist.components.e5_embedder import E5DocumentEmbedder, E5TextEmbedder
from assist.components.edge_store import EdgeDocumentStore
from assist.components.retriever import ScopedRetriever

TEXTS = [
    ("Ring sjuksköterskan inom 15 minuter när en brukare har fallit.", "home_care"),
    ("Nycklar förvaras i det låsta nyckelskåpet och kvitteras i loggen.", "home_care"),
    ("Avgiften för förskolan är högst 1 688 kronor per månad.", "preschool"),
    ("Barnet ska vara feberfritt i ett dygn innan det kommer tillbaka.", "preschool"),
    ("Grupprum kan bokas högst tre timmar per dag.", "library"),
    ("E-böcker lånas i appen med lånekortet och pinkoden.", "library"),
    ("Lösenord ska ha minst 14 tecken.", "general"),
    ("Personuppgiftsincidenter anmäls till dataskyddsombudet inom 24 timmar.", "general"),
]
QUESTIONS = ["brukaren har ramlat", "vad kostar förskolan", "boka rum", "lösenordets längd", "feber barn"]


@pytest.fixture(scope="module")
def embedded_docs() -> list[Document]:
    docs = [
        Document(content=t, meta={"collection": c, "doc_id": f"d{i}", "title": f"Doc {i}"})
        for i, (t, c) in enumerate(TEXTS)
    ]
    docs = E5DocumentEmbedder().run(docs)["documents"]
    return Bm25DocumentSparseEmbedder().run(docs)["documents"]


@pytest.fixture
def edge(tmp_path, embedded_docs) -> EdgeDocumentStore:
    store = EdgeDocumentStore(path=str(tmp_path / "edge"), embedding_dim=384)
    store.write_documents(embedded_docs)
    yield store
    store.close()


@pytest.fixture
def local(embedded_docs) -> QdrantDocumentStore:
    store = QdrantDocumentStore(
        location=":memory:", embedding_dim=384, use_sparse_embeddings=True, sparse_idf=True, progress_bar=False
    )
    store.write_documents(embedded_docs)
    return store


def test_count_filter_delete(edge):
    assert edge.count_documents() == len(TEXTS)
    pre = edge.filter_documents({"field": "meta.collection", "operator": "==", "value": "preschool"})
    assert sorted(d.meta["doc_id"] for d in pre) == ["d2", "d3"]
    assert all(d.embedding is not None and len(d.embedding) == 384 for d in pre)
    edge.delete_documents([pre[0].id])
    assert edge.count_documents() == len(TEXTS) - 1


def test_duplicate_policy(edge, embedded_docs):
    with pytest.raises(DuplicateDocumentError):
        edge.write_documents(embedded_docs[:1], policy=DuplicatePolicy.FAIL)
    assert edge.write_documents(embedded_docs[:1], policy=DuplicatePolicy.SKIP) == 0
    assert edge.write_documents(embedded_docs[:1], policy=DuplicatePolicy.OVERWRITE) == 1
    assert edge.count_documents() == len(TEXTS)


def test_shard_survives_reopen(tmp_path, embedded_docs):
    store = EdgeDocumentStore(path=str(tmp_path / "s"), embedding_dim=384)
    store.write_documents(embedded_docs)
    store.close()
    again = EdgeDocumentStore(path=str(tmp_path / "s"), embedding_dim=384, create=False)
    assert again.count_documents() == len(TEXTS)
    again.close()


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
@pytest.mark.parametrize("collections", [["home_care", "general"], ["preschool", "general"], ["library"]])
def test_parity_edge_and_qdrant_server_stand_in(edge, local, mode, collections):
    """The same calls on the embedded shard and on qdrant-client's local mode give the same documents."""
    text_embedder, sparse_embedder = E5TextEmbedder(), Bm25TextSparseEmbedder()
    for q in QUESTIONS:
        inputs = {
            "query_embedding": text_embedder.run(q)["embedding"],
            "query_sparse_embedding": sparse_embedder.run(q)["sparse_embedding"],
            "collections": collections,
            "top_k": 3,
        }
        got_edge = ScopedRetriever(document_store=edge, mode=mode).run(**inputs)["documents"]
        got_local = ScopedRetriever(document_store=local, mode=mode).run(**inputs)["documents"]
        assert [d.meta["doc_id"] for d in got_edge] == [d.meta["doc_id"] for d in got_local], (mode, q)
        assert all(d.meta["collection"] in collections for d in got_edge)
        for a, b in zip(got_edge, got_local, strict=True):
            assert a.meta["relevance"] == pytest.approx(b.meta["relevance"], abs=1e-4)


def test_filter_is_inside_the_query_not_after(edge):
    """Asking for 3 from one collection returns 3 from it, even when other collections score higher."""
    emb = E5TextEmbedder().run("brukaren har ramlat")["embedding"]
    docs = edge.query_by_embedding(
        emb, filters={"field": "meta.collection", "operator": "in", "value": ["library"]}, top_k=2
    )
    assert len(docs) == 2
    assert {d.meta["collection"] for d in docs} == {"library"}


def test_empty_scope_is_refused():
    with pytest.raises(ValueError, match="collection"):
        ScopedRetriever(document_store=None).run([0.0], SparseEmbedding(indices=[], values=[]), collections=[])
