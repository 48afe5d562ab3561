"""Bearer tokens mapped to roles, kept as SHA-256 hashes in the service's database: the token is shown once only."""

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, update

from assist.roles import Roles, configured_roles
from serving.state import Database
from serving.state.models import Token

TOKEN_PREFIX = "fa_"
#: Token lookups kept at most (each about 200 bytes).
CACHE_ENTRIES = 10_000


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


def as_database(where: Path | Database) -> Database:
    """A SQLite file's path as a Database; a Database as it is."""
    return where if isinstance(where, Database) else Database.sqlite(where)


class TokenStore:
    """Creates, verifies and revokes tokens.

    Usage:
        store = TokenStore(database_for(settings))    # or a SQLite file: TokenStore(Path("data/serving.sqlite"))
        token_id, token = store.create("home-care")   # show `token` once
        store.verify(token)                           # TokenInfo(token_id=..., role="home-care")
    """

    def __init__(self, where: Path | Database, roles: Roles | None = None, *, cache_s: float = 0.0):
        self.db = as_database(where)
        #: The roles a token may be made for; default the configured roles file.
        self.roles = roles
        #: Seconds a lookup is reused (0: none). A revocation here takes effect at once; one made elsewhere (the
        #: CLI, another replica) within `cache_s`.
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, TokenInfo | None]] = {}
        self._cache_lock = threading.Lock()

    def cached(self, token: str) -> tuple[bool, TokenInfo | None]:
        """(True, the owner or None) when a lookup of `token` younger than `cache_s` is kept; (False, None) if not."""
        if self.cache_s <= 0:
            return False, None
        key = hash_token(token)
        with self._cache_lock:
            hit = self._cache.get(key)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def create(self, role: str) -> tuple[str, str]:
        """A new token for `role`: (token id, token). Raises UnknownRoleError for an unknown role."""
        (self.roles or configured_roles()).role(role)
        token_id = f"t_{secrets.token_hex(4)}"
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        # Microseconds, so that tokens made in the same second keep their order (a server keeps no insertion order).
        created = datetime.now(UTC).isoformat(timespec="microseconds")
        with self.db.begin() as conn:
            conn.execute(insert(Token).values(token_id=token_id, sha256=hash_token(token), role=role, created=created))
        return token_id, token

    def verify(self, token: str) -> TokenInfo | None:
        """The token's owner, or None when it is unknown or revoked."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        query = select(Token.token_id, Token.role, Token.created).where(
            Token.sha256 == hash_token(token), Token.revoked.is_(None)
        )
        with self.db.begin() as conn:
            row = conn.execute(query).first()
        info = TokenInfo(token_id=row[0], role=row[1], created=row[2]) if row else None
        if self.cache_s > 0:
            now = time.monotonic()
            with self._cache_lock:
                if len(self._cache) >= CACHE_ENTRIES:  # unknown tokens by the thousand: drop what has expired
                    self._cache = {k: v for k, v in self._cache.items() if v[0] >= now}
                    if len(self._cache) >= CACHE_ENTRIES:
                        self._cache.clear()
                self._cache[hash_token(token)] = (now + self.cache_s, info)
        return info

    def revoke(self, token_id: str) -> bool:
        """Revoke a token by id; False when there is no such active token."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.db.begin() as conn:
            result = conn.execute(
                update(Token).where(Token.token_id == token_id, Token.revoked.is_(None)).values(revoked=now)
            )
        with self._cache_lock:
            self._cache = {k: v for k, v in self._cache.items() if v[1] is None or v[1].token_id != token_id}
        return result.rowcount > 0

    def list(self) -> list[TokenInfo]:
        """Every token, revoked ones too (ids and roles only), oldest first."""
        query = select(Token.token_id, Token.role, Token.created, Token.revoked).order_by(Token.created, Token.token_id)
        with self.db.begin() as conn:
            return [TokenInfo(*row) for row in conn.execute(query)]

    def close(self) -> None:
        self.db.close()
