"""Job metrics: counter rows bumped with the status changes they count (``inbetween.metrics``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_counters",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("labels", sa.String(500), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metric_counters")
