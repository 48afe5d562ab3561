"""Ingests folders into the store: convert, split, embed (dense + BM25), write; skips files that did not change."""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haystack import Document, Pipeline
from haystack.components.writers import DocumentWriter
from haystack.document_stores.types import DuplicatePolicy

from assist.backends import make_document_embedder, make_document_store
from assist.components.bm25_embedder import Bm25DocumentSparseEmbedder
from assist.components.edge_store import EdgeDocumentStore
from assist.pipeline import write_store_info
from assist.roles import COLLECTIONS
from assist.settings import Settings
from ingest.convert import SUPPORTED, ConversionError, convert, file_hash
from ingest.split import split_pages

logger = logging.getLogger(__name__)


@dataclass
class FileResult:
    """What happened to one file."""

    path: str
    status: str  # ingested | unchanged | failed | removed
    chunks: int = 0
    pages: int = 0
    reason: str = ""


@dataclass
class IngestReport:
    """The report `assist ingest` prints."""

    files: list[FileResult] = field(default_factory=list)

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            out[f.status] = out.get(f.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "chunks": sum(f.chunks for f in self.files),
            "files": [f.__dict__ for f in self.files],
        }


def discover(root: Path, collection: str | None) -> list[tuple[Path, str]]:
    """(file, collection) pairs: each first-level folder under root is a collection unless one is given."""
    if root.is_file():
        return [(root, collection or "general")]
    pairs = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.name.lower() == "readme.md":
            continue
        rel = path.relative_to(root)
        coll = collection or (rel.parts[0] if len(rel.parts) > 1 else "general")
        pairs.append((path, coll))
    return pairs


def build_indexing_pipeline(settings: Settings, store: Any) -> Pipeline:
    """Embed (dense, then BM25 sparse) and write."""
    p = Pipeline()
    p.add_component("embedder", make_document_embedder(settings))
    p.add_component("sparse_embedder", Bm25DocumentSparseEmbedder())
    p.add_component("writer", DocumentWriter(document_store=store, policy=DuplicatePolicy.OVERWRITE))
    p.connect("embedder.documents", "sparse_embedder.documents")
    p.connect("sparse_embedder.documents", "writer.documents")
    return p


class Ingestor:
    """Ingests files into the configured store."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = make_document_store(settings, create=True)
        self.pipeline = build_indexing_pipeline(settings, self.store)

    def ingest(
        self, roots: list[Path], collection: str | None = None, on_file: Callable[[FileResult], None] | None = None
    ) -> IngestReport:
        """Ingest every file under `roots`; failures are reported, never fatal."""
        report = IngestReport()
        if collection is not None and collection not in COLLECTIONS:
            msg = f"Unknown collection {collection!r}: use one of {', '.join(COLLECTIONS)}."
            raise ValueError(msg)
        for root in roots:
            for path, coll in discover(root, collection):
                result = self._ingest_file(path, root, coll)
                report.files.append(result)
                if on_file:
                    on_file(result)
        write_store_info(self.settings)
        if hasattr(self.store, "flush"):
            self.store.flush()
        return report

    def _ingest_file(self, path: Path, root: Path, collection: str) -> FileResult:
        rel = str(path.relative_to(root.parent if root.is_dir() else root.parent))
        if path.suffix.lower() not in SUPPORTED:
            return FileResult(rel, "failed", reason=f"unsupported file type {path.suffix or '(none)'}")
        if collection not in COLLECTIONS:
            return FileResult(rel, "failed", reason=f"folder {collection!r} is not a collection ({', '.join(COLLECTIONS)})")
        try:
            fhash = file_hash(path)
            if self._unchanged(path.stem, fhash):
                return FileResult(rel, "unchanged")
            src = convert(path)
        except ConversionError as exc:
            return FileResult(rel, "failed", reason=str(exc))
        except OSError as exc:
            return FileResult(rel, "failed", reason=f"cannot read file ({exc.strerror})")
        chunks = split_pages([(p.text, p.number) for p in src.pages])
        docs = []
        for i, ch in enumerate(chunks):
            meta = {
                "doc_id": src.doc_id,
                "title": src.title,
                "collection": collection,
                "source": rel,
                "page": ch.page,
                "section": ch.section,
                **src.meta,
                "file_hash": fhash,
                "content_hash": hashlib.sha256(ch.text.encode()).hexdigest()[:16],
                "chunk": i,
                "chunk_count": len(chunks),
            }
            doc_key = f"{src.doc_id}:{fhash}:{i}"
            docs.append(Document(id=hashlib.sha256(doc_key.encode()).hexdigest(), content=ch.text, meta=meta))
        # New chunks go in before old ones go out: the document is never missing, and ids carry the file
        # hash, so a crash between the two steps leaves at worst stale chunks that the next run removes.
        self.pipeline.run({"embedder": {"documents": docs}})
        self._remove_stale(src.doc_id, fhash)
        return FileResult(rel, "ingested", chunks=len(docs), pages=len(src.pages))

    def _metas(self, doc_id: str, fhash: str, *, same: bool) -> list[tuple[str, dict[str, Any]]]:
        """(id, meta) of the chunks of `doc_id` whose file hash is (or, with same=False, is not) `fhash`."""
        flt = {"operator": "AND", "conditions": [
            {"field": "meta.doc_id", "operator": "==", "value": doc_id},
            {"field": "meta.file_hash", "operator": "==" if same else "!=", "value": fhash},
        ]}
        if isinstance(self.store, EdgeDocumentStore):
            return [(p["id"], p.get("meta", {})) for p in self.store.filter_payloads(flt)]
        return [(d.id, d.meta) for d in self.store.filter_documents(flt)]

    def _unchanged(self, doc_id: str, fhash: str) -> bool:
        """True when every chunk of this exact file version is already stored."""
        found = self._metas(doc_id, fhash, same=True)
        return bool(found) and len(found) == found[0][1].get("chunk_count")

    def _remove_stale(self, doc_id: str, fhash: str) -> None:
        stale = self._metas(doc_id, fhash, same=False)
        if stale:
            self.store.delete_documents([i for i, _ in stale])

    def close(self) -> None:
        if hasattr(self.store, "close"):
            self.store.close()
