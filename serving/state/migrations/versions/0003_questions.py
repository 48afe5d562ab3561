"""Recorded questions for the owners' knowledge gaps: refused, only closest, or rated down (scrubbed).

Revision ID: 0003_questions
Revises: 0002_sessions
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_questions"
down_revision: str | None = "0002_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("question_id", sa.Text(), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("created", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("thumbs_down", sa.Boolean(create_constraint=False), nullable=False, server_default=sa.false()),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("collections", sa.Text(), nullable=False),
        sa.Column("collection", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False, server_default=""),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("nearest_doc_id", sa.Text()),
        sa.Column("embedder", sa.Text(), nullable=False, server_default=""),
        sa.Column("embedding", sa.LargeBinary()),
        sa.Column("handled", sa.Text()),
        sa.Column("handled_by", sa.Text(), nullable=False, server_default=""),
        sa.CheckConstraint("status IN ('answered', 'closest', 'refused')", name="ck_questions_status"),
    )
    op.create_index("ix_questions_request_id", "questions", ["request_id"])
    op.create_index("ix_questions_created", "questions", ["created"])
    op.create_index("ix_questions_collection", "questions", ["collection"])


def downgrade() -> None:
    op.drop_table("questions")
