"""The content owners' change log: routines added, replaced or retired from the owners' page, and by whom.

Revision ID: 0004_owner_changes
Revises: 0003_questions
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_owner_changes"
down_revision: str | None = "0003_questions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "owner_changes",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("time", sa.Text(), nullable=False),
        sa.Column("token_id", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("collection", sa.Text(), nullable=False),
        sa.Column("doc_id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False, server_default=""),
        sa.Column("source", sa.Text(), nullable=False, server_default=""),
        sa.Column("detail", sa.Text(), nullable=False, server_default="{}"),
        sa.CheckConstraint("action IN ('add', 'replace', 'retire')", name="ck_owner_changes_action"),
    )
    op.create_index("ix_owner_changes_time", "owner_changes", ["time"])
    op.create_index("ix_owner_changes_collection", "owner_changes", ["collection"])


def downgrade() -> None:
    op.drop_index("ix_owner_changes_collection", table_name="owner_changes")
    op.drop_index("ix_owner_changes_time", table_name="owner_changes")
    op.drop_table("owner_changes")
