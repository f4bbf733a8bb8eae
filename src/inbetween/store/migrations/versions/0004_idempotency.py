"""Idempotency keys: one generation per (API key, Idempotency-Key), enforced by the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("request_hash", sa.String(64), nullable=True))
    op.create_index("ux_generations_idempotency", "generations",
                    ["key_id", "idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_generations_idempotency", "generations")
    with op.batch_alter_table("generations") as batch:
        batch.drop_column("request_hash")
        batch.drop_column("idempotency_key")
