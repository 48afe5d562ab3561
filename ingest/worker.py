"""Converts one file at a time in a child process, stopped when it runs past a time limit or a memory limit.

A hostile or broken file (a 135 KB .docx with a million empty paragraphs, a PDF with a pathological object graph)
can make a converter run for hours or grow to gigabytes. The child carries an address-space limit (RLIMIT_AS) set
after the converters are imported, so the limit is what one file may add on top of them; the parent waits at most
the time limit for each answer and kills the child past it. Either breach fails that file alone: a new child is
started for the next file, and the rest of the folder still ingests.
"""

import json
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ingest.convert import ConversionError, SourceDocument, convert

logger = logging.getLogger(__name__)

#: Imported by the child before it takes work, so neither their import time nor their size counts against a file.
PRELOAD = ("docx", "pypdf", "trafilatura", "frontmatter", "charset_normalizer", "lxml.etree")
START_TIMEOUT_S = 120.0
_MB = 1024 * 1024


@dataclass(frozen=True)
class ConvertJob:
    """One file to convert, with the (st_dev, st_ino) the folder walk saw."""

    path: Path
    ident: tuple[int, int] | None = None


class ConversionWorker:
    """A child process that converts files, one at a time, under a wall-clock and a memory limit.

    Usage:
        worker = ConversionWorker(timeout_s=120, memory_mb=1536)
        src = worker.convert(ConvertJob(Path("kb/general/a.docx")))  # raises ConversionError on any failure
        worker.close()
    """

    def __init__(self, *, timeout_s: float, memory_mb: int):
        if timeout_s <= 0 or memory_mb <= 0:
            msg = f"timeout_s and memory_mb must be positive, got {timeout_s} and {memory_mb}"
            raise ValueError(msg)
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._proc: Any = None
        self._conn: Connection | None = None
        self._busy = False  # a job is in flight: closing then kills rather than waits

    def convert(self, job: ConvertJob) -> SourceDocument:
        """The converted file; `ConversionError` says why not (including a breached limit)."""
        conn = self._start()
        try:
            conn.send(job)
        except OSError:  # the child went away since the last file: start another once
            self._stop(kill=True)
            conn = self._start()
            conn.send(job)
        self._busy = True
        if not conn.poll(self.timeout_s):
            self._stop(kill=True)
            msg = (f"took longer than {self.timeout_s:g} s to convert: split the file, or raise "
                   "ASSIST_INGEST__CONVERT_TIMEOUT_S")
            raise ConversionError(msg)
        try:
            kind, value = conn.recv()
        except (EOFError, OSError):
            code = self._stop(kill=True)
            raise ConversionError(self._died(code)) from None
        self._busy = False
        if kind == "ok":
            return value  # type: ignore[no-any-return]
        if kind == "memory":
            self._stop(kill=True)  # a heap that ran out once is not trusted with the next file
            msg = (f"needed more than {self.memory_mb} MB to convert: split the file, or raise "
                   "ASSIST_INGEST__CONVERT_MEMORY_MB")
            raise ConversionError(msg)
        raise ConversionError(str(value))

    def close(self) -> None:
        """Stop the child (it is started again on the next `convert`)."""
        self._stop(kill=False)

    # --- the child's lifecycle ----------------------------------------------------------------------------------------
    def _start(self) -> Connection:
        if self._proc is not None and self._proc.poll() is None and self._conn is not None:
            return self._conn
        self._stop(kill=True)
        # A fresh interpreter, not a fork: the parent holds the embedder's threads, and a forked copy of them can
        # deadlock. Not multiprocessing's spawn either, which re-runs the caller's main script in the child.
        ours, theirs = socket.socketpair()
        code = ("import json, sys; sys.path[:0] = json.loads(sys.argv[1]); from ingest.worker import serve; "
                "serve(int(sys.argv[2]), int(sys.argv[3]))")
        try:
            proc = subprocess.Popen(  # noqa: S603 - this interpreter, this module
                [sys.executable, "-c", code, json.dumps(sys.path), str(theirs.fileno()), str(self.memory_mb)],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, close_fds=True,
            )
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        self._proc, self._conn = proc, conn
        if not conn.poll(START_TIMEOUT_S):
            self._stop(kill=True)
            msg = f"the conversion process did not start within {START_TIMEOUT_S:g} s: check the machine's load"
            raise ConversionError(msg)
        try:
            conn.recv()
        except (EOFError, OSError):
            code_ = self._stop(kill=True)
            msg = f"the conversion process could not start (exit code {code_}): check the installation"
            raise ConversionError(msg) from None
        return conn

    def _stop(self, *, kill: bool) -> int | None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        kill = kill or self._busy
        self._busy = False
        if conn is not None:
            if not kill:
                try:
                    conn.send(None)
                except OSError:
                    kill = True
            conn.close()
        if proc is None:
            return None
        if kill:
            proc.kill()
        try:
            return proc.wait(timeout=10)  # type: ignore[no-any-return]
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()  # type: ignore[no-any-return]

    def _died(self, code: int | None) -> str:
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            return (f"the conversion process died ({name}): the file may need more than {self.memory_mb} MB, "
                    "or is corrupt")
        return f"the conversion process exited (code {code}) while converting: the file may be corrupt"


def serve(fd: int, memory_mb: int) -> None:
    """The child: import the converters, cap the address space, then convert until told to stop."""
    import importlib  # noqa: PLC0415

    conn = Connection(fd)
    logging.getLogger().addHandler(logging.NullHandler())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops the child
    _die_with_parent()
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            logger.debug("converter module %s not installed", name)
    _limit_memory(memory_mb)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        reply = _convert(job)
        try:
            conn.send(reply)  # pickles first, so a result too big to pickle under the cap breaches it cleanly
        except MemoryError:
            del reply
            conn.send(("memory", None))


def _convert(job: ConvertJob) -> tuple[str, Any]:
    try:
        return "ok", convert(job.path, ident=job.ident)
    except MemoryError:
        return "memory", None
    except ConversionError as exc:
        return ("memory", None) if _out_of_memory(exc) else ("failed", str(exc))
    except OSError as exc:
        return "failed", f"cannot read file ({exc.strerror}): check its permissions"
    except RecursionError:
        return "failed", "file structure nested too deeply to read (corrupt?)"
    except Exception as exc:  # noqa: BLE001 - a converter bug fails one file, never the folder
        return "failed", f"could not convert ({type(exc).__name__}: {str(exc)[:80]})"


def _out_of_memory(exc: BaseException) -> bool:
    """A converter wrapped a failed allocation (MemoryError, or lxml's 'Memory allocation failed')."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MemoryError) or "memory allocation failed" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _die_with_parent() -> None:
    """Linux: SIGKILL this child when the parent dies (a killed ingest must not leave a conversion running)."""
    try:
        import ctypes  # noqa: PLC0415

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        logger.debug("no parent-death signal on this platform")


def _limit_memory(memory_mb: int) -> None:
    """Cap the address space at what the child uses now plus `memory_mb` (Linux; elsewhere no cap is set)."""
    try:
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + memory_mb * _MB
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
