"""Expiring signatures for video URLs (``INBETWEEN_SIGNED_URLS``).

``/files/{token}.mp4?expires=UNIX&signature=HMAC-SHA256(secret, "token.expires")``. The secret
is ``INBETWEEN_URL_SECRET``, or one made once and kept in the data directory (``url-secret``,
mode 0600), so every process on this machine signs alike; processes on several machines must
share ``INBETWEEN_URL_SECRET``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from inbetween.settings import Settings

__all__ = ["UrlSigner"]


class UrlSigner:
    def __init__(self, secret: bytes, lifetime: float) -> None:
        self.secret, self.lifetime = secret, lifetime

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlSigner:
        if settings.url_secret:
            return cls(settings.url_secret.encode(), settings.signed_url_seconds)
        path = settings.data_dir / "url-secret"
        return cls(_load_or_create(path), settings.signed_url_seconds)

    def sign(self, token: str, now: float | None = None) -> str:
        """The query string that makes ``token``'s URL valid for ``lifetime`` seconds."""
        expires = int((time.time() if now is None else now) + self.lifetime)
        return f"expires={expires}&signature={self._digest(token, expires)}"

    def verify(self, token: str, expires: int | None, signature: str | None,
               now: float | None = None) -> bool:
        if expires is None or signature is None:
            return False
        if expires < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self._digest(token, expires), signature)

    def _digest(self, token: str, expires: int) -> str:
        return hmac.new(self.secret, f"{token}.{expires}".encode(), hashlib.sha256).hexdigest()


def _load_or_create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_bytes().strip()
