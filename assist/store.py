"""Versions of the embedded store on disk: ingest builds a new version beside the live one and publishes it with
one atomic rename; readers notice, switch over, and old versions are removed once no process holds them.

Layout of a store folder (`--store`, ASSIST_QDRANT__PATH):

    CURRENT              the published version's name (written to a temporary file, then renamed into place)
    versions/<name>/     one Qdrant Edge shard each, with assist_manifest.json (its files' digests, point count)
    ingest.lock          held (flock) by the one ingest that may write; it holds that ingest's pid
    ingest_status.json   the outcome of each file's last ingest (status, failure reason, when), for the inventory
    assist_store.json    which embedding model built the store

Why versions: Qdrant Edge lets one process at a time open a shard folder (its WAL is locked), so a service reading
a shard and an ingest writing it cannot share one folder. A folder that holds a shard directly (edge_config.json,
the layout before versions) is read in place as the "legacy" version; the first ingest copies it into versions/
and removes the old files once nobody reads them.

Leases: every process with a version open holds a shared flock on the version's `.lease` file; the cleaner
removes a version only when it can take that lock exclusively.

Modes: every folder of a store is 0700 and every file 0600 (PRIVATE_DIR, PRIVATE_FILE), whatever the umask: a
collection may be restricted to one role, and another local user must not read it from disk. Qdrant Edge creates its
own files with the umask's mode; they sit in 0700 folders, and `publish` tightens them before the version is named.
"""

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assist.errors import StoreBusyError

logger = logging.getLogger(__name__)

CURRENT_FILE = "CURRENT"
VERSIONS_DIR = "versions"
INGEST_LOCK_FILE = "ingest.lock"
LEASE_FILE = ".lease"
MANIFEST_FILE = "assist_manifest.json"
WORK_FILE = "assist_work.json"  # marks a version being written (not yet published)
INFO_FILE = "assist_store.json"
INGEST_STATUS_FILE = "ingest_status.json"  # each file's last ingest outcome (ingest.pipeline.record_status)
LEGACY = "legacy"
#: Names in a store folder that are not part of a shard; everything else in a legacy folder is the shard.
RESERVED = {CURRENT_FILE, CURRENT_FILE + ".tmp", VERSIONS_DIR, INGEST_LOCK_FILE, LEASE_FILE, INFO_FILE,
            INGEST_STATUS_FILE}
#: Files of our own inside a version folder, left out of its manifest.
OWN_FILES = {LEASE_FILE, MANIFEST_FILE, WORK_FILE, INFO_FILE}
PAGE = 4096
#: Bumped whenever file_digest changes: digests of another format are not compared (sizes still are).
MANIFEST_FORMAT = 1
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600

RECOVERY = (
    "rebuild it with `assist ingest knowledge --rebuild` (a running service switches to the new version once it "
    "is published), or re-ingest into a fresh folder (`--store NEW_FOLDER`), or restore a Qdrant snapshot"
)


class Damage(Exception):  # noqa: N818 - a finding, turned into StoreDamagedError by the store that reads it
    """What is wrong with a version, in words without paths."""


# --- private files ------------------------------------------------------------------------------------------------
def tighten(path: Path) -> None:
    """Take group's and others' access away from `path` (a file or folder an older version made readable).

    Silently left as it is when this user does not own it: the operator chose that folder's mode.
    """
    with contextlib.suppress(OSError):
        mode = os.lstat(path).st_mode
        if mode & 0o077 and not stat.S_ISLNK(mode):
            os.chmod(path, stat.S_IMODE(mode) & ~0o077)


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parent as folders only this user can enter; tighten `path` if it exists."""
    missing = []
    at = path
    while not at.exists() and at != at.parent:
        missing.append(at)
        at = at.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=PRIVATE_DIR)
    tighten(path)
    return path


def private_file(path: Path) -> Path:
    """Create `path` (empty, in a private folder) readable and writable by this user only; tighten it if it exists.

    SQLite creates its -wal and -shm files with the database file's mode: creating that file first covers them.
    """
    private_dir(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, PRIVATE_FILE))
    tighten(path)
    return path


def private_tree(folder: Path) -> None:
    """Tighten `folder` and everything below it (files Qdrant Edge or a copy made with the umask's mode)."""
    tighten(folder)
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            tighten(Path(dirpath) / name)


# --- where things are -------------------------------------------------------------------------------------------------
def is_shard(folder: Path) -> bool:
    """True when `folder` holds a Qdrant Edge shard (an unpacked server snapshot may lack edge_config.json)."""
    return (folder / "edge_config.json").exists() or (folder / "segments").is_dir()


def pointer_stamp(root: Path) -> tuple[int, int, int] | None:
    """Identity of the CURRENT file as it is now (inode, mtime, size): a rename into place changes it."""
    try:
        st = os.stat(root / CURRENT_FILE)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def current_version(root: Path) -> tuple[str, Path] | None:
    """(name, folder) of the published version, the legacy shard in `root` itself, or None when there is none."""
    try:
        name = (root / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return (LEGACY, root) if is_shard(root) else None
    if not name or "/" in name or name.startswith("."):
        msg = f"its {CURRENT_FILE} file names no version ({name[:40]!r})"
        raise Damage(msg)
    return name, root / VERSIONS_DIR / name


# --- locks ----------------------------------------------------------------------------------------------------
class Lease:
    """A flock on a version's `.lease` file: shared while a process has the version open, exclusive to delete it."""

    def __init__(self, folder: Path, *, exclusive: bool = False):
        self.folder = folder
        self.fd: int | None = None
        path = folder / LEASE_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            # The cleaner may have deleted the folder between our open and our lock: then this lease is on nothing.
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                raise FileNotFoundError(errno.ENOENT, "version removed", str(folder))  # noqa: TRY301
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class IngestLock:
    """The one-writer lock of a store folder; a second ingest gets StoreBusyError naming the running one's pid."""

    def __init__(self, root: Path):
        private_dir(root)
        fd = os.open(root / INGEST_LOCK_FILE, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        tighten(root / INGEST_LOCK_FILE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            msg = f"The store is busy: another ingest is running (pid {holder}); wait for it to finish and run again."
            raise StoreBusyError(msg) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd: int | None = fd

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None


# --- copying and digests --------------------------------------------------------------------------------------
def _data_extents(fd: int, size: int) -> list[tuple[int, int]]:
    """(start, end) of the parts of a file that hold data; a shard preallocates large sparse files."""
    out = []
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole is left
                break
            return [(0, size)]  # no SEEK_DATA here: treat it all as data
        end = os.lseek(fd, start, os.SEEK_HOLE)
        out.append((start, end))
        offset = end
    return out


def copy_sparse(src: Path, dst: Path) -> None:
    """Copy a file keeping its holes (a plain copy would write the shard's preallocated gigabytes of zeros)."""
    out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with open(src, "rb") as fin, open(out, "wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        for start, end in _data_extents(fin.fileno(), size):
            fout.seek(start)
            fin.seek(start)
            left = end - start
            while left:
                chunk = fin.read(min(left, 1 << 20))
                if not chunk:
                    break
                fout.write(chunk)
                left -= len(chunk)
        fout.truncate(size)


def copy_shard(src: Path, dst: Path) -> list[str]:
    """Copy a shard's files from `src` into `dst` (our own files left out); returns the top-level names copied.

    The copy is private (0700 folders, 0600 files) whatever the modes of `src`.
    """
    private_dir(dst)
    names = []
    for entry in sorted(src.iterdir()):
        if entry.name in RESERVED or entry.name in OWN_FILES:
            continue
        names.append(entry.name)
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, dst / entry.name, copy_function=lambda s, d: copy_sparse(Path(s), Path(d)))
        elif entry.is_file():
            copy_sparse(entry, dst / entry.name)
    private_tree(dst)  # copytree gives folders the source's modes
    return names


def file_digest(path: Path) -> str:
    """sha256 over the file's runs of non-zero pages (each with its offset), plus its size.

    Independent of how the file system lays out holes (a copy or a restore may allocate zero pages that the
    original left as holes), and it reads only the parts that hold data.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        h.update(size.to_bytes(8, "little"))
        run_end = -1  # end offset of the run of non-zero pages being hashed
        for start, end in _data_extents(f.fileno(), size):
            offset = start - start % PAGE
            f.seek(offset)
            while offset < end:
                block = f.read(min(1 << 22, end - offset + (-(end - offset)) % PAGE))
                if not block:
                    break
                padded = block + bytes(-len(block) % PAGE)
                nonzero = np.frombuffer(padded, dtype=np.uint64).reshape(-1, PAGE // 8).any(axis=1)
                for first, last in _runs(nonzero):
                    at = offset + first * PAGE
                    if at != run_end:
                        h.update(b"R" + at.to_bytes(8, "little"))
                    h.update(padded[first * PAGE : last * PAGE])
                    run_end = offset + last * PAGE
                offset += len(block)
    return h.hexdigest()


def _runs(flags: Any) -> list[tuple[int, int]]:
    """(first, last+1) of each run of true values."""
    padded = np.concatenate(([False], flags, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def shard_files(folder: Path) -> list[str]:
    """Relative paths of every file of the shard in `folder`."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        rel = os.path.relpath(dirpath, folder)
        if rel == ".":
            dirnames[:] = [d for d in dirnames if d not in RESERVED]
        for name in filenames:
            if rel == "." and (name in OWN_FILES or name in RESERVED):
                continue
            out.append(name if rel == "." else f"{rel}/{name}")
    return sorted(out)


def write_manifest(folder: Path, points: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record the digest of every shard file and the point count, for the integrity check."""
    files = {rel: {"size": (folder / rel).stat().st_size, "sha256": file_digest(folder / rel)}
             for rel in shard_files(folder)}
    manifest = {"format": MANIFEST_FORMAT, "points": points, "created": time.time(), "files": files, **(extra or {})}
    _write_atomic(folder / MANIFEST_FILE, json.dumps(manifest, indent=1))
    return manifest


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The version's manifest, or None for a store written before manifests existed."""
    try:
        data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        msg = f"its manifest cannot be read ({exc.__class__.__name__})"
        raise Damage(msg) from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        msg = "its manifest is malformed"
        raise Damage(msg)
    return data


def check_files(folder: Path, manifest: dict[str, Any], *, full: bool) -> str | None:
    """None when the shard's files match the manifest, else what is wrong (path-free, for any audience).

    Without `full` only presence and sizes are compared (a stat per file); with it every file's digest too.
    """
    missing, resized, changed = [], [], []
    full = full and manifest.get("format") == MANIFEST_FORMAT
    for rel, rec in manifest["files"].items():
        path = folder / rel
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            missing.append(rel)
            continue
        if size != rec.get("size"):
            resized.append(rel)
        elif full and file_digest(path) != rec.get("sha256"):
            changed.append(rel)
    if missing:
        return f"{len(missing)} of its files are missing ({describe(missing)})"
    if resized:
        return f"{len(resized)} of its files changed size ({describe(resized)})"
    if changed:
        return f"{len(changed)} of its files do not match their checksum ({describe(changed)})"
    return None


def describe(rels: list[str]) -> str:
    """What kind of shard files these are, in words (no paths)."""
    kinds = []
    for rel in rels:
        if rel.startswith("wal/"):
            kind = "write-ahead log"
        elif "vector_storage" in rel:
            kind = "vectors"
        elif "payload_index" in rel:
            kind = "payload index"
        elif "payload_storage" in rel:
            kind = "payloads"
        elif rel == "edge_config.json":
            kind = "shard configuration"
        else:
            kind = "segment data"
        if kind not in kinds:
            kinds.append(kind)
    return ", ".join(kinds)


def stat_table(folder: Path, rels: list[str]) -> dict[str, tuple[int, int] | None]:
    """(size, mtime) of each file: compared later to notice a file changed under a running reader."""
    out: dict[str, tuple[int, int] | None] = {}
    for rel in rels:
        try:
            st = (folder / rel).stat()
            out[rel] = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            out[rel] = None
    return out


# --- writing a version ------------------------------------------------------------------------------------------------
@dataclass
class WorkingVersion:
    """A version being written by the process that holds the ingest lock."""

    root: Path
    name: str
    folder: Path
    base: str | None
    lock: IngestLock
    lease: Lease
    resumed: bool = False  # taken up from a killed ingest: it holds writes not yet published


def _new_name() -> str:
    return time.strftime("v%Y%m%d-%H%M%S", time.gmtime()) + f"-{time.time_ns() % 1_000_000_000:09d}-{os.getpid()}"


def begin_version(root: Path, *, fresh: bool = False) -> WorkingVersion:
    """Take the ingest lock and prepare a version to write: a copy of the published one, or an empty folder when
    there is none or `fresh` is asked for (a rebuild).

    A version left unpublished by a killed ingest, based on the version still published, is taken up again, so a
    long ingest interrupted part-way resumes rather than starts over.
    """
    lock = IngestLock(root)
    try:
        current = current_version(root)
        base = current[0] if current else None
        if fresh:
            current, base = None, f"fresh:{base}"
        elif current is not None:
            # Never build on a damaged version: the copy would carry the damage into the next one.
            manifest = read_manifest(current[1])
            problem = check_files(current[1], manifest, full=True) if manifest else None
            if problem:
                msg = f"{problem} (in the published version)"
                raise Damage(msg)  # noqa: TRY301
        versions = private_dir(root / VERSIONS_DIR)
        adopted = _adopt(versions, base)
        if adopted is not None:
            folder, lease = adopted
            logger.info("Resuming the unpublished store version %s", folder.name)
        else:
            folder = versions / _new_name()
            folder.mkdir(mode=PRIVATE_DIR)
            lease = Lease(folder)  # before copying, so no cleaner takes the half-made folder for an orphan
            try:
                copied = copy_shard(current[1], folder) if current is not None else []
                _write_atomic(folder / WORK_FILE, json.dumps({"base": base, "pid": os.getpid(), "copied": copied}))
            except BaseException:
                lease.release()
                shutil.rmtree(folder, ignore_errors=True)
                raise
    except BaseException:
        lock.release()
        raise
    return WorkingVersion(
        root=root, name=folder.name, folder=folder, base=base, lock=lock, lease=lease, resumed=adopted is not None
    )


def _adopt(versions: Path, base: str | None) -> tuple[Path, Lease] | None:
    """An unpublished version a killed ingest left, written on top of `base`, with its lease taken."""
    for folder in sorted(versions.iterdir(), reverse=True):
        try:
            work = json.loads((folder / WORK_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if work.get("base") != base or not is_shard(folder):
            continue
        try:
            lease = Lease(folder)
        except (BlockingIOError, FileNotFoundError):
            continue
        if (folder / WORK_FILE).exists():
            return folder, lease
        lease.release()
    return None


def publish(work: WorkingVersion, points: int, extra: dict[str, Any] | None = None) -> None:
    """Make the written (and closed) version the published one: manifest, then CURRENT renamed into place."""
    private_tree(work.folder)  # Qdrant Edge's own files were made with the umask's mode
    write_manifest(work.folder, points, extra)
    (work.folder / WORK_FILE).unlink(missing_ok=True)
    _write_atomic(work.root / CURRENT_FILE, work.name + "\n")
    logger.info("Published store version %s (%d points)", work.name, points)


def finish(work: WorkingVersion) -> None:
    """Release the working version and the ingest lock, then remove versions nobody uses."""
    work.lease.release()
    try:
        cleanup(work.root)
    finally:
        work.lock.release()


def discard(work: WorkingVersion) -> None:
    """Drop an unpublished version (nothing was written to it)."""
    work.lease.release()
    shutil.rmtree(work.folder, ignore_errors=True)
    work.lock.release()


def cleanup(root: Path) -> list[str]:
    """Remove every version that is neither published nor open in some process; returns the names removed."""
    try:
        current = current_version(root)
    except Damage:
        return []
    if current is None or current[0] == LEGACY:
        return []
    removed = []
    versions = root / VERSIONS_DIR
    for folder in sorted(versions.iterdir()) if versions.exists() else []:
        if folder.name == current[0] or not folder.is_dir():
            continue
        if _remove_if_unused(folder, shutil.rmtree):
            removed.append(folder.name)
    # The legacy shard, superseded by the first published version: its files go once nobody reads them.
    if is_shard(root) and _remove_if_unused(root, _remove_legacy_files):
        removed.append(LEGACY)
    return removed


def _remove_if_unused(folder: Path, remove: Any) -> bool:
    try:
        lease = Lease(folder, exclusive=True)
    except (BlockingIOError, FileNotFoundError):
        return False
    try:
        remove(folder)
    except OSError as exc:
        logger.warning("Could not remove the old store version %s: %s", folder.name, exc.strerror)
        return False
    finally:
        lease.release()
    return True


def _remove_legacy_files(root: Path) -> None:
    for entry in root.iterdir():
        if entry.name in RESERVED:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    (root / LEASE_FILE).unlink(missing_ok=True)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # left by a killed run, perhaps with an older version's mode: O_CREAT keeps a file's mode
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
