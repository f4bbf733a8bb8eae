"""Live events, listing and uploads: a revision counter and a log per generation, an index
for listing a key's generations, and the uploads table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("revision", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_generations_key_created", "generations", ["key_id", "created_at", "id"])
    op.create_table(
        "generation_logs",
        sa.Column("generation_id", sa.String(36), sa.ForeignKey("generations.id"),
                  primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("key_id", sa.String(36), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_used_at", sa.Float, nullable=False),
    )
    op.create_index("ix_uploads_last_used", "uploads", ["last_used_at"])


def downgrade() -> None:
    op.drop_index("ix_uploads_last_used", "uploads")
    op.drop_table("uploads")
    op.drop_table("generation_logs")
    op.drop_index("ix_generations_key_created", "generations")
    with op.batch_alter_table("generations") as batch:
        batch.drop_column("revision")
