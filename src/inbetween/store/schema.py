"""SQLAlchemy Core tables. Alembic migrations (``migrations/``) create them; keep both in step."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "api_keys",
    "generation_inputs",
    "generation_logs",
    "generations",
    "ledger",
    "metadata",
    "metric_counters",
    "uploads",
    "webhook_deliveries",
    "webhook_secrets",
]

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("budget_usd", Float, nullable=True),
    Column("budget_period", String(8), nullable=True),  # day | month | total
)

generations = Table(
    "generations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("key_id", String(36), ForeignKey("api_keys.id"), nullable=False),
    Column("model", String(200), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("negative_prompt", Text, nullable=True),
    Column("aspect_ratio", String(8), nullable=False),
    Column("duration", Integer, nullable=False),
    Column("resolution", String(8), nullable=False),
    Column("generate_audio", Boolean, nullable=False),
    Column("provider", String(40), nullable=False),
    Column("requested_seed", BigInteger, nullable=True),
    Column("seed", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("progress", Integer, nullable=False),
    Column("engine", String(100), nullable=True),
    Column("video_token", String(64), nullable=True, unique=True),
    Column("error_name", String(100), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("warnings", Text, nullable=False),
    Column("credits_used", Float, nullable=False),
    Column("details", Text, nullable=True),
    Column("idempotency_key", String(200), nullable=True),
    Column("request_hash", String(64), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_expires_at", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("revision", Integer, nullable=False, server_default="0"),
    Column("upstream", Text, nullable=True),
    Column("deadline_at", Float, nullable=True),
    Column("webhook_url", Text, nullable=True),
    Column("webhook_events", String(100), nullable=False, server_default=""),  # a,b,…
    Column("base_url", Text, nullable=True),  # the submitting request's, for webhook bodies
    Column("reserved_usd", Float, nullable=False, server_default="0"),  # worst-case cost
    Column("dispatched_at", Float, nullable=True),  # last sent to the workers (or created)
    Index("ix_generations_status_created", "status", "created_at", "id"),
    Index("ix_generations_key_created", "key_id", "created_at", "id"),
    Index("ix_generations_key", "key_id"),
    Index("ix_generations_deadline", "deadline_at"),
    Index("ux_generations_idempotency", "key_id", "idempotency_key", unique=True),
)

generation_inputs = Table(
    "generation_inputs",
    metadata,
    Column("generation_id", String(36), ForeignKey("generations.id"), primary_key=True),
    Column("role", String(8), primary_key=True),
    Column("url", Text, nullable=True),
    Column("data", LargeBinary, nullable=True),
)

generation_logs = Table(
    "generation_logs",
    metadata,
    Column("generation_id", String(36), ForeignKey("generations.id"), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("time", Float, nullable=False),
    Column("level", String(16), nullable=False),
    Column("message", Text, nullable=False),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("key_id", String(36), ForeignKey("api_keys.id"), nullable=False),
    Column("content_type", String(40), nullable=False),
    Column("size", Integer, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=False),
    Index("ix_uploads_last_used", "last_used_at"),
)

metric_counters = Table(
    "metric_counters",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("labels", String(500), primary_key=True),
    Column("value", Float, nullable=False),
)

ledger = Table(  # what was charged, one row per delivered generation; survives DELETE
    "ledger",
    metadata,
    Column("generation_id", String(36), primary_key=True),
    Column("key_id", String(36), nullable=False),
    Column("date", String(10), nullable=False),  # UTC day of delivery, YYYY-MM-DD
    Column("model", String(200), nullable=False),
    Column("provider", String(40), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_ledger_key_date", "key_id", "date"),
)

webhook_secrets = Table(  # one signing secret per API key, and the one it replaced
    "webhook_secrets",
    metadata,
    Column("key_id", String(36), primary_key=True),
    Column("secret", String(100), nullable=False),
    Column("previous", String(100), nullable=True),
    Column("previous_until", Float, nullable=True),  # deliveries carry both until then
    Column("created_at", Float, nullable=False),
)

webhook_deliveries = Table(  # the outbox: written with the status change it announces
    "webhook_deliveries",
    metadata,
    Column("id", String(64), primary_key=True),  # webhook-id, the same on every attempt
    Column("generation_id", String(36), nullable=False),
    Column("key_id", String(36), nullable=False),
    Column("type", String(40), nullable=False),
    Column("url", Text, nullable=False),
    Column("body", Text, nullable=False),  # fixed when the row is written
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("claimed_by", String(100), nullable=True),  # the process sending this attempt
    Column("claimed_until", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_generation", "generation_id", "created_at"),
)
