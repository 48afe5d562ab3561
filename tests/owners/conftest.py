"""The owners' tests reuse the service's fixtures: SQLite and a throwaway PostgreSQL, and the small store."""

from tests.serving.conftest import (  # noqa: F401
    built_store,
    database,
    database_url,
    postgres_server,
    postgres_url,
)
