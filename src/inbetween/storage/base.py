"""The ArtifactStore protocol: where finished videos live."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

__all__ = ["ArtifactStore"]


class ArtifactStore(Protocol):
    def put(self, source: Path, key: str) -> None:
        """Move the finished file ``source`` into the store under ``key`` (atomic)."""

    def local_path(self, key: str) -> Path | None:
        """A local file holding ``key`` (served as is), or None."""

    def redirect_url(self, key: str) -> str | None:
        """Where to send a client for ``key`` (a stores that serves elsewhere), or None."""

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
