"""The owners' tests reuse the service's database fixtures: SQLite and a throwaway PostgreSQL."""

from tests.serving.conftest import database, database_url, postgres_server, postgres_url  # noqa: F401
