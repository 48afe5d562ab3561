"""The first schema: tokens, feedback, recent answers and the audit log.

A SQLite file made before migrations existed already holds `tokens` and `feedback` in exactly this shape: they are
adopted with their rows (tokens keep validating), and only the missing tables are created.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "tokens" not in existing:
        op.create_table(
            "tokens",
            sa.Column("token_id", sa.Text(), primary_key=True),
            sa.Column("sha256", sa.Text(), nullable=False, unique=True),
            sa.Column("role", sa.Text(), nullable=False),
            sa.Column("created", sa.Text(), nullable=False),
            sa.Column("revoked", sa.Text()),
        )
    if "feedback" not in existing:
        op.create_table(
            "feedback",
            sa.Column("feedback_id", sa.Text(), primary_key=True),
            sa.Column("created", sa.Text(), nullable=False),
            sa.Column("request_id", sa.Text(), nullable=False),
            sa.Column("token_id", sa.Text(), nullable=False),
            sa.Column("role", sa.Text(), nullable=False),
            sa.Column("rating", sa.Text(), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False, server_default=""),
            sa.Column("documents", sa.Text(), nullable=False, server_default="[]"),
            sa.Column("refused", sa.Boolean(create_constraint=False)),
            sa.Column("fallback", sa.Boolean(create_constraint=False)),
            sa.Column("generator", sa.Text(), nullable=False, server_default=""),
            sa.Column("language", sa.Text(), nullable=False, server_default=""),
            sa.CheckConstraint("rating IN ('up', 'down')", name="ck_feedback_rating"),
        )
    op.create_table(
        "recent_answers",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(64), nullable=False, unique=True),
        sa.Column("token_id", sa.Text(), nullable=False),
        sa.Column("created", sa.Text(), nullable=False),
        sa.Column("documents", sa.Text(), nullable=False),
        sa.Column("refused", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("fallback", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("generator", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("time", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("token_id", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("route", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
    )
    op.create_index("ix_audit_log_time", "audit_log", ["time"])
    op.create_index("ix_audit_log_request_id", "audit_log", ["request_id"])


def downgrade() -> None:
    for table in ("audit_log", "recent_answers", "feedback", "tokens"):
        op.drop_table(table)
