"""What tests share: for the stored vectors (sentences, titles), the ingested chunks and two stand-in embedders; for the
word lists, a cache folder of the test's own."""

from pathlib import Path

import pytest
from haystack import Document, component

from assist import lemmas
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


def use_lemma_cache(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Word lists and translation tables go to `folder` for this test, whatever the process was configured with
    (an Assistant built with `lemma_cache_dir`, or ASSIST_LEMMA_CACHE_DIR in the environment)."""
    monkeypatch.setenv(lemmas.CACHE_ENV, str(folder))
    monkeypatch.setattr(lemmas, "_configured", None)
    return folder
