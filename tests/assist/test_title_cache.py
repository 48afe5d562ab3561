"""The title vectors' cache keeps the titles questions use: the least recently used goes first, not the oldest."""

import numpy as np
from haystack import Document

from assist.components.e5_embedder import E5DocumentEmbedder
from assist.components.retriever import ScopedRetriever


class Counting(E5DocumentEmbedder):
    def __init__(self) -> None:
        super().__init__(num_threads=1)
        self.embedded: list[str] = []

    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        self.embedded += [d.content or "" for d in documents]
        return super().run(documents)


def groups(*titles: str) -> dict[str, list[Document]]:
    return {t: [Document(content=t, meta={"doc_id": t, "title": t})] for t in titles}


def test_a_title_in_use_stays_cached_past_the_size_and_the_least_recently_used_goes():
    embedder = Counting()
    retriever = ScopedRetriever(document_store=None, title_embedder=embedder)
    retriever.title_cache_size = 2
    q = np.asarray(embedder.model.query("Vad gör jag vid fall?"), dtype=np.float32)
    retriever._title_scores(groups("Fall hos brukare"), q)  # noqa: SLF001 - the cache is what is tested
    retriever._title_scores(groups("Nyckelhantering"), q)  # noqa: SLF001
    retriever._title_scores(groups("Fall hos brukare"), q)  # noqa: SLF001 - used again: now the most recent
    retriever._title_scores(groups("Brandövning"), q)  # noqa: SLF001 - one too many: the least recently used goes
    assert list(retriever._titles) == ["Fall hos brukare", "Brandövning"]  # noqa: SLF001
    scores = retriever._title_scores(groups("Fall hos brukare"), q)  # noqa: SLF001
    assert embedder.embedded.count("Fall hos brukare") == 1  # never embedded again
    assert scores["Fall hos brukare"] > 0
