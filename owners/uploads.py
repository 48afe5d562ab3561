"""Adding, replacing and retiring routines: the file is checked by its bytes, converted in the ingest's sandboxed
worker before it goes anywhere, then placed in the knowledge folder and ingested by the same pipeline as
`assist ingest`. The store is written as a new version and published at once, or not at all.

Where files go: `<knowledge_dir>/<collection>/` when the knowledge folder exists (the folder `assist ingest` reads,
so a later ingest of the whole folder finds the same routines), else `<data_dir>/uploads/<collection>/`; both lie
outside the web root. The form's fields (title, valid from, review date, what it replaces) are kept beside the file
in `<file>.meta.toml`, which ingest reads for every format. A retired routine's file moves to
`<data_dir>/retired/<collection>/`, so no later ingest brings it back.

An upload holds the store (the ingest lock) only within its budget: a file that splits into more than
`ingest.upload_max_chunks` chunks is refused before the store is touched, and the ingest stops once
`ingest.upload_max_seconds` have passed or the client has gone. A change that finds another under way waits at most
`ingest.upload_lock_wait_s`, then is told to come back (ChangeInProgressError, with Retry-After). What an upload
places in the folder is named in a journal first, so a refused, stopped or crashed upload leaves nothing behind:
the next RoutineDesk (the service's start, the CLI) undoes what a dead process left.
"""

import contextlib
import fcntl
import io
import json
import logging
import math
import os
import re
import secrets
import shutil
import threading
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assist import store as versions
from assist.components.edge_store import EdgeDocumentStore
from assist.errors import StoreBusyError
from assist.roles import is_safe_name
from assist.settings import Settings
from assist.store import PRIVATE_DIR, PRIVATE_FILE, private_dir, tighten
from ingest.convert import SIDECAR, ConversionError, apply_sidecar, decode_text, parse_sidecar, sidecar_of
from ingest.pipeline import FileResult, Ingestor, IngestStopped, make_chunks, not_a_routine, record_status
from ingest.worker import ConversionWorker, ConvertJob
from owners.changes import Change, ChangeLog, now
from owners.errors import (
    ChangeInProgressError,
    DocumentExistsError,
    OwnersError,
    UnknownDocumentError,
    UnreadableFileError,
    UnsupportedFileError,
    UploadStoppedError,
    UploadTooLargeError,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_MB = 20.0
#: A DOCX is a ZIP: its parts together may not unpack to more than this (a ZIP bomb is refused before conversion).
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
STAGING = ".staging"
JOURNAL_PREFIX = "upload-"

_SIGNATURES = [  # first bytes of formats people upload by mistake, named in the refusal
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.doc/.xls): save it as .docx"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x7fELF", "a program (ELF)"),
    (b"MZ", "a Windows program"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"{\\rtf", "an RTF document: save it as .docx"),
]
TEXT_SUFFIXES = {".md": ".md", ".markdown": ".md", ".txt": ".txt", ".text": ".txt", ".html": ".html", ".htm": ".html"}


def sniff(data: bytes, filename: str) -> str:
    """The extension the file is stored under, judged by its content; the name only picks among text formats.

    UnsupportedFileError says what the bytes are when they are not a PDF, a Word document (.docx) or text.
    """
    named = Path(filename).suffix.lower()
    head = data[:1024]
    if b"%PDF-" in head:
        return ".pdf"
    if data.startswith(b"PK\x03\x04"):
        return _docx(data)
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            msg = f"The file is {what}, not a routine: upload a PDF, a Word document (.docx), Markdown, HTML or text."
            raise UnsupportedFileError(msg)
    # UTF-16 text (Notepad's "Unicode") is half zero bytes: its byte order mark says it is text, as ingest reads it.
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if b"\x00" in data[:8192] and not utf16:
        msg = "The file is binary data of an unknown kind: upload a PDF, a Word document (.docx), Markdown or text."
        raise UnsupportedFileError(msg)
    try:
        text = data[: 1 << 16].decode("utf-16", errors="replace") if utf16 else decode_text(data[: 1 << 16])[0]
    except ConversionError as exc:
        msg = f"The file is not readable text ({exc})."
        raise UnsupportedFileError(msg) from None
    if named in {".pdf", ".docx", ".doc"}:
        msg = f"The file is named {named} but its content is text, not a {named[1:].upper()} file: check the file."
        raise UnsupportedFileError(msg)
    looks_html = re.search(r"<(!doctype html|html|body|head)\b", text[:4096], re.I) is not None
    suffix = TEXT_SUFFIXES.get(named, "")
    if suffix == ".html" and not looks_html:
        msg = "The file is named .html but holds no HTML: save it as .txt or .md."
        raise UnsupportedFileError(msg)
    return suffix or (".html" if looks_html else ".txt")


def _docx(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = {i.filename for i in infos}
            unpacked = sum(i.file_size for i in infos)
    except zipfile.BadZipFile:
        msg = "The file starts like a Word document (.docx) but is damaged: save it again and upload the new copy."
        raise UnsupportedFileError(msg) from None
    if "word/document.xml" not in names or "[Content_Types].xml" not in names:
        msg = "The file is a ZIP archive, not a Word document (.docx): upload the document itself."
        raise UnsupportedFileError(msg)
    if unpacked > MAX_UNPACKED_BYTES:
        msg = f"The Word document unpacks to {unpacked // 1048576} MB, over {MAX_UNPACKED_BYTES // 1048576} MB."
        raise UnsupportedFileError(msg)
    return ".docx"


def doc_id_for(filename: str) -> str:
    """A document id from an uploaded file's name: letters, digits, '-' and '_' only (accents folded)."""
    stem = Path(filename.replace("\\", "/")).name
    stem = stem[: -len(Path(stem).suffix)] if Path(stem).suffix else stem
    folded = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    name = re.sub(r"[^\w-]+", "-", folded).strip("-_").lower()[:64].strip("-_")
    if not is_safe_name(name):
        msg = f"The file name {filename[:80]!r} gives no usable document id: name it with letters and digits."
        raise OwnersError(msg)
    return name


class RoutineFields(BaseModel):
    """What the owner sets in the form; blank fields keep what the file itself says."""

    title: str = Field(default="", max_length=200)
    owner: str = Field(default="", max_length=200)
    valid_from: date | None = None
    review_date: date | None = None

    def sidecar(self, replaces: str = "") -> str:
        """The metadata file's TOML (strings as JSON strings, which TOML reads alike)."""
        values = {
            "title": _clean(self.title), "owner": _clean(self.owner),
            "valid_from": self.valid_from.isoformat() if self.valid_from else "",
            "review_date": self.review_date.isoformat() if self.review_date else "", "replaces": replaces,
        }
        return "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in values.items() if v)


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{n} bytes"


def _clean(value: str) -> str:
    return " ".join("".join(ch for ch in value if ch.isprintable()).split())


@dataclass
class Actor:
    """Who makes a change: a token's id and role (never the token itself), and the collections it manages (None:
    every one, as the operator's CLI)."""

    token_id: str
    role: str
    manages: tuple[str, ...] | None = None

    def sees(self, collection: str) -> bool:
        return self.manages is None or collection in self.manages


@dataclass
class Outcome:
    """What an add, replace or retire did."""

    action: str
    doc_id: str
    collection: str
    title: str = ""
    source: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def uploads_root(settings: Settings) -> Path:
    """The folder whose collection folders receive uploads: the knowledge folder, else `<data_dir>/uploads`."""
    knowledge = settings.knowledge_dir
    if knowledge is not None and knowledge.is_dir():
        return knowledge
    return settings.data_dir / "uploads"


class RoutineDesk:
    """Adds, replaces and retires routines, one change at a time per process (and per store: the ingest lock).

    Usage:
        desk = RoutineDesk(settings=settings, changes=ChangeLog(database))
        desk.add(data, "hygien.docx", "home_care", RoutineFields(review_date=date(2027, 6, 1)), actor)
        desk.replace("hygien", data, "hygien-2027.docx", RoutineFields(valid_from=date(2027, 1, 1)), actor)
        desk.retire("hygien", actor)
    """

    def __init__(self, *, settings: Settings, changes: ChangeLog | None = None,
                 max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB):
        self.settings = settings
        self.changes = changes
        self.max_bytes = int(max_upload_mb * 1024 * 1024)
        self._lock = threading.Lock()
        self._busy_until = 0.0  # when the change under way runs out of budget (monotonic), for Retry-After
        self.recover()

    # --- public ---------------------------------------------------------------------------------------------------
    def add(self, data: bytes, filename: str, collection: str, fields: RoutineFields, actor: Actor, *,  # noqa: PLR0913
            cancel: threading.Event | None = None) -> Outcome:
        """A new routine in `collection`; DocumentExistsError when its id is taken there (replace that one instead).

        Setting `cancel` (the client went away) stops the upload at the next batch: nothing of it is kept.
        """
        return self._upload(data, filename, collection, fields, actor, replaces="", cancel=cancel)

    def replace(self, old_doc_id: str, data: bytes, filename: str, collection: str, fields: RoutineFields,  # noqa: PLR0913
                actor: Actor, *, cancel: threading.Event | None = None) -> Outcome:
        """A new routine that replaces `old_doc_id` from its valid_from day (today when blank); the old one stays
        stored, and answered from until that day."""
        if fields.valid_from is None:
            fields = fields.model_copy(update={"valid_from": date.today()})
        return self._upload(data, filename, collection, fields, actor, replaces=old_doc_id, cancel=cancel)

    def recover(self) -> list[str]:
        """Undo what uploads of dead processes left: their files leave the folder (any file they overwrote comes
        back), and the store version they were writing is dropped. Returns the files removed."""
        folder = self.settings.data_dir / "uploads" / STAGING
        if not folder.is_dir():
            return []
        removed: list[str] = []
        for path in sorted(folder.glob(f"{JOURNAL_PREFIX}*.json")):
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # an upload still under way in another process
                try:
                    items = json.loads(path.read_text(encoding="utf-8") or "{}").get("items", [])
                except (OSError, ValueError):
                    items = []
                self._discard_unpublished()
                undone = _undo(items)
                self._forget(undone)
                removed += [p.name for p in undone]
                path.unlink(missing_ok=True)
            finally:
                os.close(fd)
        # A file being checked lies in its own folder for at most the conversion's time limit: older ones are a dead
        # process's (the routine's text, in the clear).
        cutoff = time.time() - 2 * self.settings.ingest.convert_timeout_s
        for checked in folder.iterdir():
            with contextlib.suppress(OSError):
                if checked.is_dir() and not checked.is_symlink() and checked.stat().st_mtime < cutoff:
                    shutil.rmtree(checked)
                    removed.append(f"{STAGING}/{checked.name}")
        if removed:
            logger.warning("removed %d file(s) of an upload that never finished: %s", len(removed), ", ".join(removed))
        return removed

    def retire(self, doc_id: str, collection: str, actor: Actor, reason: str = "") -> Outcome:
        """Remove a routine from the store (and so from answers); its file moves out of the knowledge folder."""
        with self._change(self.settings.ingest.upload_max_seconds):
            ingestor = self._ingestor()
            try:
                stored = self._stored(ingestor).get(doc_id)
                if stored is None or stored["collection"] != collection:
                    msg = f"No routine {doc_id!r} in {collection!r}: check the inventory."
                    raise UnknownDocumentError(msg)  # noqa: TRY301 - the store is released below
                title = stored["title"]
                source = stored["sources"][0] if stored["sources"] else ""
                moved = self._move_out(source, collection)
                try:
                    chunks = ingestor.remove_document(doc_id)
                    ingestor.close()
                except BaseException:
                    for original, target in moved:
                        shutil.move(target, original)
                    raise
            except BaseException:
                _abandon(ingestor)
                raise
        detail: dict[str, Any] = {"chunks_removed": chunks, "reason": _clean(reason)[:500]}
        notes = []
        if moved:
            detail["kept_at"] = _relative(moved[0][1], self.settings.data_dir)
        else:
            notes.append("Its file is not in the knowledge folder the service reads: delete it where it is kept, or "
                         "the next `assist ingest` of that folder brings it back.")
        outcome = Outcome("retire", doc_id, collection, title, source, detail, notes)
        self._record(outcome, actor)
        return outcome

    # --- steps ----------------------------------------------------------------------------------------------------
    def _upload(self, data: bytes, filename: str, collection: str, fields: RoutineFields, actor: Actor, *,  # noqa: PLR0913
                replaces: str, cancel: threading.Event | None) -> Outcome:
        doc_id, suffix = self._name(data, filename, collection, fields, replaces)
        sidecar = fields.sidecar(replaces)
        # Converted before the lock: a slow or oversized file keeps no other owner waiting.
        title = self._validate(data, doc_id + suffix, sidecar, collection)
        budget = self.settings.ingest.upload_max_seconds
        with self._change(budget):
            stop = _stopper(time.monotonic() + budget, budget, cancel)
            if stop():
                raise self._stopped(stop() or "", cancel)
            ingestor = self._ingestor(stop)
            journal: _Journal | None = None
            try:
                stored = self._stored(ingestor)
                if replaces:
                    _check_replaceable(replaces, collection, stored)
                folder = self._folder(collection)
                doc_id = self._free_id(doc_id, stored, folder, actor)
                journal = _Journal(private_dir(self.settings.data_dir / "uploads" / STAGING))
                placed = _place(folder / (doc_id + suffix), data, sidecar, journal)
                report = ingestor.ingest_files([placed[0]], root=uploads_root(self.settings), collection=collection)
                result = next((f for f in report.files if f.path.endswith(placed[0].name)), None)
                if result is None or result.status != "ingested":
                    reason = result.reason if result else "the ingest did not take the file"
                    msg = f"The file could not be ingested: {reason}."
                    raise UnreadableFileError(msg)  # noqa: TRY301 - the placed files are removed below
                reason = stop()
                if reason:
                    raise IngestStopped(reason)  # noqa: TRY301 - the last batch ran past the budget: not published
                ingestor.close()
            except BaseException as exc:
                _abandon(ingestor)
                if journal is not None:
                    self._forget(_undo(journal.items))
                    journal.close()
                if isinstance(exc, IngestStopped):
                    raise self._stopped(str(exc), cancel) from None
                raise
            if journal is not None:
                journal.close()
        detail = {"file": placed[0].name, "chunks": result.chunks, "pages": result.pages}
        if replaces:
            detail |= {"replaces": replaces, "valid_from": (fields.valid_from or date.today()).isoformat()}
        if fields.review_date:
            detail["review_date"] = fields.review_date.isoformat()
        outcome = Outcome("replace" if replaces else "add", doc_id, collection, title, result.path, detail,
                          list(result.notes))
        self._record(outcome, actor)
        return outcome

    def _name(self, data: bytes, filename: str, collection: str, fields: RoutineFields, replaces: str
              ) -> tuple[str, str]:
        """The checks on the bytes and the name that need no store: the document id and the suffix to keep it under."""
        if not is_safe_name(collection):
            raise OwnersError(f"{collection!r} is not a collection name.")
        if len(data) > self.max_bytes:
            msg = f"The file is {_size(len(data))}: the limit is {_size(self.max_bytes)}. Split it, or ask an admin."
            raise UploadTooLargeError(msg)
        if not data:
            raise UnsupportedFileError("The file is empty (0 bytes).")
        suffix = sniff(data, filename)
        doc_id = doc_id_for(filename)
        if replaces and doc_id == replaces:
            # The same file name as the routine it replaces: the new one gets its own id, dated.
            doc_id = f"{doc_id}-{(fields.valid_from or date.today()).isoformat()}"[:64]
        skipped = not_a_routine(doc_id + suffix)
        if skipped:
            msg = (f"The file cannot be kept as {doc_id + suffix!r}: {skipped}. Name the file after the routine "
                   f"(for example hygienrutin{suffix}) and upload it again.")
            raise OwnersError(msg)
        return doc_id, suffix

    @contextlib.contextmanager
    def _change(self, budget_s: float) -> Iterator[None]:
        """Hold this process's change lock for one change; ChangeInProgressError after waiting the configured while."""
        wait = self.settings.ingest.upload_lock_wait_s
        if not self._lock.acquire(timeout=wait):
            left = math.ceil(self._busy_until - time.monotonic())
            msg = (f"Another change to the routines is in progress: nothing was changed. Try again in {max(left, 1)} "
                   "s.")
            raise ChangeInProgressError(msg, retry_after=left)
        try:
            self._busy_until = time.monotonic() + budget_s
            yield
        finally:
            self._busy_until = 0.0
            self._lock.release()

    def _ingestor(self, stop: Callable[[], str | None] | None = None) -> Ingestor:
        """An ingest holding the store; another process's ingest holding it is ChangeInProgressError."""
        try:
            return Ingestor(self.settings, stop=stop)
        except StoreBusyError:
            msg = ("Another ingest is writing the routines (`assist ingest`): nothing was changed. Try again when it "
                   "has finished.")
            raise ChangeInProgressError(msg, retry_after=60) from None

    @staticmethod
    def _stopped(reason: str, cancel: threading.Event | None) -> OwnersError:
        if cancel is not None and cancel.is_set():
            return UploadStoppedError(reason)
        return UploadTooLargeError(reason)

    def _free_id(self, doc_id: str, stored: dict[str, dict[str, Any]], folder: Path, actor: Actor) -> str:
        """`doc_id`, or DocumentExistsError when the caller can see a routine of that id. An id taken in a collection
        the caller does not manage is never named: the upload gets a free id of its own, as it would any day."""
        def taken(name: str) -> bool:
            return name in stored or any(p.stem == name and not p.name.endswith(SIDECAR) for p in folder.iterdir())

        clash = stored.get(doc_id)
        if (clash is not None and actor.sees(clash["collection"])) or (clash is None and taken(doc_id)):
            msg = (f"A routine with the id {doc_id!r} is already there: replace it from its row in the list, "
                   "or rename the file.")
            raise DocumentExistsError(msg)
        if clash is None:
            return doc_id
        for n in range(2, 1000):
            name = f"{doc_id[:58]}-{n}"
            if not taken(name):
                return name
        msg = f"No free id is left for {doc_id!r}: rename the file."
        raise DocumentExistsError(msg)

    def _discard_unpublished(self) -> None:
        """Drop the store version a dead upload was writing, so no later ingest publishes its half-written chunks."""
        root = self.settings.store_path
        if self.settings.qdrant.url or not root.is_dir():
            return
        try:
            work = versions.begin_version(root)
        except StoreBusyError:
            logger.warning("the store is busy: the version a dead upload was writing is left for its ingest")
            return
        except (versions.Damage, OSError) as exc:
            logger.warning("could not drop the version a dead upload was writing: %s", exc)
            return
        versions.discard(work)

    def _forget(self, removed: list[Path]) -> None:
        """The ingest recorded a refused file's outcome: it was never there."""
        root = uploads_root(self.settings)
        results = []
        for path in removed:
            with contextlib.suppress(ValueError):
                results.append(FileResult(path.relative_to(root.parent).as_posix(), "removed"))
        if results:
            record_status(self.settings, results)

    def _validate(self, data: bytes, name: str, sidecar: str, collection: str) -> str:
        """Convert the file where nothing reads it, in the ingest's sandboxed worker; its title, or why not."""
        staging = private_dir(self.settings.data_dir / "uploads" / STAGING) / secrets.token_hex(8)
        staging.mkdir(mode=PRIVATE_DIR)
        path = staging / name
        worker = ConversionWorker(timeout_s=self.settings.ingest.convert_timeout_s,
                                  memory_mb=self.settings.ingest.convert_memory_mb)
        try:
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE), "wb") as f:
                f.write(data)
            src = worker.convert(ConvertJob(path))
            apply_sidecar(src, parse_sidecar(sidecar.encode()))
            chunks = len(make_chunks(src, collection, name, "check"))
            if not chunks:
                raise ConversionError("no text left after cleaning (only headers or page numbers?)")  # noqa: TRY301
        except ConversionError as exc:
            raise UnreadableFileError(f"The file could not be read: {exc}.") from None
        finally:
            worker.close()
            shutil.rmtree(staging, ignore_errors=True)
        limit = self.settings.ingest.upload_max_chunks
        if chunks > limit:
            msg = (f"The file splits into {chunks} passages, more than the {limit} one upload may have "
                   "(ASSIST_INGEST__UPLOAD_MAX_CHUNKS): nothing was changed. Split it into smaller routines, or ask an "
                   "admin to add it with `assist ingest`.")
            raise UploadTooLargeError(msg)
        return src.title

    @staticmethod
    def _stored(ingestor: Ingestor) -> dict[str, dict[str, Any]]:
        """doc_id -> collection, title and sources of what the store holds now (read under the ingest lock)."""
        return ingestor.stored_documents()

    def _folder(self, collection: str) -> Path:
        folder = uploads_root(self.settings) / collection
        if folder.is_symlink():
            raise OwnersError(f"The folder of {collection!r} is a link: the service does not write through links.")
        if folder.resolve().is_relative_to(self.settings.data_dir.resolve()):
            private_dir(folder)  # uploads kept in the data dir (no knowledge folder) are as private as the rest of it
        else:
            folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _move_out(self, source: str, collection: str) -> list[tuple[Path, Path]]:
        """Move the routine's file (and its metadata) to `<data_dir>/retired/<collection>/`: (from, to) pairs;
        [] when the file is not under the folder the service writes."""
        root = uploads_root(self.settings)
        path = root.parent / source
        try:
            inside = path.resolve().is_relative_to(root.resolve()) and path.is_file() and not path.is_symlink()
        except OSError:
            inside = False
        if not source or not inside:
            return []
        target_dir = private_dir(self.settings.data_dir / "retired" / collection)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        moved = []
        for item in (path, sidecar_of(path)):
            if item.exists():
                target = target_dir / f"{stamp}-{item.name}"
                shutil.move(item, target)
                moved.append((item, target))
                tighten(target)  # a rename keeps the knowledge folder's mode
        return moved

    def _record(self, outcome: Outcome, actor: Actor) -> None:
        logger.info("owner change: %s %s/%s by %s (%s)", outcome.action, outcome.collection, outcome.doc_id,
                    actor.token_id, actor.role)
        if self.changes is not None:
            self.changes.record(Change(
                time=now(), token_id=actor.token_id, role=actor.role, action=outcome.action,  # type: ignore[arg-type]
                collection=outcome.collection, doc_id=outcome.doc_id, title=outcome.title, source=outcome.source,
                detail=outcome.detail,
            ))


class _Journal:
    """What one upload is placing in the knowledge folder, written before each step and removed once the upload is
    acknowledged; the upload holds it locked, so another process's recovery passes over a live one."""

    def __init__(self, folder: Path):
        self.path = folder / f"{JOURNAL_PREFIX}{secrets.token_hex(8)}.json"
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        self.items: list[dict[str, str]] = []

    def add(self, target: Path, tmp: Path, backup: Path | None) -> None:
        self.items.append({"target": str(target), "tmp": str(tmp), "backup": str(backup or "")})
        data = json.dumps({"pid": os.getpid(), "items": self.items}).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)
        os.fsync(self.fd)

    def close(self) -> None:
        """Forget the journal (after the upload was acknowledged, or undone); a file it replaced goes for good."""
        for item in self.items:
            if item["backup"]:
                Path(item["backup"]).unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)
        os.close(self.fd)


def _check_replaceable(doc_id: str, collection: str, stored: dict[str, dict[str, Any]]) -> None:
    """UnknownDocumentError unless `collection` holds `doc_id`; DocumentExistsError when a routine of `collection`
    already replaces it today (as retrieval applies replacements): that one is to be replaced instead."""
    old = stored.get(doc_id)
    if old is None or old["collection"] != collection:
        msg = f"No routine {doc_id!r} in {collection!r} to replace: check the inventory."
        raise UnknownDocumentError(msg)
    today = date.today().isoformat()
    newer = next((other for other, meta in sorted(stored.items())
                  if other != doc_id and meta.get("replaces") == doc_id and meta["collection"] == collection
                  and str(meta.get("valid_from") or "") <= today), "")
    if newer:
        msg = f"{doc_id!r} is already replaced by {newer!r}, which is the routine in force: replace {newer!r} instead."
        raise DocumentExistsError(msg)


def _place(path: Path, data: bytes, sidecar: str, journal: _Journal) -> list[Path]:
    """Write the file and its metadata under hidden names (no ingest reads them), then rename them into place:
    the metadata first, so an ingest that sees the file also sees its fields. Each step is journalled first."""
    placed = []
    items = [(sidecar_of(path), sidecar.encode())] if sidecar else []
    # In a private folder (uploads kept in the data dir) the file is private too; else the umask decides, as for
    # every other routine in the city's knowledge folder.
    mode = PRIVATE_FILE if not path.parent.stat().st_mode & 0o077 else 0o666
    for target, content in [*items, (path, data)]:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        # A metadata file left without its routine would be overwritten: kept aside, put back if the upload fails.
        backup = target.with_name(f".{target.name}.{secrets.token_hex(4)}.prev") if target.exists() else None
        journal.add(target, tmp, backup)
        if backup is not None:
            os.replace(target, backup)
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        placed.append(target)
    placed.reverse()  # the file first: callers ingest placed[0]
    return placed


def _undo(items: list[dict[str, str]]) -> list[Path]:
    """Take back what a journal names: placed files removed, files they replaced put back. The files removed."""
    removed = []
    for item in reversed(items):
        target, backup = Path(item["target"]), item.get("backup", "")
        Path(item.get("tmp") or target.with_name(".none")).unlink(missing_ok=True)
        if backup:
            if Path(backup).exists():  # else the original was never moved: it is still the target
                os.replace(backup, target)
            continue
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
            removed.append(target)
    return removed


def _stopper(deadline: float, budget: float, cancel: threading.Event | None) -> Callable[[], str | None]:
    """The ingest's stop check for one upload: its client gone, or its time budget spent."""
    def stop() -> str | None:
        if cancel is not None and cancel.is_set():
            return "The upload was stopped because its client went away: nothing of it was kept."
        if time.monotonic() > deadline:
            return (f"The upload took longer than its {budget:g} s budget (ASSIST_INGEST__UPLOAD_MAX_SECONDS) and was "
                    "stopped: nothing of it was kept. Split it into smaller routines, or ask an admin to add it with "
                    "`assist ingest`.")
        return None
    return stop


def _relative(path: Path, base: Path) -> str:
    """`path` as owners may see it: under the data dir, never the server's absolute path."""
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.name


def _abandon(ingestor: Ingestor) -> None:
    """Drop what the ingest wrote (the unpublished version) and release the store: nothing is published."""
    store = ingestor.store
    if isinstance(store, EdgeDocumentStore):
        with contextlib.suppress(Exception):
            store.discard()
    with contextlib.suppress(Exception):
        ingestor.close()


__all__ = ["Actor", "Outcome", "RoutineDesk", "RoutineFields", "doc_id_for", "sniff", "uploads_root"]
