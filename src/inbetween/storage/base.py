"""The ArtifactStore protocol: where finished videos, their previews and uploads live.

Keys are flat names: ``{token}.mp4``, ``{token}.jpg``, ``{token}.webp``, ``upload-{id}.img``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

__all__ = ["CONTENT_TYPES", "ArtifactStore", "delete_video"]

VIDEO_SUFFIXES = ("mp4", "jpg", "webp")

CONTENT_TYPES = {"mp4": "video/mp4", "jpg": "image/jpeg", "webp": "image/webp",
                 "img": "application/octet-stream"}


class ArtifactStore(Protocol):
    def put(self, source: Path, key: str) -> None:
        """Move the finished file ``source`` into the store under ``key`` (atomic)."""

    def local_path(self, key: str) -> Path | None:
        """A local file holding ``key`` (served as is), or None."""

    def redirect_url(self, key: str) -> str | None:
        """Where to send a client for ``key`` (a stores that serves elsewhere), or None."""

    def read(self, key: str) -> bytes | None:
        """The bytes stored under ``key``, or None (for small artifacts: uploads)."""

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""


def delete_video(artifacts: ArtifactStore, token: str) -> None:
    """Delete a generation's video, its thumbnail and preview, and its sprite sheet (made
    when ``/v1/videos/{id}/content?variant=spritesheet`` first asked for it)."""
    for suffix in VIDEO_SUFFIXES:
        artifacts.delete(f"{token}.{suffix}")
    artifacts.delete(f"{token}-sprite.jpg")
