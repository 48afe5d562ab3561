"""Alembic's entry: runs the migrations on the connection `Database.upgrade` hands over."""

from alembic import context

from serving.state.models import Base

connection = context.config.attributes["connection"]
# Batch mode lets a later revision alter a SQLite table (SQLite cannot alter most columns in place).
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
