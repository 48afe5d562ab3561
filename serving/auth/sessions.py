"""Browser sessions and sign-ins under way, kept server-side in the service's database as hashes of their ids.

The session cookie carries a random id; the database holds its SHA-256, the person's pseudonymous id, the role the
sign-in mapped to and when it ends. Ending a session deletes its row, so a copied cookie stops working at once.
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, insert, select

from assist.roles import Roles
from serving.state import Database
from serving.state.models import PendingLogin, Session
from serving.tokens import TokenInfo, as_database, hash_token

logger = logging.getLogger(__name__)

#: `__Host-`: browsers accept the cookie only with Secure, Path=/ and no Domain, so no sibling host can set or
#: widen it. The page's scripts never see it (HttpOnly).
SESSION_COOKIE = "__Host-fa_session"
#: Ties a sign-in's return from the provider to the browser that started it (state, nonce, PKCE verifier).
LOGIN_COOKIE = "__Host-fa_login"
#: How long a sign-in may take at the provider.
LOGIN_TTL_S = 600
#: Sign-ins under way kept at most; past it the oldest give way (the per-address limit on /auth/login comes first).
MAX_PENDING_LOGINS = 1000
#: Longer cookie values are not ours: refused before any hashing or lookup.
MAX_ID_CHARS = 200


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime) -> str:
    # One format everywhere, so that the text columns compare as times do.
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def user_id_for(issuer: str, subject: str) -> str:
    """A pseudonymous, stable id of a person for the audit log, feedback and rate limits (never the subject)."""
    digest = hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()
    return f"u_{digest[:16]}"


@dataclass(frozen=True)
class Login:
    """A sign-in under way, as `take_login` hands it back once."""

    state: str
    nonce: str
    code_verifier: str
    next_path: str


class SessionStore:
    """Opens, resolves and ends sessions; keeps the sign-ins under way.

    Usage:
        store = SessionStore(database_for(settings), lifetime_s=8 * 3600, roles=settings.roles)
        session_id, expires = store.create(user_id="u_...", role="home-care")   # the cookie's value
        store.resolve(session_id)     # TokenInfo(token_id="u_...", role="home-care"), None once ended or expired
        store.end(session_id)
    """

    def __init__(self, where: Path | Database, *, lifetime_s: int, roles: Roles | None = None):
        self.db = as_database(where)
        self.lifetime_s = lifetime_s
        #: A session whose role the roles file no longer has resolves to nobody.
        self.roles = roles

    def create(self, *, user_id: str, role: str) -> tuple[str, datetime]:
        """A new session: (its id, for the cookie only; when it ends). Removes expired sessions and sign-ins."""
        session_id = secrets.token_urlsafe(32)
        now = _now()
        expires = now + timedelta(seconds=self.lifetime_s)
        with self.db.begin() as conn:
            conn.execute(delete(Session).where(Session.expires <= _iso(now)))
            conn.execute(delete(PendingLogin).where(PendingLogin.expires <= _iso(now)))
            conn.execute(insert(Session).values(
                sha256=hash_token(session_id), user_id=user_id, role=role, created=_iso(now), expires=_iso(expires)
            ))
        return session_id, expires

    def resolve(self, session_id: str) -> TokenInfo | None:
        """Who the session belongs to, as a token's owner would be; None when unknown, ended or expired."""
        if not session_id or len(session_id) > MAX_ID_CHARS:
            return None
        query = select(Session.user_id, Session.role, Session.created).where(
            Session.sha256 == hash_token(session_id), Session.expires > _iso(_now())
        )
        with self.db.begin() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        if self.roles is not None and row.role not in self.roles.roles:
            logger.warning("A session of %s names role %r, which the roles file no longer has", row.user_id, row.role)
            return None
        return TokenInfo(token_id=row.user_id, role=row.role, created=row.created)

    def end(self, session_id: str) -> bool:
        """Delete the session; False when there was none."""
        if not session_id or len(session_id) > MAX_ID_CHARS:
            return False
        with self.db.begin() as conn:
            result = conn.execute(delete(Session).where(Session.sha256 == hash_token(session_id)))
        return result.rowcount > 0

    def begin_login(self, *, state: str, nonce: str, code_verifier: str, next_path: str) -> str:
        """Keep a sign-in under way for LOGIN_TTL_S; returns its id (for the login cookie only). Removes expired
        sign-ins.
        """
        login_id = secrets.token_urlsafe(32)
        now = _now()
        with self.db.begin() as conn:
            # Anyone may start a sign-in: expired ones go at once, so abandoned sign-ins cannot pile up.
            conn.execute(delete(PendingLogin).where(PendingLogin.expires <= _iso(now)))
            conn.execute(insert(PendingLogin).values(
                sha256=hash_token(login_id), state=state, nonce=nonce, code_verifier=code_verifier,
                next_path=next_path, created=_iso(now), expires=_iso(now + timedelta(seconds=LOGIN_TTL_S)),
            ))
            # Many addresses starting sign-ins within the TTL: the oldest pending ones give way (their browsers
            # start again), so the table stays bounded whatever the rate limits let through.
            pending = conn.execute(select(func.count()).select_from(PendingLogin)).scalar_one()
            if pending > MAX_PENDING_LOGINS:
                oldest = select(PendingLogin.sha256).order_by(PendingLogin.created).limit(pending - MAX_PENDING_LOGINS)
                conn.execute(delete(PendingLogin).where(PendingLogin.sha256.in_(oldest.scalar_subquery())))
        return login_id

    def take_login(self, login_id: str) -> Login | None:
        """The sign-in under way, removed as it is read (a provider's answer is used once); None when unknown or
        expired.
        """
        if not login_id or len(login_id) > MAX_ID_CHARS:
            return None
        key = hash_token(login_id)
        with self.db.begin() as conn:
            row = conn.execute(select(PendingLogin).where(PendingLogin.sha256 == key)).mappings().first()
            if row is None:
                return None
            taken = conn.execute(delete(PendingLogin).where(PendingLogin.sha256 == key)).rowcount
        # Two returns racing on one sign-in: only the one whose delete removed the row goes on.
        if taken != 1 or row["expires"] <= _iso(_now()):
            return None
        return Login(state=row["state"], nonce=row["nonce"], code_verifier=row["code_verifier"],
                     next_path=row["next_path"])

    def close(self) -> None:
        self.db.close()
