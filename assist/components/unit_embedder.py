"""Embeds each chunk's sentences (and table rows) at ingest, so comparing a question with them runs no model."""

import base64
import binascii
import hashlib
from dataclasses import replace
from typing import Any

import numpy as np
from haystack import Document, component

from assist.components.title_embedder import TITLE_VECTOR
from assist.grounding import passage_units

#: The chunk's meta field: {"dim": int, "digest": str, "vectors": [str, ...]}, one vector per unit of
#: `passage_units(content)` in that order, each float16 little-endian bytes in base64 (half the size of float32; the
#: cosines stay within 1e-4 of the full vectors'). `digest` names the units embedded, so a chunk split into other
#: units by a later version of `passage_units` is recognised and embedded live instead. Never shown to users.
UNIT_VECTORS = "unit_vectors"
_DTYPE = np.dtype("<f2")


def unit_digest(units: list[str]) -> str:
    """Identifies a chunk's list of units (their text and order)."""
    return hashlib.sha256("\n".join(units).encode()).hexdigest()[:16]


def encode_unit_vectors(units: list[str], vectors: list[list[float]]) -> dict[str, Any]:
    """The `unit_vectors` meta value for `units` and their embeddings."""
    return {
        "dim": len(vectors[0]) if vectors else 0,
        "digest": unit_digest(units),
        "vectors": [base64.b64encode(np.asarray(v, dtype=_DTYPE).tobytes()).decode("ascii") for v in vectors],
    }


#: The meta fields that hold vectors stored at ingest: read by retrieval and the grounding decision, by nothing after.
STORED_VECTORS = (UNIT_VECTORS, TITLE_VECTOR)


def without_stored_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """A chunk's meta without the vectors stored at ingest."""
    return {k: v for k, v in meta.items() if k not in STORED_VECTORS}


def without_stored_vectors(documents: list[Document]) -> list[Document]:
    """`documents` without their stored unit and title vectors: what the components after the grounding decision need
    (each component's inputs are copied by the pipeline, and the vectors are most of a chunk's bytes)."""
    return [replace(d, meta=without_stored_meta(d.meta)) if any(k in d.meta for k in STORED_VECTORS) else d
            for d in documents]


def stored_unit_vectors(doc: Document, units: list[str], dim: int) -> np.ndarray | None:
    """The chunk's stored vectors of `units` (one row each), or None when it has none that fit: none stored (a store
    ingested before they were), other units, another dimension (another model), or a damaged value."""
    packed = doc.meta.get(UNIT_VECTORS)
    if not isinstance(packed, dict) or not units or packed.get("dim") != dim:
        return None
    if packed.get("digest") != unit_digest(units):
        return None
    encoded = packed.get("vectors")
    if not isinstance(encoded, list) or len(encoded) != len(units):
        return None
    try:
        raw = b"".join(base64.b64decode(v, validate=True) for v in encoded)
    except (binascii.Error, TypeError, ValueError):
        return None
    if len(raw) != len(units) * dim * _DTYPE.itemsize:
        return None
    return np.frombuffer(raw, dtype=_DTYPE).reshape(len(units), dim).astype(np.float64)


def stored_unit_cosines(query_embedding: list[float] | np.ndarray, documents: list[Document]) -> dict[str, float]:
    """Cosine (4 decimals) of the query with each unit of `documents` whose vectors are stored, in document order.

    Units of a document without usable stored vectors are left out: the caller embeds those, or goes without.
    """
    q = np.asarray(query_embedding, dtype=np.float64)
    q_norm = float(np.linalg.norm(q)) or 1.0
    out: dict[str, float] = {}
    for doc in documents:
        units = passage_units(doc.content or "")
        vectors = stored_unit_vectors(doc, units, len(q))
        if vectors is None:
            continue
        norms = np.linalg.norm(vectors, axis=1)
        cosines = (vectors @ q) / (np.where(norms == 0, 1.0, norms) * q_norm)
        for u, c in zip(units, cosines, strict=True):
            out.setdefault(u, round(float(c), 4))
    return out


@component
class UnitDocumentEmbedder:
    """Adds `unit_vectors` to each chunk: its units (sentences, table rows) embedded by `embedder`.

    `embedder` is the chunks' own document embedder (already loaded by the indexing pipeline); each unit is embedded
    alone, without title or section, exactly as the relevance gate embeds a unit of a chunk stored without them.
    """

    def __init__(self, *, embedder: Any):
        self.embedder = embedder

    def warm_up(self) -> None:
        """Load the embedder's model (a no-op when the pipeline already did)."""
        if hasattr(self.embedder, "warm_up"):
            self.embedder.warm_up()

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """Embed the units of all `documents` in one batch run (a repeated unit once)."""
        units = [passage_units(d.content or "") for d in documents]
        unique = list(dict.fromkeys(u for us in units for u in us))
        vectors: dict[str, list[float]] = {}
        if unique:
            embedded = self.embedder.run(documents=[Document(content=u) for u in unique])["documents"]
            vectors = {u: e.embedding for u, e in zip(unique, embedded, strict=True)}
        out = [
            replace(d, meta={**d.meta, UNIT_VECTORS: encode_unit_vectors(us, [vectors[u] for u in us])}) if us else d
            for d, us in zip(documents, units, strict=True)
        ]
        return {"documents": out}
