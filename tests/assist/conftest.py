"""What the tests of stored vectors (sentences, titles) share: the ingested chunks and two stand-in embedders."""

from pathlib import Path

import pytest
from haystack import Document, component

from assist.components.e5_embedder import E5DocumentEmbedder
from assist.components.edge_store import EdgeDocumentStore


@component
class RefusingEmbedder:
    """An embedder that must not be run: the vectors (of sentences or titles) are stored."""

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        msg = f"the model was run for {len(documents)} text(s)"
        raise AssertionError(msg)


@component
class CountingEmbedder:
    """The real document embedder, counting the texts it embeds."""

    def __init__(self) -> None:
        self.inner = E5DocumentEmbedder()
        self.embedded: list[str] = []

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        self.embedded.extend(d.content or "" for d in documents)
        return self.inner.run(documents=documents)


@pytest.fixture(scope="module")
def chunks(store_dir: Path) -> list[Document]:
    """Every chunk of the small corpus, ingested by the real ingest pipeline into the embedded store."""
    store = EdgeDocumentStore(path=str(store_dir / "qdrant"), create=False)
    try:
        return store.filter_documents()
    finally:
        store.close()
