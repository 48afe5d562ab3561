"""Bearer tokens mapped to roles, kept in SQLite as SHA-256 hashes: the token itself is shown once, never stored."""

import hashlib
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from assist.roles import Roles, configured_roles
from serving.files import private_file

TOKEN_PREFIX = "fa_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    created TEXT NOT NULL,
    revoked TEXT
)
"""


@dataclass(frozen=True)
class TokenInfo:
    """Who a valid token belongs to: its id (safe to log) and its role."""

    token_id: str
    role: str
    created: str = ""
    revoked: str | None = None


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the service's SQLite file, shared by threads behind the caller's lock."""
    private_file(path)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class TokenStore:
    """Creates, verifies and revokes tokens.

    Usage:
        store = TokenStore(Path("data/serving.sqlite"))
        token_id, token = store.create("home-care")   # show `token` once
        store.verify(token)                           # TokenInfo(token_id=..., role="home-care")
    """

    def __init__(self, path: Path, roles: Roles | None = None):
        self.path = path
        #: The roles a token may be made for; default the configured roles file.
        self.roles = roles
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path)
            self._conn.execute(_SCHEMA)
        return self._conn

    def create(self, role: str) -> tuple[str, str]:
        """A new token for `role`: (token id, token). Raises UnknownRoleError for an unknown role."""
        (self.roles or configured_roles()).role(role)
        token_id = f"t_{secrets.token_hex(4)}"
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            self.conn.execute(
                "INSERT INTO tokens (token_id, sha256, role, created) VALUES (?, ?, ?, ?)",
                (token_id, hash_token(token), role, created),
            )
        return token_id, token

    def verify(self, token: str) -> TokenInfo | None:
        """The token's owner, or None when it is unknown or revoked."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        with self._lock:
            row = self.conn.execute(
                "SELECT token_id, role, created FROM tokens WHERE sha256 = ? AND revoked IS NULL", (hash_token(token),)
            ).fetchone()
        return TokenInfo(token_id=row[0], role=row[1], created=row[2]) if row else None

    def revoke(self, token_id: str) -> bool:
        """Revoke a token by id; False when there is no such active token."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            cur = self.conn.execute(
                "UPDATE tokens SET revoked = ? WHERE token_id = ? AND revoked IS NULL", (now, token_id)
            )
        return cur.rowcount > 0

    def list(self) -> list[TokenInfo]:
        """Every token, revoked ones too (ids and roles only)."""
        with self._lock:
            rows = self.conn.execute("SELECT token_id, role, created, revoked FROM tokens ORDER BY created").fetchall()
        return [TokenInfo(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
