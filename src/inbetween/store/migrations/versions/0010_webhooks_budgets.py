"""Webhooks and budgets: a generation's webhook (URL, events, the base URL its body's links
use) and its reserved worst-case cost; per-key budgets; per-key signing secrets; the outbox
of deliveries.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("webhook_url", sa.Text, nullable=True))
        batch.add_column(sa.Column("webhook_events", sa.String(100), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("base_url", sa.Text, nullable=True))
        batch.add_column(sa.Column("reserved_usd", sa.Float, nullable=False,
                                   server_default="0"))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("budget_usd", sa.Float, nullable=True))
        batch.add_column(sa.Column("budget_period", sa.String(8), nullable=True))
    op.create_table(
        "webhook_secrets",
        sa.Column("key_id", sa.String(36), primary_key=True),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous", sa.String(100), nullable=True),
        sa.Column("previous_until", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("generation_id", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=True),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_until", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries",
                    ["status", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_generation", "webhook_deliveries",
                    ["generation_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_generation", "webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", "webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_secrets")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("budget_period")
        batch.drop_column("budget_usd")
    with op.batch_alter_table("generations") as batch:
        batch.drop_column("reserved_usd")
        batch.drop_column("base_url")
        batch.drop_column("webhook_events")
        batch.drop_column("webhook_url")
