"""Recorded questions carry a pseudonymous asker id, so that the gaps' privacy floor counts people, not texts.

Questions recorded before this revision get theirs from the audit log (request id → token id) where it still
holds their request; the rest keep none and count together as one unknown asker.

Revision ID: 0005_question_askers
Revises: 0004_owner_changes
Create Date: 2026-12-07
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_question_askers"
down_revision: str | None = "0004_owner_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _asker(token_id: str) -> str:
    # The same derivation as owners.gaps.asker_id (kept here so that the migration never changes with the code).
    return "a_" + hashlib.sha256(f"frontline-assist asker\n{token_id}".encode()).hexdigest()[:16]


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("asker", sa.Text()))
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT q.question_id, a.token_id FROM questions q JOIN audit_log a ON a.request_id = q.request_id"
    )).all()
    for question_id, token_id in rows:
        conn.execute(sa.text("UPDATE questions SET asker = :asker WHERE question_id = :id"),
                     {"asker": _asker(token_id), "id": question_id})


def downgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.drop_column("asker")
