"""API keys: random high-entropy tokens, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid

from inbetween.store.base import ApiKey, KeyStore

__all__ = ["create_key", "hash_key", "lookup_key"]

_PREFIX = "ib_"


def hash_key(plaintext: str) -> str:
    """The SHA-256 hex digest under which a key is stored (fast enough for every request)."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_key(store: KeyStore, name: str, budget_usd: float | None = None,
               budget_period: str = "month") -> tuple[str, ApiKey]:
    """Make a new key named ``name`` (with a budget per UTC ``budget_period`` when
    ``budget_usd`` is given); returns (plaintext, stored record)."""
    plaintext = _PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(
        id=str(uuid.uuid4()), name=name, key_hash=hash_key(plaintext), created_at=time.time(),
        budget_usd=budget_usd, budget_period=budget_period if budget_usd is not None else None,
    )
    store.add_key(record)
    return plaintext, record


def lookup_key(store: KeyStore, plaintext: str) -> ApiKey | None:
    """The live (not revoked) key matching ``plaintext``, or None.

    Lookup is by SHA-256 digest, and the stored digest is compared again in constant time.
    """
    digest = hash_key(plaintext)
    key = store.key_by_hash(digest)
    if key is None or key.revoked_at is not None:
        return None
    return key if hmac.compare_digest(key.key_hash, digest) else None
