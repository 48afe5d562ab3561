"""Adding, replacing and retiring routines: the file is checked by its bytes, converted in the ingest's sandboxed
worker before it goes anywhere, then placed in the knowledge folder and ingested by the same pipeline as
`assist ingest`. The store is written as a new version and published at once, or not at all.

Where files go: `<knowledge_dir>/<collection>/` when the knowledge folder exists (the folder `assist ingest` reads,
so a later ingest of the whole folder finds the same routines), else `<data_dir>/uploads/<collection>/`; both lie
outside the web root. The form's fields (title, valid from, review date, what it replaces) are kept beside the file
in `<file>.meta.toml`, which ingest reads for every format. A retired routine's file moves to
`<data_dir>/retired/<collection>/`, so no later ingest brings it back.
"""

import contextlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assist.components.edge_store import EdgeDocumentStore
from assist.roles import is_safe_name
from assist.settings import Settings
from assist.store import PRIVATE_DIR, PRIVATE_FILE, private_dir, tighten
from ingest.convert import SIDECAR, ConversionError, apply_sidecar, decode_text, parse_sidecar, sidecar_of
from ingest.pipeline import FileResult, Ingestor, make_chunks, record_status
from ingest.worker import ConversionWorker, ConvertJob
from owners.changes import Change, ChangeLog, now
from owners.errors import (
    DocumentExistsError,
    OwnersError,
    UnknownDocumentError,
    UnreadableFileError,
    UnsupportedFileError,
    UploadTooLargeError,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_MB = 20.0
#: A DOCX is a ZIP: its parts together may not unpack to more than this (a ZIP bomb is refused before conversion).
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
STAGING = ".staging"

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
    if b"\x00" in data[:8192]:
        msg = "The file is binary data of an unknown kind: upload a PDF, a Word document (.docx), Markdown or text."
        raise UnsupportedFileError(msg)
    try:
        text, _ = decode_text(data[: 1 << 16])
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
    """Who makes a change: a token's id and role (never the token itself)."""

    token_id: str
    role: str


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

    # --- public ---------------------------------------------------------------------------------------------------
    def add(self, data: bytes, filename: str, collection: str, fields: RoutineFields, actor: Actor) -> Outcome:
        """A new routine in `collection`; DocumentExistsError when its id is taken (replace that one instead)."""
        return self._upload(data, filename, collection, fields, actor, replaces="")

    def replace(self, old_doc_id: str, data: bytes, filename: str, collection: str, fields: RoutineFields,
                actor: Actor) -> Outcome:
        """A new routine that replaces `old_doc_id` from its valid_from day (today when blank); the old one stays
        stored, and answered from until that day."""
        if fields.valid_from is None:
            fields = fields.model_copy(update={"valid_from": date.today()})
        return self._upload(data, filename, collection, fields, actor, replaces=old_doc_id)

    def retire(self, doc_id: str, collection: str, actor: Actor, reason: str = "") -> Outcome:
        """Remove a routine from the store (and so from answers); its file moves out of the knowledge folder."""
        with self._lock:
            ingestor = Ingestor(self.settings)
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
            detail["kept_at"] = str(moved[0][1])
        else:
            notes.append("Its file is not in the knowledge folder the service reads: delete it where it is kept, or "
                         "the next `assist ingest` of that folder brings it back.")
        outcome = Outcome("retire", doc_id, collection, title, source, detail, notes)
        self._record(outcome, actor)
        return outcome

    # --- steps ----------------------------------------------------------------------------------------------------
    def _upload(self, data: bytes, filename: str, collection: str, fields: RoutineFields, actor: Actor, *,
                replaces: str) -> Outcome:
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
        sidecar = fields.sidecar(replaces)
        with self._lock:
            title = self._validate(data, doc_id + suffix, sidecar, collection)
            ingestor = Ingestor(self.settings)
            placed: list[Path] = []
            try:
                stored = self._stored(ingestor)
                if replaces:
                    old = stored.get(replaces)
                    if old is None or old["collection"] != collection:
                        msg = f"No routine {replaces!r} in {collection!r} to replace: check the inventory."
                        raise UnknownDocumentError(msg)  # noqa: TRY301 - the store is released below
                folder = self._folder(collection)
                taken = doc_id in stored or any(p.stem == doc_id and not p.name.endswith(SIDECAR)
                                                for p in folder.iterdir())
                if taken:
                    msg = (f"A routine with the id {doc_id!r} is already there: replace it from its row in the list, "
                           "or rename the file.")
                    raise DocumentExistsError(msg)  # noqa: TRY301 - the store is released below
                placed = _place(folder / (doc_id + suffix), data, sidecar)
                report = ingestor.ingest_files([placed[0]], root=uploads_root(self.settings), collection=collection)
                result = next((f for f in report.files if f.path.endswith(placed[0].name)), None)
                if result is None or result.status != "ingested":
                    reason = result.reason if result else "the ingest did not take the file"
                    msg = f"The file could not be ingested: {reason}."
                    raise UnreadableFileError(msg)  # noqa: TRY301 - the placed files are removed below
                ingestor.close()
            except BaseException:
                _abandon(ingestor)
                self._unplace(placed)
                raise
        detail = {"file": placed[0].name, "chunks": result.chunks, "pages": result.pages}
        if replaces:
            detail |= {"replaces": replaces, "valid_from": (fields.valid_from or date.today()).isoformat()}
        if fields.review_date:
            detail["review_date"] = fields.review_date.isoformat()
        outcome = Outcome("replace" if replaces else "add", doc_id, collection, title, result.path, detail,
                          list(result.notes))
        self._record(outcome, actor)
        return outcome

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
            if not make_chunks(src, collection, name, "check"):
                raise ConversionError("no text left after cleaning (only headers or page numbers?)")  # noqa: TRY301
        except ConversionError as exc:
            raise UnreadableFileError(f"The file could not be read: {exc}.") from None
        finally:
            worker.close()
            shutil.rmtree(staging, ignore_errors=True)
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

    def _unplace(self, placed: list[Path]) -> None:
        for path in placed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if placed:
            # The ingest recorded the refused file's outcome: it was never there.
            root = uploads_root(self.settings)
            source = placed[0].relative_to(root.parent).as_posix()
            record_status(self.settings, [FileResult(source, "removed")])

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


def _place(path: Path, data: bytes, sidecar: str) -> list[Path]:
    """Write the file and its metadata under hidden names (no ingest reads them), then rename them into place:
    the metadata first, so an ingest that sees the file also sees its fields."""
    placed = []
    items = [(sidecar_of(path), sidecar.encode())] if sidecar else []
    # In a private folder (uploads kept in the data dir) the file is private too; else the umask decides, as for
    # every other routine in the city's knowledge folder.
    mode = PRIVATE_FILE if not path.parent.stat().st_mode & 0o077 else 0o666
    for target, content in [*items, (path, data)]:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        placed.append(target)
    placed.reverse()  # the file first: callers ingest placed[0]
    return placed


def _abandon(ingestor: Ingestor) -> None:
    """Drop what the ingest wrote (the unpublished version) and release the store: nothing is published."""
    store = ingestor.store
    if isinstance(store, EdgeDocumentStore):
        with contextlib.suppress(Exception):
            store.discard()
    with contextlib.suppress(Exception):
        ingestor.close()


__all__ = ["Actor", "Outcome", "RoutineDesk", "RoutineFields", "doc_id_for", "sniff", "uploads_root"]
