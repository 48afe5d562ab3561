"""One database for the service's state: SQLite under the data dir by default, PostgreSQL when a URL is set.

Usage:
    db = database_for(settings)        # ASSIST_DATABASE__URL, else <data_dir>/serving.sqlite
    db.upgrade()                       # what `assist db upgrade` and `assist serve` run
    with db.begin() as conn: ...       # a transaction; a database that cannot be reached raises a 503 error
"""

import contextlib
import fcntl
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from assist.errors import BackendUnavailableError, ConfigError
from assist.settings import Settings
from serving.files import private_file

logger = logging.getLogger(__name__)
#: Seconds a PostgreSQL connection is reused before it is replaced (below common server and proxy idle timeouts).
POOL_RECYCLE_S = 300

#: The embedded default, under the data dir.
SQLITE_FILE = "serving.sqlite"
MIGRATIONS = Path(__file__).parent / "migrations"
#: Held while one process migrates a PostgreSQL database, so that replicas starting together migrate it once.
_MIGRATION_LOCK = 0x61737369737401
#: Alembic's `op` and `context` are module-wide proxies: one migration at a time in a process.
_MIGRATING = threading.Lock()


def _url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            "ASSIST_DATABASE__URL is not a database URL: write postgresql://user:password@host:port/database."
        ) from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "sqlite":
        return parsed
    raise ConfigError(
        f"ASSIST_DATABASE__URL names {parsed.drivername!r}: only postgresql://user:password@host:port/database "
        "is supported (leave it unset for SQLite under the data dir)."
    )


class Database:
    """The engine over one database, created on first use and migrated to the current schema before it is used."""

    def __init__(self, url: str | URL):
        self.url = _url(str(url) if isinstance(url, str) else url.render_as_string(hide_password=False))
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._current = False

    @classmethod
    def sqlite(cls, path: Path) -> "Database":
        """The SQLite file at `path` (created readable by this user only)."""
        return cls(URL.create("sqlite", database=str(path)))

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for a database server."""
        return Path(self.url.database) if self.is_sqlite and self.url.database else None

    def __str__(self) -> str:
        """The database for a message or a log: the SQLite file, or the server's URL without its password."""
        if self.path:
            return str(self.path)
        return self.url.set(drivername=self.url.get_backend_name()).render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._create_engine()
            return self._engine

    def _create_engine(self) -> Engine:
        if self.path is None:
            # No ping before each checkout (a third of every request's round trips): connections are recycled after
            # POOL_RECYCLE_S instead, and one the server closed meanwhile fails its request once, as 503.
            return create_engine(self.url, pool_recycle=POOL_RECYCLE_S, pool_size=10, max_overflow=20)
        private_file(self.path)
        # WAL is a property of the file: set it once, under the file lock. Switched on every connect, two processes
        # (or threads) opening a new file together made one fail at once with "database is locked".
        try:
            with self._exclusive(), contextlib.closing(sqlite3.connect(self.path, timeout=5)) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise BackendUnavailableError(self._unusable_file(exc)) from None
        engine = create_engine(self.url, connect_args={"check_same_thread": False, "timeout": 5})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

        return engine

    def _unusable_file(self, reason: object) -> str:
        return (
            f"The database file {self} could not be used ({reason}): check its folder's permissions and free disk "
            "space."
        )

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            logger.warning("Database %s failed: %s", self, type(exc.orig).__name__ if exc.orig else exc)
            if self.is_sqlite:
                raise BackendUnavailableError(self._unusable_file(exc.orig)) from None
            raise BackendUnavailableError(
                f"The database {self} cannot be reached or refused the connection: check that it runs and that "
                "ASSIST_DATABASE__URL names it with the right user and password."
            ) from None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction on a database at the current schema (migrated first if it is behind)."""
        self.ensure_current()
        with self._reachable(), self.engine.begin() as conn:
            yield conn

    def revision(self) -> str | None:
        """The schema revision the database is at; None when it has none yet."""
        from alembic.migration import MigrationContext  # noqa: PLC0415

        with self._reachable(), self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def head() -> str:
        """The revision this version of the code needs."""
        from alembic.script import ScriptDirectory  # noqa: PLC0415

        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        assert head is not None  # noqa: S101 - the migrations folder ships with the code
        return head

    def upgrade(self) -> tuple[str | None, str]:
        """Bring the database to the current schema: (revision before, revision after). Safe to run again."""
        from alembic import command  # noqa: PLC0415

        before = self.revision()
        head = self.head()
        if before != head:
            config = _alembic_config()
            with _MIGRATING, self._exclusive(), self._reachable(), self.engine.begin() as conn:
                if not self.is_sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
                config.attributes["connection"] = conn
                # Alembic reads the revision again under the lock: another replica may have migrated meanwhile.
                command.upgrade(config, "head")
            logger.info("Database %s migrated from %s to %s", self, before, head)
        self._current = True
        return before, head

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """For SQLite, hold an exclusive lock on the file while migrating (another process may be starting too).

        flock is separate from SQLite's own byte-range locks, so readers and writers of the file are not blocked.
        """
        if self.path is None:
            yield
            return
        with self.path.open("rb") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def ensure_current(self) -> None:
        """Migrate once per process when the database is behind (a fresh SQLite file needs no command)."""
        if not self._current:
            try:
                self.upgrade()
            except DBAPIError as exc:
                raise BackendUnavailableError(
                    f"Could not bring the database {self} to the current schema ({type(exc.orig).__name__}): "
                    "run `assist db upgrade` and read its error."
                ) from exc

    def close(self) -> None:
        """Close its connections (a later use opens new ones)."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()


def _alembic_config() -> Any:
    from alembic.config import Config  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def database_for(settings: Settings) -> Database:
    """The configured database: ASSIST_DATABASE__URL, else SQLite under the data dir."""
    if settings.database.url is not None:
        return Database(settings.database.url.get_secret_value())
    return Database.sqlite(settings.data_dir / SQLITE_FILE)
