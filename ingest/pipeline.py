"""Ingests folders into the store: convert, split, embed (dense + BM25), write; skips files that did not change.

Consistency without transactions. A chunk's point id is derived from (doc_id, chunk number) only, so a new version
of a document overwrites its old chunks in place, and the old version's surplus chunks (numbers past the new
chunk count, still carrying the old file hash) are deleted right after. Hence:

- no moment where a changed document is missing (old chunks stay until overwritten), and never two copies of
  the same chunk: a chunk number has exactly one point;
- a run killed at any point (kill -9) leaves each document either complete at one file hash, or recognisably
  incomplete (chunks with mixed hashes, or fewer than `chunk_count` at the file's hash); the next run re-ingests
  the incomplete ones and deletes surplus chunks of complete ones, ending in the state a clean run gives;
- chunks are embedded and written `batch_chunks` at a time, however long the file, so memory stays bounded and a
  killed run keeps every batch it wrote: the next run embeds only the chunks not yet stored at the file's hash
  with the same content hash and chunk count (a resumed file), then finishes it as above.

Readers: on the embedded store, ingest writes a new version (a copy of the published one) and publishes it when it
closes, so readers see the whole run at once (assist.store); a run killed part-way leaves an unpublished version
that the next run takes up again. On a Qdrant server a reader may, for the few milliseconds between the upsert and
the surplus delete, see the new chunks together with the old version's tail; it never sees the same chunk twice.
"""

import contextlib
import hashlib
import json
import logging
import os
import signal
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from haystack import Document, Pipeline
from haystack.components.writers import DocumentWriter
from haystack.document_stores.types import DuplicatePolicy

from assist import lemmas
from assist.backends import make_document_embedder, make_document_store
from assist.components.bm25_embedder import Bm25DocumentSparseEmbedder
from assist.components.edge_store import EdgeDocumentStore
from assist.components.title_embedder import TitleDocumentEmbedder
from assist.components.unit_embedder import UnitDocumentEmbedder
from assist.pipeline import STORE_INFO_FILE, write_store_info
from assist.roles import is_safe_name
from assist.settings import Settings
from assist.store import INGEST_STATUS_FILE, PRIVATE_FILE, private_dir, tighten
from ingest.convert import (
    DEFAULT_MAX_FILE_MB,
    ConversionError,
    SourceDocument,
    apply_sidecar,
    check_readable,
    file_hash,
    is_sidecar,
    parse_sidecar,
    read_file,
    sidecar_of,
)
from ingest.split import split_pages
from ingest.worker import ConversionWorker, ConvertJob

logger = logging.getLogger(__name__)

#: Test hook: "write:3" kills the process (SIGKILL) right after the 3rd batch write, before surplus chunks go.
KILL_HOOK_ENV = "ASSIST_INGEST_KILL_AT"
LIGHT_FIELDS = [
    "meta.doc_id", "meta.chunk", "meta.chunk_count", "meta.file_hash", "meta.content_hash", "meta.source",
    "meta.collection", "meta.title", "meta.replaces", "meta.valid_from",
]


class IngestStopped(Exception):  # noqa: N818 - a decision of the caller, not a failure of the ingest
    """The caller's `stop` check asked the run to end (a budget spent, a client gone): nothing of it is published
    by the caller, who discards the unpublished version. The message is the check's reason."""


@dataclass
class FileResult:
    """What happened to one file."""

    path: str
    status: str  # ingested | unchanged | failed | removed
    chunks: int = 0
    pages: int = 0
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    doc_id: str = ""
    collection: str = ""


@dataclass
class IngestReport:
    """The report `assist ingest` prints."""

    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            out[f.status] = out.get(f.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        written = [f for f in self.files if f.status == "ingested"]
        return {
            "counts": self.counts(),
            "chunks": sum(f.chunks for f in written),
            "pages": sum(f.pages for f in written),
            "seconds": round(self.seconds, 3),
            "files": [f.__dict__ for f in self.files],
        }


class Entry(NamedTuple):
    """A file found under a root, or a path that could not be walked (`problem` says why)."""

    path: Path
    collection: str
    root: Path
    problem: str = ""
    ident: tuple[int, int] | None = None  # (st_dev, st_ino) as walked: the file that conversion may open


# --- discovery ----------------------------------------------------------------------------------------------------

LINK_REFUSED = ("symbolic link: not followed (a link can point outside the folder or into another collection); "
                "copy the file or folder in instead")
HARD_LINK_REFUSED = ("hard link: this file has {n} names, and another may lie outside the folder; copy the file in "
                     "instead")


#: A folder's own notes for the people who keep it: no ingest of the folder reads it as a routine.
FOLDER_NOTES = "readme.md"


def not_a_routine(name: str) -> str:
    """Why an ingest of a folder passes over a file of this name, or '' when it reads it as a routine."""
    lowered = name.lower()
    if lowered == FOLDER_NOTES:
        return "README.md is the folder's notes, which no ingest of the folder reads"
    if is_glossary(Path(name)):
        return "glossary.* is the collection's glossary, read as terms and not as a routine"
    if is_sidecar(Path(name)):
        return "it is a routine's metadata file"
    return ""


def is_glossary(path: Path) -> bool:
    """A content owners' glossary (`glossary.*`, any folder): terms for the answer pipeline, not a routine."""
    return path.name.lower().startswith("glossary.")


def _walk(folder: Path) -> Iterator[tuple[Path, str, tuple[int, int] | None]]:
    """(path, problem, ident) for every file under `folder`; no link is followed, so nothing outside is reached."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield folder, f"cannot read folder ({exc.strerror}): check its permissions", None
        return
    for e in entries:
        if e.name.startswith("."):
            continue
        path = Path(e.path)
        try:
            st = os.lstat(e.path)  # the entry itself, never what a link points at
        except OSError as exc:
            yield path, f"cannot read ({exc.strerror})", None
            continue
        if stat.S_ISLNK(st.st_mode):
            yield path, LINK_REFUSED, None
        elif stat.S_ISDIR(st.st_mode):
            yield from _walk(path)
        elif not stat.S_ISREG(st.st_mode):
            yield path, "not a regular file (device, pipe or socket)", None
        elif e.name.lower() == FOLDER_NOTES:
            continue
        elif is_glossary(path):
            logger.debug("skipped %s: a glossary, not a routine", path)
        elif is_sidecar(path):
            continue  # a routine's metadata, read with the routine
        elif st.st_nlink > 1:
            yield path, HARD_LINK_REFUSED.format(n=st.st_nlink), None
        else:
            yield path, "", (st.st_dev, st.st_ino)


def discover_entries(root: Path, collection: str | None) -> list[Entry]:
    """Every file under `root` with its collection: each first-level folder is one, unless one is given.

    The root itself may be a link (the operator named it); nothing below it is reached through one.
    """
    if not root.is_dir():
        try:
            st = os.lstat(root)
        except OSError as exc:
            return [Entry(root, collection or "general", root, f"cannot read ({exc.strerror})")]
        if stat.S_ISLNK(st.st_mode):
            return [Entry(root, collection or "general", root, LINK_REFUSED)]
        if is_glossary(root) or is_sidecar(root):
            logger.debug("skipped %s: a glossary or a routine's metadata, not a routine", root)
            return []
        problem = HARD_LINK_REFUSED.format(n=st.st_nlink) if st.st_nlink > 1 else ""
        return [Entry(root, collection or "general", root, problem, None if problem else (st.st_dev, st.st_ino))]
    out = []
    for path, problem, ident in _walk(root):
        rel = path.relative_to(root)
        coll = collection or (rel.parts[0] if len(rel.parts) > 1 else "general")
        out.append(Entry(path, coll, root, problem, ident))
    return out


def discover(root: Path, collection: str | None) -> list[tuple[Path, str]]:
    """(file, collection) pairs under root (unreadable paths included, so counts match the report)."""
    return [(e.path, e.collection) for e in discover_entries(root, collection)]


def source_of(entry: Entry) -> str:
    """The path recorded in each chunk: relative to the root's parent, so it starts with the root folder's name."""
    base = entry.root.parent
    try:
        return entry.path.relative_to(base).as_posix()
    except ValueError:
        return entry.path.as_posix()


def build_indexing_pipeline(settings: Settings, store: Any) -> Pipeline:
    """Embed (dense, each chunk's sentences and its title with the same model, then BM25 sparse) and write."""
    p = Pipeline()
    embedder = make_document_embedder(settings)
    p.add_component("embedder", embedder)
    # The sentence vectors let the relevance gate compare a question with each sentence without running the model.
    p.add_component("unit_embedder", UnitDocumentEmbedder(embedder=embedder))
    # The title vector lets the retriever rank candidates by their titles without running the model, from the first
    # question after a start: one more embedding a file.
    p.add_component("title_embedder", TitleDocumentEmbedder(embedder=embedder))
    p.add_component("sparse_embedder", Bm25DocumentSparseEmbedder())
    p.add_component("writer", DocumentWriter(document_store=store, policy=DuplicatePolicy.OVERWRITE))
    p.connect("embedder.documents", "unit_embedder.documents")
    p.connect("unit_embedder.documents", "title_embedder.documents")
    p.connect("title_embedder.documents", "sparse_embedder.documents")
    p.connect("sparse_embedder.documents", "writer.documents")
    return p


def chunk_id(doc_id: str, number: int) -> str:
    """Point id of a chunk: stable across versions of the file, so a new version overwrites the old in place."""
    return hashlib.sha256(f"{doc_id}:{number}".encode()).hexdigest()


def make_chunks(src: SourceDocument, collection: str, source: str, fhash: str) -> list[Document]:
    """Split a converted document and give every chunk its metadata.

    Sentences that read as instructions to the assistant are stored on their chunk (`flagged`), so answers skip
    them, and listed in the file's report notes for its owners.
    """
    from assist.instructions import flagged_sentences  # noqa: PLC0415 - kept inside: this function owns the check

    chunks = split_pages([(p.text, p.number) for p in src.pages])
    docs = []
    flagged_in_file: list[str] = []
    for i, ch in enumerate(chunks):
        flagged = flagged_sentences(ch.text)
        flagged_in_file += [f for f in flagged if f not in flagged_in_file]
        meta = {
            "doc_id": src.doc_id,
            "title": src.title,
            "collection": collection,
            "source": source,
            "page": ch.page,
            "section": ch.section,
            **src.meta,
            "file_hash": fhash,
            "content_hash": hashlib.sha256(ch.text.encode()).hexdigest()[:16],
            "chunk": i,
            "chunk_count": len(chunks),
            "flagged": flagged,
        }
        docs.append(Document(id=chunk_id(src.doc_id, i), content=ch.text, meta=meta))
    if flagged_in_file:
        quoted = "; ".join(f'"{f[:120]}"' for f in flagged_in_file)
        src.notes.append(
            f"{len(flagged_in_file)} instruction-like line(s) flagged, never quoted in answers (check them): {quoted}"
        )
    return docs


@dataclass
class _Stored:
    """What the store holds of one doc_id, from payloads only."""

    chunks: list[dict[str, Any]] = field(default_factory=list)

    def complete_at(self, fhash: str) -> bool:
        current = [c for c in self.chunks if c.get("file_hash") == fhash]
        if not current:
            return False
        count = current[0].get("chunk_count")
        return len(current) == count and {c.get("chunk") for c in current} == set(range(count))

    def other_hashes(self, fhash: str) -> int:
        return sum(1 for c in self.chunks if c.get("file_hash") != fhash)

    def sources(self) -> set[str]:
        return {str(c.get("source", "")) for c in self.chunks}

    def collection(self) -> str:
        return str(self.chunks[0].get("collection", "")) if self.chunks else ""

    def matches(self, fhash: str, source: str, collection: str) -> bool:
        current = [c for c in self.chunks if c.get("file_hash") == fhash]
        return all(c.get("source") == source and c.get("collection") == collection for c in current)

    def written(self, fhash: str, count: int, source: str, collection: str) -> dict[int, str]:
        """chunk number -> content hash of the chunks already written for this very version (a resumed run)."""
        return {
            int(c["chunk"]): str(c.get("content_hash"))
            for c in self.chunks
            if c.get("file_hash") == fhash and c.get("chunk_count") == count and c.get("source") == source
            and c.get("collection") == collection and isinstance(c.get("chunk"), int)
        }


def _light(meta: dict[str, Any]) -> dict[str, Any]:
    """The bookkeeping fields of a chunk's metadata (what `_load_state` reads back)."""
    return {f.removeprefix("meta."): meta.get(f.removeprefix("meta.")) for f in LIGHT_FIELDS}


@dataclass
class _Pending:
    """A converted file whose chunks are being embedded and written, a batch at a time."""

    entry: Entry
    source: str
    fhash: str
    doc_id: str
    total: int  # the file's chunk count
    docs: list[Document]  # chunks still to embed; written ones are dropped, so memory stays bounded
    result: FileResult
    light: list[dict[str, Any]] = field(default_factory=list)  # bookkeeping of every chunk, for the state
    started: float | None = None  # when its first batch began to embed (the clock of the per-file time budget)


def _check_collection(collection: str) -> None:
    """ValueError naming the rule when `collection` is not a name a collection may have."""
    if not is_safe_name(collection):
        msg = f"Collection name {collection!r} is not allowed: use letters, digits, '_' and '-' (at most 64)."
        raise ValueError(msg)


class Ingestor:
    """Ingests files into the configured store.

    Usage:
        ingestor = Ingestor(settings, max_file_mb=100)
        report = ingestor.ingest([Path("knowledge")], prune=True, on_file=print)
        ingestor.close()
    """

    def __init__(
        self, settings: Settings, *, max_file_mb: float = DEFAULT_MAX_FILE_MB, batch_chunks: int | None = None,
        rebuild: bool = False, stop: Callable[[], str | None] | None = None,
    ):
        if max_file_mb <= 0:
            msg = f"max_file_mb must be positive, got {max_file_mb}"
            raise ValueError(msg)
        self.settings = settings
        lemmas.configure(settings.lemma_cache_dir)
        self.max_file_mb = max_file_mb
        # An older version made the data dir readable by every local user; what ingest writes there is not for them.
        tighten(settings.data_dir)
        # Two embedder batches per pipeline run: full batches for the model, little text held in memory.
        self.batch_chunks = batch_chunks or settings.ingest.batch_chunks or 2 * settings.embedder.batch_size
        self.worker = ConversionWorker(
            timeout_s=settings.ingest.convert_timeout_s, memory_mb=settings.ingest.convert_memory_mb
        )
        self.store = make_document_store(settings, create=True)
        self.pipeline = build_indexing_pipeline(settings, self.store)
        self._kill_at = _parse_kill_hook(os.environ.get(KILL_HOOK_ENV, ""))
        self._events: dict[str, int] = {}
        self._on_chunks: Callable[[str, int, int], None] | None = None
        self.clock: Callable[[], float] = time.monotonic  # the per-file time budget's clock (tests replace it)
        # Asked before each file and each batch: a reason ends the run with IngestStopped (an owner's upload passes
        # its budget and the client's presence here, so the ingest lock is never held past them).
        self.stop = stop
        if isinstance(self.store, EdgeDocumentStore):
            # Takes the ingest lock now, so a second ingest is told at once (StoreBusyError); `rebuild` starts from
            # an empty version instead of a copy of the published one.
            self.store.begin(fresh=rebuild)

    # --- public -----------------------------------------------------------------------------------------------------
    def ingest(  # noqa: PLR0913 - callbacks and switches, all keyword-friendly
        self,
        roots: list[Path],
        collection: str | None = None,
        on_file: Callable[[FileResult], None] | None = None,
        *,
        prune: bool = False,
        on_chunks: Callable[[str, int, int], None] | None = None,
    ) -> IngestReport:
        """Ingest every file under `roots`; failures are reported, never fatal. `prune` drops docs of vanished files.

        `on_chunks(source, written, total)` follows a file's chunks as they are written, batch by batch.
        """
        if collection is not None:
            _check_collection(collection)
        started = time.perf_counter()
        entries = [entry for root in roots for entry in discover_entries(root, collection)]
        return self._ingest_entries(entries, started, on_file, on_chunks, prune_roots=roots if prune else None)

    def ingest_files(
        self, files: list[Path], *, root: Path, collection: str, on_file: Callable[[FileResult], None] | None = None
    ) -> IngestReport:
        """Ingest these files of one collection (an owner's upload), with sources named as `ingest root` names them.

        `root` is the knowledge folder the files lie under, so a later ingest of the whole folder sees the same
        documents at the same sources (unchanged, not new).
        """
        _check_collection(collection)
        started = time.perf_counter()
        entries = [e._replace(root=root) for path in files for e in discover_entries(path, collection)]
        return self._ingest_entries(entries, started, on_file)

    def _ingest_entries(
        self,
        entries: list[Entry],
        started: float,
        on_file: Callable[[FileResult], None] | None,
        on_chunks: Callable[[str, int, int], None] | None = None,
        prune_roots: list[Path] | None = None,
    ) -> IngestReport:
        """Ingest discovered entries into one report, telling `on_file` of each file's result as it comes."""
        report = IngestReport()

        def done(result: FileResult) -> None:
            report.files.append(result)
            if on_file:
                on_file(result)

        return self._run(entries, report, done, started, on_chunks, prune_roots=prune_roots)

    def remove_document(self, doc_id: str) -> int:
        """Delete every chunk of `doc_id` from the store (a retired routine); returns how many there were."""
        state = self._load_state()
        stored = state.get(doc_id)
        if stored is None:
            return 0
        self._delete_where({"field": "meta.doc_id", "operator": "==", "value": doc_id})
        sources = sorted(stored.sources())
        result = FileResult(sources[0] if sources else doc_id, "removed", chunks=len(stored.chunks),
                            reason="retired", doc_id=doc_id, collection=stored.collection())
        record_status(self.settings, [result])
        if hasattr(self.store, "flush"):
            self.store.flush()
        return len(stored.chunks)

    def stored_documents(self) -> dict[str, dict[str, Any]]:
        """doc_id -> its collection, title, source files, and the routine it replaces from which day, as the store
        holds them now (payloads only)."""
        return {
            doc_id: {"collection": stored.collection(), "title": str(stored.chunks[0].get("title") or doc_id),
                     "sources": sorted(stored.sources()), "replaces": str(stored.chunks[0].get("replaces") or ""),
                     "valid_from": str(stored.chunks[0].get("valid_from") or "")}
            for doc_id, stored in self._load_state().items()
        }

    def _run(  # noqa: PLR0913 - the steps' shared state, passed once
        self, entries: list[Entry], report: IngestReport, done: Callable[[FileResult], None], started: float,
        on_chunks: Callable[[str, int, int], None] | None, *, prune_roots: list[Path] | None,
    ) -> IngestReport:
        self._on_chunks = on_chunks
        state = self._load_state()
        homes = self._homes(entries, state)
        seen: dict[str, str] = {}
        pending: list[_Pending] = []
        try:
            for entry in entries:
                self._check_stop()
                item = self._prepare(entry, state, seen, homes)
                if isinstance(item, FileResult):
                    done(item)
                    continue
                pending.append(item)
                pending = self._write(pending, state, done)
            self._write(pending, state, done, final=True)
        finally:
            self.worker.close()
        if prune_roots is not None:
            for result in self._prune(prune_roots, state, seen):
                done(result)
        write_store_info(self.settings)
        if not self.settings.qdrant.url:
            tighten(self.settings.store_path / STORE_INFO_FILE)  # which embedding model: written with the umask's mode
        record_status(self.settings, report.files, roots=sorted({e.root for e in entries}))
        if hasattr(self.store, "flush"):
            self.store.flush()
        report.files.sort(key=lambda f: (f.status == "removed", f.path))
        report.seconds = time.perf_counter() - started
        return report

    def close(self) -> None:
        """Publish what was written (the embedded store's new version); release the store and the conversion process."""
        self.worker.close()
        if hasattr(self.store, "close"):
            self.store.close()

    # --- steps ------------------------------------------------------------------------------------------------------
    @staticmethod
    def _homes(entries: list[Entry], state: dict[str, _Stored]) -> dict[str, str]:
        """doc_id -> collection of every document this run or the store knows: what `replaces` may name."""
        homes = {doc_id: stored.collection() for doc_id, stored in state.items()}
        for entry in entries:
            if not entry.problem and is_safe_name(entry.collection):
                homes.setdefault(entry.path.stem, entry.collection)
        return homes

    def _check_unique(self, entry: Entry, source: str, seen: dict[str, str], stored: "_Stored | None") -> None:
        """A document id (the file name) is one file's, in this run and in the store: ConversionError otherwise."""
        doc_id = entry.path.stem
        if doc_id in seen:
            msg = f"same document id {doc_id!r} as {seen[doc_id]}: document ids are file names, rename one"
            raise ConversionError(msg)
        if stored and source not in stored.sources() and self._still_there(entry, stored):
            other = sorted(stored.sources())[0]
            msg = f"same document id {doc_id!r} as {other} already in the store: rename one"
            raise ConversionError(msg)

    def _prepare(
        self, entry: Entry, state: dict[str, _Stored], seen: dict[str, str], homes: dict[str, str]
    ) -> "_Pending | FileResult":
        """Check, hash, convert and split one file; a FileResult when there is nothing to embed."""
        source = source_of(entry)
        doc_id = entry.path.stem
        ids = {"doc_id": doc_id, "collection": entry.collection}
        if entry.problem:
            return FileResult(source, "failed", reason=entry.problem, **ids)
        if not is_safe_name(entry.collection):
            reason = (f"folder {entry.collection!r} is not a collection name: rename it to letters, digits, "
                      "'_' and '-' (at most 64)")
            return FileResult(source, "failed", reason=reason, **ids)
        try:
            check_readable(entry.path, self.max_file_mb)
            stored = state.get(doc_id)
            self._check_unique(entry, source, seen, stored)
            seen[doc_id] = source
            fhash = file_hash(entry.path, entry.ident)
            side = _read_sidecar(entry.path)
            if side is not None:
                fhash = hashlib.sha256(f"{fhash}:".encode() + side).hexdigest()
            if stored and stored.complete_at(fhash) and stored.matches(fhash, source, entry.collection):
                notes = []
                if stored.other_hashes(fhash):
                    # Left by a run that was killed between writing a new version and removing the old tail.
                    self._delete_surplus(doc_id, fhash, len(stored.chunks) - stored.other_hashes(fhash))
                    notes.append("finished an interrupted update")
                return FileResult(source, "unchanged", notes=notes, **ids)
            src = self.worker.convert(ConvertJob(entry.path, entry.ident))
            if side is not None:
                apply_sidecar(src, parse_sidecar(side))
        except ConversionError as exc:
            return FileResult(source, "failed", reason=str(exc), **ids)
        except OSError as exc:
            return FileResult(source, "failed", reason=f"cannot read file ({exc.strerror}): check its permissions",
                              **ids)
        ignored = _check_replaces(src, entry.collection, homes)
        if ignored:
            src.meta["replaces"] = ""  # stored empty, so retrieval never excludes another collection's routine
        docs = make_chunks(src, entry.collection, source, fhash)  # adds the flagged-lines note to src.notes
        notes = list(src.notes) + ([ignored] if ignored else [])
        if not docs:
            return FileResult(source, "failed", reason="no text left after cleaning (only headers or page numbers?)",
                              **ids)
        limit = self.settings.ingest.max_chunks_per_file
        if len(docs) > limit:
            # Checked before anything is embedded: a 50 MB text file is tens of thousands of chunks, hours of work.
            reason = (f"{len(docs)} chunks, more than the {limit} one file may have: split it into smaller routines, "
                      "or raise ASSIST_INGEST__MAX_CHUNKS_PER_FILE")
            return FileResult(source, "failed", pages=len(src.pages), reason=reason, **ids)
        result = FileResult(source, "ingested", chunks=len(docs), pages=len(src.pages), notes=notes, **ids)
        light = [_light(d.meta) for d in docs]
        written = stored.written(fhash, len(docs), source, entry.collection) if stored else {}
        left = [d for d in docs if written.get(d.meta["chunk"]) != d.meta["content_hash"]]
        if left and len(left) < len(docs):
            # A run killed half-way through this very version: embed only what it did not write.
            notes.append(f"resumed: {len(docs) - len(left)} of {len(docs)} chunks were already written")
            docs = left
        return _Pending(entry, source, fhash, doc_id, len(light), docs, result, light)

    def _write(
        self, pending: list[_Pending], state: dict[str, _Stored], done: Callable[[FileResult], None], *,
        final: bool = False,
    ) -> list[_Pending]:
        """Embed and write pending chunks a batch at a time; return the files not yet complete.

        Each batch is `batch_chunks` chunks, cutting across files where needed, so the embedder always gets full
        batches (a partial batch costs nearly as much as a full one) and memory stays bounded however large a file
        is: a batch's embeddings are written before the next batch is embedded. Only `final` writes a partial batch.
        A file's surplus old chunks are dropped once its last chunk is written.
        """
        while pending:
            batch: list[Document] = []
            takes: list[int] = []
            for p in pending:
                take = min(self.batch_chunks - len(batch), len(p.docs))
                batch.extend(p.docs[:take])
                takes.append(take)
            if not batch or (len(batch) < self.batch_chunks and not final):
                return pending
            self._check_stop()
            now = self.clock()
            for p, take in zip(pending, takes, strict=False):
                if take and p.started is None:
                    p.started = now
            self._hook("embed")
            self.pipeline.run({"embedder": {"documents": batch}})
            self._hook("write")
            del batch
            unfinished = []
            for p, take in zip(pending, takes, strict=False):
                del p.docs[:take]
                if take and self._on_chunks:
                    self._on_chunks(p.source, p.total - len(p.docs), p.total)
                if p.docs and self._over_time(p):
                    self._stop(p, state, done)
                    continue
                if p.docs:
                    unfinished.append(p)
                    continue
                stored = state.get(p.doc_id)
                if stored is not None and (stored.other_hashes(p.fhash) or len(stored.chunks) > p.total):
                    self._delete_surplus(p.doc_id, p.fhash, p.total)
                state[p.doc_id] = _Stored(p.light)
                done(p.result)
                self._hook("file")
            pending = unfinished
        return pending

    def _check_stop(self) -> None:
        reason = self.stop() if self.stop else None
        if reason:
            raise IngestStopped(reason)

    def _over_time(self, p: _Pending) -> bool:
        return p.started is not None and self.clock() - p.started > self.settings.ingest.max_seconds_per_file

    def _stop(self, p: _Pending, state: dict[str, _Stored], done: Callable[[FileResult], None]) -> None:
        """Give up a file past its time budget: every chunk of it goes, so no half-written document is published.

        Its chunks overwrite the previous version's in place, so that version cannot be kept either.
        """
        written = p.total - len(p.docs)
        p.docs.clear()
        self._delete_where({"field": "meta.doc_id", "operator": "==", "value": p.doc_id})
        had_earlier = p.doc_id in state
        state.pop(p.doc_id, None)
        if self._on_chunks:
            self._on_chunks(p.source, p.total, p.total)  # closes its progress bar
        limit = self.settings.ingest.max_seconds_per_file
        reason = (f"embedding took longer than {limit:g} s (stopped after {written} of {p.total} chunks, none kept"
                  f"{'; its earlier version is removed too' if had_earlier else ''}): split it into smaller routines, "
                  "or raise ASSIST_INGEST__MAX_SECONDS_PER_FILE")
        r = p.result
        done(FileResult(r.path, "failed", pages=r.pages, reason=reason, notes=r.notes, doc_id=r.doc_id,
                        collection=r.collection))

    def _delete_surplus(self, doc_id: str, fhash: str, count: int) -> None:
        """Delete the doc's chunks of other versions, and any numbered past its `count` chunks."""
        self._delete_where({"operator": "AND", "conditions": [
            {"field": "meta.doc_id", "operator": "==", "value": doc_id},
            {"operator": "OR", "conditions": [
                {"field": "meta.file_hash", "operator": "!=", "value": fhash},
                {"field": "meta.chunk", "operator": ">=", "value": count},
            ]},
        ]})

    def _prune(self, roots: list[Path], state: dict[str, _Stored], seen: dict[str, str]) -> list[FileResult]:
        """Remove documents stored from under `roots` whose file is gone."""
        results = []
        for doc_id, stored in sorted(state.items()):
            if doc_id in seen:
                continue
            for source in sorted(stored.sources()):
                root = next((r for r in roots if _under(source, r)), None)
                if root is not None and not (root.parent / source).exists():
                    self._delete_where({"field": "meta.doc_id", "operator": "==", "value": doc_id})
                    results.append(FileResult(source, "removed", chunks=len(stored.chunks), reason="file is gone",
                                              doc_id=doc_id, collection=stored.collection()))
                    break
        return results

    # --- store access -----------------------------------------------------------------------------------------------
    def _load_state(self) -> dict[str, _Stored]:
        """Every stored chunk's bookkeeping fields, read once (payload fields only, no vectors, no text)."""
        state: dict[str, _Stored] = {}
        for meta in self._light_payloads():
            state.setdefault(str(meta.get("doc_id")), _Stored()).chunks.append(meta)
        return state

    def _light_payloads(self) -> Iterator[dict[str, Any]]:
        if isinstance(self.store, EdgeDocumentStore):
            if not self.store.exists():
                return
            import qdrant_edge as qe  # noqa: PLC0415

            offset = None
            while True:
                records, offset = self.store.shard.scroll(
                    qe.ScrollRequest(offset=offset, limit=2000, with_payload=LIGHT_FIELDS, with_vector=False)
                )
                for r in records:
                    yield dict((r.payload or {}).get("meta", {}))
                if offset is None:
                    return
        else:
            for doc in self.store.filter_documents():
                yield dict(doc.meta)

    def _delete_where(self, filters: dict[str, Any]) -> None:
        if hasattr(self.store, "delete_by_filter"):
            self.store.delete_by_filter(filters)
        else:
            self.store.delete_documents([d.id for d in self.store.filter_documents(filters)])

    def _still_there(self, entry: Entry, stored: _Stored) -> bool:
        return any((entry.root.parent / s).exists() for s in stored.sources())

    def _hook(self, event: str) -> None:
        """Kill this process at a chosen point (crash tests only)."""
        self._events[event] = self._events.get(event, 0) + 1
        if self._kill_at == (event, self._events[event]):
            logger.warning("killing the ingest at %s #%d (%s)", event, self._events[event], KILL_HOOK_ENV)
            os.kill(os.getpid(), signal.SIGKILL)


def _read_sidecar(path: Path) -> bytes | None:
    """The bytes of the routine's metadata file, or None when it has none (a link there is refused)."""
    side = sidecar_of(path)
    try:
        return read_file(side)
    except FileNotFoundError:
        return None


# --- what the last runs did to each file ------------------------------------------------------------------------

def status_path(settings: Settings) -> Path:
    """Where the outcome of each file's last ingest is kept: beside the embedded store, else in the data dir."""
    return (settings.data_dir if settings.qdrant.url else settings.store_path) / INGEST_STATUS_FILE


def read_status(settings: Settings) -> dict[str, dict[str, Any]]:
    """source -> the outcome of that file's last ingest (status, reason, notes, doc_id, collection, times)."""
    try:
        data = json.loads(status_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, dict) else {}


def record_status(settings: Settings, results: list[FileResult], roots: list[Path] | None = None) -> None:
    """Merge these outcomes into the status file (written by the one ingest holding the lock, atomically).

    A removed document's entry goes, and so does a failure of a file under `roots` (the folders walked) that is no
    longer there; an unchanged file keeps the time it was last ingested.
    """
    path = status_path(settings)
    files = read_status(settings)
    if not results and not files:
        return
    for source, last in list(files.items()):
        if last.get("status") == "failed" and any(_under(source, r) for r in roots or []):
            root = next(r for r in roots or [] if _under(source, r))
            if not (root.parent / source).exists():
                del files[source]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for r in results:
        if r.status == "removed":
            files.pop(r.path, None)
            continue
        before = files.get(r.path, {})
        ingested_at = now if r.status == "ingested" else before.get("ingested_at", "")
        files[r.path] = {
            "doc_id": r.doc_id, "collection": r.collection, "status": r.status, "reason": r.reason,
            "notes": r.notes, "chunks": r.chunks or before.get("chunks", 0), "pages": r.pages or before.get("pages", 0),
            "checked_at": now, "ingested_at": ingested_at,
        }
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        private_dir(path.parent)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # O_CREAT would keep an older file's mode
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        with open(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps({"files": files}, ensure_ascii=False, indent=1))
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("Could not record the ingest status in %s: %s", path, exc.strerror)
        with contextlib.suppress(OSError):
            tmp.unlink()


def _under(source: str, root: Path) -> bool:
    name = root.name if root.name else Path.cwd().name
    if root.is_file():
        return source == root.name
    return source.startswith(f"{name}/") or (root.name == "" and "/" in source)


def _check_replaces(src: SourceDocument, collection: str, homes: dict[str, str]) -> str:
    """Why the document's `replaces` is ignored ("" when it names a document of the same collection)."""
    target = str(src.meta.get("replaces") or "").strip()
    if not target or target == src.doc_id:
        return ""
    home = homes.get(target)
    if home is None:
        return (f"'replaces: {target}' ignored: no document {target!r} in the store or in this ingest; "
                "name the replaced file without its extension")
    if home != collection:
        return (f"'replaces: {target}' ignored: {target!r} is in collection {home!r}, this document in "
                f"{collection!r}; a document may only replace one of its own collection")
    return ""


def _parse_kill_hook(value: str) -> tuple[str, int] | None:
    if not value:
        return None
    event, _, n = value.partition(":")
    return event, int(n or 1)
