"""The same question, role and store always give the same answer (ties broken by a stable key), and a routine in
another language than the question is not pushed out by a same-language routine on another topic."""

import random

import numpy as np
import pytest
from haystack import Document, component
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from assist.components.bm25_embedder import Bm25DocumentSparseEmbedder, Bm25TextSparseEmbedder
from assist.components.e5_embedder import E5DocumentEmbedder, E5TextEmbedder
from assist.components.edge_store import EdgeDocumentStore
from assist.components.retriever import ScopedRetriever, calibrated, ranked, rrf_fuse, stored_languages


def point(doc_id: str, chunk: int, score: float | None = None, **meta: object) -> Document:
    return Document(
        id=f"{doc_id}-{chunk}",
        content=f"{doc_id} {chunk}",
        score=score,
        meta={"doc_id": doc_id, "chunk": chunk, **meta},
    )


def shuffled(items: list[Document], seed: int) -> list[Document]:
    out = list(items)
    random.Random(seed).shuffle(out)
    return out


def ids(docs: list[Document]) -> list[str]:
    return [d.id for d in docs]


def test_a_result_list_with_tied_scores_gets_one_order_whatever_order_the_store_returned():
    points = [point("b", 0, 0.9), point("a", 1, 0.9), point("a", 0, 0.9), point("c", 0, 0.95), point("a", 2, 0.5)]
    orders = {tuple(ids(ranked(shuffled(points, seed)))) for seed in range(20)}
    assert orders == {("c-0", "a-0", "a-1", "b-0", "a-2")}


def test_fusion_of_tied_lists_gives_one_order_whatever_their_input_order():
    # Each list's top points tie at 1/2 once fused (k=2): the order between them comes from the stable key alone.
    dense = [point("fall", 0, 0.91), point("it", 0, 0.90), point("keys", 3, 0.89)]
    sparse = [point("it", 4, 7.0), point("fall", 2, 5.0), point("lift", 0, 5.0)]
    results = set()
    for seed in range(20):
        fused = rrf_fuse([(1.0, shuffled(dense, seed)), (1.0, shuffled(sparse, seed + 100))], limit=10)
        results.add(tuple((d.id, round(d.score, 6)) for d in fused))
    assert len(results) == 1
    (order,) = results
    assert [i for i, _ in order] == ["fall-0", "it-4", "fall-2", "it-0", "keys-3", "lift-0"]
    assert order[0][1] == order[1][1] == 0.5  # the tie the stable key settles: doc id "fall" < "it"


@component
class SameTitleVector:
    """A passage embedder giving every title the same vector: every document's title score ties."""

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict:
        return {"documents": [Document(content=d.content, embedding=[1.0, 0.0]) for d in documents]}


@pytest.mark.parametrize("fused", [True, False])
def test_document_ranking_and_the_per_document_cap_break_ties_by_the_stable_key(fused):
    r = ScopedRetriever(document_store=None, per_doc=1, title_embedder=SameTitleVector())
    tied = [point(d, c, 0.8, relevance=0.8, title=d) for d, c in [("b", 0), ("a", 1), ("b", 1), ("a", 0), ("c", 0)]]
    q = np.array([1.0, 0.0], dtype=np.float32)
    got = {
        tuple(ids(r._by_document(rrf_fuse([(1.0, shuffled(tied, s))], limit=10), q, fused=fused))) for s in range(20)
    }
    assert got == {("a-0", "b-0", "c-0")}


def test_calibration_scores_each_language_from_its_own_nth_best_chunk():
    sv = [point("sv-fire", 0, 0.90), point("sv-keys", 0, 0.89), point("sv-fall", 0, 0.88), point("sv-x", 0, 0.80)]
    en = [point("en-lift", 0, 0.84), point("en-gdpr", 0, 0.79), point("en-it", 0, 0.78)]
    got = calibrated([shuffled(sv, 1), shuffled(en, 2)], rank=3)
    # sv: less 0.88, en: less 0.78. The English lifting routine (+0.06) now ranks first.
    assert [(d.id, round(d.score, 3)) for d in got][:2] == [("en-lift-0", 0.06), ("sv-fire-0", 0.02)]
    one = calibrated([[point("a", 0, 0.5)]], rank=3)  # fewer chunks than the rank: measured from the last one
    assert one[0].score == 0.0


def test_language_rank_below_one_is_a_clear_error():
    with pytest.raises(ValueError, match="language_rank"):
        ScopedRetriever(document_store=None, language_rank=0)


ROUTINES = [
    # (doc_id, language, title, passages): Swedish routines on other topics next to an English one, and the reverse.
    (
        "brand",
        "sv",
        "Brandrisk hos brukaren",
        [
            "Kontrollera brandvarnaren hos brukaren en gång i månaden och byt batteri vid behov.",
            "Om det brinner: larma 112, stäng dörren och lämna lägenheten tillsammans med brukaren.",
        ],
    ),
    (
        "nycklar",
        "sv",
        "Nycklar och nyckelskåp",
        [
            "Brukarens nyckel kvitteras i nyckelloggen varje gång den lämnar kontoret.",
            "En borttappad nyckel anmäls direkt till arbetsledaren som beställer låsbyte.",
        ],
    ),
    (
        "hygien",
        "sv",
        "Basala hygienrutiner",
        [
            "Desinfektera händerna före och efter varje vårdmoment hos brukaren.",
            "Använd förkläde och handskar vid kontakt med kroppsvätskor.",
        ],
    ),
    (
        "lifting-en",
        "en",
        "Lifting aids and hoists",
        [
            "A ceiling hoist or mobile hoist is always operated by two staff members.",
            "Check the sling for wear before every lift and report a damaged sling to the occupational therapist.",
        ],
    ),
    (
        "phishing-en",
        "en",
        "Phishing and suspicious e-mail",
        [
            "Never click a link in an e-mail that asks for your password.",
            "Report a suspicious e-mail to the IT service desk and delete it.",
        ],
    ),
    (
        "fall",
        "sv",
        "Fall hos brukare",
        [
            "Om brukaren har ramlat ska du inte lyfta brukaren själv utan ringa sjuksköterskan.",
            "Sjuksköterskan nås dagtid på 08-123 40 20 och ska kontaktas inom 15 minuter efter fallet.",
        ],
    ),
]


@pytest.fixture(scope="module")
def bilingual_store(tmp_path_factory):
    docs = [
        Document(
            content=text,
            meta={
                "doc_id": doc_id,
                "language": lang,
                "title": title,
                "collection": "home_care",
                "chunk": i,
                "replaces": "",
            },
        )
        for doc_id, lang, title, passages in ROUTINES
        for i, text in enumerate(passages)
    ]
    docs = Bm25DocumentSparseEmbedder().run(E5DocumentEmbedder().run(docs)["documents"])["documents"]
    store = EdgeDocumentStore(path=str(tmp_path_factory.mktemp("bilingual") / "edge"), embedding_dim=384)
    store.write_documents(docs)
    yield store
    store.close()


def ask(store: EdgeDocumentStore, question: str, language: str, **kw: object) -> list[str]:
    """Document ids in ranked order, dense only and without titles: the calibrated candidate order itself."""
    retriever = ScopedRetriever(document_store=store, mode="dense", top_k=6, per_doc=1, **kw)
    got = retriever.run(
        query_embedding=E5TextEmbedder().run(question)["embedding"],
        query_sparse_embedding=Bm25TextSparseEmbedder().run(question, language=language)["sparse_embedding"],
        collections=["home_care"],
        language=language,
    )["documents"]
    return [d.meta["doc_id"] for d in got]


def test_the_shard_lists_its_languages_from_its_payload_index(bilingual_store):
    assert stored_languages(bilingual_store) == ["en", "sv"]
    assert bilingual_store.distinct_values("meta.language") == ["en", "sv"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("hur många ska vara med när vi använder taklyften?", "lifting-en"),
        ("jag fick ett mejl som ber om mitt lösenord, vad gör jag?", "phishing-en"),
    ],
)
def test_an_english_routine_is_not_pushed_out_by_swedish_routines_on_other_topics(bilingual_store, question, expected):
    # One list ranks every Swedish routine that shares only the question's language above the English one.
    assert ask(bilingual_store, question, "sv", by_language=False)[0] != expected
    assert ask(bilingual_store, question, "sv")[0] == expected


def test_a_question_in_no_stored_language_is_ranked_as_one_list(bilingual_store):
    question = "Der Kunde ist gestürzt, wen rufe ich an?"  # foreign to every routine alike: nothing to calibrate
    assert ask(bilingual_store, question, "de") == ask(bilingual_store, question, "de", by_language=False)


@pytest.mark.parametrize("kind", ["edge", "local"])
def test_chunks_with_no_language_recorded_are_still_found(kind, tmp_path):
    docs = [
        Document(content="Larma 112 om det brinner.", meta={"doc_id": "brand", "language": "sv", "chunk": 0}),
        Document(content="Use two staff for every hoist lift.", meta={"doc_id": "lift", "language": "en", "chunk": 0}),
        Document(content="Nyckeln kvitteras i loggen.", meta={"doc_id": "keys", "chunk": 0}),  # no language
    ]
    docs = [Document(content=d.content, meta={**d.meta, "collection": "home_care"}) for d in docs]
    docs = Bm25DocumentSparseEmbedder().run(E5DocumentEmbedder().run(docs)["documents"])["documents"]
    if kind == "edge":
        store = EdgeDocumentStore(path=str(tmp_path / "edge"), embedding_dim=384)
    else:  # qdrant-client's local mode stands in for a Qdrant server
        store = QdrantDocumentStore(
            location=":memory:", embedding_dim=384, use_sparse_embeddings=True, sparse_idf=True, progress_bar=False
        )
    store.write_documents(docs)
    retriever = ScopedRetriever(document_store=store, mode="dense", top_k=5, per_doc=1)
    got = retriever.run(
        query_embedding=E5TextEmbedder().run("var kvitteras nyckeln")["embedding"],
        query_sparse_embedding=Bm25TextSparseEmbedder().run("var kvitteras nyckeln")["sparse_embedding"],
        collections=["home_care"],
    )["documents"]
    assert retriever.languages() == ["en", "sv", ""]
    assert {d.meta["doc_id"] for d in got} == {"brand", "lift", "keys"}
    if kind == "edge":
        store.close()


class ShufflingEdgeStore(EdgeDocumentStore):
    """The embedded store, returning each result list in a new order: what a store may do with points of equal
    score (Qdrant gives tied points no fixed order), made to happen on every call."""

    calls = 0

    def _run(self, request):  # type: ignore[no-untyped-def]
        docs = super()._run(request)
        ShufflingEdgeStore.calls += 1
        random.Random(ShufflingEdgeStore.calls).shuffle(docs)
        return docs


QUESTIONS = [
    ("The client has fallen, who do I call?", "home-care"),
    ("brukaren har ramlat, vem ringer jag?", "home-care"),
    ("Vad gör jag om jag tappat en nyckel?", "home-care"),
    ("hur bokar man grupprum?", "library"),
    ("vad kostar förskolan per månad?", "preschool"),
]


@pytest.mark.parametrize("shuffling", [False, True])
def test_the_same_question_always_gets_the_same_answer(assistant_factory, monkeypatch, shuffling):
    if shuffling:
        monkeypatch.setattr(
            "assist.pipeline.make_document_store",
            lambda settings, create=False: ShufflingEdgeStore(path=str(settings.store_path), create=create),
        )
    assistant = assistant_factory()
    assert isinstance(assistant.document_store, ShufflingEdgeStore) == shuffling
    seen: dict[str, set[tuple]] = {}
    for _ in range(5):
        for question, role in QUESTIONS:
            answer, docs = assistant.answer_with_sources(question, role)
            seen.setdefault(question, set()).add(
                (
                    answer.answer,
                    answer.status,
                    tuple((c.doc_id, c.page, c.section, c.quote) for c in answer.citations),
                    tuple(d.id for d in docs),
                )
            )
    assert {q: len(v) for q, v in seen.items()} == {q: 1 for q, _ in QUESTIONS}
