"""The service's shared state (tokens, feedback, remembered answers, the audit log): SQLAlchemy models and Alembic
migrations over SQLite under the data dir by default, or PostgreSQL when `ASSIST_DATABASE__URL` is set.
"""

from serving.state.db import SQLITE_FILE, Database, database_for

__all__ = ["SQLITE_FILE", "Database", "database_for"]
