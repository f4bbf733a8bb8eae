"""The spend ledger: one row per delivered generation (what was charged), kept when the
generation is deleted.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger",
        sa.Column("generation_id", sa.String(36), primary_key=True),
        sa.Column("key_id", sa.String(36), nullable=False),
        sa.Column("date", sa.String(10), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_ledger_key_date", "ledger", ["key_id", "date"])


def downgrade() -> None:
    op.drop_index("ix_ledger_key_date", "ledger")
    op.drop_table("ledger")
