"""The tables of the service's state; one schema for SQLite and PostgreSQL, changed only through a migration.

Times are ISO 8601 text in UTC (`2026-12-01T08:51:05+00:00`), as the first SQLite version wrote them, so that rows
kept from it sort and compare with new ones.
"""

from sqlalchemy import Boolean, CheckConstraint, Float, Integer, LargeBinary, MetaData, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Token(Base):
    """A bearer token: its SHA-256 only, never the token itself."""

    __tablename__ = "tokens"

    token_id: Mapped[str] = mapped_column(Text, primary_key=True)
    sha256: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[str] = mapped_column(Text)
    created: Mapped[str] = mapped_column(Text)
    revoked: Mapped[str | None] = mapped_column(Text)


class Feedback(Base):
    """A thumbs up or down on one answer, with the answer's cited documents when they are known."""

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint("rating IN ('up', 'down')", name="rating"),)

    feedback_id: Mapped[str] = mapped_column(Text, primary_key=True)
    created: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str] = mapped_column(Text)
    token_id: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    rating: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: JSON list of doc ids.
    documents: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    refused: Mapped[bool | None] = mapped_column(Boolean(create_constraint=False))
    fallback: Mapped[bool | None] = mapped_column(Boolean(create_constraint=False))
    generator: Mapped[str] = mapped_column(Text, default="", server_default="")
    language: Mapped[str] = mapped_column(Text, default="", server_default="")


class RecentAnswer(Base):
    """What feedback on a recent answer carries (never the answer's text), readable by every replica."""

    __tablename__ = "recent_answers"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[str] = mapped_column(Text)
    created: Mapped[str] = mapped_column(Text)
    documents: Mapped[str] = mapped_column(Text)
    refused: Mapped[bool] = mapped_column(Boolean(create_constraint=False))
    fallback: Mapped[bool] = mapped_column(Boolean(create_constraint=False))
    generator: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(Text)


class AuditEntry(Base):
    """One answered or failed question: the JSON entry an auditor reads, plus the columns to search it by."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[str] = mapped_column(Text, index=True)
    request_id: Mapped[str] = mapped_column(Text, index=True)
    token_id: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    route: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    #: The whole entry as JSON, exactly as the audit log's JSON lines were.
    entry: Mapped[str] = mapped_column(Text)


class Session(Base):
    """A signed-in browser's session (OpenID Connect sign-in): the SHA-256 of its id only, never the id itself."""

    __tablename__ = "sessions"

    sha256: Mapped[str] = mapped_column(Text, primary_key=True)
    #: A pseudonymous id of the person (a hash of the provider's issuer and subject): audit and rate limits.
    user_id: Mapped[str] = mapped_column(Text, index=True)
    role: Mapped[str] = mapped_column(Text)
    created: Mapped[str] = mapped_column(Text)
    expires: Mapped[str] = mapped_column(Text, index=True)


class PendingLogin(Base):
    """A sign-in under way: what the provider's answer must match (state, nonce) and the PKCE verifier."""

    __tablename__ = "oidc_logins"

    sha256: Mapped[str] = mapped_column(Text, primary_key=True)
    state: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str] = mapped_column(Text)
    code_verifier: Mapped[str] = mapped_column(Text)
    next_path: Mapped[str] = mapped_column(Text)
    created: Mapped[str] = mapped_column(Text)
    expires: Mapped[str] = mapped_column(Text, index=True)


class OwnerChange(Base):
    """A routine added, replaced or retired by a content owner: what changed and who changed it."""

    __tablename__ = "owner_changes"
    __table_args__ = (CheckConstraint("action IN ('add', 'replace', 'retire')", name="action"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[str] = mapped_column(Text, index=True)
    token_id: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    collection: Mapped[str] = mapped_column(Text, index=True)
    doc_id: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: The source file, as the store names it (for a retirement: the file that was moved out of the knowledge).
    source: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: JSON object: chunks removed, the replaced doc id, valid_from, where the retired file was kept, ...
    detail: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")


class Question(Base):
    """A question the routines did not answer (refused, only closest), answered with low confidence, or whose answer
    got a thumbs-down, scrubbed of personal data, for the owners' knowledge-gap topics.

    An answered question is written only when its answerability was low (within the gaps' margin above the
    threshold), or when it is rated down (until then the answering process holds it in memory): the text of an answer
    given with confidence never reaches the database otherwise (a stored answered row that is not rated down is one
    answered with low confidence), and no row names who asked:
    `asker` is a one-way pseudonym, there only so that the gaps can count distinct people.
    """

    __tablename__ = "questions"
    __table_args__ = (CheckConstraint("status IN ('answered', 'closest', 'refused')", name="status"),)

    question_id: Mapped[str] = mapped_column(Text, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    created: Mapped[str] = mapped_column(Text, index=True)
    status: Mapped[str] = mapped_column(Text)
    thumbs_down: Mapped[bool] = mapped_column(Boolean(create_constraint=False), default=False, server_default=false())
    role: Mapped[str] = mapped_column(Text)
    #: JSON list: the collections the role could read when it asked.
    collections: Mapped[str] = mapped_column(Text)
    #: The collection whose owners see the question: the nearest routine's, else the role's first.
    collection: Mapped[str] = mapped_column(Text, index=True)
    language: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: The question as the pipeline saw it: personal data replaced.
    question: Mapped[str] = mapped_column(Text)
    nearest_doc_id: Mapped[str | None] = mapped_column(Text)
    #: The embedding model of `embedding` (float32 bytes); another model's vectors are recomputed from the text.
    embedder: Mapped[str] = mapped_column(Text, default="", server_default="")
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: A pseudonymous id of who asked (a hash of the token or signed-in person's id, never the token): the gaps count
    #: distinct askers. None for questions recorded before revision 0005 whose request the audit log no longer held.
    asker: Mapped[str | None] = mapped_column(Text)
    #: When an owner marked the question's topic as handled (None: not handled).
    handled: Mapped[str | None] = mapped_column(Text)
    handled_by: Mapped[str] = mapped_column(Text, default="", server_default="")
