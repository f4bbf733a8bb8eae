"""Initial schema: API keys, generations and their inputs.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "generations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("key_id", sa.String(36), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("negative_prompt", sa.Text, nullable=True),
        sa.Column("aspect_ratio", sa.String(8), nullable=False),
        sa.Column("duration", sa.Integer, nullable=False),
        sa.Column("resolution", sa.String(8), nullable=False),
        sa.Column("generate_audio", sa.Boolean, nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("requested_seed", sa.BigInteger, nullable=True),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer, nullable=False),
        sa.Column("engine", sa.String(100), nullable=True),
        sa.Column("video_token", sa.String(64), nullable=True, unique=True),
        sa.Column("error_name", sa.String(100), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("warnings", sa.Text, nullable=False),
        sa.Column("credits_used", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expires_at", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
    )
    op.create_index("ix_generations_status_created", "generations", ["status", "created_at", "id"])
    op.create_index("ix_generations_key", "generations", ["key_id"])
    op.create_table(
        "generation_inputs",
        sa.Column(
            "generation_id", sa.String(36), sa.ForeignKey("generations.id"), primary_key=True
        ),
        sa.Column("role", sa.String(8), primary_key=True),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("data", sa.LargeBinary, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("generation_inputs")
    op.drop_index("ix_generations_key", "generations")
    op.drop_index("ix_generations_status_created", "generations")
    op.drop_table("generations")
    op.drop_table("api_keys")
