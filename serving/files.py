"""Files the service writes under the data dir: readable by the service's own user only."""

import contextlib
import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_file(path: Path) -> Path:
    """Create `path` (and its folder) readable and writable by this user only; tighten it when it exists.

    The audit log and the SQLite file hold token hashes, roles and feedback reasons: nothing another local user
    needs. SQLite creates its -wal and -shm files with the database file's mode, so creating that file first is
    enough for them too.
    """
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=PRIVATE_DIR, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, PRIVATE_FILE)
    os.close(fd)
    # A file made by an older version (0644), or its SQLite side files, is tightened as well.
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if p.stat().st_mode & 0o777 != PRIVATE_FILE:
                p.chmod(PRIVATE_FILE)
    return path
