"""Job and key stores: the Protocols, an in-memory twin and the SQL implementation."""

from __future__ import annotations

from inbetween.settings import Settings
from inbetween.store.base import ApiKey, JobStore, KeyStore, ReapResult
from inbetween.store.memory import MemoryStore
from inbetween.store.migrate import upgrade
from inbetween.store.sql import SqlStore, make_engine

__all__ = [
    "ApiKey",
    "JobStore",
    "KeyStore",
    "MemoryStore",
    "ReapResult",
    "SqlStore",
    "open_store",
]


def open_store(settings: Settings) -> SqlStore:
    """Create the data directory, migrate the database and return the store (its webhook
    bodies link to INBETWEEN_PUBLIC_URL or the submitting request's URL, signed when
    INBETWEEN_SIGNED_URLS is on)."""
    from inbetween.signing import UrlSigner
    from inbetween.webhooks.outbox import Outbox

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    signer = UrlSigner.from_settings(settings) if settings.signed_urls else None
    return SqlStore(engine, Outbox(settings.public_url.rstrip("/") if settings.public_url
                                   else None, signer.sign if signer else None))
