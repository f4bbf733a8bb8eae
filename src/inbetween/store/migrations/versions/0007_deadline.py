"""Deadlines: the time after which an unfinished generation ends as DeadlineExceeded
(``Cancel-After``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("deadline_at", sa.Float, nullable=True))
        batch.create_index("ix_generations_deadline", ["deadline_at"])


def downgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.drop_index("ix_generations_deadline")
        batch.drop_column("deadline_at")
