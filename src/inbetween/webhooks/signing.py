"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``,
keyed with the base64-decoded bytes after ``whsec_``; several space-separated while a
rotated-out secret is still honoured."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["PREFIX", "new_secret", "signature", "signature_header"]

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """One ``v1,…`` signature of a message with ``secret`` (``whsec_…``)."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature_header(secrets_: tuple[str, ...], message_id: str, timestamp: int,
                     body: str) -> str:
    """The ``webhook-signature`` header: one signature per secret, space-separated."""
    return " ".join(signature(s, message_id, timestamp, body) for s in secrets_)
