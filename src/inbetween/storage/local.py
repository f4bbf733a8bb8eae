"""Artifacts as files in a local folder (the default)."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from inbetween.errors import InfrastructureError

__all__ = ["LocalArtifacts"]

_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}\.(mp4|jpg|webp|img)$")


class LocalArtifacts:
    """An ArtifactStore in one directory; keys are flat file names."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"invalid artifact key {key!r}")
        return self.root / key

    def put(self, source: Path, key: str) -> None:
        try:
            os.replace(source, self._path(key))
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise  # the caller says the disk is full (StorageFull), not "retry"
            raise InfrastructureError(f"could not store the video: {e}") from e

    def ping(self) -> None:
        """Raise InfrastructureError when the folder cannot be written."""
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise InfrastructureError(f"the videos folder {self.root} cannot be written")

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    def redirect_url(self, key: str) -> str | None:
        return None

    def read(self, key: str) -> bytes | None:
        path = self.local_path(key)
        return None if path is None else path.read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
