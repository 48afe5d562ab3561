"""Embeds each chunk's routine title at ingest, so ranking the candidates by their titles runs no model."""

import base64
import binascii
import hashlib
from collections import OrderedDict
from dataclasses import replace
from typing import Any

import numpy as np
from haystack import Document, component

#: The chunk's meta field: {"dim": int, "digest": str, "vector": str}, the embedding of the chunk's `title` alone (the
#: text the retriever embeds for it), float16 little-endian bytes in base64 (about 1 KB; the title cosines stay within
#: 1e-3 of the full vector's). `digest` names the title embedded, so a chunk whose title was changed afterwards (or
#: written by other means) is recognised and its title embedded live instead. Never shown to users.
TITLE_VECTOR = "title_vector"
_DTYPE = np.dtype("<f2")


def title_digest(title: str) -> str:
    """Identifies the title text a stored vector was embedded from."""
    return hashlib.sha256(title.encode()).hexdigest()[:16]


def encode_title_vector(title: str, vector: list[float] | np.ndarray) -> dict[str, Any]:
    """The `title_vector` meta value for `title` and its embedding."""
    packed = np.asarray(vector, dtype=_DTYPE)
    return {
        "dim": int(packed.shape[0]),
        "digest": title_digest(title),
        "vector": base64.b64encode(packed.tobytes()).decode("ascii"),
    }


def stored_title_vector(doc: Document, title: str, dim: int) -> np.ndarray | None:
    """The chunk's stored vector of `title`, or None when it has none that fits: none stored (a store ingested before
    they were), another title, another dimension (another model), or a damaged value."""
    packed = doc.meta.get(TITLE_VECTOR)
    if not isinstance(packed, dict) or not title or packed.get("dim") != dim:
        return None
    if packed.get("digest") != title_digest(title):
        return None
    try:
        raw = base64.b64decode(packed.get("vector") or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        return None
    if len(raw) != dim * _DTYPE.itemsize:
        return None
    return np.frombuffer(raw, dtype=_DTYPE).astype(np.float32)


@component
class TitleDocumentEmbedder:
    """Adds `title_vector` to each chunk that has a title: the title embedded alone by `embedder`.

    `embedder` is the chunks' own document embedder (already loaded by the indexing pipeline), the one the retriever
    embeds a title with when no vector is stored; a title is embedded alone, without section or text, as there. The
    chunks of one file share its title and a file's chunks may span several batches, so the last `remember` titles'
    values are kept: a file costs one title embedding, however many chunks and batches it has.
    """

    def __init__(self, *, embedder: Any, remember: int = 256):
        self.embedder = embedder
        self.remember = remember
        self._recent: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def warm_up(self) -> None:
        """Load the embedder's model (a no-op when the pipeline already did)."""
        if hasattr(self.embedder, "warm_up"):
            self.embedder.warm_up()

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """Embed the titles of `documents` not embedded lately, in one batch run (each distinct title once)."""
        titles = [str(d.meta.get("title") or "") for d in documents]
        missing = [t for t in dict.fromkeys(titles) if t and t not in self._recent]
        if missing:
            embedded = self.embedder.run(documents=[Document(content=t) for t in missing])["documents"]
            for t, e in zip(missing, embedded, strict=True):
                self._recent[t] = encode_title_vector(t, e.embedding)
        out = [
            replace(d, meta={**d.meta, TITLE_VECTOR: self._recent[t]}) if t else d
            for d, t in zip(documents, titles, strict=True)
        ]
        for t in dict.fromkeys(titles):  # this batch's titles are the latest, the next batch's likeliest
            if t:
                self._recent.move_to_end(t)
        while len(self._recent) > self.remember:
            self._recent.popitem(last=False)
        return {"documents": out}
