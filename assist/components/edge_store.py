"""A Haystack document store on Qdrant's own engine in-process (`qdrant-edge-py`): an on-disk shard, no server.

Points are laid out exactly as `qdrant-haystack` lays them out on a Qdrant server (same point ids, same payload,
same named vectors `text-dense` / `text-sparse` with the IDF modifier), and Haystack filters are translated through
`qdrant-haystack`'s own converter, so a shard and a server collection answer the same calls the same way.
"""

import logging
import math
import random
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import qdrant_edge as qe
from haystack import Document, default_from_dict, default_to_dict
from haystack.dataclasses import SparseEmbedding
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.types import DuplicatePolicy
from haystack_integrations.document_stores.qdrant.converters import (
    DENSE_VECTORS_NAME,
    SPARSE_VECTORS_NAME,
    convert_id,
)
from haystack_integrations.document_stores.qdrant.filters import convert_filters_to_qdrant
from qdrant_client.http import models as rest

from assist import store
from assist.errors import AssistError, StoreBusyError, StoreDamagedError, StoreNotFoundError

logger = logging.getLogger(__name__)

#: Payload fields the role filter and ingest bookkeeping look up; indexed so filtered HNSW stays fast.
INDEXED_FIELDS = ("meta.collection", "meta.doc_id", "meta.source", "meta.language")
RRF_K = 2  # Qdrant server's default, so Edge and server fuse alike.
PROBE_SAMPLES = 8  # scrolls from random ids, each reading PROBE_POINTS vectors
PROBE_POINTS = 8


def probe(shard: qe.EdgeShard, manifest: dict[str, Any] | None) -> str | None:
    """None when the shard answers sensibly, else what is wrong: the point count against the manifest, and a sample
    of dense vectors from random places (stored cosine vectors are unit length; random bytes are not).
    """
    try:
        count = int(shard.count(qe.CountRequest(exact=True)))
        if manifest is not None and count != manifest.get("points"):
            return f"it holds {count} points where its manifest says {manifest.get('points')}"
        if count == 0:
            return None
        bad = checked = 0
        starts = [None, *(str(uuid.UUID(int=random.getrandbits(128))) for _ in range(PROBE_SAMPLES - 1))]
        for start in starts:
            records, _ = shard.scroll(
                qe.ScrollRequest(offset=start, limit=PROBE_POINTS, with_payload=False, with_vector=[DENSE_VECTORS_NAME])
            )
            for r in records:
                vec = r.vector.get(DENSE_VECTORS_NAME) if isinstance(r.vector, dict) else r.vector
                if vec is None:
                    continue
                checked += 1
                norm = math.sqrt(math.fsum(float(x) * float(x) for x in vec))  # type: ignore[union-attr]
                if not math.isfinite(norm) or abs(norm - 1.0) > 1e-3:
                    bad += 1
    except Exception as exc:  # noqa: BLE001 - any failure to read is the answer
        return f"it cannot be read ({type(exc).__name__})"
    if bad:
        return f"{bad} of {checked} sampled vectors are not unit-length numbers (the vector files are corrupt)"
    return None


def _payload(without: tuple[str, ...]) -> Any:
    """The payload a query returns: all of it, all but the meta fields `without` names, or none (`("*",)`)."""
    if not without:
        return True
    if without == ("*",):
        return False
    return qe.PayloadSelector.Exclude([f"meta.{key}" for key in without])


def _to_edge_condition(cond: Any) -> Any:
    """Translate one qdrant-client filter condition into its qdrant-edge twin."""
    if isinstance(cond, rest.Filter):
        return _to_edge_filter(cond)
    if isinstance(cond, rest.FieldCondition):
        match = cond.match
        if isinstance(match, rest.MatchValue):
            return qe.FieldCondition(key=cond.key, match=qe.MatchValue(match.value))
        if isinstance(match, rest.MatchAny):
            return qe.FieldCondition(key=cond.key, match=qe.MatchAny(list(match.any)))  # type: ignore[arg-type]
        if isinstance(match, rest.MatchExcept):
            return qe.FieldCondition(key=cond.key, match=qe.MatchExcept(list(match.except_)))  # type: ignore[arg-type]
        if isinstance(cond.range, rest.Range):
            r = cond.range
            return qe.FieldCondition(key=cond.key, range=qe.RangeFloat(gt=r.gt, gte=r.gte, lt=r.lt, lte=r.lte))
        if cond.is_empty is not None or cond.is_null is not None:
            return qe.FieldCondition(key=cond.key, is_empty=cond.is_empty, is_null=cond.is_null)
    if isinstance(cond, rest.IsNullCondition):
        return qe.IsNullCondition(cond.is_null.key)
    if isinstance(cond, rest.IsEmptyCondition):
        return qe.IsEmptyCondition(cond.is_empty.key)
    msg = f"Filter condition {cond!r} is not supported on the embedded store."
    raise ValueError(msg)


def _to_edge_filter(flt: rest.Filter) -> qe.Filter:
    def conv(items: Any) -> list[Any] | None:
        if items is None:
            return None
        items = items if isinstance(items, list) else [items]
        return [_to_edge_condition(c) for c in items]

    return qe.Filter(must=conv(flt.must), should=conv(flt.should), must_not=conv(flt.must_not))


def convert_filters_to_edge(filters: dict[str, Any] | None) -> qe.Filter | None:
    """Haystack filter dict → qdrant-edge Filter, through qdrant-haystack's own converter."""
    converted = convert_filters_to_qdrant(filters)
    return _to_edge_filter(converted) if converted is not None else None


@dataclass
class _Version:
    """One open store version: its shard, its lease, and its files' state right after it was opened."""

    name: str
    folder: Path
    shard: qe.EdgeShard
    lease: store.Lease | None
    manifest: dict[str, Any] | None = None
    stats: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    private: Path | None = None  # a private copy, when another process holds the version
    users: int = 0
    retired: bool = False
    damage: str | None = None


class EdgeDocumentStore:
    """Haystack DocumentStore on an embedded Qdrant Edge store at `path` (a folder of versions, see assist.store).

    Reading (`create=False`) opens the published version and switches to a newer one when ingest publishes it;
    a version in use by a request (`pinned()`) stays open until the request ends. Writing (`create=True`) takes the
    ingest lock and writes a new version (a copy of the published one); `close()` publishes it.

    Usage:
        store = EdgeDocumentStore(path="data/qdrant", embedding_dim=384)
        store.write_documents(docs, policy=DuplicatePolicy.OVERWRITE)
        store.close()  # publishes
        reader = EdgeDocumentStore(path="data/qdrant", create=False)
        reader.query_hybrid(query_embedding=..., query_sparse_embedding=..., filters=..., top_k=5)
    """

    def __init__(  # noqa: PLR0913 - keyword-only settings of one store
        self,
        *,
        path: str,
        embedding_dim: int = 384,
        create: bool = True,
        write_batch_size: int = 256,
        verify_interval_s: float | None = None,
    ):
        self.path = str(path)
        self.root = Path(path)
        self.embedding_dim = embedding_dim
        self.create = create
        self.write_batch_size = write_batch_size
        self._open: _Version | None = None
        self._retired: list[_Version] = []
        self._stamp: tuple[int, int, int] | None = None
        self._work: store.WorkingVersion | None = None
        self._dirty = False
        self._local = threading.local()
        #: Why the newest published version could not be opened (the previous one stays in use), if it could not.
        self.swap_error: str | None = None
        # One lock over every shard call: a threaded server's requests, the version switch and the writer.
        self._lock = threading.RLock()
        #: A reader compares the files of the version it serves with the manifest's checksums in a background thread:
        #: at each version switch, then every this many seconds (None or 0: only the stat comparison of each
        #: request). A file changed in place with its size and time kept is otherwise served until a restart.
        self.verify_interval_s = verify_interval_s
        self._verifier: threading.Thread | None = None
        self._verify_wake = threading.Event()
        self._verify_stop = threading.Event()

    # --- lifecycle -------------------------------------------------------------------------------------------------
    def _config(self) -> qe.EdgeConfig:
        return qe.EdgeConfig(
            vectors={DENSE_VECTORS_NAME: qe.EdgeVectorParams(size=self.embedding_dim, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE_VECTORS_NAME: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )

    def exists(self) -> bool:
        """True when a store version has been published at `path` (or this store is writing one)."""
        if self._work is not None or self._open is not None:
            return True
        try:
            return store.current_version(self.root) is not None
        except store.Damage:
            return True  # there is a store; opening it reports the damage

    @property
    def version(self) -> str | None:
        """Name of the version this store reads (or writes): in a pinned block, the pinned one."""
        if self._work is not None:
            return self._work.name
        pins = getattr(self._local, "pins", None)
        if pins:
            return str(pins[-1].name)
        return self._open.name if self._open is not None else None

    @property
    def shard(self) -> qe.EdgeShard:
        """The shard to use now: the version being written, the request's pinned version, or the published one."""
        with self._lock:
            return self._handle().shard

    def begin(self, *, fresh: bool = False) -> None:
        """Start writing a new version (takes the ingest lock: StoreBusyError while another ingest runs).

        `fresh` starts from an empty shard instead of a copy of the published version: a rebuild.
        """
        with self._lock:
            if self._work is not None:
                return
            try:
                work = store.begin_version(self.root, fresh=fresh)
            except store.Damage as exc:
                raise self._damaged(str(exc)) from None
            except OSError as exc:
                msg = (f"Could not copy the published store version ({exc.strerror}): free disk space if the disk "
                       "is full, then run the ingest again.")
                raise AssistError(msg) from None
            try:
                if store.is_shard(work.folder):
                    shard = self._load(work.folder)
                    problem = probe(shard, None)
                    if problem:
                        shard.close()
                        raise self._damaged(f"{problem} (in the published version)")  # noqa: TRY301
                else:
                    shard = qe.EdgeShard.create(str(work.folder), self._config())
                    for name in INDEXED_FIELDS:
                        shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword))
            except StoreDamagedError:
                store.discard(work)
                if not work.resumed:
                    raise
                # What a killed ingest left cannot be opened: start again from the published version.
                logger.warning("The unpublished store version %s could not be opened; starting over", work.name)
                self.begin(fresh=fresh)
                return
            except BaseException:
                store.discard(work)
                raise
            self._work = work
            self._open = _Version(work.name, work.folder, shard, None)
            self._dirty = fresh or work.resumed

    def _handle(self) -> _Version:
        if self._work is None and self.create:
            self.begin()
        if self._work is not None:
            assert self._open is not None
            return self._open
        pins = getattr(self._local, "pins", None)
        if pins:
            return pins[-1]  # type: ignore[no-any-return]
        self._refresh()
        assert self._open is not None
        if self._open.damage:
            raise self._damaged(self._open.damage)
        return self._open

    def _refresh(self) -> None:
        """Open the published version, or switch to a newer one: one stat of the pointer file when nothing changed."""
        stamp = store.pointer_stamp(self.root)
        if self._open is not None and stamp == self._stamp:
            return
        try:
            current = store.current_version(self.root)
        except store.Damage as exc:
            if self._open is None:
                raise self._damaged(str(exc)) from None
            self._note_swap_error(str(exc), stamp)
            return
        if current is None:
            if self._open is None:
                msg = f"No document store at {self.path}: run `assist ingest knowledge` first."
                raise StoreNotFoundError(msg)
            return
        name, folder = current
        if self._open is not None and self._open.name == name:
            self._stamp = stamp
            return
        try:
            opened = self._open_version(name, folder)
        except (StoreDamagedError, StoreBusyError) as exc:
            if self._open is None:
                raise
            self._note_swap_error(getattr(exc, "public", str(exc)), stamp)
            return
        old, self._open, self._stamp, self.swap_error = self._open, opened, stamp, None
        # A switched-to version is checked at once; the first one was checked whole at start-up (Assistant).
        self._schedule_check(now=old is not None)
        if old is not None:
            logger.info("Switched the store from version %s to %s", old.name, name)
            old.retired = True
            if old.users == 0:
                self._close_version(old)
            else:
                self._retired.append(old)

    # --- background checksum check --------------------------------------------------------------------------------
    def _schedule_check(self, *, now: bool) -> None:
        """Start the background check thread on first use; `now`: have it check the version just opened at once."""
        if self.create or not self.verify_interval_s:
            return
        if self._verifier is None or not self._verifier.is_alive():
            self._verify_stop.clear()
            self._verifier = threading.Thread(target=self._check_loop, name="store-checksums", daemon=True)
            self._verifier.start()
        if now:
            self._verify_wake.set()

    def _check_loop(self) -> None:
        assert self.verify_interval_s
        while not self._verify_stop.is_set():
            self._verify_wake.wait(self.verify_interval_s)
            self._verify_wake.clear()
            if self._verify_stop.is_set():
                return
            try:
                self.check_in_use()
            except Exception:  # the thread must go on checking; the failure is in the log
                logger.exception("The background checksum check of the store failed")

    def check_in_use(self) -> str | None:
        """Compare every file of the version in use with its manifest's checksums; None when they match (or there
        is no manifest to compare with), else the damage found.

        The hashing runs outside the store's lock, so requests are answered meanwhile. A mismatch marks the version
        damaged: every later request on it is refused with StoreDamagedError (503), `health()` and /readyz say why,
        and the log says so, until a newly published version is switched to. The background thread calls this; a
        test or `assist doctor` may call it directly.
        """
        with self._lock:
            version = self._open
            if self._work is not None or version is None or version.manifest is None:
                return None
            if version.damage:
                return version.damage
            folder = version.private or version.folder
            version.users += 1  # keeps the version and its files while they are read
        try:
            try:
                reason = store.check_files(folder, version.manifest, full=True)
            except OSError as exc:
                reason = f"its files cannot be read ({type(exc).__name__})"
        finally:
            with self._lock:
                version.users -= 1
                if version.retired and version.users == 0:
                    self._close_version(version)
        if reason is None:
            return None
        with self._lock:
            version.damage = reason
        logger.error("The store version %s no longer matches its manifest and is no longer served: %s. To recover, %s.",
                     version.name, reason, store.RECOVERY)
        return reason

    def _stop_checks(self) -> None:
        verifier, self._verifier = self._verifier, None
        if verifier is None:
            return
        self._verify_stop.set()
        self._verify_wake.set()
        if verifier is not threading.current_thread():
            verifier.join(timeout=5)

    def _note_swap_error(self, reason: str, stamp: tuple[int, int, int] | None) -> None:
        # Keep answering from the version in use; try the new one again only when the pointer changes again.
        self._stamp = stamp
        self.swap_error = reason
        logger.error("A newer store version could not be opened; still using %s: %s", self.version, reason)

    def _open_version(self, name: str, folder: Path) -> _Version:
        if not folder.exists():
            raise self._damaged(f"the published version {name} is missing")
        try:
            manifest = store.read_manifest(folder)
        except store.Damage as exc:
            raise self._damaged(str(exc)) from None
        if manifest is not None:
            problem = store.check_files(folder, manifest, full=False)
            if problem:
                raise self._damaged(problem)
        try:
            lease = store.Lease(folder)
        except FileNotFoundError:
            raise self._damaged(f"the published version {name} was removed") from None
        private: Path | None = None
        try:
            try:
                shard = self._load(folder)
            except StoreBusyError:
                # Another process (e.g. `assist serve`) has this version open: read a private copy of it.
                private = Path(tempfile.mkdtemp(prefix="assist-store-"))
                logger.info("The store version %s is open in another process: reading a private copy", name)
                store.copy_shard(folder, private)
                shard = self._load(private)
            problem = probe(shard, manifest)
            if problem:
                shard.close()
                raise self._damaged(problem)  # noqa: TRY301
        except BaseException:
            lease.release()
            if private is not None:
                shutil.rmtree(private, ignore_errors=True)
            raise
        rels = list(manifest["files"]) if manifest else []
        return _Version(name, folder, shard, lease, manifest, store.stat_table(folder, rels), private)

    def _load(self, folder: Path) -> qe.EdgeShard:
        try:
            return qe.EdgeShard.load(str(folder))
        except Exception as exc:
            text = str(exc)
            if "WouldBlock" in text:
                msg = "The store version is open in another process."
                raise StoreBusyError(msg) from None
            reason = text.replace(str(folder), "").replace(str(self.root), "")
            reason = re.sub(r"(/[^\s\"']+)+", "…", reason)[:240]
            raise self._damaged(f"its shard cannot be opened ({reason})") from None

    def _damaged(self, reason: str) -> StoreDamagedError:
        # No path in the text: it reaches HTTP callers too.
        return StoreDamagedError(f"The document store is damaged: {reason}. To recover, {store.RECOVERY}.")

    def _close_version(self, version: _Version) -> None:
        try:
            version.shard.close()
        except Exception as exc:  # noqa: BLE001 - a damaged shard may fail to close; it is released either way
            logger.warning("Closing store version %s failed: %s", version.name, type(exc).__name__)
        if version.lease is not None:
            version.lease.release()
        if version.private is not None:
            shutil.rmtree(version.private, ignore_errors=True)
        if version in self._retired:
            self._retired.remove(version)
        store.cleanup(self.root)

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Every call inside (in this thread) reads one version, which stays open until the block ends.

        A request wraps its whole pipeline run in this, so a version published meanwhile is switched to for the next
        request, never half-way through this one.
        """
        if self.create:
            yield
            return
        with self._lock:
            version = self._handle()
            if version.manifest is not None and version.private is None and self._files_changed(version):
                # A file changed under us since the version was opened (nothing of ours writes it): check it all.
                self.health(full=True)
                version = self._handle()
            version.users += 1
        pins = self._local.__dict__.setdefault("pins", [])
        pins.append(version)
        try:
            yield
        finally:
            pins.pop()
            with self._lock:
                version.users -= 1
                if version.retired and version.users == 0:
                    self._close_version(version)

    @staticmethod
    def _files_changed(version: _Version) -> bool:
        assert version.manifest is not None
        return store.stat_table(version.folder, list(version.manifest["files"])) != version.stats

    def health(self, *, full: bool = False) -> str | None:
        """None when the version in use looks sound, else what is wrong (no paths).

        Cheap by default: a stat of each shard file (any change since it was opened triggers the full checksum
        comparison) and a probe query. `full` always compares every file's checksum with the manifest.
        """
        with self._lock:
            try:
                version = self._handle()
            except StoreDamagedError as exc:
                return exc.public
            if self._work is not None:
                return None
            reason = None
            if version.manifest is not None:
                if version.private is not None:
                    # A private copy: its own files are what this process reads.
                    reason = store.check_files(version.private, version.manifest, full=True) if full else None
                elif full or self._files_changed(version):
                    reason = store.check_files(version.folder, version.manifest, full=True)
                    if reason is None:  # touched, not changed (e.g. another process tried to open it)
                        version.stats = store.stat_table(version.folder, list(version.manifest["files"]))
            reason = reason or probe(version.shard, version.manifest)
            if reason:
                version.damage = reason
                logger.error("The store version %s is damaged: %s", version.name, reason)
                return self._damaged(reason).public
            return None

    def verify(self) -> None:
        """Raise StoreDamagedError unless every file matches its checksum and the probe passes."""
        problem = self.health(full=True)
        if problem:
            raise StoreDamagedError(problem)

    def flush(self) -> None:
        """Persist pending writes (of the version being written)."""
        with self._lock:
            if self._work is not None and self._open is not None:
                self._open.shard.flush()

    def optimize(self) -> None:
        """Merge segments and build the HNSW index; worth it after a large ingest."""
        with self._lock:
            self.shard.optimize()

    def publish(self) -> str | None:
        """Publish the version being written (readers switch to it) and release the ingest lock; its name.

        Nothing is published when nothing was written: the copy is dropped.
        """
        with self._lock:
            work, version = self._work, self._open
            if work is None or version is None:
                return None
            self._work, self._open = None, None
            try:
                if not self._dirty:
                    version.shard.close()
                    store.discard(work)
                    return None
                points = int(version.shard.count(qe.CountRequest(exact=True)))
                version.shard.flush()
                version.shard.close()
                # The first open after writing folds journals into the files; done here, every later open leaves
                # the files as the manifest records them.
                qe.EdgeShard.load(str(work.folder)).close()
                store.publish(work, points, {"embedding_dim": self.embedding_dim})
            except BaseException:
                store.finish(work)
                raise
            store.finish(work)
            self._dirty = False
            return work.name

    def discard(self) -> None:
        """Drop the version being written, publishing nothing."""
        with self._lock:
            work, version = self._work, self._open
            if work is None or version is None:
                return
            self._work, self._open = None, None
            version.shard.close()
            store.discard(work)

    def close(self) -> None:
        """A writer publishes what it wrote; a reader releases its versions (and removes those nobody uses)."""
        self._stop_checks()  # outside the lock: the check thread may be waiting for it
        with self._lock:
            if self._work is not None:
                self.publish()
                return
            for version in [*self._retired, *([self._open] if self._open else [])]:
                self._close_version(version)
            self._open, self._stamp = None, None

    def to_dict(self) -> dict[str, Any]:
        """Serialise for Haystack pipelines."""
        return default_to_dict(self, path=self.path, embedding_dim=self.embedding_dim, create=self.create,
                               verify_interval_s=self.verify_interval_s)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EdgeDocumentStore":
        """Deserialise."""
        return default_from_dict(cls, data)

    # --- DocumentStore protocol ----------------------------------------------------------------------------------
    def count_documents(self, filters: dict[str, Any] | None = None) -> int:
        """Number of documents, optionally matching `filters`."""
        if not self.exists():
            return 0
        with self._lock:
            return int(self.shard.count(qe.CountRequest(exact=True, filter=convert_filters_to_edge(filters))))

    def _scroll(
        self, filters: dict[str, Any] | None, with_vector: bool = False, fields: list[str] | None = None
    ) -> Iterator[Any]:
        flt = convert_filters_to_edge(filters)
        with_payload: Any = fields if fields is not None else True
        offset = None
        while True:
            with self._lock:
                records, offset = self.shard.scroll(
                    qe.ScrollRequest(
                        offset=offset, limit=1000, filter=flt, with_payload=with_payload, with_vector=with_vector
                    )
                )
            yield from records
            if offset is None:
                return

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """All documents matching a Haystack filter."""
        if not self.exists():
            return []
        return [self._to_document(r.payload, None, r.vector) for r in self._scroll(filters, with_vector=True)]

    def filter_payloads(
        self, filters: dict[str, Any] | None = None, fields: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Payloads only (no vectors): cheap bookkeeping reads. `fields` (e.g. ["meta.title"]) reads just those."""
        if not self.exists():
            return []
        return [dict(r.payload or {}) for r in self._scroll(filters, fields=fields)]

    def write_documents(self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE) -> int:
        """Write documents with their dense (and, when present, sparse) embeddings."""
        if policy in (DuplicatePolicy.NONE, DuplicatePolicy.FAIL, DuplicatePolicy.SKIP):
            existing = {convert_id(d.id) for d in self._retrieve_ids([d.id for d in documents])}
            if existing and policy != DuplicatePolicy.SKIP:
                msg = f"{len(existing)} documents already exist in the store."
                raise DuplicateDocumentError(msg)
            documents = [d for d in documents if convert_id(d.id) not in existing]
        written = 0
        for start in range(0, len(documents), self.write_batch_size):
            batch = documents[start : start + self.write_batch_size]
            points = [self._to_point(doc) for doc in batch]
            with self._lock:
                self.shard.update(qe.UpdateOperation.upsert_points(points))
                self._dirty = True
            written += len(batch)
        return written

    def delete_documents(self, document_ids: list[str]) -> None:
        """Delete by Haystack document id."""
        if not document_ids or (not self.exists()):
            return
        with self._lock:
            self.shard.update(qe.UpdateOperation.delete_points([convert_id(i) for i in document_ids]))
            self._dirty = True

    def delete_by_filter(self, filters: dict[str, Any]) -> None:
        """Delete every document matching a Haystack filter."""
        flt = convert_filters_to_edge(filters)
        if flt is None:
            msg = "delete_by_filter needs a filter; refusing to delete everything."
            raise ValueError(msg)
        with self._lock:
            self.shard.update(qe.UpdateOperation.delete_points_by_filter(flt))
            self._dirty = True

    # --- queries (same signatures as QdrantDocumentStore's) -------------------------------------------------------
    def query_by_embedding(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        return_embedding: bool = False,
        without: tuple[str, ...] = (),
    ) -> list[Document]:
        """Dense nearest neighbours, the filter applied inside the query; `without` names meta fields not read
        (`("*",)`: no payload at all, only ids and scores)."""
        request = qe.QueryRequest(
            limit=top_k,
            query=qe.Query.Nearest(list(query_embedding), using=DENSE_VECTORS_NAME),
            filter=convert_filters_to_edge(filters),
            with_payload=_payload(without),
            with_vector=[DENSE_VECTORS_NAME] if return_embedding else None,
        )
        return self._run(request)

    def query_by_sparse(
        self,
        query_sparse_embedding: SparseEmbedding,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        return_embedding: bool = False,
        without: tuple[str, ...] = (),
    ) -> list[Document]:
        """BM25 keyword search on the sparse vectors, the filter applied inside the query (`without`: as
        `query_by_embedding`'s)."""
        request = qe.QueryRequest(
            limit=top_k,
            query=qe.Query.Nearest(self._sparse(query_sparse_embedding), using=SPARSE_VECTORS_NAME),
            filter=convert_filters_to_edge(filters),
            with_payload=_payload(without),
            with_vector=[DENSE_VECTORS_NAME] if return_embedding else None,
        )
        return self._run(request)

    def query_hybrid(
        self,
        query_embedding: list[float],
        query_sparse_embedding: SparseEmbedding,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        prefetch_limit: int | None = None,
        rrf_k: int = RRF_K,
        return_embedding: bool = False,
    ) -> list[Document]:
        """Dense + sparse prefetches fused by reciprocal rank fusion in one query, both filtered inside."""
        flt = convert_filters_to_edge(filters)
        limit = prefetch_limit or max(top_k, 10)
        request = qe.QueryRequest(
            limit=top_k,
            prefetches=[
                qe.Prefetch(
                    limit=limit,
                    query=qe.Query.Nearest(self._sparse(query_sparse_embedding), using=SPARSE_VECTORS_NAME),
                    filter=flt,
                ),
                qe.Prefetch(
                    limit=limit, query=qe.Query.Nearest(list(query_embedding), using=DENSE_VECTORS_NAME), filter=flt
                ),
            ],
            query=qe.Fusion.Rrf(k=rrf_k),  # type: ignore[arg-type]  # the stub omits nested Fusion classes
            with_payload=True,
            with_vector=[DENSE_VECTORS_NAME] if return_embedding else None,
        )
        return self._run(request)

    def distinct_values(self, key: str, limit: int = 1000) -> list[str]:
        """The distinct values of an indexed payload field (e.g. "meta.language"), sorted."""
        with self._lock:
            hits = self.shard.facet(qe.FacetRequest(key, limit=limit, exact=True)).hits
        return sorted({str(h.value) for h in hits} - {""})

    # --- helpers ----------------------------------------------------------------------------------------------------
    def _run(self, request: qe.QueryRequest) -> list[Document]:
        with self._lock:
            points = self.shard.query(request)
        return [self._to_document(p.payload, p.score, p.vector) for p in points]

    def meta_values(self, ids: list[str], key: str) -> dict[str, Any]:
        """One meta field of the given documents, by Haystack id (those without it are left out)."""
        if not ids or not self.exists():
            return {}
        with self._lock:
            records = self.shard.retrieve(
                [convert_id(i) for i in ids], with_payload=qe.PayloadSelector.Include(["id", f"meta.{key}"]),
                with_vector=False,
            )
        out: dict[str, Any] = {}
        for r in records:
            payload = r.payload or {}
            meta = payload.get("meta") or {}
            if "id" in payload and key in meta:
                out[payload["id"]] = meta[key]
        return out

    def _retrieve_ids(self, ids: list[str]) -> list[Document]:
        if not ids or (not self.exists()):
            return []
        with self._lock:
            records = self.shard.retrieve([convert_id(i) for i in ids], with_payload=True, with_vector=False)
        return [self._to_document(r.payload, None, None) for r in records]

    def collections(self) -> list[str]:
        """The distinct `meta.collection` values the store holds (a facet over the indexed field)."""
        if not self.exists():
            return []
        with self._lock:
            facet = self.shard.facet(qe.FacetRequest(key="meta.collection", limit=100_000, exact=True))
        return sorted(str(hit.value) for hit in facet.hits)

    def dense_vectors(self, ids: list[str]) -> dict[str, list[float]]:
        """Dense vectors of the given documents, by Haystack id."""
        if not ids:
            return {}
        with self._lock:
            records = self.shard.retrieve(
                [convert_id(i) for i in ids], with_payload=["id"], with_vector=[DENSE_VECTORS_NAME]
            )
        out: dict[str, list[float]] = {}
        for r in records:
            vec = r.vector.get(DENSE_VECTORS_NAME) if isinstance(r.vector, dict) else r.vector
            if r.payload and vec is not None:
                out[r.payload["id"]] = list(vec)  # type: ignore[arg-type]
        return out

    @staticmethod
    def _sparse(emb: SparseEmbedding) -> qe.SparseVector:
        return qe.SparseVector(indices=list(emb.indices), values=list(emb.values))

    def _to_point(self, doc: Document) -> qe.Point:
        if doc.embedding is None:
            msg = f"Document {doc.id} has no embedding: run it through a document embedder before writing."
            raise ValueError(msg)
        payload = doc.to_dict(flatten=False)
        payload.pop("embedding", None)
        payload.pop("sparse_embedding", None)
        payload.pop("score", None)
        vector: dict[str, Any] = {DENSE_VECTORS_NAME: list(doc.embedding)}
        if doc.sparse_embedding is not None:
            vector[SPARSE_VECTORS_NAME] = self._sparse(doc.sparse_embedding)
        return qe.Point(id=convert_id(doc.id), vector=vector, payload=payload)

    @staticmethod
    def _to_document(payload: dict[str, Any] | None, score: float | None, vector: Any) -> Document:
        data = dict(payload or {})
        data["score"] = score
        if isinstance(vector, dict):
            data["embedding"] = vector.get(DENSE_VECTORS_NAME)
            sparse = vector.get(SPARSE_VECTORS_NAME)
            if sparse is not None:
                data["sparse_embedding"] = {"indices": list(sparse.indices), "values": list(sparse.values)}
        return Document.from_dict(data)
