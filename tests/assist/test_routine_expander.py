"""RoutineExpander: the rest of the top routine joins the passages an answer may quote, and nothing else does."""

from haystack import Document
from haystack.document_stores.in_memory import InMemoryDocumentStore

from assist.components.routine_expander import RoutineExpander


def _chunk(doc_id: str, chunk: int, text: str, collection: str = "library") -> Document:
    return Document(id=f"{doc_id}-{collection}-{chunk}", content=text,
                    meta={"doc_id": doc_id, "chunk": chunk, "collection": collection})


def _store() -> InMemoryDocumentStore:
    store = InMemoryDocumentStore()
    store.write_documents([
        _chunk("lan", 0, "Reservationer görs i appen."),
        _chunk("lan", 1, "| Medietyp | Lånetid |\n| --- | --- |\n| Böcker | 28 dagar |"),
        _chunk("lan", 2, "Omlån görs i appen."),
        _chunk("fjarrlan", 0, "Fjärrlån kostar 20 kronor."),
        # The same doc id in a collection the caller cannot read: never added.
        _chunk("lan", 3, "Personalens interna lånetid är 90 dagar.", collection="staff_only"),
    ])
    return store


def test_the_top_routines_other_passages_follow_the_retrieved_ones_in_order():
    retrieved = [_chunk("lan", 2, "Omlån görs i appen."), _chunk("fjarrlan", 0, "Fjärrlån kostar 20 kronor.")]
    out = RoutineExpander(document_store=_store()).run(documents=retrieved)["documents"]
    assert [d.id for d in out[:2]] == [d.id for d in retrieved]  # the retrieved passages keep their numbers
    assert [d.meta["chunk"] for d in out[2:]] == [0, 1]
    assert all(d.meta["doc_id"] == "lan" and d.meta["collection"] == "library" for d in out[2:])
    assert all(d.meta["expanded"] for d in out[2:])
    assert "90 dagar" not in " ".join(d.content or "" for d in out)


def test_nothing_is_added_without_a_store_or_passages():
    retrieved = [_chunk("lan", 2, "Omlån görs i appen.")]
    assert RoutineExpander().run(documents=retrieved)["documents"] == retrieved
    assert RoutineExpander(document_store=_store()).run(documents=[])["documents"] == []
    capped = RoutineExpander(document_store=_store(), max_added=1).run(documents=retrieved)["documents"]
    assert len(capped) == 2
